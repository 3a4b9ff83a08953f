#!/usr/bin/env bash
# The $setWindowFields figure of docs/PERFORMANCE.md over the wire, with the load
# tool against a release server (batched durability) on a free port and a
# temporary data directory: a sum over a sliding window of 100 documents, for each
# of 1,000,000 documents (100 partitions by `k`, each sorted by `u`), in under 3 s
# (median run of the `window` workload, which also scans, sorts and counts).
#
#   scripts/bench-window.sh [documents]
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-1000000}
seconds=${SECONDS_EACH:-20}
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

"$load" --addr "127.0.0.1:$port" --db large --total "$total" --batch 1000 --connections 16 --seconds 3600 insert \
  | tail -1 | sed 's/^/insert: /' >&2
line=$("$load" --addr "127.0.0.1:$port" --db large --keys "$total" --connections 1 --seconds "$seconds" window | tail -1)
echo "window: $line" >&2
field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
python3 - "$total" "$(field p50_us)" "$(field min_us)" "$(field ops)" <<'PY'
import sys
total, p50, low, ops = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
verdict = "PASS" if p50 < 3e6 else "FAIL"
print(f"$setWindowFields, a 100-document sliding $sum over {total:,} docs: median {p50 / 1e6:.2f} s "
      f"(min {low / 1e6:.2f} s, {ops} runs); target < 3 s: {verdict}")
PY
