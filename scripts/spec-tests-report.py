"""Reads the JUnit XML of a run of one suite of pymongo's unified tests and reports it for scripts/spec-tests.sh.

Prints the passed / failed / errors / skipped counts, the share of the tests that ran
(not skipped) that pass, the failing tests grouped by the first line of their error,
and the failing tests one a line. Then checks the ratchet file, which lists the ids of
the tests that passed when it was recorded: exits 1 when any of them no longer passes,
and prints a hint when tests pass that it does not list. With --update it rewrites the
file with the tests that pass now.

    python spec-tests-report.py SUITE RESULTS.xml RATCHET.txt [--update]
"""

from __future__ import annotations

import collections
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HEADER = """\
# The {suite} unified tests of the MongoDB specifications (pymongo {version}'s runner) that
# pass against branchdb: scripts/spec-tests.sh fails when one of them stops passing.
# Rewrite with scripts/spec-tests.sh {suite} target/debug/branchdb --update.
# passed {passed} of {ran} run ({skipped} skipped)
"""
PYMONGO_VERSION = "4.20.0"


def read_results(path: Path) -> dict[str, tuple[str, str]]:
    """Each test id (`TestClass::test_name`) with its outcome and the first line of its error."""
    results = {}
    for case in ET.parse(path).iter("testcase"):
        test_id = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or child.text or "").strip().split("\n")[0]
        results[test_id] = (outcome, message)
    return results


def error_kind(message: str) -> str:
    """The error of a failure without the parts that vary between tests."""
    if message.startswith("pymongo.errors.BulkWriteError"):
        first = re.search(r"""'errmsg': (?:'((?:[^'\\]|\\.)*)'|"([^"]*)")""", message)
        if first:
            errmsg = (first.group(1) or first.group(2)).replace("\\'", "'")
            message = f"pymongo.errors.BulkWriteError: {errmsg}"
    message = message.split(", full error:")[0].replace(" : expected events:", " (count of events)")
    message = re.sub(r"in element \{.*\}", "in element {...}", message)
    message = re.sub(r"succeeded: .*", "succeeded", message)
    return message[:160]


def read_ratchet(path: Path) -> set[str]:
    """The test ids the ratchet file lists."""
    if not path.exists():
        return set()
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def write_ratchet(suite: str, path: Path, passing: list[str], counts: collections.Counter[str]) -> None:
    """Records the passing test ids and the counts they come from."""
    ran = counts["passed"] + counts["failed"] + counts["errors"]
    header = HEADER.format(suite=suite, version=PYMONGO_VERSION, passed=counts["passed"], ran=ran, skipped=counts["skipped"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(f"{test_id}\n" for test_id in passing))


def main() -> int:
    args = [arg for arg in sys.argv[1:] if arg != "--update"]
    update = "--update" in sys.argv[1:]
    suite = args[0]
    results = read_results(Path(args[1]))
    ratchet = Path(args[2])

    counts = collections.Counter(outcome for outcome, _ in results.values())
    ran = counts["passed"] + counts["failed"] + counts["errors"]
    share = 100 * counts["passed"] / ran if ran else 0.0
    print(
        f"{suite} unified spec tests: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['errors']} errors, {counts['skipped']} skipped, of {len(results)}"
    )
    print(f"{share:.1f}% of the {ran} tests that ran (not skipped) pass")

    failing = sorted(test_id for test_id, (outcome, _) in results.items() if outcome in ("failed", "errors"))
    kinds = collections.Counter(error_kind(results[test_id][1]) for test_id in failing)
    if kinds:
        print("\nFailing tests by first error:")
        for kind, count in kinds.most_common():
            print(f"  {count:4}  {kind}")
        print("\nFailing tests:")
        for test_id in failing:
            print(f"  {test_id}")

    passing = sorted(test_id for test_id, (outcome, _) in results.items() if outcome == "passed")
    if update:
        write_ratchet(suite, ratchet, passing, counts)
        print(f"\nrecorded {len(passing)} passing tests in {ratchet}")
        return 0

    recorded = read_ratchet(ratchet)
    lost = sorted(recorded - set(passing))
    gained = sorted(set(passing) - recorded)
    if gained:
        print(f"\n{len(gained)} tests pass that {ratchet} does not list; record them with --update:")
        for test_id in gained:
            print(f"  {test_id}")
    if lost:
        print(f"\n{len(lost)} tests listed in {ratchet} no longer pass:", file=sys.stderr)
        for test_id in lost:
            outcome, message = results.get(test_id, ("missing", "not in this run"))
            print(f"  {test_id}  [{outcome}] {message[:200]}", file=sys.stderr)
        return 1
    print(f"\nratchet ok: all {len(recorded)} recorded tests pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
