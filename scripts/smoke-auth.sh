#!/usr/bin/env bash
# Access control through pymongo and mongosh, against a server started with --auth:
# the localhost exception creates the first user; SCRAM-SHA-256 and SCRAM-SHA-1
# logins; a wrong password (18) and an unauthenticated find (13); a user who reads
# main and writes only feature branches; the users and roles helpers of mongosh;
# and no password or SCRAM message in the server's log. Then TLS (requireTLS, a CA
# made with openssl): both clients connect over TLS, a plain connection fails. Uses the clients
# scripts/smoke-clients.sh installs (it runs this script).
#
#   scripts/smoke-auth.sh [path to the branchdb binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/branchdb}
tools=target/client-tools
python="$tools/venv/bin/python"
mongosh="$tools/npm/node_modules/.bin/mongosh"

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
"$bin" serve --auth --bind "127.0.0.1:$port" --data-dir "$data" --log info > "$data/server.log" 2>&1 &
server=$!
tls_server=
trap 'kill $server $tls_server 2>/dev/null; wait 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

"$python" -W error - "$port" <<'PY'
import sys
import pymongo
from pymongo.errors import OperationFailure
port = int(sys.argv[1])
base = f"127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=5000"

opened = []

def MongoClient(uri):
    client = pymongo.MongoClient(uri)
    opened.append(client)
    return client

def code(f):
    try:
        f()
    except OperationFailure as e:
        return e.code
    return None

anonymous = MongoClient(f"mongodb://{base}")
assert code(lambda: anonymous.shop.items.find_one()) == 13
anonymous.admin.command("createUser", "root", pwd="root-Secret-1", roles=["root"])
assert code(lambda: anonymous.admin.command("createUser", "late", pwd="x", roles=[])) == 13, "the exception closed"
for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1"]:
    root = MongoClient(f"mongodb://root:root-Secret-1@{base}&authSource=admin&authMechanism={mechanism}")
    users = root.admin.command("connectionStatus")["authInfo"]["authenticatedUsers"]
    assert users == [{"user": "root", "db": "admin"}], users
    wrong = MongoClient(f"mongodb://root:Wrong-Guess-9@{base}&authSource=admin&authMechanism={mechanism}")
    assert code(lambda: wrong.admin.command("ping")) == 18, mechanism

root = MongoClient(f"mongodb://root:root-Secret-1@{base}&authSource=admin")
root.shop.items.insert_one({"_id": 1})
root.shop.command("createBranch", "feature-a")
root.shop.command("createUser", "dev", pwd="dev-Secret-2",
                  roles=[{"role": "read", "db": "shop"}, {"role": "readWrite", "db": "shop@feature-*"}])
dev = MongoClient(f"mongodb://dev:dev-Secret-2@{base}&authSource=shop")
assert dev.shop.items.find_one({"_id": 1}) == {"_id": 1}
assert code(lambda: dev.shop.items.insert_one({"_id": 2})) == 13, "main is read-only for dev"
dev["shop@feature-a"].items.insert_one({"_id": 2})
assert code(lambda: dev.shop.command("createUser", "eve", pwd="x", roles=[])) == 13
info = root.shop.command("usersInfo", "dev")["users"][0]
assert "credentials" not in info and sorted(info["mechanisms"]) == ["SCRAM-SHA-1", "SCRAM-SHA-256"], info

lines = root.admin.command("getLog", "global")["log"]
assert any("Authentication failed" in line for line in lines), "failed logins are logged"
for secret in ["root-Secret-1", "Wrong-Guess-9", "dev-Secret-2", "n,,n=", "c=biws", ",p="]:
    leaked = [line for line in lines if secret in line]
    assert not leaked, f"{secret!r} in the log: {leaked[:1]}"
for client in opened:
    client.close()
print("pymongo: localhost exception, SCRAM-SHA-256 and SCRAM-SHA-1, 18 and 13, branch-scoped roles, no secrets logged: ok")
PY

