#!/usr/bin/env bash
# End-to-end checks of the log and `billsim audit`: every recorded scenario
# goes into a log of its own, which must verify, replay to the scenario's
# own report and pass `audit check`; then history, balance and evidence on a
# scenario with disputes. Usage: audit_cli_test.sh BILLSIM SCENARIOS_DIR.
# Prints "N passed, N failed".
set -u
billsim=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") scenarios=$2
pass=0 fail=0
tmp=$(mktemp -d)
out=$tmp/out err=$tmp/err
trap 'rm -rf "$tmp"' EXIT

check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name" >&2
    echo "--- stdout" >&2; head -n 40 "$out" >&2; echo "--- stderr" >&2; head -n 40 "$err" >&2; fi
}
run() { "$billsim" "$@" >"$out" 2>"$err"; echo $?; }

# --- every scenario: append, verify, replay = scenario report, audit check ---
# BILLSIM_TEST_SCALE below 1 (the sanitizer builds, where each run is slow)
# takes every (1/scale)th scenario; the release build runs every one.
stride=$(awk -v s="${BILLSIM_TEST_SCALE:-1}" 'BEGIN { s += 0; print (s > 0 && s < 1) ? int(1 / s + 0.5) : 1 }')
index=0
for file in "$scenarios"/*.textproto "$scenarios"/*.json; do
  [ -e "$file" ] || continue
  index=$((index + 1))
  [ $(((index - 1) % stride)) = 0 ] || continue
  name=$(basename "$file")
  log=$tmp/logs/${name%.*}
  # 1: some events of the scenario are refused on purpose (R10, R11).
  rc=$(run log append --log "$log" "$file")
  check "$name: log append exits 0 or 1" test "$rc" = 0 -o "$rc" = 1
  rc=$(run log verify --log "$log")
  check "$name: log verify" test "$rc" = 0
  rc=$(run replay --log "$log" --report csv)
  check "$name: replay" test "$rc" = 0
  cut -d, -f2- "$out" >"$tmp/replay.csv"
  rc=$(run scenario report --format csv "$file")
  cut -d, -f2- "$out" >"$tmp/scenario.csv"
  check "$name: replay report = scenario report" cmp -s "$tmp/replay.csv" "$tmp/scenario.csv"
  rc=$(run audit check --log "$log")
  check "$name: audit check" test "$rc" = 0 -a -n "$(grep 'all checks passed' "$out")"
done

# --- audit on a scenario with disputes ------------------------------------------
file=$scenarios/r09_adjustment_capped.textproto
log=$tmp/logs/r09_adjustment_capped
if [ ! -d "$log" ]; then run log append --log "$log" "$file" >/dev/null; fi

rc=$(run audit --help); check "audit --help lists the subcommands" test "$rc" = 0 -a -n "$(grep evidence "$out")"
for sub in history balance check evidence; do
  rc=$(run audit "$sub" --help); check "audit $sub --help" test "$rc" = 0 -a -s "$out"
done
rc=$(run audit nonsense); check "unknown audit subcommand exits 2" test "$rc" = 2

rc=$(run audit check --log "$log" --json)
check "audit check --json" test "$rc" = 0 -a -n "$(grep '"ok":true' "$out")"
check "audit check counts the refunds" grep -q '"name":"refunds within what was charged in error (R9)","count":4' "$out"
rc=$(run audit check --log "$tmp/no-such-log")
check "audit check of a missing log exits 2 naming --log" test "$rc" = 2 -a -n "$(grep -- --log "$err")"

rc=$(run audit history --log "$log" --account hostel)
check "history table" test "$rc" = 0 -a "$(head -n 1 "$out" | awk '{print $1}')" = log_seq
check "history has 15 entries" test "$(wc -l <"$out")" = 16
rc=$(run audit history --log "$log" --account hostel --format csv)
check "history csv header" test "$(head -n 1 "$out" | cut -d, -f1-5)" = "log_seq,seq,time,event,kind"
check "history csv: both refunds of d1 come from log sequence 9" \
  test "$(grep -c '^9,.*,REFUND,' "$out")" = 2
rc=$(run audit history --log "$log" --account hostel --format json)
check "history json wraps each entry with its log_seq" \
  test "$(grep -c '^{"log_seq":[0-9]*,"entry":{' "$out")" = 15
rc=$(run audit history --log "$log" --account hostel --format csv \
  --from 2026-01-03T00:00:00Z --to 1767866400000000)
check "history --from/--to: the four charges" test "$(tail -n +2 "$out" | cut -d, -f5 | sort -u)" = COST -a "$(tail -n +2 "$out" | wc -l)" = 4
rc=$(run audit history --log "$log" --account nobody)
check "history of an unknown account exits 2 naming it" test "$rc" = 2 -a -n "$(grep nobody "$err")"
rc=$(run audit history --log "$log" --account hostel --from yesterday)
check "history with a bad --from exits 2 naming it" test "$rc" = 2 -a -n "$(grep -- --from "$err")"

rc=$(run audit balance --log "$log" --account hostel --as-of 2026-01-10T09:00:00Z)
check "balance as of d1's refund" test "$rc" = 0 -a -n "$(grep -E '^cash_balance +253\.000000' "$out")"
check "balance lists the entries that made it" grep -q "entries (10)" "$out"
rc=$(run audit balance --log "$log" --account hostel --as-of 2026-01-10T09:00:00Z --format json)
check "balance json" test "$rc" = 0 -a -n "$(grep '"cash_balance":"253000000"' "$out")"
rc=$(run audit balance --log "$log" --account hostel --as-of 2026-01-01)
check "balance before the account opened exits 2" test "$rc" = 2
rc=$(run audit balance --log "$log" --account hostel --as-of 2026-01-10 --format csv)
check "balance --format csv exits 2" test "$rc" = 2
rc=$(run audit balance --log "$log" --account hostel)
check "balance without --as-of exits 2" test "$rc" = 2

rc=$(run audit evidence --log "$log" --dispute d1 --out "$tmp/evidence")
check "evidence prints the paths written" test "$rc" = 0 -a "$(cat "$out")" = "$tmp/evidence/spend_report.csv
$tmp/evidence/delivery_data.csv"
check "spend report: every charge in d1's window, two fault-marked" test "$(cat "$tmp/evidence/spend_report.csv")" = \
"log_seq,time,event_id,source,grant_id,amount_micros,units,fault_marked
5,2026-01-03T10:00:00Z,5,CASH,,15000000,15,yes
6,2026-01-04T10:00:00Z,6,CASH,,10000000,10,yes
7,2026-01-04T12:00:00Z,7,CASH,,40000000,40,no"
check "delivery data: every delivery in d1's window" test "$(cat "$tmp/evidence/delivery_data.csv")" = \
"log_seq,time,event_id,kind,count,platform_fault
5,2026-01-03T10:00:00Z,5,CLICK,15,yes
6,2026-01-04T10:00:00Z,6,CLICK,10,yes
7,2026-01-04T12:00:00Z,7,CLICK,40,no"
(cd "$tmp" && "$billsim" audit evidence --log "$log" --dispute d2 >"$out" 2>"$err"); rc=$?
check "evidence defaults to the current directory" test "$rc" = 0 -a -s "$tmp/spend_report.csv" -a -s "$tmp/delivery_data.csv"
check "d2's window: from the 01-04 charges to the 01-08 one" test "$(cut -d, -f1 "$tmp/spend_report.csv" | tr '\n' ' ')" = "log_seq 6 7 8 "
rc=$(run audit evidence --log "$log" --dispute d9 --out "$tmp/evidence")
check "evidence of an unknown dispute exits 2 naming it" test "$rc" = 2 -a -n "$(grep d9 "$err")"

echo "audit_cli: $pass passed, $fail failed"
test "$fail" = 0
