#!/usr/bin/env bash
# Benchmarks of the release server on loopback. Prints one table (Markdown) to stdout; record it
# in BENCHMARKS.md with the date and machine. Nothing here asserts: these are measurements.
#   bench/run.sh            full run (about 5 minutes after the release build)
#   BENCH_SECONDS=5 bench/run.sh   shorter load phases
#   BENCH_ONLY=s3cp bench/run.sh   only `aws s3 cp` of 1 GiB up and down next to `cp` (a minute
#                                  or two after the release build)
#   BENCH_ONLY=moto bench/run.sh   only the REST mix against moto (DynamoDB's wire protocol)
#   BENCH_ONLY=middleware bench/run.sh   only GET /assets/{id} with request metrics, request ids
#                                  and rate limiting on, against the same build without them
#   BENCH_ONLY=multipart bench/run.sh    only multipart uploads through the REST API (1 GiB and
#                                  10 GiB by default: BENCH_MULTIPART_MIB="1024 10240"), with the
#                                  server's RSS (a size is skipped when the disk cannot hold it
#                                  twice), and 1 GiB through the dashboard in Chromium
#   BENCH_ONLY=firstload bench/run.sh    only the release wasm's size (raw, gzip, brotli; the
#                                  dashboard's budget is 400 KiB brotli) and the dashboard's
#                                  first load in Chromium, cold and warm cache
#   BENCH_ONLY=live bench/run.sh         only the live-update latency: a change made by REST (an
#                                  upload's S3 event, then PUT /assets/{id}) to the row changing
#                                  in an open dashboard in Chromium, over BENCH_LIVE_N uploads (50)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
only="${BENCH_ONLY:-}"
case "$only" in
  "" | s3cp | moto | middleware | multipart | firstload | live) ;;
  *) echo "BENCH_ONLY=$only: unknown section (known: s3cp, moto, middleware, multipart, firstload, live)" >&2; exit 2 ;;
esac
scripts/setup.sh test >&2
if [ "$only" != s3cp ] && { ! command -v wrk >/dev/null || ! command -v brotli >/dev/null; }; then
  apt-get install -y -qq wrk brotli >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk brotli >/dev/null; }
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
seconds="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-64}"

# The documented release build (npm binaryen's wasm-opt, checked); the examples below build
# with the same release profile.
scripts/build-release.sh >/dev/null
[ -n "$only" ] || cargo build --release -p server --example presign >&2
case "$only" in "" | multipart) cargo build --release -p server --example multipart_upload >&2 ;; esac
bin="$target_dir/release/server"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[k]
print(v)' "$1"; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
status_kib() { awk -v f="$2" '$1 == f":" { print $2 }' "/proc/$1/status"; }
row() { printf '| %s | %s |\n' "$1" "$2"; }

# Starts the server; sets base, s3, pid and startup_ms.
start_server() {
  local data="$1"; shift
  local port s3_port t0
  port="$(free_port)"; s3_port="$(free_port)"
  base="http://127.0.0.1:$port"; s3="http://127.0.0.1:$s3_port"
  t0=$(date +%s%N)
  LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=warn "$bin" --listen "127.0.0.1:$port" \
    --s3-listen "127.0.0.1:$s3_port" --data-dir "$data" "$@" >>"$work/server.log" 2>&1 &
  pid=$!; pids+=("$pid")
  until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/healthz" 2>/dev/null; do
    kill -0 "$pid" || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # Every /assets call takes an API key: a user (the first run made `admin` on the embedded
  # default; AWS mode starts with none) and a key for it, from the CLI as an operator would.
  "$bin" --data-dir "$data" "$@" users list | grep -q '^admin ' ||
    printf 'bench password 1234\n' | "$bin" --data-dir "$data" "$@" users add admin --admin >/dev/null
  printf 'bench password 1234\n' | "$bin" --data-dir "$data" "$@" users passwd admin >/dev/null
  key="$("$bin" --data-dir "$data" "$@" api-keys create --user admin --label bench | tail -n 1)"
  auth=(-H "Authorization: Bearer $key")
}
stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

# wrk: "<req/s> req/s, p50 <ms>, p99 <ms>"
load() {
  local out
  out="$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "$@")"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { errors = $NF }
    END { printf "%.0f req/s, p50 %.2f ms, p99 %.2f ms%s", rps, p50, p99, (errors ? ", non-2xx " errors : "") }
  ' <<<"$out"
}

upload_asset() { # <file> -> prints asset id, marked UPLOADED
  local created id
  created="$(curl -sS "${auth[@]}" -X POST "$base/assets")"
  id="$(json id <<<"$created")"
  curl -sS -f -X PUT --upload-file "$1" -H 'If-None-Match: *' "$(json upload_url <<<"$created")" -o /dev/null
  curl -sS -f "${auth[@]}" -X PUT "$base/assets/$id" -o /dev/null
  echo "$id"
}