out=$("$mongosh" "mongodb://root:root-Secret-1@127.0.0.1:$port/shop?authSource=admin" --quiet --eval '
  const status = db.runCommand({connectionStatus: 1});
  if (status.authInfo.authenticatedUsers[0].user !== "root") throw new Error(JSON.stringify(status));
  db.createRole({role: "featureWriter", privileges: [{resource: {db: "shop@feature-*", collection: ""}, actions: ["find", "insert"]}], roles: []});
  db.createUser({user: "ci", pwd: "ci-Secret-3", roles: ["featureWriter"]});
  if (db.getUsers().users.length !== 2) throw new Error("getUsers " + JSON.stringify(db.getUsers()));
  const roles = db.getRoles({showBuiltinRoles: true, showPrivileges: true}).roles.map(r => r.role);
  if (!roles.includes("featureWriter") || !roles.includes("readWrite")) throw new Error("getRoles " + roles);
  db.grantRolesToUser("ci", [{role: "read", db: "shop"}]);
  db.updateUser("ci", {customData: {team: "build"}});
  print("mongosh: users and roles helpers ok");
' 2>&1)
echo "$out" | grep -q "mongosh: users and roles helpers ok" || { echo "mongosh (root): $out" >&2; exit 1; }
out=$("$mongosh" "mongodb://ci:ci-Secret-3@127.0.0.1:$port/shop@feature-a?authSource=shop" --quiet --eval '
  db.items.insertOne({_id: 3});
  let refused = false;
  try { db.getSiblingDB("shop").items.insertOne({_id: 4}); } catch (e) { refused = e.code === 13; }
  if (!refused) throw new Error("ci wrote main");
  print("mongosh: a custom role scoped to feature branches ok");
' 2>&1)
echo "$out" | grep -q "ok" || { echo "mongosh (ci): $out" >&2; exit 1; }
echo "$out"
if grep -qE "root-Secret-1|dev-Secret-2|ci-Secret-3|Wrong-Guess-9|c=biws" "$data/server.log"; then
  echo "the server's log holds a password or a SCRAM message" >&2
  exit 1
fi

# TLS: a CA, a server certificate for 127.0.0.1, a server that requires TLS.
certs="$data/certs"
mkdir -p "$certs"
(
  cd "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=smoke CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
    -extfile server.ext 2>/dev/null
)
tls_port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --bind "127.0.0.1:$tls_port" --data-dir "$data/tls" --log warn --tls-mode requireTLS \
  --tls-cert-file "$certs/server.pem" --tls-key-file "$certs/server.key" > "$data/tls.log" 2>&1 &
tls_server=$!
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && break
  sleep 0.1
done
"$python" -W error - "$tls_port" "$certs/ca.pem" <<'PY'
import sys
import pymongo
from pymongo.errors import ServerSelectionTimeoutError
port, ca = int(sys.argv[1]), sys.argv[2]
secure = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true&tls=true&tlsCAFile={ca}",
                             serverSelectionTimeoutMS=5000)
assert secure.admin.command("ping")["ok"] == 1.0
secure.close()
plain = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=1500)
try:
    plain.admin.command("ping")
    raise SystemExit("a plain connection was served under requireTLS")
except ServerSelectionTimeoutError:
    pass
plain.close()
print("pymongo: TLS under requireTLS, a plain connection refused: ok")
PY
out=$("$mongosh" "mongodb://127.0.0.1:$tls_port/test?tls=true&tlsCAFile=$certs/ca.pem" --quiet --eval '
  if (db.runCommand({ping: 1}).ok !== 1) throw new Error("ping");
  print("mongosh: TLS ok");
' 2>&1)
echo "$out" | grep -q "mongosh: TLS ok" || { echo "mongosh (TLS): $out" >&2; exit 1; }
echo "$out"
echo "smoke-auth: ok"
