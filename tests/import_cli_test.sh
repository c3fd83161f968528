#!/usr/bin/env bash
# billsim import tiktok-report end to end: the scenario it writes passes
# `scenario run`, a log gets the report's events once (a second import
# skips them), findings and disputes in --json, and a bad report or a
# refused row exits 2 naming the line and column and leaves the log as it
# was. Usage: import_cli_test.sh BILLSIM DATA_DIR (tests/data/tiktok_report).
set -u
billsim=$1 data=$2
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out err=$tmp/err

check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $name" >&2
    echo "--- stdout" >&2; cat "$out" >&2; echo "--- stderr" >&2; cat "$err" >&2; fi
}
run() { "$billsim" "$@" >"$out" 2>"$err"; echo $?; }
json() { python3 -c "import json,sys; d=json.load(open('$out')); print($1)"; }

rc=$(run import --help); check "import --help" test "$rc" = 0 -a -n "$(grep tiktok-report "$out")"
rc=$(run import tiktok-report --help); check "import tiktok-report --help" test "$rc" = 0 -a -n "$(grep -- --disputes "$out")"
rc=$(run import tiktok-report --account a --file "$data/en_us.csv")
check "neither --out nor --log is usage" test "$rc" = 2

# Each locale's export becomes a scenario whose expectations (each row's
# charge) pass.
for f in en_us.csv de_de.csv es_es.csv fr_fr.tsv; do
  rc=$(run import tiktok-report --account shop --file "$data/$f" --out "$tmp/$f.textproto" --json)
  check "$f imports" test "$rc" = 0
  check "$f: billsim charges the report's cost" test "$(json "d['charged_micros'] == d['report_cost_micros'] == 1246870000")" = True
  rc=$(run scenario run "$tmp/$f.textproto")
  check "$f: the written scenario passes" test "$rc" = 0
  check "$f: a row of zeros implies no expectation, the four others one each" test "$(grep -c '^expect' "$tmp/$f.textproto")" = 4
done

# --base: the setup merged by time with the report, findings included.
rc=$(run import tiktok-report --account shoes --file "$data/shoes_march.csv" --base "$data/base_shoes.textproto" --out "$tmp/merged.textproto" --disputes --json)
check "--base imports" test "$rc" = 0
check "--base: the same two findings" test "$(json "len(d['findings'])")" = 2
rc=$(run scenario run "$tmp/merged.textproto")
check "--base: the merged scenario passes" test "$rc" = 0
check "--base: the setup's pause comes before the report's delivery" test "$(grep -n 'operation: DISABLE' "$tmp/merged.textproto" | cut -d: -f1)" -lt "$(grep -n 'platform_fault: true' "$tmp/merged.textproto" | head -1 | cut -d: -f1)"

# A log holding the account's setup.
log=$tmp/log
rc=$(run log append --log "$log" "$data/base_shoes.textproto"); check "setup appended" test "$rc" = 0
rc=$(run import tiktok-report --account shoes --file "$data/shoes_march.csv" --log "$log" --disputes --json)
check "import into the log" test "$rc" = 0
check "two findings: over the daily budget, after a pause" test "$(json "sorted(f['kind'] for f in d['findings'])")" = "['after_pause', 'over_daily_budget']"
check "one campaign created" test "$(json "d['campaigns_created']")" = 1
check "the paused campaign's charge is disputed" test "$(json "[f['dispute_id'] for f in d['findings'] if f['kind']=='after_pause'][0]")" = "tiktok-report:c-paused:2026-03-05:after_pause"
charged=$(json "d['charged_micros']")
rc=$(run replay --log "$log" --report json); check "the log replays" test "$rc" = 0
check "the replay spends what the import charged" test "$(json "[int(a['total_spent']) for a in d['accounts'] if a['account_id']=='shoes'][0] == $charged")" = True
check "the replayed dispute was adjusted" test "$(json "[x['status'] for x in d['disputes'] if x['dispute_id'].endswith('after_pause')][0]")" = ADJUSTED
before=$(cat "$out")

rc=$(run import tiktok-report --account shoes --file "$data/shoes_march.csv" --log "$log" --disputes --json)
check "a second import succeeds" test "$rc" = 0
check "a second import skips every row" test "$(json "(d['rows_skipped'], d['events_new'])")" = "(4, 0)"
rc=$(run replay --log "$log" --report json)
check "a second import changes nothing" test "$(cat "$out")" = "$before"

# Bad input: exit 2, the line and column named, the log unchanged.
rc=$(run import tiktok-report --account shoes --file "$data/bad_amount.csv" --log "$log")
check "a bad amount exits 2" test "$rc" = 2
check "a bad amount names line and column" grep -q 'bad_amount.csv:3: column 4 (Cost)' "$err"
printf 'Campaign ID,By Day,Cost,Impressions\nc-day,2026-03-01,1.00,10\n' > "$tmp/early.csv"
rc=$(run import tiktok-report --account shoes --file "$tmp/early.csv" --log "$log")
check "a day before the log's clock exits 2" test "$rc" = 2
check "it names the row's day" grep -q 'early.csv:2: column 2 (By Day): 2026-03-01 is a day before' "$err"
printf 'Campaign ID,By Day,Cost,Impressions\nc-new,2026-03-09,1.00,10\nc-day,2026-03-09,1.00,0\n' > "$tmp/half.csv"
rc=$(run import tiktok-report --account shoes --file "$tmp/half.csv" --log "$log")
check "a refused second row exits 2" test "$rc" = 2
rc=$(run replay --log "$log" --report json)
check "a refused report appends nothing, not even its good rows" test "$(cat "$out")" = "$before"
rc=$(run import tiktok-report --account nobody --file "$data/en_us.csv" --log "$log")
check "an unknown account exits 2 naming it" test "$rc" = 2 -a -n "$(grep -- '--account nobody' "$err")"

echo "$pass passed, $fail failed"
test "$fail" = 0
