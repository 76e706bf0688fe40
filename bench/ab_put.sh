#!/usr/bin/env bash
# Usage: bench/ab_put.sh OLD_SERVER_BINARY NEW_SERVER_BINARY [...]: alternates them on one machine.
# A/B of the embedded S3 PUT path: the same presigned-URL uploads (curl) against two server binaries,
# run in turn; prints MB/s for three 1 GiB PUTs and the mean time of 100 x (POST + 1 MiB PUT).
set -euo pipefail
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
work=$(mktemp -d); head -c $((1024*1024*1024)) /dev/urandom > $work/big; head -c $((1024*1024)) /dev/urandom > $work/small
for bin in "$@"; do
  port=$(free_port); s3=$(free_port); rm -rf $work/data
  RUST_LOG=warn "$bin" --listen 127.0.0.1:$port --s3-listen 127.0.0.1:$s3 --data-dir $work/data >$work/log 2>&1 & pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
  big=(); small=0
  for r in 1 2 3; do
    c=$(curl -sS -X POST http://127.0.0.1:$port/assets)
    t=$(curl -sS -f -X PUT --upload-file $work/big -H 'If-None-Match: *' "$(json upload_url <<<"$c")" -o /dev/null -w '%{time_total}')
    big+=("$(awk -v t=$t 'BEGIN{printf "%.0f", 1073.741824/t}')")
  done
  start=$(date +%s.%N)
  for i in $(seq 100); do
    c=$(curl -sS -X POST http://127.0.0.1:$port/assets)
    curl -sS -f -X PUT --upload-file $work/small -H 'If-None-Match: *' "$(json upload_url <<<"$c")" -o /dev/null
  done
  small=$(awk -v s=$start -v e=$(date +%s.%N) 'BEGIN{printf "%.1f", (e-s)*1000/100}')
  echo "$bin: 1 GiB PUT MB/s: ${big[*]}; 100 x (POST + 1 MiB PUT): ${small} ms each"
  kill $pid; wait $pid 2>/dev/null || true
done
rm -rf $work
