#!/usr/bin/env bash
# Usage: [AS=admin|user] bench/ab_list_moto.sh SERVER_BINARY...: for each binary, a fresh moto, 20 s
# of POST /assets at 8 connections (2,000+ assets), then 15 s of GET /assets?limit=50 at 2
# connections. A binary with API keys is called with a key of an admin (AS=admin, the default:
# the listing across owners) or of a plain user (AS=user: their own partition); one without is
# called bare.
set -euo pipefail
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
venv="${ASSETS_VENV:-$HOME/.cache/assets-service/venv}"
role="${AS:-admin}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 LEPTOS_OUTPUT_NAME=assets
for bin in "$@"; do
  mp=$(free_port); "$venv/bin/moto_server" -H 127.0.0.1 -p "$mp" >"$work/moto.log" 2>&1 & mpid=$!
  until curl -sf "http://127.0.0.1:$mp/moto-api/" >/dev/null; do sleep 0.1; done
  flags=(--store dynamodb --dynamodb-endpoint "http://127.0.0.1:$mp" --dynamodb-table abtable
         --objects s3 --s3-endpoint "http://127.0.0.1:$mp" --s3-force-path-style true --bucket abbucket)
  "$bin" "${flags[@]}" init-aws >/dev/null 2>&1
  auth=()
  if "$bin" api-keys --help >/dev/null 2>&1; then
    admin=(); [ "$role" = admin ] && admin=(--admin)
    printf 'bench password 1234\n' | "$bin" "${flags[@]}" users add bench "${admin[@]}" >/dev/null 2>&1
    key=$("$bin" "${flags[@]}" api-keys create --user bench --label ab 2>/dev/null | tail -n 1)
    auth=(-H "Authorization: Bearer $key")
  fi
  port=$(free_port); s3=$(free_port)
  RUST_LOG=warn "$bin" "${flags[@]}" --listen "127.0.0.1:$port" --s3-listen "127.0.0.1:$s3" --data-dir "$work/data" >"$work/server.log" 2>&1 & pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
  wrk -t2 -c8 -d20s "${auth[@]}" -s "$(dirname "$0")/post.lua" "http://127.0.0.1:$port/assets" >/dev/null
  result=$(wrk -t1 -c2 -d15s --latency "${auth[@]}" "http://127.0.0.1:$port/assets?limit=50" |
    awk '/Requests\/sec/ {r=$2} $1=="50%" {p=$2} /Non-2xx/ {e=$NF} END {printf "%s req/s, p50 %s%s", r, p, (e ? ", non-2xx " e : "")}')
  echo "$(basename "$bin")${auth:+ ($role key)}: GET /assets?limit=50: $result"
  kill "$pid" "$mpid"; wait "$pid" "$mpid" 2>/dev/null || true
done
