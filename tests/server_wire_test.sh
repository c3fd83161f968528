#!/usr/bin/env bash
# billsim serve/client/query end to end: serve on an ephemeral port, send a
# scenario, query it, stop with SIGTERM (exit 0), then the log verifies and
# an offline replay agrees.
# usage: server_wire_test.sh BILLSIM SCENARIOS_DIR
set -u
BILLSIM=$1
SCENARIOS=$2
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$TMP/serve.err" 2>/dev/null; exit 1; }

start_server() {
  : > "$TMP/serve.out"
  "$BILLSIM" serve --log "$TMP/log" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    ADDR=$(sed -n 's/^listening on //p' "$TMP/serve.out")
    [ -n "$ADDR" ] && return 0
    sleep 0.05
  done
  fail "server did not print its address"
}
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=
  [ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
}

SCENARIO=$(ls "$SCENARIOS"/*.textproto | head -1)
start_server
"$BILLSIM" client --connect "$ADDR" --batch 3 "$SCENARIO" >"$TMP/client.out" || fail "client exit $?"
grep -q '^ack 1: sequences 1\.\.3' "$TMP/client.out" || fail "no ack line: $(cat "$TMP/client.out")"
# Everything again: all duplicates, exit 1.
"$BILLSIM" client --connect "$ADDR" "$SCENARIO" >"$TMP/client2.out"
[ $? -eq 1 ] || fail "resending should exit 1"
grep -q 'duplicate' "$TMP/client2.out" || fail "no duplicate line"
"$BILLSIM" query --connect "$ADDR" --ping --json >"$TMP/ping.json" || fail "ping"
grep -q '"fsync":"always"' "$TMP/ping.json" || fail "ping: $(cat "$TMP/ping.json")"
"$BILLSIM" query --connect "$ADDR" --account no-such-account >/dev/null 2>&1
[ $? -eq 1 ] || fail "unknown account should exit 1"
"$BILLSIM" client --help >/dev/null || fail "client --help"
"$BILLSIM" query --help >/dev/null || fail "query --help"
"$BILLSIM" serve --help >/dev/null || fail "serve --help"
stop_server

"$BILLSIM" log verify --log "$TMP/log" >/dev/null || fail "log verify after SIGTERM"
# A restart recovers and serves the same state.
start_server
"$BILLSIM" query --connect "$ADDR" --ping >"$TMP/ping2.out" || fail "ping after restart"
stop_server
"$BILLSIM" log verify --log "$TMP/log" >/dev/null || fail "log verify after restart"
echo "server wire test: ok"
