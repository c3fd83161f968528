# Shared by the shell tests that run `billsim serve`: a temporary directory,
# a trap that kills a server left running and removes the directory however
# the test ends, and start_server / stop_server. Source it after setting
# BILLSIM; the caller defines fail MESSAGE (prints and exits 1).
# Defines TMP, SERVER_PID, BG_PIDS and, once a server listens, ADDR.
TMP=$(mktemp -d)
SERVER_PID=
ADDR=
BG_PIDS=  # other background processes a test started: killed too
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID"; fi
  for p in $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_server LOG NAME [SERVE-OPTIONS...]: serves LOG on an ephemeral
# loopback port, output in $TMP/NAME.out and $TMP/NAME.err; sets ADDR.
# Returns 1 if the server exits before it listens.
start_server() {
  local log=$1 name=$2
  shift 2
  : > "$TMP/$name.out"
  "$BILLSIM" serve --log "$log" --listen 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  SERVER_PID=$!
  for _ in $(seq 200); do
    ADDR=$(sed -n 's/^listening on //p' "$TMP/$name.out")
    [ -n "$ADDR" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  fail "server did not print its address"
}

# stop_server: SIGTERM, and the server must exit 0.
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=
  [ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
}
