#!/usr/bin/env bash
# Restart time of the real server over the wire: loads N documents (default
# 1,000,000) with the load tool, stops the server with SIGTERM and times until it
# answers again; then inserts N/3 more and kills it with SIGKILL straight away, and
# times the restart again (the store replays the WAL after its last checkpoint).
#
#   cargo build --release && scripts/bench-restart.sh [documents]
set -euo pipefail
cd "$(dirname "$0")/.."
docs=${1:-1000000}
bin=target/release/branchdb
load=target/release/load
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill -9 "$server" 2>/dev/null; rm -rf "$data"' EXIT

start() {
  "$bin" serve --bind "127.0.0.1:$port" --data-dir "$data" --durability batched --log info > "$data/server-$1.log" 2>&1 &
  server=$!
}
# Starts the server; sets `elapsed` to the seconds until it answers a ping.
timed_start() {
  local t0 t1
  t0=$(date +%s.%N)
  start "$1"
  until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do sleep 0.01; done
  t1=$(date +%s.%N)
  elapsed=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
}

timed_start first
"$load" --addr "127.0.0.1:$port" --connections 16 --total "$docs" --batch 1000 --seconds 600 insert
kill -TERM "$server"; wait "$server" || true
timed_start term
echo "after SIGTERM with $docs documents: serving again in $elapsed s"
"$load" --addr "127.0.0.1:$port" --connections 16 --total $((docs / 3)) --batch 1000 --seconds 600 --db load2 insert
kill -KILL "$server"; wait "$server" 2> /dev/null || true
timed_start kill
echo "after SIGKILL right after $((docs / 3)) more: serving again in $elapsed s"
grep -h "store up to date" "$data/server-kill.log" | sed 's/^.*INFO //'
