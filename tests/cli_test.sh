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

# Times (issue 9): one strict parser for flags and event files. Invalid
# dates, trailing text, a missing zone and times outside [0, 2200-01-01]
# are refused, naming the option or file:line and field, and the value.
work=$(mktemp -d)
trap 'rm -f "$out" "$err"; rm -rf "$work"' EXIT
rc=$(run log append --log "$work/log" "$data/iso_times.jsonl")
check "JSON lines with ISO times append" test "$rc" = 0
rc=$(run replay --log "$work/log" --report csv --as-of 2026-01-31T23:59:59.999999Z)
check "--as-of before the expiry: the grant is whole" grep -q "^$work/log,cafe,USD,0,100000000,0,100000000,0,0,0" "$out"
rc=$(run replay --log "$work/log" --report csv --as-of 2026-02-01)
check "--as-of at the expiry: the grant expired" grep -q "^$work/log,cafe,USD,0,0,0,0,0,100000000,0" "$out"
for bad in 2026-02-30 2026-13-45 2025-02-29 2026-01-15T09:30:00Zjunk 2026-01-15T09:30:00 \
    "2026-01-15 " 9223372036854775807 7258118400000001 2200-01-01T00:00:00.000001Z -1 yesterday; do
  rc=$(run replay --log "$work/log" --as-of "$bad")
  check "--as-of \"$bad\" exits 2 naming the option and the value" \
    test "$rc" = 2 -a -n "$(grep -F -- '--as-of' "$err" | grep -F "\"$bad\"")"
  rc=$(run audit balance --log "$work/log" --account cafe --as-of "$bad")
  check "audit balance --as-of \"$bad\" exits 2" test "$rc" = 2
done
rc=$(run replay --log "$work/log" --as-of 7258118400000000)
check "--as-of 2200-01-01T00:00:00Z, the last time accepted" test "$rc" = 0
rc=$(run scenario run "$data/iso_times.textproto" "$data/iso_times.json")
check "scenarios with ISO times pass" test "$rc" = 0
printf '%s\n' '{"event_id": "1", "time_us": 5, "clock_advanced": {}}' \
  '{"event_id": "2", "time_us": "2026-02-30T00:00:00Z", "clock_advanced": {}}' >"$work/bad.jsonl"
rc=$(run log append --log "$work/log2" "$work/bad.jsonl")
check "a bad ISO time in JSON lines exits 2 naming file:line, field and value" \
  test "$rc" = 2 -a -n "$(grep -F 'bad.jsonl:2: field time_us' "$err" | grep -F '"2026-02-30T00:00:00Z"')"
sed 's/expires_at_us: "2026-02-01"/expires_at_us: "2026-02-01T00:00"/' "$data/iso_times.textproto" >"$work/bad.textproto"
rc=$(run scenario run "$work/bad.textproto")
check "a bad ISO time in a scenario exits 2 naming file:line, field and value" \
  test "$rc" = 2 -a -n "$(grep -F 'bad.textproto:12: field expires_at_us' "$err" | grep -F '"2026-02-01T00:00"')"

# Access (issue 10): a server that checks no token listens on loopback only;
# token files are refused naming file:line and the reason, before anything
# is opened or connected.
rc=$(run serve --log "$work/open" --listen 0.0.0.0:0)
check "serve on a non-loopback address without --token-file exits 2" \
  test "$rc" = 2 -a -n "$(grep -F -- '--listen 0.0.0.0:0: not a loopback address, and no --token-file' "$err")"
check "... and creates no log" test ! -e "$work/open"
printf '# tokens\nread-only 0123456789abcdef\nadmin 0123456789abcdef0\n' >"$work/tokens"
chmod 600 "$work/tokens"
rc=$(run serve --log "$work/open" --listen 0.0.0.0:0 --token-file "$work/tokens")
check "serve with a bad role exits 2 naming file:line" \
  test "$rc" = 2 -a -n "$(grep -F "$work/tokens:3: unknown role 'admin'" "$err")"
printf 'operator 0123456789\n' >"$work/short"
rc=$(run serve --log "$work/open" --token-file "$work/short")
check "serve with a short token exits 2 naming file:line and the bound" \
  test "$rc" = 2 -a -n "$(grep -F "$work/short:1: the token is 10 bytes; at least 16" "$err")"
rc=$(run query --connect 127.0.0.1:1 --ping --token-file "$work/tokens")
check "query with the server's table as its token file exits 2 naming file:line" \
  test "$rc" = 2 -a -n "$(grep -F "$work/tokens:2: more than one field" "$err")"
