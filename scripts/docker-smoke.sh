#!/usr/bin/env bash
# Builds the repository's Dockerfile with podman and checks the image as a user would
# run it: started with a volume, written to with pymongo, restarted, read back; it
# runs as a non-root user, creates its root user from BRANCHDB_ROOT_USERNAME and
# BRANCHDB_ROOT_PASSWORD and refuses unauthenticated reads, and has a health check
# that passes.
#
#   scripts/docker-smoke.sh [path to a branchdb binary]   (default: target/release/branchdb)
#
# Needs no registry. Installs podman, runc and debootstrap from Debian's packages when
# they are missing, makes the Debian bookworm base image with debootstrap from the
# machine's own Debian mirror (cached under target/client-tools/docker), and uses
# pymongo from the venv scripts/smoke-clients.sh installs (installing it the same way
# when missing). Containers run with runc and the host's ulimits and network.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/release/branchdb}
started=$(date +%s)
tools=$PWD/target/client-tools
work=$tools/docker
mkdir -p "$work"

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends podman runc debootstrap uidmap >/dev/null
fi
# podman's default ulimits cannot be applied here: a config of our own says none.
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = []\n' > "$CONTAINERS_CONF"
run=(podman run --runtime runc --ulimit host)

base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
  mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
  mirror=${mirror:-$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  [ -n "$mirror" ] || { echo "docker-smoke: no Debian mirror in the apt sources" >&2; exit 1; }
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1
  tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check pymongo
fi
python=$tools/venv/bin/python

# The build context: the Dockerfile and the binary where it expects it.
context=$(mktemp -d)
image=localhost/branchdb-smoke:latest
name=branchdb-smoke-$$
volume=branchdb-smoke-$$
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$context"
}
trap cleanup EXIT
mkdir -p "$context/target/release"
cp Dockerfile .dockerignore "$context/"
cp "$bin" "$context/target/release/branchdb"
# HEALTHCHECK is kept only in the docker image format.
podman build --quiet --pull=never --format docker -t "$image" "$context" >/dev/null 2>>"$work/podman.log"

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
podman volume create "$volume" >/dev/null
# The host's network, on a free port: the health check (`branchdb ping`) finds the
# server through BRANCHDB_URI. The root variables create the first user and turn
# access control on, as the README's `docker run` does.
# podman's complaints that it cannot schedule health checks without systemd go to a
# log: the check is run by hand below.
"${run[@]}" -d --name "$name" --network host -e "BRANCHDB_URI=mongodb://127.0.0.1:$port" \
  -e BRANCHDB_ROOT_USERNAME=root -e BRANCHDB_ROOT_PASSWORD=smoke-secret -v "$volume:/data" "$image" \
  serve --bind "127.0.0.1:$port" --data-dir /data >/dev/null 2>>"$work/podman.log"

wait_up() {
  for _ in $(seq 1 100); do
    if podman exec "$name" branchdb ping >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  podman logs "$name" >&2
  echo "docker-smoke: the server in the container did not answer" >&2
  exit 1
}
wait_up

"$python" - "$port" write <<'PY'
import sys
from pymongo import MongoClient
from pymongo.errors import OperationFailure
port, step = int(sys.argv[1]), sys.argv[2]
anonymous = MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=10000)
try:
    anonymous["shop"]["items"].find_one()
    raise SystemExit("an unauthenticated find was served")
except OperationFailure as e:
    assert e.code == 13, e
client = MongoClient(
    f"mongodb://root:smoke-secret@127.0.0.1:{port}/?directConnection=true&authSource=admin",
    serverSelectionTimeoutMS=10000,
)
items = client["shop"]["items"]
if step == "write":
    items.insert_many([{"_id": i, "name": f"item {i}"} for i in range(100)])
    client["shop"].command({"createBranch": "feature"})
    client["shop@feature"]["items"].update_one({"_id": 1}, {"$set": {"name": "changed"}})
else:
    assert items.count_documents({}) == 100, items.count_documents({})
    assert items.find_one({"_id": 1})["name"] == "item 1"
    assert client["shop@feature"]["items"].find_one({"_id": 1})["name"] == "changed"
PY

podman restart "$name" >/dev/null 2>>"$work/podman.log"
wait_up
"$python" - "$port" read <<'PY'
import sys
from pymongo import MongoClient
port = int(sys.argv[1])
client = MongoClient(
    f"mongodb://root:smoke-secret@127.0.0.1:{port}/?directConnection=true&authSource=admin",
    serverSelectionTimeoutMS=10000,
)
items = client["shop"]["items"]
assert items.count_documents({}) == 100, items.count_documents({})
assert items.find_one({"_id": 1})["name"] == "item 1"
assert client["shop@feature"]["items"].find_one({"_id": 1})["name"] == "changed"
PY

uid=$(podman exec "$name" id -u)
[ "$uid" != 0 ] || { echo "docker-smoke: the server runs as root" >&2; exit 1; }
healthcheck=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image")
case "$healthcheck" in
  *branchdb*ping*) ;;
  *) echo "docker-smoke: the image has no health check: $healthcheck" >&2; exit 1 ;;
esac
# (podman schedules health checks through systemd, absent here: run it by hand.)
podman healthcheck run "$name" >/dev/null 2>&1 || { echo "docker-smoke: the health check failed" >&2; exit 1; }
echo "docker-smoke: ok (uid $uid, root user from the environment, data kept across a restart, health check passes) in $(( $(date +%s) - started )) s"
