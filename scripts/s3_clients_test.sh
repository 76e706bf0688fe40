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

log_name=s3-clients
# shellcheck source=scripts/test_server.sh
. scripts/test_server.sh
export ASSETS_API_URL="$api"
export ASSETS_S3_URL="http://127.0.0.1:$s3_port"
export ASSETS_BUCKET=assets
# The server log, for the tests of what the endpoint logs.
export ASSETS_SERVER_LOG="$log"
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
