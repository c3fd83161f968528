#!/usr/bin/env bash
# End-to-end checks of the billsim program's contract: exit codes, diffs and
# error messages that name file, line and field. Usage: cli_test.sh BILLSIM
# DATA_DIR SCENARIOS_DIR. Prints "N passed, N failed".
set -u
billsim=$1 data=$2 scenarios=$3
pass=0 fail=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name" >&2
    echo "--- stdout" >&2; cat "$out" >&2; echo "--- stderr" >&2; cat "$err" >&2; fi
}
run() { "$billsim" "$@" >"$out" 2>"$err"; echo $?; }

rc=$(run --help); check "--help exits 0 and lists scenario" test "$rc" = 0 -a -n "$(grep scenario "$out")"
for sub in run report history; do
  rc=$(run scenario "$sub" --help); check "scenario $sub --help" test "$rc" = 0 -a -s "$out"
done
rc=$(run nonsense); check "unknown command exits 2" test "$rc" = 2

rc=$(run scenario run "$data/wrong_balance.textproto")
check "wrong expectation exits 1" test "$rc" = 1
check "wrong expectation shows a diff" grep -q "cash_balance: expected 12.000000 (12000000), got 10.000000 (10000000)" "$out"

rc=$(run scenario run "$data/malformed_field.textproto")
check "malformed file exits 2" test "$rc" = 2
check "malformed file names file, line and field" grep -q "malformed_field.textproto:5:.*amount_micro" "$err"

rc=$(run scenario run "$data/bad_checkpoint.textproto")
check "unknown checkpoint exits 2" test "$rc" = 2
check "unknown checkpoint names line and field" grep -q "bad_checkpoint.textproto:6:.*after_event_id.*42" "$err"

rc=$(run scenario run --json "$data/wrong_balance.textproto")
check "--json prints a ScenarioResult" grep -q '"passed":false' "$out"

rc=$(run scenario run "$data/no_such_file.textproto")
check "missing file exits 2 naming it" test "$rc" = 2 -a -n "$(grep no_such_file "$err")"

rc=$(run scenario report "$scenarios")
check "report of every scenario exits 0" test "$rc" = 0
check "report has the balance columns" grep -q "valid_balance" "$out"
rc=$(run scenario report --format csv "$scenarios")
check "csv report has one header" test "$(grep -c '^source,account' "$out")" = 1
rc=$(run scenario report --format yaml "$scenarios")
check "bad --format exits 2" test "$rc" = 2

first=$(ls "$scenarios"/*.textproto | head -n 1)
rc=$(run scenario history "$first")
check "history prints entries" test "$rc" = 0 -a "$(wc -l <"$out")" -gt 1
rc=$(run scenario history --account no-such-account "$first")
check "history of an unknown account exits 2" test "$rc" = 2

echo "cli: $pass passed, $fail failed"
test "$fail" = 0
