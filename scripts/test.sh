#!/usr/bin/env bash
# Runs every test: formatting, clippy, the deployment checks (cfn-lint on the template, one IAM
# list, packaging), the Rust unit and integration tests (scale-out and Lambda against moto), real
# S3 clients (aws-cli, boto3, rclone) against the embedded S3 endpoint, Schemathesis against the
# REST API's OpenAPI document, and the Playwright tests in headless Chromium against the real
# server and against the Lambda handler behind a stand-in for API Gateway.
# Installs what is missing first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh test

step() { printf '\n==> %s\n' "$*"; }
target_dir="${CARGO_TARGET_DIR:-$root/target}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo leptos build (server + wasm)"
cargo leptos build

# cargo-leptos builds debug with these two; setting them here lets cargo reuse its artifacts
# instead of rebuilding ~360 crates.
export RUSTFLAGS="--cfg erase_components"
export LEPTOS_OUTPUT_NAME=assets

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The browser-only code (feature `hydrate`) as the wasm build sees it.
cargo clippy -p app --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  # The end-to-end server's data (the multipart spec leaves a 1 GiB object there).
  [ -z "${e2e_dir:-}" ] || rm -rf "$e2e_dir"
}
trap cleanup EXIT

step "moto (DynamoDB and S3 wire protocols) for the AWS-mode tests"
venv="${ASSETS_VENV:-$HOME/.cache/assets-service/venv}"
moto_port="$(free_port)"
"$venv/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$moto_port" >"$(mktemp -t moto.XXXXXX.log)" 2>&1 &
pids+=($!)
export ASSETS_TEST_MOTO_URL="http://127.0.0.1:$moto_port"
answers() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1" 2>/dev/null; }
for _ in $(seq 1 150); do
  answers "$ASSETS_TEST_MOTO_URL/moto-api/" && break
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "moto_server exited" >&2; exit 1; }
  sleep 0.2
done
answers "$ASSETS_TEST_MOTO_URL/moto-api/" || { echo "moto_server did not start" >&2; exit 1; }

step "deployment: cfn-lint on deploy/template.yaml, then tests/deploy (one IAM list, packaging with the debug server, aws cloudformation package against moto)"
deploy_venv="${ASSETS_DEPLOY_VENV:-$HOME/.cache/assets-service/deploy-venv}"
"$deploy_venv/bin/cfn-lint" deploy/template.yaml
(cd tests/deploy && PYTHONDONTWRITEBYTECODE=1 "$deploy_venv/bin/pytest" -q)

step "cargo test"
ASSETS_TEST_LOG_DIR="$(mktemp -d)"
export ASSETS_TEST_LOG_DIR
cargo test --workspace

step "real S3 clients (aws-cli, boto3, rclone) against the embedded S3 endpoint"
scripts/s3_clients_test.sh

step "contract fuzzing (Schemathesis) against /openapi.json"
scripts/contract_test.sh

step "Playwright (Chromium) against the built server"
app_port="$(free_port)"
s3_port="$(free_port)"
e2e_dir="$(mktemp -d)"
server_bin="$target_dir/debug/server"
# The users the tests sign in as (alice and bob, not admins), made with the CLI on the server's data directory
# before it starts; their passwords and API keys reach Playwright in environment variables.
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
for user in alice bob; do
  password="$(secret)"
  printf '%s\n' "$password" | "$server_bin" --data-dir "$e2e_dir/data" users add "$user" >/dev/null
  key="$("$server_bin" --data-dir "$e2e_dir/data" api-keys create --user "$user" --label e2e | tail -n 1)"
  [ -n "$key" ] || { echo "no API key printed for $user" >&2; exit 1; }
  upper="$(printf '%s' "$user" | tr a-z A-Z)"
  export "${upper}_PASSWORD=$password" "${upper}_API_KEY=$key"
done
# And an admin, who sees everyone's assets.
ROOT_PASSWORD="$(secret)"
printf '%s\n' "$ROOT_PASSWORD" | "$server_bin" --data-dir "$e2e_dir/data" users add root --admin >/dev/null
export ROOT_PASSWORD
LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=info \
  "$server_bin" --listen "127.0.0.1:$app_port" --s3-listen "127.0.0.1:$s3_port" \
  --data-dir "$e2e_dir/data" >"$e2e_dir/server.log" 2>&1 &
pids+=($!)
status=0
(cd end2end && BASE_URL="http://127.0.0.1:$app_port" npx playwright test) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log ---"; tail -n 50 "$e2e_dir/server.log"
  exit "$status"
fi
echo "end-to-end screenshots: end2end/artifacts/"

