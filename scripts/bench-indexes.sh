#!/usr/bin/env bash
# The index, scan and $group figures of docs/PERFORMANCE.md over the wire, with the
# load tool against a release server (batched durability) on a free port and a
# temporary data directory:
#
#   (a) an equality find on an indexed field of 1,000,000 documents takes at most
#       3x the time of the same find on 10,000 documents (mean latency, one
#       connection: `find-eq` on `u`, after `create-index --field u`);
#   (b) a `count` whose filter on an unindexed field matches 1% of 1,000,000
#       documents goes through at least 1,000,000 documents/s (`scan`);
#   (c) `$group` by a 100-value key over 1,000,000 documents takes under 2 s
#       (median run, `group`).
#
# Builds the release binaries first (into $CARGO_TARGET_DIR, default target/).
# FIND_CONNECTIONS (default 1) and SECONDS_EACH (default 5) set the connections of
# the finds and how long each measurement runs.
#
#   scripts/bench-indexes.sh [large documents] [small documents]
set -euo pipefail
cd "$(dirname "$0")/.."
large=${1:-1000000}
small=${2:-10000}
connections=${FIND_CONNECTIONS:-1}
seconds=${SECONDS_EACH:-5}
cargo build --release --bins --quiet
bin=${CARGO_TARGET_DIR:-target}/release
load=$bin/load
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT

"$bin/branchdb" serve --bind "127.0.0.1:$port" --data-dir "$data" --durability batched --log warn \
  > "$data/server.log" 2>&1 &
server=$!
until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do sleep 0.1; done

# Runs the load tool against the server with these arguments; echoes its line to
# stderr with a label, and prints it.
run() {
  local label=$1 line
  shift
  line=$("$load" --addr "127.0.0.1:$port" "$@" | tail -1)
  echo "$label: $line" >&2
  echo "$line"
}
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# Loads `items` of database $1 with $2 documents and indexes its field `u`.
prepare() {
  run "$1 insert $2" --db "$1" --total "$2" --batch 1000 --connections 16 --seconds 3600 insert > /dev/null
  run "$1 create-index u" --db "$1" --connections 1 --field u create-index > /dev/null
}
prepare small "$small"
prepare large "$large"

find_small=$(run "small find-eq" --db small --keys "$small" --connections "$connections" --seconds "$seconds" find-eq)
find_large=$(run "large find-eq" --db large --keys "$large" --connections "$connections" --seconds "$seconds" find-eq)
for line in "$find_small" "$find_large"; do
  if [ "$(field docs "$line")" != "$(field ops "$line")" ]; then echo "find-eq: a find did not find its document" >&2; exit 1; fi
done
scan=$(run "large scan" --db large --keys "$large" --connections 1 --seconds "$seconds" scan)
group=$(run "large group" --db large --keys "$large" --connections 1 --seconds "$seconds" group)

python3 - "$small" "$large" "$(field mean_us "$find_small")" "$(field mean_us "$find_large")" \
  "$(field p50_us "$find_small")" "$(field p50_us "$find_large")" "$(field docs_per_sec "$scan")" \
  "$(field p50_us "$scan")" "$(field min_us "$group")" "$(field p50_us "$group")" <<'PY'
import sys
small, large = map(int, sys.argv[1:3])
small_mean, large_mean, small_p50, large_p50, scan_rate, scan_p50, group_min, group_p50 = map(float, sys.argv[3:])
verdict = lambda ok: "PASS" if ok else "FAIL"
ratio = large_mean / small_mean
print(f"(a) indexed equality find, mean latency: {large:,} docs {large_mean:,.0f} us, {small:,} docs {small_mean:,.0f} us, "
      f"ratio {ratio:.2f}x (medians {large_p50:,.0f} / {small_p50:,.0f} us = {large_p50 / small_p50:.2f}x); "
      f"target <= 3x: {verdict(ratio <= 3)}")
print(f"(b) unindexed scan, filter matching 1%: {scan_rate:,.0f} docs/s ({scan_p50 / 1e3:,.0f} ms per run of {large:,}); "
      f"target >= 1,000,000 docs/s: {verdict(scan_rate >= 1e6)}")
print(f"(c) $group by a 100-value key over {large:,} docs: median {group_p50 / 1e6:.2f} s (min {group_min / 1e6:.2f} s); "
      f"target < 2 s: {verdict(group_p50 < 2e6)}")
PY
