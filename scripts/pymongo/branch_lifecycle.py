"""The branch lifecycle through pymongo, as a pull request walks it.

  python branch_lifecycle.py PORT

Branch, change both sides, diff (read through pymongo's command cursor and its
getMores), a dry run, a merge stopped by a conflict, each strategy, a reset of main
to before the merge and back, protection, read-only, expiry, and the log.
"""
import sys
import time
from datetime import datetime, timedelta, timezone

import pymongo
from pymongo.errors import OperationFailure

port = int(sys.argv[1])
client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=5000)
shop = client.get_database("pr_shop")
feature = client.get_database("pr_shop@feature")


def cursor(db, command):
    """Every document of a command's cursor, through pymongo's getMore."""
    with db.cursor_command(command) as documents:
        return list(documents)


def code_of(call):
    try:
        call()
    except OperationFailure as e:
        return e.code
    raise AssertionError("expected an error")


shop.items.insert_many([{"_id": i, "price": 10, "stock": 5} for i in range(1, 6)])
shop.command("createBranch", "feature")
feature.items.update_one({"_id": 1}, {"$set": {"price": 12}})
feature.items.update_one({"_id": 2}, {"$set": {"price": 13}})
feature.items.delete_one({"_id": 3})
feature.items.insert_one({"_id": 6, "price": 1, "stock": 1})
shop.items.update_one({"_id": 1}, {"$set": {"stock": 4}})
shop.items.update_one({"_id": 2}, {"$set": {"price": 14}})

changes = cursor(shop, {"diff": "main", "with": "feature", "batchSize": 1})
assert [(c["_id"], c["op"]) for c in changes] == [(1, "update"), (2, "update"), (3, "delete"), (6, "insert")], changes
assert changes[0]["updateDescription"]["updatedFields"] == {"price": 12, "stock": 5}, changes[0]

dry = shop.command({"mergeBranch": "feature", "dryRun": True})
assert dry["merged"] is False and dry["conflictCount"] == 1, dry
assert dry["conflicts"][0]["fields"] == ["price"] and dry["conflicts"][0]["ours"]["price"] == 14, dry
stopped = shop.command({"mergeBranch": "feature"})
assert stopped["merged"] is False and "lsn" not in stopped, stopped
assert shop.items.find_one({"_id": 3}) is not None, "a stopped merge writes nothing"

merged = shop.command({"mergeBranch": "feature", "strategy": "theirs"})
assert merged["merged"] is True and (merged["inserted"], merged["updated"], merged["deleted"]) == (1, 2, 1), merged
assert shop.items.find_one({"_id": 1}) == {"_id": 1, "price": 12, "stock": 4}
assert shop.items.find_one({"_id": 2})["price"] == 13

# ours, after another conflicting change on each side.
feature.items.update_one({"_id": 4}, {"$set": {"price": 20}})
shop.items.update_one({"_id": 4}, {"$set": {"price": 30}})
ours = shop.command({"mergeBranch": "feature", "strategy": "ours"})
assert ours["conflictCount"] == 1 and shop.items.find_one({"_id": 4})["price"] == 30, ours

# Restore main to before the first merge, then back.
after = shop.command("branchInfo", "main")["headLsn"]
shop.command({"resetBranch": "main", "to": f"main~{merged['lsn'] - 1}"})
assert shop.items.find_one({"_id": 3}) is not None and shop.items.find_one({"_id": 6}) is None
shop.command({"resetBranch": "main", "to": f"main~{after}"})
assert shop.items.find_one({"_id": 3}) is None and shop.items.find_one({"_id": 4})["price"] == 30

shop.command({"updateBranch": "main", "protected": True})
assert code_of(lambda: shop.command({"resetBranch": "main", "to": "feature"})) == 20
assert code_of(lambda: shop.command({"mergeBranch": "feature"})) == 20
shop.command({"updateBranch": "main", "protected": False})
shop.command({"updateBranch": "feature", "readOnly": True})
assert code_of(lambda: feature.items.insert_one({"_id": 99})) == 20

shop.command("createBranch", "ci-7")
shop.command({"updateBranch": "ci-7", "expireAt": datetime.now(timezone.utc) - timedelta(seconds=1)})
for _ in range(50):
    if "ci-7" not in [b["name"] for b in shop.command("listBranches")["branches"]]:
        break
    time.sleep(0.1)
else:
    raise AssertionError("the expired branch is still there")

log = cursor(shop, {"branchLog": "main", "batchSize": 2})
assert "reset" in log[0], log[0]
assert any(entry.get("merge", {}).get("from") == "feature" for entry in log), log
assert code_of(lambda: shop.command({"diff": "main", "with": "nope"})) == 26
print("pymongo: branch lifecycle ok")
client.close()
