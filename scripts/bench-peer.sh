#!/usr/bin/env bash
# The CRUD workloads of docs/PERFORMANCE.md over the wire, against branchdb and
# against a peer on the same machine in the same run: nx-27017, which serves the
# MongoDB protocol on SQLite (installed from PyPI into target/client-tools/peer).
#
# Each server gets, from the load tool with 16 connections: an insertMany of N
# small documents (default 1,000,000) in batches of 1,000, then finds by random
# `_id` for 10 s. Prints one line per server and workload, then the ratios.
#
#   cargo build --release && scripts/bench-peer.sh [documents]
set -euo pipefail
cd "$(dirname "$0")/.."
docs=${1:-1000000}
load=target/release/load
peer_env=target/client-tools/peer
if [ ! -x "$peer_env/bin/nx-27017" ]; then
  python3 -m venv "$peer_env"
  "$peer_env/bin/pip" install --quiet nx-27017==0.8.1
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
data=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT

# Runs both workloads against the server at port $1; prints "<docs/s> <ops/s>".
measure() {
  local port=$1 name=$2 insert find
  until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do sleep 0.1; done
  insert=$("$load" --addr "127.0.0.1:$port" --total "$docs" --batch 1000 --seconds 3600 insert | tail -1)
  find=$("$load" --addr "127.0.0.1:$port" --keys "$docs" --seconds 10 find-id | tail -1)
  echo "$name insert: $insert" >&2
  echo "$name find-id: $find" >&2
  echo "$(field docs_per_sec "$insert") $(field ops_per_sec "$find")"
}
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

port=$(free_port)
mkdir "$data/branchdb"
target/release/branchdb serve --bind "127.0.0.1:$port" --data-dir "$data/branchdb" --durability batched --log warn \
  > "$data/branchdb.log" 2>&1 &
server=$!
read -r ours_insert ours_find < <(measure "$port" branchdb)
kill "$server"; wait "$server" || true

port=$(free_port)
mkdir "$data/peer"
"$peer_env/bin/nx-27017" --host 127.0.0.1 --port "$port" --data-dir "$data/peer" --log-file "$data/peer.log" \
  --pid-file "$data/peer.pid" > /dev/null 2>&1 &
server=$!
read -r peer_insert peer_find < <(measure "$port" nx-27017)
kill "$server"; wait "$server" || true
server=

python3 - "$ours_insert" "$ours_find" "$peer_insert" "$peer_find" <<'PY'
import sys
ours_insert, ours_find, peer_insert, peer_find = map(float, sys.argv[1:])
print(f"insertMany, docs/s: branchdb {ours_insert:,.0f}  nx-27017 {peer_insert:,.0f}  ratio {ours_insert / peer_insert:.1f}x")
print(f"find by _id, ops/s: branchdb {ours_find:,.0f}  nx-27017 {peer_find:,.0f}  ratio {ours_find / peer_find:.1f}x")
PY
