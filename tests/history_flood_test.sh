#!/usr/bin/env bash
# History queries must not stall ingest (issue 10, section 3): a paced
# `billsim stress` run alone, then the same run on a second fresh server
# (stress's set-up events have fixed ids: a second run on one log would be
# all duplicates) while another client floods history pages (`billsim
# bench history`, reading every answer). The flooded run's ack p99 must
# stay within 2x the quiet run's, plus 5 ms: an absolute slack for the
# noise of a shared 2-core machine, where a quiet p99 of 2 ms can double
# from scheduling alone. Both runs must be consistent (stress's own check)
# and the flooder must get pages. A broken bound is measured once more and
# fails only if it breaks again (see below).
# usage: history_flood_test.sh BILLSIM [SERVER_BILLSIM]
#   SERVER_BILLSIM: the binary that serves (default BILLSIM), e.g. an older
#   build, to measure its server with this build's clients.
set -u
CLIENT=${1:?usage: history_flood_test.sh BILLSIM [SERVER_BILLSIM]}
BILLSIM=${2:-$1}
EVENTS=${HISTORY_FLOOD_EVENTS:-1000000}
RATE=${HISTORY_FLOOD_RATE:-200000}
SLACK_US=5000
fail() { echo "FAIL: $*"; cat "$TMP"/*.err 2>/dev/null | tail -20; exit 1; }
. "$(dirname "$0")/server_lib.sh"
FLOOD_PID=
trap 'if [ -n "$FLOOD_PID" ]; then kill "$FLOOD_PID" 2>/dev/null; fi; cleanup' EXIT

stress() {  # stress NAME: the paced run against $ADDR, JSON in $TMP/NAME.json
  "$CLIENT" stress --connect "$ADDR" --events "$EVENTS" --rate "$RATE" --batch 1000 \
    --json >"$TMP/$1.json" 2>"$TMP/$1.stress.err"
}
p99() { sed -n 's/.*"ack_latency_us":{[^}]*"p99":\([0-9][0-9]*\).*/\1/p' "$TMP/$1.json"; }

# One attempt (N: its number): the quiet run, then the flooded run.
# Sets quiet_p99, flood_p99 and pages; fails on anything but the bound.
attempt() {
  local n=$1
  start_server "$TMP/quiet$n" quiet$n || fail "quiet server did not start"
  stress quiet$n || fail "quiet stress run exited $?: $(cat "$TMP/quiet$n.json")"
  stop_server
  quiet_p99=$(p99 quiet$n)
  [ -n "$quiet_p99" ] || fail "no ack p99 in $(cat "$TMP/quiet$n.json")"

  # The same run while history pages of acct-0 (opened by stress's set-up)
  # are asked for as fast as they come back.
  start_server "$TMP/flood$n" flood$n || fail "flood server did not start"
  stress flood$n &
  STRESS_PID=$!
  # Wait until acct-0's history is served: the history index, not only the
  # live ledger, must have it (a new connection's query may reflect any
  # acknowledged sequence, so the live ledger's answer does not tell).
  for _ in $(seq 200); do
    "$CLIENT" query --connect "$ADDR" --history acct-0 --limit 1 >/dev/null 2>&1 && break
    sleep 0.05
  done
  "$CLIENT" bench history --server "$ADDR" --account acct-0 --limit 100 \
    --seconds $((EVENTS / RATE + 1)) --json >"$TMP/bench$n.json" 2>"$TMP/bench$n.err" &
  FLOOD_PID=$!
  wait "$STRESS_PID" || fail "flooded stress run exited non-zero: $(cat "$TMP/flood$n.json")"
  wait "$FLOOD_PID" || fail "bench history exited non-zero: $(cat "$TMP/bench$n.err")"
  FLOOD_PID=
  stop_server
  flood_p99=$(p99 flood$n)
  pages=$(sed -n 's/.*"pages":\([0-9][0-9]*\).*/\1/p' "$TMP/bench$n.json")
  [ -n "$flood_p99" ] || fail "no ack p99 in $(cat "$TMP/flood$n.json")"
  echo "attempt $n quiet run:   $(cat "$TMP/quiet$n.json")"
  echo "attempt $n flooded run: $(cat "$TMP/flood$n.json")"
  echo "attempt $n history flood: $(cat "$TMP/bench$n.json")"
  echo "attempt $n ack p99: quiet ${quiet_p99} us, flooded ${flood_p99} us (bound 2x + ${SLACK_US} us)"
  [ "${pages:-0}" -gt 0 ] || fail "the flooder got no history pages"
  "$BILLSIM" log verify --log "$TMP/flood$n" >/dev/null || fail "log verify after the flooded run"
  [ "$flood_p99" -le $((2 * quiet_p99 + SLACK_US)) ]
}

# A p99 over 5 s on a shared machine can jump from scheduling alone: a
# broken bound is measured again, and fails only if it breaks twice in a
# row.
if ! attempt 1; then
  echo "the bound broke once: measuring again"
  attempt 2 ||
    fail "ack p99 under a history flood ${flood_p99} us > 2 x ${quiet_p99} us + ${SLACK_US} us, twice"
fi
echo "history flood test: ok"
