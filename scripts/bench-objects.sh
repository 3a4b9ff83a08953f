#!/usr/bin/env bash
# The object-storage figures of docs/PERFORMANCE.md, with the load tool against
# release servers on free ports: the embedded store (redb, a data directory) and the
# store in object storage on SeaweedFS (scripts/lib/seaweedfs.sh) on this machine,
# each under strict durability, in the same run: 20,000 inserts of one document per
# command from 16 connections (throughput, p50 and p99), then finds by a random
# `_id` of those from 16 connections for 20 s.
#
#   scripts/bench-objects.sh [documents] [seconds of finds]
set -euo pipefail
cd "$(dirname "$0")/.."
documents=${1:-20000}
seconds=${2:-20}
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
