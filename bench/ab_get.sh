#!/usr/bin/env bash
# Usage: bench/ab_get.sh OLD_SERVER_BINARY NEW_SERVER_BINARY [ROUNDS]: alternates them on one machine.
# A/B of GET /assets/{id} (presign a download URL) at 64 connections with wrk: a binary that has
# API keys is called with one (created with its CLI); one without is called bare. Prints req/s
# and latency per round, so the cost of authentication shows against the same machine's noise.
set -euo pipefail
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
rounds="${3:-3}"; seconds="${BENCH_SECONDS:-10}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
echo hello >"$work/tiny"
for round in $(seq "$rounds"); do
  for bin in "$1" "$2"; do
    port=$(free_port); s3=$(free_port); rm -rf "$work/data"
    RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --s3-listen 127.0.0.1:$s3 --data-dir "$work/data" >"$work/log" 2>&1 & pid=$!
    for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
    auth=()
    if "$bin" api-keys --help >/dev/null 2>&1; then
      key="$("$bin" --data-dir "$work/data" api-keys create --user admin --label ab | tail -n 1)"
      auth=(-H "Authorization: Bearer $key")
    fi
    base=http://127.0.0.1:$port
    c=$(curl -sS "${auth[@]}" -X POST $base/assets); id=$(json id <<<"$c")
    curl -sS -f -X PUT --upload-file "$work/tiny" -H 'If-None-Match: *' "$(json upload_url <<<"$c")" -o /dev/null
    curl -sS -f "${auth[@]}" -X PUT $base/assets/$id -o /dev/null
    result=$(wrk -t2 -c64 -d${seconds}s --latency "${auth[@]}" "$base/assets/$id?timeout=60" |
      awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e=$NF}
           END {printf "%.0f req/s, p50 %s, p99 %s%s", r, p50, p99, (e ? ", non-2xx " e : "")}')
    echo "round $round $(basename "$bin")${auth:+ (API key)}: $result"
    kill $pid; wait $pid 2>/dev/null || true
  done
done
