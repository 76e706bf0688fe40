#!/usr/bin/env bash
# Runs the asset service on the embedded default: no AWS account, no other process.
# Installs missing build tools first, builds, then serves the dashboard and REST API on
# http://127.0.0.1:3000 and the embedded S3 endpoint on http://127.0.0.1:9000 (data in ./data).
# Configure with ASSETS_* environment variables (see README.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh run
exec cargo leptos serve "$@"
