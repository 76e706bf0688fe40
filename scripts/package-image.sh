#!/usr/bin/env bash
# Stages the container image's build context for deploy/Dockerfile: `server`, `site/` and the
# Dockerfile, in target/image (or --out DIR). Prints the directory on stdout; then
#   docker build -t IMAGE "$(scripts/package-image.sh)"
#   scripts/package-image.sh --binary PATH --site DIR --out DIR   other inputs (tests)
# Run scripts/build-release.sh first: the default binary is the release server.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${CARGO_TARGET_DIR:-$root/target}/release/server" site="$root/target/site" out="$root/target/image"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --site) site="${2:?--site needs a directory}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[ -x "$binary" ] || { echo "not an executable: $binary (run scripts/build-release.sh first)" >&2; exit 1; }
[ -d "$site/pkg" ] || { echo "no site at $site (no pkg/): run scripts/build-release.sh first" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
strip -o "$out/server" "$binary"
cp -R "$site" "$out/site"
cp "$root/deploy/Dockerfile" "$out/Dockerfile"
cd "$out" && pwd