step "the dashboard on the Lambda handler (API Gateway stand-in)"
# The Lambda `http` handler in process behind a local HTTPS stand-in for API Gateway
# (server/examples/lambda_gateway.rs), on a fresh table and bucket in moto; only tests/lambda.spec.ts.
lgw_dir="$e2e_dir/lambda"
mkdir -p "$lgw_dir"
lgw_name="lgw-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
lgw_env=(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  ASSETS_STORE=dynamodb ASSETS_OBJECTS=s3 ASSETS_DYNAMODB_ENDPOINT="$ASSETS_TEST_MOTO_URL"
  ASSETS_S3_ENDPOINT="$ASSETS_TEST_MOTO_URL" ASSETS_S3_FORCE_PATH_STYLE=true
  ASSETS_DYNAMODB_TABLE="$lgw_name" ASSETS_BUCKET="$lgw_name")
env "${lgw_env[@]}" "$server_bin" init-aws >"$lgw_dir/init-aws.log" 2>&1 \
  || { cat "$lgw_dir/init-aws.log"; exit 1; }
LAMBDA_PASSWORD="$(secret)"
printf '%s\n' "$LAMBDA_PASSWORD" | env "${lgw_env[@]}" "$server_bin" users add carol >/dev/null
LAMBDA_API_KEY="$(env "${lgw_env[@]}" "$server_bin" api-keys create --user carol --label lambda-e2e | tail -n 1)"
[ -n "$LAMBDA_API_KEY" ] || { echo "no API key printed for carol" >&2; exit 1; }
command -v openssl >/dev/null || { echo "the Lambda browser test needs the openssl CLI (Debian: openssl)" >&2; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=127.0.0.1' \
  -addext 'subjectAltName=IP:127.0.0.1' -keyout "$lgw_dir/key.pem" -out "$lgw_dir/cert.pem" 2>/dev/null
lgw_port="$(free_port)"
env "${lgw_env[@]}" LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=info \
  "$target_dir/debug/examples/lambda_gateway" "127.0.0.1:$lgw_port" "$lgw_dir/cert.pem" "$lgw_dir/key.pem" \
  >"$lgw_dir/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  # The certificate is self-signed: this only asks whether the gateway answers.
  python3 -c 'import ssl, sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2, context=ssl._create_unverified_context())' \
    "https://127.0.0.1:$lgw_port/healthz" 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "lambda_gateway exited" >&2; cat "$lgw_dir/gateway.log"; exit 1; }
  sleep 0.2
done
status=0
(cd end2end && LAMBDA_BASE_URL="https://127.0.0.1:$lgw_port" LAMBDA_USER=carol LAMBDA_PASSWORD="$LAMBDA_PASSWORD" \
  LAMBDA_API_KEY="$LAMBDA_API_KEY" LAMBDA_SITE_ROOT="$root/target/site" npx playwright test tests/lambda.spec.ts) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- lambda_gateway log ---"; tail -n 50 "$lgw_dir/gateway.log"
  exit "$status"
fi
# The wasm reached the browser through a base64 reply, as API Gateway gets binary bodies.
grep -q '^lambda_gateway: GET /pkg/assets.wasm 200 base64$' "$lgw_dir/gateway.log" \
  || { echo "the gateway never served the wasm from a base64 reply" >&2; exit 1; }

step "no server log leaks a presigned URL's signature or a security token"
cp "$e2e_dir/server.log" "$ASSETS_TEST_LOG_DIR/e2e-server.log"
cp "$lgw_dir/gateway.log" "$ASSETS_TEST_LOG_DIR/lambda-gateway.log"
logs=$(find "$ASSETS_TEST_LOG_DIR" -name '*.log' -size +1k | wc -l)
# The in-process servers' shared log, the spawned binaries' logs, the end-to-end server's and the gateway's.
[ "$logs" -ge 3 ] || { echo "expected the test servers' logs in $ASSETS_TEST_LOG_DIR, found $logs" >&2; exit 1; }
if grep -rEl 'X-Amz-Signature=[0-9a-f]|X-Amz-Security-Token=[A-Za-z0-9%]' "$ASSETS_TEST_LOG_DIR"; then
  echo "a signature or security token leaked into the logs above" >&2
  exit 1
fi
echo "checked $logs server logs: no signature, no token"

if [ -n "${CI:-}" ]; then
  step "the tests wrote nothing into the source tree"
  # CI runs on a fresh clone: anything untracked and not ignored was written by a test or a run.
  written=$(git status --porcelain --untracked-files=all)
  if [ -n "$written" ]; then
    echo "$written" >&2
    echo "tests must write into temporary directories, not the source tree" >&2
    exit 1
  fi
  echo "source tree clean"
fi
