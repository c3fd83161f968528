#!/usr/bin/env bash
# billsim serve/client/query end to end: serve on an ephemeral port, send a
# scenario, query it, stop with SIGTERM (exit 0), then the log verifies and
# an offline replay agrees.
# usage: server_wire_test.sh BILLSIM SCENARIOS_DIR
set -u
BILLSIM=$1
SCENARIOS=$2
fail() { echo "FAIL: $*"; cat "$TMP/serve.err" 2>/dev/null; exit 1; }
. "$(dirname "$0")/server_lib.sh"

SCENARIO=$(ls "$SCENARIOS"/*.textproto | head -1)
start_server "$TMP/log" serve || fail "server did not start"
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
start_server "$TMP/log" serve || fail "server did not start"
"$BILLSIM" query --connect "$ADDR" --ping >"$TMP/ping2.out" || fail "ping after restart"
stop_server
"$BILLSIM" log verify --log "$TMP/log" >/dev/null || fail "log verify after restart"
echo "server wire test: ok"
