# Sourced: starts moto's S3 server (the moto[server] package, pinned, in a venv under
# target/client-tools/moto) on a free loopback port, makes the bucket $1, exports
# the AWS_* variables that point branchdb's S3 client at it, and stops it when the
# calling script exits. moto keeps its objects in memory: it cannot be stopped and
# started again with its data, so the tests of storage going away skip on it.
#
#   . scripts/lib/moto.sh BUCKET

. "$(dirname "${BASH_SOURCE[0]}")/s3.sh"
moto_tools=target/client-tools/moto
s3_install "$moto_tools" "moto[server]==5.2.6"

moto_dir=$(mktemp -d)
moto_port=$(free_port)
"$moto_tools/venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$moto_dir/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; rm -rf "$moto_dir"' EXIT
s3_make_bucket "http://127.0.0.1:$moto_port" "$1" "$moto_dir/moto.log"
s3_export "http://127.0.0.1:$moto_port"
