#!/usr/bin/env bash
# The bulkWrite figure of docs/PERFORMANCE.md over the wire, with the load tool
# against a release server on a free port and a temporary data directory: commands
# of `batch` (default 100,000) mixed operations (half inserts, a quarter updates, a
# quarter deletes, by `_id`) against `insert` commands of as many documents of the
# same shape, one connection each, 1,000,000 operations per run, in alternating
# rounds on fresh databases. The issue's figure: bulkWrite at least as fast per
# operation as insert batches.
#
#   scripts/bench-bulk-write.sh [batch] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-100000}
rounds=${2:-3}
cargo build --release --bins --quiet
bin=${CARGO_TARGET_DIR:-target}/release
load=$bin/load
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT

"$bin/branchdb" serve --bind "127.0.0.1:$port" --data-dir "$data" --log warn > "$data/server.log" 2>&1 &
server=$!
until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do sleep 0.1; done

rate() { echo "$1" | tr ' ' '\n' | sed -n 's/^docs_per_sec=//p'; }
inserts=() bulks=()
for round in $(seq 1 "$rounds"); do
  line=$("$load" --addr "127.0.0.1:$port" --db "ins$round" --total 1000000 --batch "$batch" --connections 1 --seconds 600 insert | tail -1)
  inserts+=("$(rate "$line")")
  line=$("$load" --addr "127.0.0.1:$port" --db "bulk$round" --total 1000000 --batch "$batch" --connections 1 --seconds 600 bulk-write | tail -1)
  bulks+=("$(rate "$line")")
  echo "round $round: insert ${inserts[-1]} docs/s, bulkWrite ${bulks[-1]} ops/s" >&2
done
python3 - "$batch" "${inserts[*]}" "${bulks[*]}" <<'PY'
import statistics, sys
batch, inserts, bulks = int(sys.argv[1]), list(map(float, sys.argv[2].split())), list(map(float, sys.argv[3].split()))
i, b = statistics.median(inserts), statistics.median(bulks)
verdict = "PASS" if b >= i else "FAIL"
print(f"batches of {batch:,}: insert {i:,.0f} docs/s, bulkWrite {b:,.0f} ops/s (median of {len(bulks)}); "
      f"bulkWrite/insert {b / i:.2f}; target >= 1: {verdict}")
PY
