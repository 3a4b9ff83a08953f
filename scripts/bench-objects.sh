#!/usr/bin/env bash
# The object-storage figures of docs/PERFORMANCE.md, with the load tool against
# release servers on free ports: the embedded store (redb, a data directory) and the
# store in object storage on SeaweedFS (scripts/lib/seaweedfs.sh) on this machine,
# each under strict durability, in the same run: 20,000 inserts of one document per
# command from 16 connections (throughput, p50 and p99), then finds by a random
# `_id` of those from 16 connections for 20 s. Then, on SeaweedFS, the figures
# below (pymongo in a venv under target/client-tools).
#
#   scripts/bench-objects.sh [documents] [seconds of finds] [documents for createBranch]
set -euo pipefail
cd "$(dirname "$0")/.."
documents=${1:-20000}
seconds=${2:-20}
big=${3:-1000000}
cargo build --release --bins --quiet
bin=${CARGO_TARGET_DIR:-target}/release
load=$bin/load
. scripts/lib/seaweedfs.sh branchdb-bench

run() {
  local name=$1; shift
  local port data server
  port=$(free_port)
  data=$(mktemp -d)
  "$bin/branchdb" serve --bind "127.0.0.1:$port" --data-dir "$data" --log warn "$@" > "$data/server.log" 2>&1 &
  server=$!
  until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do sleep 0.1; done
  echo "$name insert: $("$load" --addr "127.0.0.1:$port" --db bench --total "$documents" --batch 1 --connections 16 \
    --seconds 3600 insert | tail -1)"
  echo "$name find by _id: $("$load" --addr "127.0.0.1:$port" --db bench --keys "$documents" --connections 16 \
    --seconds "$seconds" find-id | tail -1)"
  kill "$server"
  wait "$server" || true
  rm -rf "$data"
}
run embedded
run "object storage" --storage "s3://branchdb-bench/run-$$"

# The rest on SeaweedFS only: createBranch at 1,000 and at $big documents,
# a read replica's lag behind the writer (write on the writer, poll the replica),
# and finds by _id from a server started on an empty data directory (a cold cache)
# against the same server once it has read every document (a warm one).
python=target/client-tools/venv/bin/python
if [ ! -x "$python" ]; then
  python3 -m venv target/client-tools/venv
  target/client-tools/venv/bin/pip install --quiet --disable-pip-version-check pymongo
fi
storage="s3://branchdb-bench/more-$$"
start() { # start NAME ARGS...: a server on a free port; sets $port and $server
  port=$(free_port)
  local data; data=$(mktemp -d)
  "$bin/branchdb" serve --bind "127.0.0.1:$port" --data-dir "$data" --log warn "${@:2}" > "$data/server.log" 2>&1 &
  server=$!
  until "$load" --addr "127.0.0.1:$port" --connections 1 --seconds 0 ping > /dev/null 2>&1; do sleep 0.1; done
}
start writer --storage "$storage"
writer_port=$port writer=$server
"$load" --addr "127.0.0.1:$writer_port" --db small --total 1000 --batch 1000 --connections 1 --seconds 3600 insert > /dev/null
"$load" --addr "127.0.0.1:$writer_port" --db big --total "$big" --batch 1000 --connections 4 --seconds 3600 insert | tail -1 | sed "s/^/object storage load of $big documents: /"
start replica --replica-of "$storage" --primary "127.0.0.1:$writer_port"
replica_port=$port replica=$server
"$python" - "$writer_port" "$replica_port" "$big" <<'PY'
import statistics, sys, time, pymongo
writer, replica = (pymongo.MongoClient(f"mongodb://127.0.0.1:{p}/?directConnection=true") for p in sys.argv[1:3])
for db, docs in (("small", "1,000"), ("big", f"{int(sys.argv[3]):,}")):
    took = []
    for i in range(5):
        started = time.perf_counter()
        writer[db].command("createBranch", f"b{i}")
        took.append((time.perf_counter() - started) * 1000)
    print(f"object storage createBranch at {docs} documents: median {statistics.median(took):.1f} ms of 5")
lags = []
for i in range(200):
    writer.lag.items.insert_one({"_id": i})
    written = time.perf_counter()
    while replica.lag.items.find_one({"_id": i}) is None:
        time.sleep(0.002)
    lags.append((time.perf_counter() - written) * 1000)
lags.sort()
print(f"replica lag (write acknowledged to readable on the replica, 200 writes): "
      f"p50 {lags[99]:.0f} ms, p99 {lags[197]:.0f} ms, max {lags[-1]:.0f} ms")
PY
kill "$replica" "$writer"; wait "$replica" "$writer" 2>/dev/null || true
start cold --storage "$storage"
echo "object storage find by _id, cold cache (first 5 s): $("$load" --addr "127.0.0.1:$port" --db big \
  --keys "$big" --connections 16 --seconds 5 find-id | tail -1)"
"$python" - "$port" <<'PY'
import sys, time, pymongo
items = pymongo.MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}/?directConnection=true").big.items
started = time.perf_counter()
read = sum(1 for _ in items.find({}, {"_id": 1}).batch_size(10000))
print(f"object storage read of all {read:,} documents once (which warms the cache): {time.perf_counter() - started:.1f} s")
PY
echo "object storage find by _id, warm (after that read, 5 s): $("$load" --addr "127.0.0.1:$port" --db big \
  --keys "$big" --connections 16 --seconds 5 find-id | tail -1)"
kill "$server"; wait "$server" 2>/dev/null || true
