#!/usr/bin/env bash
# Contract fuzzing: Schemathesis (PyPI, pinned in tests/contract/requirements.txt, in its own venv)
# against the live debug server's /openapi.json on the embedded default, every check on
# (server errors, status codes, content types, headers and response schemas conforming to the
# document, valid data accepted, invalid data rejected, auth not ignored, ...), the stateful
# phase following the document's links (create -> get -> put -> delete). Fails on any failure.
# Starts the server on free loopback ports with a temporary data directory and stops it on exit.
# Extra arguments go to `schemathesis run`, e.g. scripts/contract_test.sh --include-path /assets
# (CONTRACT_MAX_EXAMPLES and CONTRACT_SEED change the example count and the seed).
# Installs nothing: `scripts/setup.sh test` does. Build first: `cargo build -p server` (with the
# RUSTFLAGS and LEPTOS_OUTPUT_NAME scripts/test.sh uses) or `cargo leptos build`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="${ASSETS_SERVER_BIN:-$target_dir/debug/server}"
venv="${ASSETS_CONTRACT_VENV:-$HOME/.cache/assets-service/contract-venv}"
[ -x "$bin" ] || { echo "no server binary at $bin: build it first" >&2; exit 1; }
[ -x "$venv/bin/schemathesis" ] || { echo "no Schemathesis venv at $venv: run scripts/setup.sh test" >&2; exit 1; }

# Webhook deliveries need a token; Schemathesis presents it on POST /events/s3 (schemathesis.toml).
ASSETS_EVENTS_TOKEN="contract-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export ASSETS_EVENTS_TOKEN
log_name=contract
# shellcheck source=scripts/test_server.sh
. scripts/test_server.sh

echo "server $api, $("$venv/bin/schemathesis" --version)"
start=$(date +%s)
status=0
# A fixed seed and a bounded number of examples keep the run reproducible and short (200
# examples per operation: about 2 minutes on two cores). One worker: with several, Hypothesis's
# source inspection trips over CPython 3.11's thread-unsafe AST constructor ("AST constructor
# recursion depth mismatch").
(cd "$work" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/schemathesis" --config-file "$root/tests/contract/schemathesis.toml" \
  run "$api/openapi.json" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-200}" \
  --seed "${CONTRACT_SEED:-20261127}" \
  --workers 1 \
  --request-timeout 10 \
  "$@") || status=$?
echo "contract fuzzing took $(( $(date +%s) - start )) s"
exit "$status"