mb_per_s() { awk -v m="$1" -v t="$2" 'BEGIN { printf "%.0f MB/s", m * 1.048576 / t }'; } # <MiB> <seconds>
seconds_since() { awk -v t0="$1" -v t1="$(date +%s%N)" 'BEGIN { printf "%.3f", (t1 - t0) / 1e9 }'; }

# aws-cli's `aws s3 cp` (its defaults: 8 MiB multipart parts and ranged GETs, 10 at a time) of
# 1 GiB up and down against a fresh server's embedded endpoint, with the server's peak RSS;
# next to `cp` of the same file on the same disk, the ceiling (and cp + fsync, since the
# endpoint syncs every object before it answers).
s3cp_rows() {
  local mib=1024 data="$work/s3cp-data" file="$work/s3cp.bin" t0 before status
  start_server "$data"
  head -c "$((mib * 1024 * 1024))" /dev/urandom >"$file"
  t0=$(date +%s%N); cp "$file" "$work/s3cp.copy"; local cp_secs; cp_secs=$(seconds_since "$t0")
  rm -f "$work/s3cp.copy"
  t0=$(date +%s%N); cp "$file" "$work/s3cp.copy"; sync "$work/s3cp.copy"; local sync_secs; sync_secs=$(seconds_since "$t0")
  rm -f "$work/s3cp.copy"
  row "cp 1024 MiB on the same disk (cp / cp + fsync)" "$(mb_per_s "$mib" "$cp_secs") / $(mb_per_s "$mib" "$sync_secs")"

  local creds="$data/embedded-s3-credentials.json"
  printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$work/aws-config"
  local aws=(env -u AWS_CA_BUNDLE -u AWS_PROFILE
    AWS_ACCESS_KEY_ID="$(json access_key <"$creds")" AWS_SECRET_ACCESS_KEY="$(json secret_key <"$creds")"
    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null
    "${ASSETS_CLIENTS_VENV:-$HOME/.cache/assets-service/clients-venv}/bin/aws" --endpoint-url "$s3")
  local url="s3://assets/bench/s3cp.bin"
  before=$(status_kib "$pid" VmRSS)
  echo 5 >"/proc/$pid/clear_refs" # reset the peak (VmHWM) to the current RSS
  t0=$(date +%s%N); status=0
  "${aws[@]}" s3 cp --only-show-errors "$file" "$url" 2>"$work/aws.err" || status=$?
  if [ "$status" -eq 0 ]; then
    row "aws s3 cp upload 1024 MiB" "$(mb_per_s "$mib" "$(seconds_since "$t0")"), server RSS $(kib_to_mib "$before") -> peak $(kib_to_mib "$(status_kib "$pid" VmHWM)")"
  else
    row "aws s3 cp upload 1024 MiB" "failed (exit $status): $(tail -n 1 "$work/aws.err")"
  fi
  echo 5 >"/proc/$pid/clear_refs"
  t0=$(date +%s%N); status=0
  "${aws[@]}" s3 cp --only-show-errors "$url" "$work/s3cp.down" 2>"$work/aws.err" || status=$?
  if [ "$status" -eq 0 ]; then
    local same="bytes identical"; cmp -s "$file" "$work/s3cp.down" || same="BYTES DIFFER"
    row "aws s3 cp download 1024 MiB" "$(mb_per_s "$mib" "$(seconds_since "$t0")"), server peak RSS $(kib_to_mib "$(status_kib "$pid" VmHWM)"), $same"
  else
    row "aws s3 cp download 1024 MiB" "failed (exit $status): $(tail -n 1 "$work/aws.err")"
  fi
  rm -f "$file" "$work/s3cp.down"
  stop_server
}

# The same REST mix with DynamoDB's wire protocol (moto) behind it: the backend's share. A
# user's own listing is one Query; an admin's across owners is one Query per shard.
moto_rows() {
  local venv="${ASSETS_VENV:-$HOME/.cache/assets-service/venv}" moto_port user_auth
  moto_port="$(free_port)"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
  pids+=($!)
  until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "http://127.0.0.1:$moto_port/moto-api/" 2>/dev/null; do sleep 0.1; done
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  local aws_flags=(--store dynamodb --dynamodb-endpoint "http://127.0.0.1:$moto_port" --dynamodb-table benchassets
             --objects s3 --s3-endpoint "http://127.0.0.1:$moto_port" --s3-force-path-style true --bucket benchassets)
  "$bin" "${aws_flags[@]}" init-aws >/dev/null 2>&1
  start_server "$work/aws-data" "${aws_flags[@]}"
  printf 'bench password 1234\n' | "$bin" "${aws_flags[@]}" users add bench >/dev/null
  user_auth=(-H "Authorization: Bearer $("$bin" "${aws_flags[@]}" api-keys create --user bench --label bench | tail -n 1)")
  local saved=("${auth[@]}"); auth=("${user_auth[@]}")
  id="$(upload_asset "$work/tiny")"
  auth=("${saved[@]}")
  local connections=16
  row "moto: POST /assets, $connections conns" "$(load "${user_auth[@]}" -s bench/post.lua "$base/assets")"
  row "moto: GET /assets/{id} (API key), $connections conns" "$(load "${user_auth[@]}" "$base/assets/$id?timeout=60")"
  row "moto: PUT /assets/{id}, $connections conns" "$(load "${user_auth[@]}" -s bench/put.lua "$base/assets/$id")"
  row "moto: GET /assets?limit=50, a user's own (one Query), $connections conns" "$(load "${user_auth[@]}" "$base/assets?limit=50")"
  row "moto: GET /assets?limit=50, admin across owners (8 shard Queries), 4 conns" "$(connections=4 load "${auth[@]}" "$base/assets?limit=50")"
  stop_server
}

