#!/usr/bin/env bash
# billsim stress against a real `billsim serve`: a clean run must be
# consistent (balances equal a replay of the log, nothing lost, nothing
# duplicated); the server must stop cleanly on SIGTERM with a log that
# verifies; and a server SIGKILLed mid-run and restarted on the same log
# must still end consistent once the stress tool has reconnected and resent
# what was not acknowledged.
# usage: stress_test.sh BILLSIM
set -u
BILLSIM=${1:?usage: stress_test.sh BILLSIM}
tmp=$(mktemp -d /tmp/billsim-stress-test-XXXXXX)
passed=0
failed=0
server_pid=

cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
check() {  # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}

# start_server LOG LISTEN OUT [SERVE-OPTIONS...]: starts the server, waits
# for "listening on", sets server_pid and port. Returns 1 if it did not come
# up in 10 s.
start_server() {
  local log=$1 listen=$2 out=$3
  shift 3
  "$BILLSIM" serve --log "$log" --listen "$listen" "$@" >"$out" 2>"$out.err" &
  server_pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$out" | head -1)
    if [[ -n "$port" ]]; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  cat "$out.err" >&2
  return 1
}

json_has() { grep -q "\"$2\":$3" "$1"; }

# stop_server EXIT-CHECK VERIFY-CHECK LOG: SIGTERM; the server must exit 0
# and its log must verify.
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid"
  local rc=$?
  server_pid=
  check "$1" test "$rc" -eq 0
  check "$2" "$BILLSIM" log verify --log "$3"
}

# --- Part 1: a clean run ------------------------------------------------------
if start_server "$tmp/log" 127.0.0.1:0 "$tmp/server1.out"; then
  ok "server starts and prints its port ($port)"
  "$BILLSIM" stress --connect "127.0.0.1:$port" --events 300000 --connections 4 --json \
    >"$tmp/stress1.json" 2>"$tmp/stress1.err"
  rc=$?
  cat "$tmp/stress1.json"
  check "stress exits 0" test "$rc" -eq 0
  check "stress reports consistent" json_has "$tmp/stress1.json" consistent true
  check "nothing lost" json_has "$tmp/stress1.json" lost 0
  check "nothing duplicated" json_has "$tmp/stress1.json" duplicated 0
  check "no errors" json_has "$tmp/stress1.json" errors 0
  check "every event sent" json_has "$tmp/stress1.json" events_sent 302500
  stop_server "server exits 0 on SIGTERM" "log verify passes" "$tmp/log"
else
  fail "server starts and prints its port"
fi

# --- Part 2: SIGKILL mid-run, restart on the same log, reconnect and resend ----
# A million events; half that under the sanitizers (BILLSIM_TEST_SCALE below
# 1). Rate-limited to a fifth of them a second, so the run lasts at least
# five seconds however fast the machine, and the kill at 2 s lands mid-run.
events2=$(python3 -c "import os; print(max(500000, int(1000000 * float(os.environ.get('BILLSIM_TEST_SCALE', '1')))))")
if start_server "$tmp/log2" 127.0.0.1:0 "$tmp/server2.out"; then
  "$BILLSIM" stress --connect "127.0.0.1:$port" --events "$events2" --connections 4 \
    --rate $((events2 / 5)) --seed 7 --retry-ms 30000 --json \
    >"$tmp/stress2.json" 2>"$tmp/stress2.err" &
  stress_pid=$!
  sleep 2
  kill -KILL "$server_pid"
  wait "$server_pid" 2>/dev/null
  server_pid=
  restarted=0
  for _ in $(seq 1 20); do  # the port may take a moment to be free again
    if start_server "$tmp/log2" "127.0.0.1:$port" "$tmp/server3.out"; then
      restarted=1
      break
    fi
    sleep 0.5
  done
  check "server restarts on the same log and port" test "$restarted" -eq 1
  wait "$stress_pid"
  rc=$?
  cat "$tmp/stress2.json"
  check "stress after a SIGKILL exits 0" test "$rc" -eq 0
  check "stress after a SIGKILL reports consistent" json_has "$tmp/stress2.json" consistent true
  check "stress reconnected" grep -q '"reconnects":[1-9]' "$tmp/stress2.json"
  # The same seed again: everything is a duplicate, acknowledged before.
  "$BILLSIM" stress --connect "127.0.0.1:$port" --events "$events2" --connections 4 \
    --seed 7 --retry-ms 30000 --json >"$tmp/stress3.json" 2>"$tmp/stress3.err"
  rc=$?
  cat "$tmp/stress3.json"
  check "same seed again exits 0" test "$rc" -eq 0
  check "same seed again is consistent" json_has "$tmp/stress3.json" consistent true
  if [[ -n "$server_pid" ]]; then
    stop_server "restarted server exits 0 on SIGTERM" "log verify passes after the SIGKILL" \
      "$tmp/log2"
  else
    check "log verify passes after the SIGKILL" "$BILLSIM" log verify --log "$tmp/log2"
  fi
else
  fail "second server starts"
fi

# --- Part 3: --fsync never: acks follow the write, and the check replays up
# to what was acknowledged (not only to what is synced) -------------------------
if start_server "$tmp/log4" 127.0.0.1:0 "$tmp/server4.out" --fsync never; then
  "$BILLSIM" stress --connect "127.0.0.1:$port" --events 100000 --connections 2 --json \
    >"$tmp/stress4.json" 2>"$tmp/stress4.err"
  rc=$?
  cat "$tmp/stress4.json"
  check "stress against --fsync never exits 0" test "$rc" -eq 0
  check "stress against --fsync never is consistent" json_has "$tmp/stress4.json" consistent true
  stop_server "--fsync never server exits 0 on SIGTERM" "log verify passes after --fsync never" \
    "$tmp/log4"
else
  fail "--fsync never server starts"
fi

echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
