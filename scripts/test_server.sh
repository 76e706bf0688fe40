# Sourced by the scripts that test a running server binary (s3_clients_test.sh,
# contract_test.sh): starts the built debug server on free loopback ports with a temporary data
# directory, waits until both ports answer, gives the first-run `admin` an API key, and on exit
# stops it, keeps its log for scripts/test.sh's leak check, shows its tail on failure and removes
# the temporary directory.
# Needs: root, bin, and a name for the log copy in $log_name. Sets: work, log, data, app_port,
# s3_port, api, server_pid, ASSETS_API_KEY. Extra environment for the server: set it before.

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work="$(mktemp -d -t "$log_name.XXXXXX")"
log="$work/server.log"
server_pid=""
finish() {
  local status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -f "$log" ]; then
    # scripts/test.sh checks every test server's log for leaked signatures.
    if [ -n "${ASSETS_TEST_LOG_DIR:-}" ]; then cp "$log" "$ASSETS_TEST_LOG_DIR/$log_name-server.log"; fi
    if [ "$status" -ne 0 ]; then echo "--- server log (last 60 lines) ---" >&2; tail -n 60 "$log" >&2; fi
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT

app_port="$(free_port)"
s3_port="$(free_port)"
data="$work/data"
api="http://127.0.0.1:$app_port"
LEPTOS_SITE_ROOT="$root/target/site" RUST_LOG=info \
  "$bin" --listen "127.0.0.1:$app_port" --s3-listen "127.0.0.1:$s3_port" --data-dir "$data" \
  >"$log" 2>&1 &
server_pid=$!

up() {
  python3 - "$api/healthz" "$s3_port" <<'PY' 2>/dev/null
import socket, sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)
socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
PY
}
for _ in $(seq 1 300); do
  up && break
  kill -0 "$server_pid" 2>/dev/null || { echo "the server exited during start-up" >&2; exit 1; }
  sleep 0.1
done
up || { echo "the server did not answer within 30 s" >&2; exit 1; }
# The REST API takes an API key: the first run made `admin`; give it one, as an operator would.
ASSETS_API_KEY="$("$bin" --data-dir "$data" api-keys create --user admin --label "$log_name" | tail -n 1)"
export ASSETS_API_KEY
