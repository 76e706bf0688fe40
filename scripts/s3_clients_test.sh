#!/usr/bin/env bash
# Real S3 clients against the embedded S3 endpoint of the built debug server: aws-cli and boto3
# (PyPI, in their own venv) and rclone (Debian), driven by pytest (tests/s3_clients/). Starts the
# server on free loopback ports with a temporary data directory and stops it on exit; big files
# live in a temporary directory that is removed. Extra arguments go to pytest, e.g.
#   scripts/s3_clients_test.sh -k multipart
# Installs nothing: `scripts/setup.sh test` does. Build first: `cargo build -p server` (with the
# RUSTFLAGS and LEPTOS_OUTPUT_NAME scripts/test.sh uses) or `cargo leptos build`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${ASSETS_SERVER_BIN:-$target_dir/debug/server}"
venv="${ASSETS_CLIENTS_VENV:-$HOME/.cache/assets-service/clients-venv}"
[ -x "$bin" ] || { echo "no server binary at $bin: build it first" >&2; exit 1; }
[ -x "$venv/bin/pytest" ] && [ -x "$venv/bin/aws" ] || { echo "no clients venv at $venv: run scripts/setup.sh test" >&2; exit 1; }
command -v rclone >/dev/null || { echo "rclone is missing: run scripts/setup.sh test" >&2; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work="$(mktemp -d -t s3-clients.XXXXXX)"
log="$work/server.log"
server_pid=""
finish() {
  local status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -f "$log" ]; then
    # scripts/test.sh checks every test server's log for leaked signatures.
    if [ -n "${ASSETS_TEST_LOG_DIR:-}" ]; then cp "$log" "$ASSETS_TEST_LOG_DIR/s3-clients-server.log"; fi
    if [ "$status" -ne 0 ]; then echo "--- server log (last 60 lines) ---" >&2; tail -n 60 "$log" >&2; fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT

app_port="$(free_port)"
s3_port="$(free_port)"
data="$work/data"
LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=info \
  "$bin" --listen "127.0.0.1:$app_port" --s3-listen "127.0.0.1:$s3_port" --data-dir "$data" \
  >"$log" 2>&1 &
server_pid=$!

export ASSETS_API_URL="http://127.0.0.1:$app_port"
export ASSETS_S3_URL="http://127.0.0.1:$s3_port"
export ASSETS_BUCKET=assets
# The server log, for the tests of what the endpoint logs.
export ASSETS_SERVER_LOG="$log"
up() {
  python3 - "$ASSETS_API_URL/healthz" "$s3_port" <<'PY' 2>/dev/null
import socket, sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)
socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
PY
}
for _ in $(seq 1 300); do
  up && break
  kill -0 "$server_pid" 2>/dev/null || { echo "the server exited during start-up" >&2; exit 1; }
  sleep 0.1
done
up || { echo "the server did not answer within 30 s" >&2; exit 1; }
# The REST API takes an API key: the first run made `admin`; give it one, as an operator would.
ASSETS_API_KEY="$("$bin" --data-dir "$data" api-keys create --user admin --label s3-clients | tail -n 1)"
export ASSETS_API_KEY
creds="$data/embedded-s3-credentials.json"
[ -s "$creds" ] || { echo "no credentials at $creds" >&2; exit 1; }

# The clients find the endpoint and its keys in the environment, as a user would set them.
AWS_ACCESS_KEY_ID="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_key"])' "$creds")"
AWS_SECRET_ACCESS_KEY="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["secret_key"])' "$creds")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
# A CA bundle means nothing to a plain-HTTP endpoint, and rclone refuses to start with one.
unset AWS_CA_BUNDLE
export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL="$ASSETS_S3_URL"
# Nothing from the user's own AWS files: path-style addressing, no profile's keys.
export AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
# rclone: tests/s3_clients/test_rclone.py configures its remote `emb:` by environment variables
# alone (RCLONE_CONFIG_EMB_*); no config file is read.
export RCLONE_CONFIG="$work/rclone.conf"
export PATH="$venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1

echo "server $ASSETS_API_URL, embedded S3 $ASSETS_S3_URL (aws-cli $(aws --version 2>&1 | cut -d' ' -f1 | cut -d/ -f2), boto3 $(python -c 'import boto3; print(boto3.__version__)'), $(rclone version | head -n1))"
start=$(date +%s)
status=0
python -m pytest tests/s3_clients --basetemp "$work/pytest" "$@" || status=$?
echo "real-client tests took $(( $(date +%s) - start )) s"
exit "$status"