# A request goes to the log as one batch at most: a frame limit above what
# a log batch may hold (kMaxPayloadBytes, 64 MiB; the group limit is 32 MiB)
# would let a request over 64 MiB fail the log for good. Refused at start.
rc=$(run serve --log "$work/open" --max-frame-bytes 40000000)
check "serve --max-frame-bytes above 32 MiB exits 2 naming the option and the bound" \
  test "$rc" = 2 -a -n "$(grep -F -- '--max-frame-bytes: must be at most 33554432' "$err")"
check "... and creates no log" test ! -e "$work/open"
rc=$(run console --log "$work/open" --http 0.0.0.0:0)
check "console on a non-loopback address without tokens exits 2 naming --http" \
  test "$rc" = 2 -a -n "$(grep -F -- '--http: ' "$err")"
check "... and creates no log" test ! -e "$work/open"
rc=$(run console --help)
check "console --help says appends are refused" grep -q "every append is refused" "$out"
rc=$(run serve --help)
check "serve --help documents --token-file" grep -q -- "--token-file" "$out"
for sub in client query stress; do
  rc=$(run "$sub" --help)
  check "$sub --help documents --token-file" grep -q -- "--token-file" "$out"
done

# What-if and forecast (issue 13), over the log of a scenario.
wl="$work/whatif-log"
rc=$(run log append --log "$wl" "$scenarios/whatif_credit_runway.textproto")
check "the what-if scenario's log is written" test "$rc" = 0
before=$(cd "$wl" && find . -type f -exec md5sum {} + | sort)
rc=$(run whatif --log "$wl")
check "whatif without changes exits 0 and differs in nothing" \
  test "$rc" = 0 -a -n "$(grep -F 'the histories do not part' "$out")" -a -n "$(grep -F 'no figure differs' "$out")"
rc=$(run whatif --log "$wl" --grant-expiry welcome=+7d --format csv)
check "whatif --grant-expiry prints the expiry that did not happen" \
  grep -q '^account,bakery,bakery,total_expired,60000000,0,-60000000$' "$out"
rc=$(run whatif --log "$wl" --funding-order bakery=cash_first --format json)
check "whatif --format json names the first parting" \
  test "$rc" = 0 -a -n "$(grep -F '"first_parting":{"seq":6' "$out")"
after=$(cd "$wl" && find . -type f -exec md5sum {} + | sort)
check "whatif never writes to the log" test "$before" = "$after"
rc=$(run whatif --log "$wl" --grant-expiry welcome=+7w)
check "a malformed change exits 2 naming the flag and the reason" \
  test "$rc" = 2 -a -n "$(grep -F -- '--grant-expiry welcome=+7w: "+7w" is not a duration' "$err")"
rc=$(run whatif --log "$wl" --pause nosuch@2026-01-11T00:00:00Z)
check "a change to nothing exits 2 naming it" \
  test "$rc" = 2 -a -n "$(grep -F 'no campaign "nosuch"' "$err")"
rc=$(run whatif --log "$wl" --from 4 --grant-amount welcome=1)
check "a change before --from exits 2" test "$rc" = 2 -a -n "$(grep -F 'before --from' "$err")"
rc=$(run whatif --log "$wl" --from yesterday)
check "a bad --from exits 2" test "$rc" = 2 -a -n "$(grep -F -- '--from yesterday' "$err")"
rc=$(run forecast --log "$wl" --account bakery --as-of 2026-01-12T12:00:00Z --format json)
check "forecast --as-of projects the grant's expiry" \
  test "$rc" = 0 -a -n "$(grep -F '"grant_id":"welcome"' "$out")"
rc=$(run forecast --log "$wl" --account bakery --as-of 2026-01-12T12:00:00Z)
check "forecast's table has the advice" grep -q "to use each grant by its expiry" "$out"
rc=$(run forecast --log "$wl" --account nobody)
check "forecast of an unknown account exits 2" test "$rc" = 2 -a -n "$(grep -F 'nobody' "$err")"
rc=$(run forecast --log "$wl" --account bakery --pace history=0)
check "a bad --pace exits 2" test "$rc" = 2 -a -n "$(grep -F -- '--pace history=0' "$err")"
for sub in whatif forecast; do
  rc=$(run "$sub" --help)
  check "$sub --help exits 0" test "$rc" = 0 -a -n "$(grep -F 'never written' "$out")"
done

echo "cli: $pass passed, $fail failed"
test "$fail" = 0
