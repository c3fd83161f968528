#!/usr/bin/env bash
# The log's trust rules through the program (issue #9): one writer per log
# (serve holds DIR/LOCK; a second serve and `log append` fail at once naming
# its pid and change nothing; readers work beside it), readers refuse a
# nonexistent directory, a damaged log is refused by verify/replay/serve
# until `log repair` cuts it (recorded in DIR/REPAIRS), and --allow-damage.
# usage: log_trust_cli_test.sh BILLSIM SCENARIOS_DIR
set -u
BILLSIM=$1
SCENARIOS=$2
fail() { echo "FAIL: $*"; for f in "$TMP"/*.err; do echo "--- $f"; cat "$f"; done; exit 1; }
. "$(dirname "$0")/server_lib.sh"
flip_byte() {  # flip_byte FILE OFFSET: xor the byte there with 0x10
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\$(printf '%03o' $((b ^ 16)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
digest() { (cd "$1" && find . -type f ! -name LOCK -print0 | sort -z | xargs -0 sha256sum); }

SCENARIO=$(ls "$SCENARIOS"/*.textproto | head -1)
LOG=$TMP/log

# --- one writer per log -------------------------------------------------------
start_server "$LOG" serve1 || fail "first server did not start"
FIRST_PID=$SERVER_PID
"$BILLSIM" client --connect "$ADDR" --batch 3 "$SCENARIO" >/dev/null || fail "client"
BEFORE=$(digest "$LOG")
"$BILLSIM" serve --log "$LOG" --listen 127.0.0.1:0 >"$TMP/serve2.out" 2>"$TMP/serve2.err"
rc=$?
[ $rc -ne 0 ] || fail "a second serve on one log started"
grep -q "locked by pid $FIRST_PID" "$TMP/serve2.err" || fail "second serve: no holder pid"
grep -q "$LOG" "$TMP/serve2.err" || fail "second serve: directory not named"
"$BILLSIM" log append --log "$LOG" "$SCENARIO" >"$TMP/append.out" 2>"$TMP/append.err"
[ $? -ne 0 ] || fail "log append beside serve succeeded"
grep -q "locked by pid $FIRST_PID" "$TMP/append.err" || fail "append: no holder pid"
"$BILLSIM" snapshot --log "$LOG" >/dev/null 2>"$TMP/snap.err" && fail "snapshot beside serve"
[ "$(digest "$LOG")" = "$BEFORE" ] || fail "a refused writer changed the log"
# Readers need no lock and do not disturb the writer.
"$BILLSIM" log verify --log "$LOG" >/dev/null 2>"$TMP/verify.err" || fail "verify beside serve"
"$BILLSIM" replay --log "$LOG" >/dev/null 2>"$TMP/replay.err" || fail "replay beside serve"
"$BILLSIM" log dump --log "$LOG" >/dev/null 2>"$TMP/dump.err" || fail "dump beside serve"
"$BILLSIM" audit check --log "$LOG" >/dev/null 2>"$TMP/audit.err" || fail "audit beside serve"
"$BILLSIM" query --connect "$ADDR" --ping --json >"$TMP/ping.json" || fail "ping"
grep -q '"scrub_state":"SCRUB_CLEAN"' "$TMP/ping.json" || fail "ping has no scrub state: $(cat "$TMP/ping.json")"
stop_server
"$BILLSIM" log append --log "$LOG" "$SCENARIO" >/dev/null 2>"$TMP/append2.err"
[ $? -eq 1 ] || fail "log append after serve stopped: duplicates expected (exit 1)"

# --- nonexistent directories are errors for readers --------------------------
NOPE=$TMP/no-such-log
for cmd in "log verify" "log dump" "replay" "audit check" "audit history --account a" \
           "audit balance --account a --as-of 2026-01-01"; do
  # shellcheck disable=SC2086
  "$BILLSIM" $cmd --log "$NOPE" >"$TMP/nope.out" 2>"$TMP/nope.err"
  [ $? -ne 0 ] || fail "$cmd on a missing directory exited 0"
  cat "$TMP/nope.out" "$TMP/nope.err" | grep -q "no-such-log" || fail "$cmd: the directory is not named"
done
[ ! -e "$NOPE" ] || fail "a reader created the missing directory"
"$BILLSIM" log repair --log "$NOPE" --truncate-after 0 >/dev/null 2>&1 && fail "repair of nothing"

# --- damage: refused until repaired -------------------------------------------
"$BILLSIM" snapshot --log "$LOG" >/dev/null 2>"$TMP/snap2.err" || fail "snapshot"
LAST=$("$BILLSIM" log verify --log "$LOG" --json | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p')
[ -n "$LAST" ] && [ "$LAST" -gt 3 ] || fail "no last_seq"
SEG=$(ls "$LOG"/*.seg | tail -1)
# A bit flip in the last byte of the last (complete) batch: refused, not cut.
SIZE=$(stat -c %s "$SEG")
flip_byte "$SEG" $((SIZE - 1))
BEFORE=$(digest "$LOG")
"$BILLSIM" log verify --log "$LOG" >"$TMP/v.out" 2>&1 && fail "verify passed a damaged log"
grep -q "payload checksum mismatch" "$TMP/v.out" || fail "verify: $(cat "$TMP/v.out")"
# The fault names the segment's path; quotes, a backslash and a control
# character in it leave the --json output JSON.
ODD="$TMP/"$'odd "dir" \\ \x01 name'
cp -r "$LOG" "$ODD"
rm -f "$ODD/LOCK"
"$BILLSIM" log verify --log "$ODD" --json >"$TMP/v.json" 2>"$TMP/vjson.err" && fail "verify --json passed a damaged log"
python3 - "$TMP/v.json" "$ODD" <<'P' || fail "verify --json: $(cat "$TMP/v.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is False and sys.argv[2] in r["fault"], r
assert "payload checksum mismatch" in r["fault"] and isinstance(r["last_seq"], int), r
P
rm -rf "$ODD"
"$BILLSIM" replay --log "$LOG" >/dev/null 2>"$TMP/r.err" && fail "replay of a damaged log"
start_server "$LOG" serve3 && fail "serve started on a damaged log"
SERVER_PID=
grep -q "offset" "$TMP/serve3.err" || fail "serve: no offset named"
[ "$(digest "$LOG")" = "$BEFORE" ] || fail "a refusal changed the log"
# The operator decides: everything after the batch before the damaged one.
KEEP=$(grep -o 'batch of sequences [0-9]*' "$TMP/v.out" | head -1 | grep -o '[0-9]*$')
KEEP=$((KEEP - 1))
"$BILLSIM" log repair --log "$LOG" --truncate-after $((KEEP + 1)) >/dev/null 2>"$TMP/rep0.err"
[ $? -eq 2 ] || [ "$KEEP" -eq $((LAST - 1)) ] || fail "repair inside a batch accepted"
"$BILLSIM" log repair --log "$LOG" --truncate-after "$KEEP" >"$TMP/repair.out" 2>"$TMP/repair.err" \
  || fail "repair exited $?"
grep -q "discard: .*$(basename "$SEG") bytes" "$TMP/repair.out" || fail "repair: $(cat "$TMP/repair.out")"
grep -q "discard: .*snapshot-0*$LAST.bin" "$TMP/repair.out" || fail "repair kept the snapshot"
grep -q "old head: sequence $((KEEP)),\|old head: sequence" "$TMP/repair.out" || fail "no old head"
grep -q "truncate-after $KEEP" "$LOG/REPAIRS" || fail "no record in REPAIRS"
grep -q "done: the log ends at sequence $KEEP" "$LOG/REPAIRS" || fail "no done line"
"$BILLSIM" log verify --log "$LOG" >"$TMP/v2.out" 2>&1 || fail "verify after repair: $(cat "$TMP/v2.out")"
"$BILLSIM" replay --log "$LOG" >/dev/null 2>&1 || fail "replay after repair"
"$BILLSIM" log repair --log "$LOG" --truncate-after "$KEEP" >"$TMP/repair2.out" 2>&1 || fail "repair again"
grep -q "nothing to discard" "$TMP/repair2.out" || fail "second repair: $(cat "$TMP/repair2.out")"

# --- a sealed segment damaged behind a snapshot: --allow-damage ---------------
LOG2=$TMP/log2
"$BILLSIM" log append --log "$LOG2" --segment-mb 1 --batch 1 "$SCENARIOS"/*.textproto >/dev/null 2>&1
"$BILLSIM" snapshot --log "$LOG2" >/dev/null 2>&1 || fail "snapshot of log2"
FIRST_SEG=$(ls "$LOG2"/*.seg | head -1)
flip_byte "$FIRST_SEG" 97
"$BILLSIM" replay --log "$LOG2" >/dev/null 2>"$TMP/r2.err" && fail "replay from a snapshot passed damage behind it"
grep -q "$(basename "$FIRST_SEG") at offset 0" "$TMP/r2.err" || fail "replay: $(cat "$TMP/r2.err")"
"$BILLSIM" replay --log "$LOG2" --allow-damage >/dev/null 2>"$TMP/r3.err" || fail "--allow-damage"
grep -q "warn" "$TMP/r3.err" || fail "--allow-damage did not warn"

"$BILLSIM" log repair --help | grep -q "truncate-after" || fail "log repair --help"
echo "log trust cli: all passed"
