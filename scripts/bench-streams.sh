#!/usr/bin/env bash
# The change stream figures of docs/PERFORMANCE.md over the wire, with the load tool
# against the release server (strict durability, each run on a fresh data directory):
#
# - commit-to-event latency: `watch` with one follower and 1 and 8 writers;
# - the cost of open streams: single-document inserts from 16 connections for 10 s,
#   alone and with 1,000 change streams open and waiting, on a collection nobody
#   writes to (`quiet`) and on the collection the inserts go to (`items`). Runs
#   alternate, `rounds` times (default 3); the medians are printed, and the median
#   of each round's change against its run without streams.
#
#   cargo build --release && scripts/bench-streams.sh [rounds]   (docs: 10)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/branchdb
load=$target/release/load
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
data=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT

# Starts a server on a fresh data directory; sets $port.
fresh() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$data/db"
  port=$(free_port)
  "$bin" serve --bind "127.0.0.1:$port" --data-dir "$data/db" --log warn > "$data/server.log" 2>&1 &
  server=$!
  until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; exit 1; }
    sleep 0.1
  done
}
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for writers in 1 8; do
  fresh
  line=$("$load" --addr "127.0.0.1:$port" --connections $((writers + 1)) --seconds 10 watch | tail -1)
  echo "watch, $writers writer(s): p50_us=$(field p50_us <<< "$line") p99_us=$(field p99_us <<< "$line") events=$(field ops <<< "$line")"
done

declare -A results
for round in $(seq "$rounds"); do
  for setup in "none 0 items" "quiet 1000 quiet" "items 1000 items"; do
    set -- $setup
    fresh
    line=$("$load" --addr "127.0.0.1:$port" --connections 16 --batch 1 --seconds 10 \
      --streams "$2" --stream-collection "$3" insert | tail -1)
    results[$1]+="$(field docs_per_sec <<< "$line") "
    echo "round $round, streams on $1: $line"
  done
done
# The disk's fsync times drift between runs more than the streams cost, so each
# round's runs are compared with that round's run without streams, and the median
# of those changes is the figure.
base=$(tr ' ' '\n' <<< "${results[none]}" | grep . | median)
for setup in none quiet items; do
  value=$(tr ' ' '\n' <<< "${results[$setup]}" | grep . | median)
  change=$(paste <(tr ' ' '\n' <<< "${results[$setup]}" | grep .) <(tr ' ' '\n' <<< "${results[none]}" | grep .) |
    awk '{printf "%.4f\n", $1 / $2 - 1}' | median)
  echo "inserts/s with 1000 streams on $setup: median $value; median change within a round $(awk -v c="$change" 'BEGIN {printf "%+.1f%%", c * 100}')"
done
