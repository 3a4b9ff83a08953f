#!/usr/bin/env bash
# Stops (kill -9) or starts again the SeaweedFS that scripts/lib/seaweedfs.sh set up
# in $SEAWEEDFS_DIR, on the same ports and data: for the tests of object storage
# going away (tests/objects.rs finds this script in BRANCHDB_TEST_S3_CONTROL).
#
#   SEAWEEDFS_DIR=... scripts/lib/seaweedfs-control.sh stop|start
set -eu
dir=${SEAWEEDFS_DIR:?}
case "$1" in
  stop) kill -9 "$(cat "$dir/pid")" ;;
  start)
    mapfile -d '' -t command < "$dir/command"
    "${command[@]}" >> "$dir/weed.log" 2>&1 &
    echo $! > "$dir/pid"
    ;;
  *) echo "usage: $0 stop|start" >&2; exit 2 ;;
esac
