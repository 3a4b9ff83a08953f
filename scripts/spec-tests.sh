#!/usr/bin/env bash
# Runs one suite of the unified tests of the MongoDB specifications through pymongo's
# own test runner (the test/test_*_unified.py files of the pymongo 4.20.0 source
# package) against a freshly started server (test commands enabled, for the
# failCommand fail point), prints the passed / failed / skipped counts, the failing
# tests grouped by their first error, and checks the suite's ratchet: every test listed
# in proto-tests/spec/SUITE.txt must still pass (new passes only print a hint).
# Installs pymongo's source, pytest and its plugins itself, pinned, in a venv under
# target/client-tools/spec-tests (later runs reuse it), and adds to the runner the array
# length check the unified test format requires and pymongo's runner lacks.
#
#   scripts/spec-tests.sh SUITE [path to the branchdb binary] [--update]
#
# SUITE: crud, transactions (with the convenient transactions API), retryable-writes,
# retryable-reads, sessions or change-streams. --update rewrites the suite's ratchet with the tests that
# pass now.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:?usage: scripts/spec-tests.sh SUITE [binary] [--update]}
shift
# select: a pytest -k expression leaving out tests of a feature that has its own issue
# and is not built yet (the report counts them as deselected).
select=()
case "$suite" in
  crud) tests=test/test_crud_unified.py ;;
  transactions) tests=test/test_transactions_unified.py ;;
  retryable-writes) tests=test/test_retryable_writes_unified.py ;;
  retryable-reads) tests=test/test_retryable_reads_unified.py ;;
  sessions) tests=test/test_sessions_unified.py ;;
  # The unified tests only (test_change_stream.py also holds pymongo's own API tests).
  change-streams) tests=test/test_change_stream.py; select=(-k "TestUnified or Unified") ;;
  *) echo "spec-tests: unknown suite '$suite'" >&2; exit 2 ;;
esac
bin=target/debug/branchdb
update=()
for arg in "$@"; do
  case "$arg" in
    --update) update=(--update) ;;
    *) bin=$arg ;;
  esac
done

pymongo_version=4.20.0
pins="pytest==9.2.0 pytest-asyncio==1.4.1.post1 pytest-timeout==2.4.0 dnspython==2.9.2"
tools=target/client-tools/spec-tests
src=$tools/pymongo-$pymongo_version
stamp="pymongo==$pymongo_version $pins, array length check"

if [ "$(cat "$tools/installed" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$tools"
  mkdir -p "$tools"
  python3 -m venv "$tools/venv"
  pip=("$tools/venv/bin/pip" --quiet --disable-pip-version-check)
  "${pip[@]}" download --no-deps --no-binary :all: "pymongo==$pymongo_version" -d "$tools/download"
  tar -xzf "$tools/download/pymongo-$pymongo_version.tar.gz" -C "$tools"
  # shellcheck disable=SC2086 # $pins is a list of requirements
  "${pip[@]}" install -e "$src" $pins
  # The unified test format requires equal lengths when it compares arrays ("Arrays Must
  # Contain the Same Number of Elements"); pymongo's matcher zips them, so a find that
  # returns too few documents would pass. Add the check.
  "$tools/venv/bin/python" - "$src/test/unified_format_shared.py" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
loop = "            for e, a in zip(expectation, actual, strict=False):\n"
check = '            self.test.assertEqual(len(expectation), len(actual), "arrays differ in length")\n'
assert text.count(loop) == 1, "the array comparison of the unified runner moved"
open(path, "w").write(text.replace(loop, check + loop))
PY
  echo "$stamp" > "$tools/installed"
fi
python=$PWD/$tools/venv/bin/python

if [ "$suite" = change-streams ]; then
  # change-streams.json, the suite's main file, runs only against a replica set; branchdb
  # presents itself as a router (SPEC §6) but serves change streams as a replica set
  # does. Run it too, as a copy named change-streams-router.json whose requirements
  # also admit a router; the report counts its tests under their own class.
  "$python" - "$src/test/change_streams/unified" <<'PY'
import json, sys
folder = sys.argv[1]
suite = json.load(open(f"{folder}/change-streams.json"))
for requirement in suite.get("runOnRequirements", []):
    if "replicaset" in requirement.get("topologies", []):
        requirement["topologies"].append("sharded")
suite["description"] += " (run against a router)"
json.dump(suite, open(f"{folder}/change-streams-router.json", "w"), indent=1)
PY
fi

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
# No fsync per write: the suite checks semantics, not durability, and runs faster.
"$bin" serve --bind "127.0.0.1:$port" --data-dir "$data" --durability none --log warn --enable-test-commands \
  > "$data/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if ! (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  cat "$data/server.log"
  echo "spec-tests: the server did not start listening on port $port" >&2
  exit 1
fi

# pytest exits 1 when tests fail (the report below judges those); other codes mean the
# harness itself broke (collection error, interrupt, timeout of the whole run).
status=0
(cd "$src" && DB_IP=127.0.0.1 DB_PORT=$port timeout 600 "$python" -m pytest "$tests" "${select[@]}" \
  -p no:cacheprovider --timeout 60 -q --junitxml="$data/results.xml") > "$data/pytest.log" 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  tail -n 40 "$data/pytest.log"
  echo "spec-tests: pytest exited with status $status" >&2
  exit 1
fi
if ! kill -0 "$server" 2>/dev/null; then
  tail -n 40 "$data/server.log"
  echo "spec-tests: the server exited during the run" >&2
  exit 1
fi

"$python" scripts/spec-tests-report.py "$suite" "$data/results.xml" "proto-tests/spec/$suite.txt" "${update[@]}"
