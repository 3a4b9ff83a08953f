#!/usr/bin/env bash
# The object-storage tests (tests/objects.rs) against a real S3-compatible server,
# SeaweedFS (scripts/lib/seaweedfs.sh), each test under a prefix of its own in one
# bucket. Without it the same tests run on SlateDB over a local directory
# (`cargo test`).
#
#   scripts/objects-s3.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/seaweedfs.sh branchdb-tests
BRANCHDB_TEST_OBJECTS=s3://branchdb-tests cargo test --test objects