echo "| measurement | result |"
echo "|---|---|"

# What the request middleware costs: GET /assets/{id} with request metrics, request ids (and
# their log span) and rate limiting on (loopback included, limits far above the load, so every
# request is checked and none refused), against the same binary with them off; alternated
# over three rounds so the machine's drift shows.
middleware_rows() {
  local round mode flags id
  echo "hello" >"$work/tiny"
  for round in 1 2 3; do
    for mode in on off; do
      case "$mode" in
        on) flags=(--rate-limit-loopback --rate-limit 100000000 --rate-limit-per-address 100000000) ;;
        off) flags=(--bench-without-observability) ;;
      esac
      rm -rf "$work/mw-data"
      start_server "$work/mw-data" "${flags[@]}"
      id="$(upload_asset "$work/tiny")"
      row "GET /assets/{id}, middleware $mode (round $round), $connections conns" "$(load "${auth[@]}" "$base/assets/$id?timeout=60")"
      stop_server
    done
  done
}

# Multipart uploads through the REST API (parts signed in batches of one, 4 in flight, as the
# dashboard sends them) to the embedded endpoint: MB/s and the server's RSS before and at peak.
# Completion writes the object beside its parts, so a size needs twice its bytes free.
multipart_rows() {
  local mib free_mib line before checks
  for mib in ${BENCH_MULTIPART_MIB:-1024 10240}; do
    for checks in "" --sha256; do
      free_mib=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
      if [ "$free_mib" -lt $((mib * 2 + 1024)) ]; then
        row "multipart upload ${mib} MiB${checks:+ (part SHA-256s)}" "skipped: ${free_mib} MiB free, needs $((mib * 2 + 1024))"
        continue
      fi
      start_server "$work/multipart-data" # fresh each time: the last one's object is gone
      before=$(status_kib "$pid" VmRSS)
      echo 5 >"/proc/$pid/clear_refs" # reset the peak (VmHWM) to the current RSS
      line="$("$target_dir/release/examples/multipart_upload" "$base" "$key" "$mib" $checks)"
      row "multipart upload ${mib} MiB${checks:+ (part SHA-256s)}" "$line; server RSS $(kib_to_mib "$before") -> peak $(kib_to_mib "$(status_kib "$pid" VmHWM)")"
      stop_server
      rm -rf "$work/multipart-data"
    done
  done
  # The same 1 GiB through the dashboard in Chromium: hashing in the browser, 4 parts at a time.
  start_server "$work/multipart-data"
  printf 'bench password 1234\n' | "$bin" --data-dir "$work/multipart-data" users add uploader >/dev/null
  line="$(BASE_URL="$base" ASSETS_USER=uploader ASSETS_PASSWORD='bench password 1234' node bench/dashboard_upload.mjs 2>&1 | tail -n 1)"
  row "dashboard upload 1024 MiB in Chromium (parts hashed, 4 at a time)" "$line"
  stop_server
  rm -rf "$work/multipart-data"
}

# Live updates: an open dashboard (Chromium) and a script uploading through the REST API; the
# time from each change to the row showing it (SSE: event consumer -> stream -> page).
live_rows() {
  local line
  start_server "$work/live-data"
  line="$(BASE_URL="$base" ASSETS_USER=admin ASSETS_PASSWORD='bench password 1234' ASSETS_API_KEY="$key" \
    node bench/live_latency.mjs 2>&1 | tail -n 1)"
  row "live update latency to an open dashboard (${BENCH_LIVE_N:-50} uploads)" "$line"
  stop_server
  rm -rf "$work/live-data"
}

if [ "$only" = multipart ]; then
  multipart_rows
  exit 0
fi

if [ "$only" = live ]; then
  live_rows
  exit 0
fi

if [ "$only" = middleware ]; then
  middleware_rows
  exit 0
