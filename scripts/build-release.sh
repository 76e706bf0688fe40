#!/usr/bin/env bash
# The one release build: `cargo leptos build --release` with npm binaryen's wasm-opt (Debian's
# breaks hydration of release builds, see BUILD notes), then a check that the wasm really was
# optimised. Prints where the server binary and the site are (stdout: two lines, `server=...`
# and `site=...`; progress goes to stderr).
#   scripts/build-release.sh
#   ASSETS_WASM_MAX_KIB=2500 scripts/build-release.sh   another bound on the raw wasm (KiB)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup.sh release >&2

# wasm-opt from npm's binaryen, first on PATH; refuse any other.
export PATH="$root/end2end/node_modules/.bin:$PATH"
wasm_opt_version="$(wasm-opt --version 2>/dev/null || true)"
case "$wasm_opt_version" in
  "wasm-opt version 132 "*) ;;
  *) echo "wasm-opt on PATH is '${wasm_opt_version:-missing}', not npm binaryen 132 (run scripts/setup.sh release)" >&2; exit 1 ;;
esac
# cargo-leptos sets what the release build needs; the debug builds' flags would change it.
unset RUSTFLAGS LEPTOS_OUTPUT_NAME

echo "building release (cargo leptos build --release) ..." >&2
cargo leptos build --release >&2

target_dir="${CARGO_TARGET_DIR:-$root/target}"
server="$target_dir/release/server"
site="$root/target/site"
wasm="$site/pkg/assets.wasm"
[ -x "$server" ] || { echo "no server binary at $server" >&2; exit 1; }
[ -f "$wasm" ] || { echo "no wasm at $wasm" >&2; exit 1; }
# wasm-opt -Oz shrinks the release wasm ~2.7x (BUILD notes: 1,935 -> 728 KiB); optimised it is
# now 1,310 KiB (BENCHMARKS.md), so unoptimised ~3,500: a wasm above the bound was not optimised.
max_kib="${ASSETS_WASM_MAX_KIB:-2048}"
kib=$(( $(stat -c %s "$wasm") / 1024 ))
if [ "$kib" -gt "$max_kib" ]; then
  echo "$wasm is $kib KiB, more than $max_kib KiB: was it optimised by wasm-opt?" >&2
  exit 1
fi
echo "wasm: $kib KiB (bound $max_kib KiB)" >&2
echo "server=$server"
echo "site=$site"
