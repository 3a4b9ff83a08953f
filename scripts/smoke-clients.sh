#!/usr/bin/env bash
# Connects pymongo and mongosh to a freshly started server and runs ping, buildInfo
# and hello through each, then the branch workflow (insert, createBranch, write on
# the branch, main unchanged, a past point, drop); fails on an error or on a
# compatibility warning in their output. Installs both clients itself (a venv and an npm prefix under target/).
#
#   scripts/smoke-clients.sh [path to the branchdb binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/branchdb}
tools=target/client-tools
mkdir -p "$tools"

if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check pymongo
fi
if [ ! -x "$tools/npm/node_modules/.bin/mongosh" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" mongosh@2 > /dev/null
fi

port=$("$tools/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
"$bin" serve --bind "127.0.0.1:$port" --data-dir "$data" --log warn > "$data/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

"$tools/venv/bin/python" -W error - "$port" <<'PY'
import sys, pymongo
client = pymongo.MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}/?directConnection=true", serverSelectionTimeoutMS=5000)
assert client.admin.command("ping")["ok"] == 1.0
info = client.admin.command("buildInfo")
assert info["version"].startswith("8.0."), info
hello = client.test.command("hello")
assert hello["isWritablePrimary"] and hello["maxWireVersion"] == 25, hello
print("pymongo: ping, buildInfo", info["version"], "and hello ok; server type", client.topology_description.server_descriptions()[("127.0.0.1", int(sys.argv[1]))].server_type_name)

shop = client.shop.items
shop.insert_many([{"_id": i, "price": i} for i in range(300)])
head = client.shop.command("branchInfo", "main")["headLsn"]
created = client.shop.command("createBranch", "feature-x")
assert created["parent"] == "main" and created["baseLsn"] >= head, created
feature = client["shop@feature-x"].items
assert feature.update_one({"_id": 1}, {"$set": {"price": 100}}).modified_count == 1
assert feature.delete_many({"price": 2}).deleted_count == 1
assert shop.find_one({"_id": 1})["price"] == 1, "main is unchanged"
assert feature.find_one({"_id": 1})["price"] == 100
assert len(list(feature.find())) == 299 and len(list(shop.find())) == 300, "cursors iterate past the first batch"
past = client[f"shop@main~{head}"].items
assert past.find_one({"_id": 1})["price"] == 1
try:
    past.insert_one({"_id": 1000})
    raise AssertionError("a past point accepted a write")
except pymongo.errors.OperationFailure as e:
    assert e.code == 20, e
names = client.list_database_names()
assert "shop" in names and "shop@feature-x" in names, names
client.shop.command("dropBranch", "feature-x")
print("pymongo: branch workflow ok")
client.close()
PY

"$tools/venv/bin/python" -W error scripts/pymongo/never_silently_wrong.py "$port"
"$tools/venv/bin/python" -W error scripts/pymongo/branch_lifecycle.py "$port"

out=$("$tools/npm/node_modules/.bin/mongosh" "mongodb://127.0.0.1:$port/test" --eval '
  const ping = db.runCommand({ping: 1}); if (ping.ok !== 1) throw new Error("ping " + JSON.stringify(ping));
  const version = db.version(); if (!version.startsWith("8.0.")) throw new Error("version " + version);
  const hello = db.hello(); if (!hello.isWritablePrimary) throw new Error("hello");
  print("mongosh: ping, buildInfo " + version + " and hello ok");
  const shop = db.getSiblingDB("shop2");
  shop.items.insertMany([{_id: 1, name: "pen"}, {_id: 2, name: "ink"}]);
  shop.runCommand({createBranch: "try"});
  const branch = db.getSiblingDB("shop2@try");
  branch.items.updateOne({_id: 1}, {$set: {name: "quill"}});
  if (shop.items.findOne({_id: 1}).name !== "pen") throw new Error("main changed");
  if (branch.items.findOne({_id: 1}).name !== "quill") throw new Error("branch write lost");
  if (branch.items.find().toArray().length !== 2) throw new Error("branch find");
  print("mongosh: branch workflow ok");
  // The index example of the README: a unique index per branch, and explain.
  const users = db.getSiblingDB("shop3");
  if (users.users.createIndex({email: 1}, {unique: true}) !== "email_1") throw new Error("createIndex");
  users.users.insertOne({email: "ann@example.com"});
  users.runCommand({createBranch: "trial"});
  let refused = false;
  try { db.getSiblingDB("shop3@trial").users.insertOne({email: "ann@example.com"}); } catch (e) { refused = e.code === 11000; }
  if (!refused) throw new Error("duplicate accepted on the branch");
  const plan = users.users.find({email: "ann@example.com"}).explain().queryPlanner.winningPlan;
  if (plan.inputStage.stage !== "IXSCAN") throw new Error("explain " + JSON.stringify(plan));
  if (users.users.getIndexes().length !== 2) throw new Error("getIndexes");
  print("mongosh: indexes and explain ok");
  // The transaction example of the README.
  const bank = db.getSiblingDB("bank");
  bank.accounts.insertMany([{_id: "ann", balance: 100}, {_id: "bob", balance: 0}]);
  const session = db.getMongo().startSession();
  session.withTransaction(() => {
    const accounts = session.getDatabase("bank").accounts;
    accounts.updateOne({_id: "ann"}, {$inc: {balance: -10}});
    accounts.updateOne({_id: "bob"}, {$inc: {balance: 10}});
  });
  session.endSession();
  if (bank.accounts.findOne({_id: "bob"}).balance !== 10) throw new Error("transaction not committed");
  print("mongosh: withTransaction ok");
' 2>&1)
echo "$out" | grep -v "^npm warn"
if echo "$out" | grep -qiE "non-genuine|not a genuine|documentdb|cosmosdb|warning: this server"; then
  echo "mongosh printed a compatibility warning" >&2
  exit 1
fi
echo "$out" | grep -q "mongosh: withTransaction ok" || { echo "mongosh failed" >&2; exit 1; }

# The README's quick-start session, typed into mongosh as a user would (`it` included).
session=$("$tools/npm/node_modules/.bin/mongosh" "mongodb://127.0.0.1:$port/test" --quiet < scripts/mongosh/quick-start.js 2>&1)
for expected in "{ name: 'item-20', price: 100 }" "matchedCount: 4" "tags: [ 'odd', 'sale' ]" "deletedCount: 5" \
  'Type "it" for more' "{ _id: 0, name: 'item-0' }" "operationType: 'insert'" \
  "fullDocument: { _id: 30, name: 'item-30', price: 150 }"; do
  if ! grep -qF "$expected" <<< "$session"; then
    echo "$session"
    echo "mongosh quick-start session: missing $expected" >&2
    exit 1
  fi
done
echo "mongosh: quick-start session (operators, updates, deletes, it) ok"

# Access control, on a server of its own.
scripts/smoke-auth.sh "$bin"
