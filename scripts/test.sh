#!/usr/bin/env bash
# Runs every test: formatting, clippy, the Rust unit and integration tests, and the Playwright
# tests in headless Chromium against the real server. Installs what is missing first.
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

step "cargo test"
cargo test --workspace

step "Playwright (Chromium) against the built server"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
app_port="$(free_port)"
s3_port="$(free_port)"
e2e_dir="$(mktemp -d)"
LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=info \
  "$target_dir/debug/server" --listen "127.0.0.1:$app_port" --s3-listen "127.0.0.1:$s3_port" \
  --data-dir "$e2e_dir/data" >"$e2e_dir/server.log" 2>&1 &
server_pid=$!
cleanup() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT
status=0
(cd end2end && BASE_URL="http://127.0.0.1:$app_port" npx playwright test) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log ---"; tail -n 50 "$e2e_dir/server.log"
  exit "$status"
fi
echo "end-to-end screenshots: end2end/artifacts/"