fi

if [ "$only" = s3cp ]; then
  s3cp_rows
  exit 0
fi
if [ "$only" = moto ]; then
  echo "hello" >"$work/tiny"
  moto_rows
  exit 0
fi

wasm_row() {
  local wasm="$root/target/site/pkg/assets.wasm"
  row "release wasm (raw / gzip -9 / brotli -q 11)" \
    "$(stat -c%s "$wasm" | awk '{printf "%.0f KiB", $1/1024}') / $(gzip -9 -c "$wasm" | wc -c | awk '{printf "%.0f KiB", $1/1024}') / $(brotli -c -q 11 "$wasm" | wc -c | awk '{printf "%.0f KiB", $1/1024}')"
}
# The dashboard in Chromium: cold cache, then warm (two rows).
first_load_rows() {
  (cd end2end && ASSETS_USER=admin ASSETS_PASSWORD='bench password 1234' node first-load.mjs "$base" 5) |
    while IFS= read -r line; do row "dashboard ${line%%:*}" "${line#*: }"; done
}
if [ "$only" = firstload ]; then
  wasm_row
  start_server "$work/data"
  first_load_rows
  exit 0
fi

wasm_row
"$target_dir/release/examples/presign" | while IFS= read -r line; do row "${line%%:*}" "${line#*: }"; done

start_server "$work/data"
row "start-up to first /healthz answer" "$startup_ms ms"
first_load_rows
sleep 1
row "idle RSS" "$(kib_to_mib "$(status_kib "$pid" VmRSS)")"

echo "hello" >"$work/tiny"
id="$(upload_asset "$work/tiny")"
row "POST /assets (create + presign), $connections conns" "$(load "${auth[@]}" -s bench/post.lua "$base/assets")"
row "GET /assets/{id} (presign download, API key), $connections conns" "$(load "${auth[@]}" "$base/assets/$id?timeout=60")"
row "PUT /assets/{id} (already UPLOADED), $connections conns" "$(load "${auth[@]}" -s bench/put.lua "$base/assets/$id")"

# Listing over 100,000 assets: seed the SQLite file directly, then list the first page.
stop_server
python3 - "$work/data/assets.sqlite3" <<'PY'
import sqlite3, sys, uuid, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1e6)
rows = [(str(uuid.uuid4()), "UPLOADED", now - i * 1000, now - i * 1000, f"file-{i}.bin", "application/octet-stream", 1024, None, 1, None, None, "admin")
        for i in range(100_000)]
db.executemany("INSERT INTO assets (id, state, created_us, updated_us, filename, content_type, size, etag, version, sequencer, checksum, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
db.commit()
print(db.execute("SELECT COUNT(*) FROM assets").fetchone()[0], file=sys.stderr)
PY
start_server "$work/data"
row "GET /assets?limit=50 over 100,000+ assets, $connections conns" "$(load "${auth[@]}" "$base/assets?limit=50")"
row "GET /assets?limit=50&state=RECEIVED (sparse state), $connections conns" "$(load "${auth[@]}" "$base/assets?limit=50&state=RECEIVED")"

# Embedded S3 throughput, and the server's peak RSS during each transfer.
for size in 1 64 1024; do
  head -c "$((size * 1024 * 1024))" /dev/urandom >"$work/blob"
  created="$(curl -sS "${auth[@]}" -X POST "$base/assets")"
  id="$(json id <<<"$created")"
  before=$(status_kib "$pid" VmRSS)
  echo 5 >"/proc/$pid/clear_refs" # reset the peak (VmHWM) to the current RSS
  secs=$(curl -sS -f -X PUT --upload-file "$work/blob" -H 'If-None-Match: *' "$(json upload_url <<<"$created")" -o /dev/null -w '%{time_total}')
  peak=$(status_kib "$pid" VmHWM)
  row "embedded S3 upload ${size} MiB" "$(awk -v s="$size" -v t="$secs" 'BEGIN { printf "%.0f MB/s", s * 1.048576 / t }'), server RSS $(kib_to_mib "$before") -> peak $(kib_to_mib "$peak")"
  curl -sS -f "${auth[@]}" -X PUT "$base/assets/$id" -o /dev/null
  url="$(curl -sS "${auth[@]}" "$base/assets/$id?timeout=600" | json download_url)"
  echo 5 >"/proc/$pid/clear_refs"
  secs=$(curl -sS -f "$url" -o /dev/null -w '%{time_total}')
  row "embedded S3 download ${size} MiB" "$(awk -v s="$size" -v t="$secs" 'BEGIN { printf "%.0f MB/s", s * 1.048576 / t }'), server peak RSS $(kib_to_mib "$(status_kib "$pid" VmHWM)")"
done
stop_server

middleware_rows

s3cp_rows

multipart_rows

moto_rows

live_rows
