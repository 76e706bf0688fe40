#!/usr/bin/env bash
# Packages the Lambda zip: `bootstrap` at its root and the Leptos site under `site/` (the
# functions set LEPTOS_SITE_ROOT=site; the working directory is the zip's root, /var/task).
# Refuses a binary that needs a newer glibc than provided.al2023's (2.34).
#   scripts/package-lambda.sh                   builds `bootstrap` (release) and zips it with
#                                               target/site (run scripts/build-release.sh first)
#   scripts/package-lambda.sh --binary PATH     zips PATH as `bootstrap` instead of building
#   ... --site DIR --out ZIP                    another site, another zip (default
#                                               target/lambda/assets.zip, the template's CodeUri)
# Prints the zip's path on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# provided.al2023's glibc.
MAX_GLIBC=2.34

binary="" site="$root/target/site" out="$root/target/lambda/assets.zip"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --site) site="${2:?--site needs a directory}"; shift 2 ;;
    --out) out="${2:?--out needs a path}"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

if [ -z "$binary" ]; then
  echo "building bootstrap (cargo build --release -p server --bin bootstrap) ..." >&2
  # The same compile-time name cargo-leptos gives the server (the page's /pkg/assets.js).
  (cd "$root" && env -u RUSTFLAGS LEPTOS_OUTPUT_NAME=assets cargo build --release -p server --bin bootstrap >&2)
  binary="${CARGO_TARGET_DIR:-$root/target}/release/bootstrap"
fi
[ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 1; }
[ -d "$site/pkg" ] || { echo "no site at $site (no pkg/): run scripts/build-release.sh first" >&2; exit 1; }

# Symbol versions the binary needs from glibc; anything above provided.al2023's will not load.
needed="$(objdump -T "$binary" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
[ -n "$needed" ] || { echo "$binary names no glibc symbol version: not a glibc binary?" >&2; exit 1; }
if [ "$(printf '%s\n%s\n' "$needed" "$MAX_GLIBC" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]; then
  echo "$binary needs glibc $needed; provided.al2023 has $MAX_GLIBC" >&2
  echo "build on an older glibc (or with cargo-lambda and zig) and package that with --binary" >&2
  exit 1
fi
echo "bootstrap needs glibc $needed (provided.al2023: $MAX_GLIBC)" >&2

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# Symbols and debug info are dead weight in the function (the zip limit is 50 MB).
strip -o "$stage/bootstrap" "$binary"
chmod 755 "$stage/bootstrap"
cp -R "$site" "$stage/site"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
rm -f "$out"
# Python's zipfile rather than zip(1), which a fresh machine may lack; modes are kept
# (bootstrap must stay executable), entries sorted.
python3 - "$stage" "$out" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(os.path.join(stage, "bootstrap"), "bootstrap")
    for dirpath, _, files in sorted(os.walk(os.path.join(stage, "site"))):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            z.write(path, os.path.relpath(path, stage))
PY
echo "$out: $(( $(stat -c %s "$out") / 1024 )) KiB" >&2
echo "$out"
