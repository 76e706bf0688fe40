#!/usr/bin/env bash
# Installs what this project needs on a fresh machine (Rust, Node, Python and gcc present).
# Idempotent: anything already installed at the pinned version is skipped.
#   scripts/setup.sh        what `scripts/run.sh` needs (wasm target, cargo-leptos, wasm-bindgen)
#   scripts/setup.sh release  also npm binaryen's wasm-opt (the end-to-end packages), for
#                           scripts/build-release.sh
#   scripts/setup.sh test   also Chromium, the end-to-end test packages, moto, the real S3
#                           clients (aws-cli, boto3, pytest in their own venv; Debian's rclone
#                           and openssl),
#                           Schemathesis (its own venv) and cfn-lint (its own venv)
set -euo pipefail

CARGO_LEPTOS_VERSION=0.3.10
MOTO_VERSION=5.2.5
# Must match the `wasm-bindgen = "=..."` pin in Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130

root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-run}"

say() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; exit 1
  fi
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if [ "$mode" = test ]; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 13 minutes on 2 cores)"
  # no_downloads: cargo-leptos must never try to fetch tools; they come from PATH.
  cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION" --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "$mode" = test ]; then
  if ! command -v chromium >/dev/null; then
    say "installing Debian's chromium"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  # moto speaks DynamoDB's and S3's wire protocols for the AWS-mode tests.
  venv="${ASSETS_VENV:-$HOME/.cache/assets-service/venv}"
  if ! "$venv/bin/moto_server" --help >/dev/null 2>&1 || ! "$venv/bin/pip" show moto 2>/dev/null | grep -x "Version: $MOTO_VERSION" >/dev/null; then
    say "installing moto[server] $MOTO_VERSION in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  # The real S3 clients for scripts/s3_clients_test.sh and bench/run.sh, every package pinned in
  # tests/s3_clients/requirements.txt; reinstalled when that file changes.
  clients_venv="${ASSETS_CLIENTS_VENV:-$HOME/.cache/assets-service/clients-venv}"
  clients_reqs="$root/tests/s3_clients/requirements.txt"
  if ! cmp -s "$clients_reqs" "$clients_venv/.installed-requirements" || ! "$clients_venv/bin/aws" --version >/dev/null 2>&1; then
    say "installing aws-cli, boto3 and pytest in $clients_venv"
    python3 -m venv "$clients_venv"
    "$clients_venv/bin/pip" install --quiet --disable-pip-version-check -r "$clients_reqs"
    "$clients_venv/bin/pip" check >/dev/null
    cp "$clients_reqs" "$clients_venv/.installed-requirements"
  fi
  # Schemathesis for scripts/contract_test.sh, pinned in tests/contract/requirements.txt (it
  # needs Python >= 3.11); reinstalled when that file changes.
  contract_venv="${ASSETS_CONTRACT_VENV:-$HOME/.cache/assets-service/contract-venv}"
  contract_reqs="$root/tests/contract/requirements.txt"
  if ! cmp -s "$contract_reqs" "$contract_venv/.installed-requirements" || ! "$contract_venv/bin/schemathesis" --version >/dev/null 2>&1; then
    say "installing Schemathesis in $contract_venv"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Schemathesis needs Python >= 3.11" >&2; exit 1; }
    python3 -m venv "$contract_venv"
    "$contract_venv/bin/pip" install --quiet --disable-pip-version-check -r "$contract_reqs"
    "$contract_venv/bin/pip" check >/dev/null
    cp "$contract_reqs" "$contract_venv/.installed-requirements"
  fi
  # cfn-lint and pytest for the deployment checks (tests/deploy), pinned in
  # tests/deploy/requirements.txt; reinstalled when that file changes.
  deploy_venv="${ASSETS_DEPLOY_VENV:-$HOME/.cache/assets-service/deploy-venv}"
  deploy_reqs="$root/tests/deploy/requirements.txt"
  if ! cmp -s "$deploy_reqs" "$deploy_venv/.installed-requirements" || ! "$deploy_venv/bin/cfn-lint" --version >/dev/null 2>&1; then
    say "installing cfn-lint and pytest in $deploy_venv"
    python3 -m venv "$deploy_venv"
    "$deploy_venv/bin/pip" install --quiet --disable-pip-version-check -r "$deploy_reqs"
    "$deploy_venv/bin/pip" check >/dev/null
    cp "$deploy_reqs" "$deploy_venv/.installed-requirements"
  fi
  # The Lambda browser test's stand-in for API Gateway serves https with a throwaway certificate.
  if ! command -v openssl >/dev/null; then
    say "installing Debian's openssl"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  fi
  if ! command -v rclone >/dev/null; then
    say "installing Debian's rclone"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >/dev/null
  fi
fi
if [ "$mode" = test ] || [ "$mode" = release ]; then
  # Playwright and npm binaryen's wasm-opt (release builds; never Debian's).
  lock="$root/end2end/package-lock.json"
  stamp="$root/end2end/node_modules/.installed-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
    say "installing end-to-end test packages"
    (cd "$root/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    cp "$lock" "$stamp"
  fi
fi
say "ready"
