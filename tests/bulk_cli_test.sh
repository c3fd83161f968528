#!/usr/bin/env bash
# Issue 16 through the programs: bulk import and export.
#  - round trips: a log exported (JSON lines, CSV) and appended to an empty
#    log again replays to the same state digest; from a file, from
#    standard input, gzip and zstd compressed; through `client` too;
#  - malformed lines of every kind are refused naming file, line and field,
#    and a refused --atomic file leaves nothing in the log, also past one
#    log batch and when the append is killed mid-file;
#  - a 10-million-line import (BILLSIM_TEST_SCALE scales it) through a pipe
#    keeps the same peak RSS as one of a tenth the size, with and without
#    --atomic.
# usage: bulk_cli_test.sh BILLSIM
set -u
BILLSIM=$1
SCALE=${BILLSIM_TEST_SCALE:-1}
pass=0
fail() { echo "FAIL: $*"; for f in "$TMP"/*.err; do echo "--- $f"; tail -n 20 "$f"; done; echo "$pass passed, 1 failed"; exit 1; }
. "$(dirname "$0")/server_lib.sh"
ok() { pass=$((pass + 1)); }
# top NAME: the first "NAME": string or number in the JSON on stdin (the
# programs' --json objects put these at the top, before any list; sed, not a
# python3 that costs a third of a second to start, as these run ~40 times).
top() { grep -o -m1 "\"$1\":\"\{0,1\}[^\",}]*" | head -1 | sed 's/.*://; s/"//'; }
digest() { "$BILLSIM" audit check --log "$1" --json | top digest; }
last_seq() { "$BILLSIM" log verify --log "$1" --json | top last_seq; }

# --- a log of realistic traffic: set-up, deliveries, pauses, disputes -----
events=$(python3 -c "print(max(2000, int(50000 * $SCALE)))")
"$BILLSIM" bench log --events "$events" --dir "$TMP/bench" --keep --replay-runs 1 --json \
  >"$TMP/bench.out" 2>"$TMP/bench.err" || fail "bench log"
src="$TMP/bench/never"
want=$(digest "$src")
[ -n "$want" ] || fail "no digest for the source log"

# --- JSON lines: file, standard input, gzip, zstd --------------------------
"$BILLSIM" log export --log "$src" --output "$TMP/all.jsonl" 2>"$TMP/export.err" || fail "export jsonl"
n=$(wc -l < "$TMP/all.jsonl")
[ "$n" -eq "$(last_seq "$src")" ] || fail "export wrote $n lines for $(last_seq "$src") events"
gzip -c "$TMP/all.jsonl" > "$TMP/all.jsonl.gz"
zstd -q -c "$TMP/all.jsonl" > "$TMP/all.jsonl.zst"
"$BILLSIM" log append --log "$TMP/j1" "$TMP/all.jsonl" >"$TMP/j1.out" 2>"$TMP/j1.err" || fail "append jsonl"
[ "$(digest "$TMP/j1")" = "$want" ] || fail "jsonl round trip: digest differs"
ok
"$BILLSIM" log append --log "$TMP/j2" - < "$TMP/all.jsonl" >"$TMP/j2.out" 2>"$TMP/j2.err" || fail "append from stdin"
[ "$(digest "$TMP/j2")" = "$want" ] || fail "stdin round trip: digest differs"
ok
"$BILLSIM" log append --log "$TMP/j3" "$TMP/all.jsonl.gz" >"$TMP/j3.out" 2>"$TMP/j3.err" || fail "append gzip"
[ "$(digest "$TMP/j3")" = "$want" ] || fail "gzip round trip: digest differs"
ok
"$BILLSIM" log append --log "$TMP/j4" - < "$TMP/all.jsonl.zst" >"$TMP/j4.out" 2>"$TMP/j4.err" || fail "append zstd from stdin"
[ "$(digest "$TMP/j4")" = "$want" ] || fail "zstd round trip: digest differs"
ok
# Exported again, the copy writes the same bytes.
"$BILLSIM" log export --log "$TMP/j4" --output "$TMP/again.jsonl" 2>/dev/null || fail "export of the copy"
cmp -s "$TMP/all.jsonl" "$TMP/again.jsonl" || fail "the copy exports other bytes"
ok
# A truncated compressed dump is an error, not a silent end.
head -c $(( $(stat -c %s "$TMP/all.jsonl.zst") / 2 )) "$TMP/all.jsonl.zst" > "$TMP/cut.jsonl.zst"
"$BILLSIM" log append --log "$TMP/cut" "$TMP/cut.jsonl.zst" >"$TMP/cut.out" 2>"$TMP/cut.err"
rc=$?
[ $rc -eq 2 ] && grep -q "truncated" "$TMP/cut.err" || fail "a truncated zstd dump: exit $rc, $(cat "$TMP/cut.err")"
ok

# --- CSV: deliveries after a JSON-lines set-up ------------------------------
# The set-up is the first events up to the first delivery; the rest of the
# log must be deliveries only for a CSV round trip, so build such a log.
python3 - "$TMP/all.jsonl" "$TMP/setup.jsonl" "$TMP/deliveries.jsonl" <<'PY'
import json, sys
src, setup, deliveries = sys.argv[1:]
with open(src) as f, open(setup, "w") as s, open(deliveries, "w") as d:
    for line in f:
        (d if "delivery_reported" in json.loads(line) else s).write(line)
PY
"$BILLSIM" log append --log "$TMP/c0" "$TMP/setup.jsonl" "$TMP/deliveries.jsonl" >"$TMP/c0.out" 2>"$TMP/c0.err"
rc=$?; [ $rc -le 1 ] || fail "building the CSV source log: exit $rc"
k=$(wc -l < "$TMP/setup.jsonl")
csv_want=$(digest "$TMP/c0")
"$BILLSIM" log export --log "$TMP/c0" --to-seq "$k" --output "$TMP/c_setup.jsonl" 2>/dev/null || fail "export set-up"
"$BILLSIM" log export --log "$TMP/c0" --from-seq $((k + 1)) --format csv --output "$TMP/c_del.csv" 2>"$TMP/c_export.err" || fail "export csv"
head -1 "$TMP/c_del.csv" | grep -qx "event_id,account_id,campaign_id,kind,count,time,platform_fault" || fail "csv header: $(head -1 "$TMP/c_del.csv")"
"$BILLSIM" log append --log "$TMP/c1" "$TMP/c_setup.jsonl" "$TMP/c_del.csv" >"$TMP/c1.out" 2>"$TMP/c1.err"
rc=$?; [ $rc -le 1 ] || fail "append csv: exit $rc"
[ "$(digest "$TMP/c1")" = "$csv_want" ] || fail "csv round trip: digest differs"
ok
gzip -c "$TMP/c_del.csv" > "$TMP/c_del.csv.gz"
"$BILLSIM" log append --log "$TMP/c2" "$TMP/c_setup.jsonl" >/dev/null 2>&1
"$BILLSIM" log append --log "$TMP/c2" --format csv - < "$TMP/c_del.csv.gz" >"$TMP/c2.out" 2>"$TMP/c2.err"
rc=$?; [ $rc -le 1 ] || fail "append csv.gz from stdin: exit $rc"
[ "$(digest "$TMP/c2")" = "$csv_want" ] || fail "csv.gz round trip from stdin: digest differs"
ok
# Columns in another order, extra columns ignored, ISO 8601 times, no
# event_id column (numbered from --first-event-id: a second import of the
# same file is all duplicates).
T0=1768467600000000
cat > "$TMP/plain_setup.jsonl" <<J
{"event_id":"1","time_us":"$T0","account_opened":{"account_id":"a1","currency":"USD"}}
{"event_id":"2","time_us":"$T0","cash_deposited":{"account_id":"a1","amount_micros":"100000000"}}
{"event_id":"3","time_us":"$T0","campaign_created":{"account_id":"a1","campaign_id":"k1","billing_event":"BILLING_EVENT_CPC","price_micros":"1000000","budget_mode":"BUDGET_MODE_INFINITE"}}
{"event_id":"4","time_us":"$T0","campaign_status_changed":{"account_id":"a1","campaign_id":"k1","operation":"ENABLE"}}
J
cat > "$TMP/plain.csv" <<C
time,note,campaign_id,account_id,count,kind
2026-01-15T09:00:01Z,first,k1,a1,2,CLICK
2026-01-15T09:00:02Z,"second, quoted",k1,a1,3,CLICK
1768467603000000,,k1,a1,1,2
C
"$BILLSIM" log append --log "$TMP/p" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
"$BILLSIM" log append --log "$TMP/p" "$TMP/plain.csv" >"$TMP/p.out" 2>"$TMP/p.err"
rc=$?
[ $rc -eq 2 ] && grep -q "plain.csv:1: header has no event_id column, and rows need event ids" "$TMP/p.err" || fail "csv without ids or --first-event-id: exit $rc"
"$BILLSIM" log append --log "$TMP/p" --first-event-id 100 "$TMP/plain.csv" >"$TMP/p.out" 2>"$TMP/p.err" || fail "csv with --first-event-id"
spent=$("$BILLSIM" replay --log "$TMP/p" --report json | python3 -c 'import json,sys; r=json.load(sys.stdin); print([a for a in r["accounts"] if a["account_id"]=="a1"][0]["cash_balance"])')
[ "$spent" = "94000000" ] || fail "6 clicks at 1.00 should leave 94.00 cash, got $spent"
"$BILLSIM" log append --log "$TMP/p" --first-event-id 100 "$TMP/plain.csv" >"$TMP/p2.out" 2>"$TMP/p2.err"
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c "already applied" "$TMP/p2.out")" -eq 3 ] || fail "second import of an id-less CSV: exit $rc, $(cat "$TMP/p2.out")"
ok

# --- malformed lines: named, and nothing of an --atomic file ---------------
good='{"event_id":"50","time_us":"1768467600000000","delivery_reported":{"account_id":"a1","campaign_id":"k1","kind":"CLICK","count":"1"}}'
p_seq=$(last_seq "$TMP/p")  # where the log ends: no bad_line may move it
bad_line() {  # NAME FILE-EXT EXPECTED-TEXT LINE...: the second line is bad
  local name=$1 ext=$2 expect=$3
  shift 3
  printf '%s\n' "$@" > "$TMP/$name.$ext"
  # --batch 1: the good first line is a chunk of its own, which a plain
  # append would keep; --atomic must not.
  "$BILLSIM" log append --log "$TMP/p" --atomic --batch 1 "$TMP/$name.$ext" >"$TMP/$name.out" 2>"$TMP/$name.err"
  local rc=$?
  [ $rc -eq 2 ] || fail "$name: exit $rc, expected 2"
  grep -qF "$name.$ext:2" "$TMP/$name.err" || fail "$name: the error does not name line 2: $(cat "$TMP/$name.err")"
  grep -qF "$expect" "$TMP/$name.err" || fail "$name: the error does not say '$expect': $(cat "$TMP/$name.err")"
  [ "$(last_seq "$TMP/p")" = "$p_seq" ] || fail "$name: --atomic left events in the log"
  ok
}
bad_line unknown_field jsonl "colour" "$good" \
  '{"event_id":"51","time_us":"1768467600000000","delivery_reported":{"account_id":"a1","campaign_id":"k1","kind":"CLICK","count":"1","colour":"red"}}'
bad_line wrong_type jsonl "count" "$good" \
  '{"event_id":"52","time_us":"1768467600000000","delivery_reported":{"account_id":"a1","campaign_id":"k1","kind":"CLICK","count":"many"}}'
bad_line out_of_range jsonl "count" "$good" \
  '{"event_id":"53","time_us":"1768467600000000","delivery_reported":{"account_id":"a1","campaign_id":"k1","kind":"CLICK","count":"99999999999999999999"}}'
bad_line bad_kind jsonl "kind" "$good" \
  '{"event_id":"54","time_us":"1768467600000000","delivery_reported":{"account_id":"a1","campaign_id":"k1","kind":"LIKE","count":"1"}}'
bad_line bad_time jsonl "time_us" "$good" \
  '{"event_id":"55","time_us":"2026-02-30T00:00:00Z","delivery_reported":{"account_id":"a1","campaign_id":"k1","kind":"CLICK","count":"1"}}'
bad_line not_json jsonl ":2:" "$good" '{"event_id":"56",'
bad_line csv_count csv "column count" "event_id,account_id,campaign_id,kind,count,time" "60,a1,k1,CLICK,x,1768467600000000"
bad_line csv_kind csv "column kind" "event_id,account_id,campaign_id,kind,count,time" "61,a1,k1,LIKE,1,1768467600000000"
bad_line csv_time csv "column time" "event_id,account_id,campaign_id,kind,count,time" "62,a1,k1,CLICK,1,yesterday"
bad_line csv_cells csv "cells, the header needs 6" "event_id,account_id,campaign_id,kind,count,time" "63,a1,k1"
bad_line csv_quote csv "malformed CSV" "event_id,account_id,campaign_id,kind,count,time" '64,"a1,k1,CLICK,1,1768467600000000'
# --atomic with a refusal: the file's accepted events are dropped, the
# ledger is back where it was, and the next file is judged against that.
before=$(last_seq "$TMP/p")
printf '%s\n' '{"event_id":"70","time_us":"1768467600000000","cash_deposited":{"account_id":"a1","amount_micros":"5"}}' \
  '{"event_id":"71","time_us":"1768467600000000","cash_deposited":{"account_id":"nobody","amount_micros":"5"}}' > "$TMP/half.jsonl"
printf '%s\n' '{"event_id":"70","time_us":"1768467600000000","cash_deposited":{"account_id":"a1","amount_micros":"7"}}' > "$TMP/after.jsonl"
"$BILLSIM" log append --log "$TMP/p" --atomic --batch 1 "$TMP/half.jsonl" "$TMP/after.jsonl" >"$TMP/half.out" 2>"$TMP/half.err"
rc=$?
[ $rc -eq 1 ] && grep -q "half.jsonl: nothing appended (--atomic): 1 of 2 events refused" "$TMP/half.out" \
  && [ "$(last_seq "$TMP/p")" -eq $((before + 1)) ] || fail "--atomic with a refusal: exit $rc, $(cat "$TMP/half.out")"
ok

# A bad line past the first batch, without --atomic: what came before it is
# appended and counted, the error names the line.
{ for i in $(seq 1000 1019); do echo "{\"event_id\":\"$i\",\"time_us\":\"1768467600000000\",\"delivery_reported\":{\"account_id\":\"a1\",\"campaign_id\":\"k1\",\"kind\":\"CONVERSION\",\"count\":\"1\"}}"; done
  echo '{"event_id":"1020","time_us":"1768467600000000","nope":{}}'; } > "$TMP/late.jsonl"
before=$(last_seq "$TMP/p")
"$BILLSIM" log append --log "$TMP/p" --batch 10 "$TMP/late.jsonl" >"$TMP/late.out" 2>"$TMP/late.err"
rc=$?
[ $rc -eq 2 ] && grep -q "late.jsonl:21" "$TMP/late.err" && grep -q "20 events before" "$TMP/late.out" \
  && [ "$(last_seq "$TMP/p")" -eq $((before + 20)) ] || fail "late bad line: exit $rc, $(cat "$TMP/late.out" "$TMP/late.err")"
ok

# --- client: a file to a server as columnar batches ------------------------
start_server "$TMP/srv" srv || fail "serve did not start"
"$BILLSIM" client --connect "$ADDR" "$TMP/all.jsonl.zst" >"$TMP/client.out" 2>"$TMP/client.err" || fail "client: $(tail -3 "$TMP/client.err")"
grep -q "^accepted $(last_seq "$src") events, refused 0$" "$TMP/client.out" || fail "client: $(tail -1 "$TMP/client.out")"
stop_server
[ "$(digest "$TMP/srv")" = "$want" ] || fail "client round trip: digest differs"
ok

# --- scenarios from standard input --------------------------------------------
scen=$(ls "$(dirname "$0")/../scenarios/"*.textproto | head -1)
"$BILLSIM" scenario run - < "$scen" >"$TMP/scen.out" 2>"$TMP/scen.err" || fail "scenario run - : $(cat "$TMP/scen.out")"
grep -q "1 passed, 0 failed" "$TMP/scen.out" || fail "scenario run -: $(cat "$TMP/scen.out")"
"$BILLSIM" log append --log "$TMP/sc1" "$scen" >"$TMP/sc1.out" 2>&1
rc1=$?
"$BILLSIM" log append --log "$TMP/sc2" --format scenario - < "$scen" >"$TMP/sc2.out" 2>&1
rc2=$?
d1=$(digest "$TMP/sc1")
[ "$rc1" -le 1 ] && [ -n "$d1" ] && [ $rc1 = $rc2 ] && [ "$d1" = "$(digest "$TMP/sc2")" ] || fail "a scenario from standard input appends otherwise ($rc1 $rc2)"
ok

# --- entries export ----------------------------------------------------------
"$BILLSIM" log export --log "$TMP/p" --entries --output "$TMP/entries.jsonl" 2>/dev/null || fail "export entries"
"$BILLSIM" log export --log "$TMP/p" --entries --format csv --output "$TMP/entries.csv" 2>/dev/null || fail "export entries csv"
[ "$(wc -l < "$TMP/entries.csv")" -eq $(( $(wc -l < "$TMP/entries.jsonl") + 1 )) ] || fail "entries: csv and jsonl disagree"
grep -q '"log_seq":5,"entry":{.*"kind":"COST"' "$TMP/entries.jsonl" || fail "entries: no COST entry for sequence 5"
ok

conversions() {  # N FIRST-ID: CONVERSION deliveries (never charged, R1)
  awk -v n="$1" -v first="$2" 'BEGIN{for(i=0;i<n;i++) printf "{\"event_id\":%d,\"time_us\":1768467600000000,\"delivery_reported\":{\"account_id\":\"a1\",\"campaign_id\":\"k1\",\"kind\":\"CONVERSION\",\"count\":1}}\n", first+i}'
}

# --- a log batch's bounds: 2^20 events at most -------------------------------
# --batch 1000000 with a refusal early: the pending batch must be written
# before a chunk would take it past 2^20 events (it used to abort).
"$BILLSIM" log append --log "$TMP/b1" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
{ conversions 1 100; conversions 1100000 100; } | "$BILLSIM" log append --log "$TMP/b1" --batch 1000000 --json - >"$TMP/b1.out" 2>"$TMP/b1.err"
rc=$?
[ $rc -eq 1 ] && grep -q '"appended":1100000,"refused":1' "$TMP/b1.out" || fail "--batch 1000000 over 2^20 events: exit $rc, $(tail -2 "$TMP/b1.out") $(tail -2 "$TMP/b1.err")"
ok
# --atomic in many batches (past 2^20 events at full scale, the bound
# --atomic had before it was staged; a tenth under the sanitizers):
# staged, then in the log whole; with a bad last line, nothing of it.
n=$(python3 -c "print(max(60000, int(1100000 * $SCALE)))")
"$BILLSIM" log append --log "$TMP/b2" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
{ conversions "$n" 100; echo '{"event_id":"1","nope":1}'; } > "$TMP/huge.jsonl"
"$BILLSIM" log append --log "$TMP/b2" --atomic --batch 10000 "$TMP/huge.jsonl" >"$TMP/b2.out" 2>"$TMP/b2.err"
rc=$?
[ $rc -eq 2 ] && grep -q "huge.jsonl:$((n + 1)): .*nope" "$TMP/b2.err" && grep -q "huge.jsonl: nothing appended (--atomic)" "$TMP/b2.out" \
  && [ "$(last_seq "$TMP/b2")" -eq 4 ] && [ -z "$(ls "$TMP/b2" | grep staged)" ] \
  || fail "--atomic of $n events and a bad last line: exit $rc, $(cat "$TMP/b2.out" "$TMP/b2.err")"
ok
conversions "$n" 100 > "$TMP/huge.jsonl"
"$BILLSIM" log append --log "$TMP/b2" --atomic --batch 10000 --json "$TMP/huge.jsonl" >"$TMP/b2.out" 2>"$TMP/b2.err" \
  || fail "--atomic of $n events: $(cat "$TMP/b2.err")"
[ "$(last_seq "$TMP/b2")" -eq $((n + 4)) ] && [ -z "$(ls "$TMP/b2" | grep staged)" ] \
  || fail "--atomic of $n events: the log ends at $(last_seq "$TMP/b2")"
rm -f "$TMP/huge.jsonl"
ok

# --atomic across a crash: `log append --atomic` killed (SIGKILL) in the
# middle of a file, with batches already staged. Readers meanwhile and
# after see the log as it was; the next writer removes the stage.
"$BILLSIM" log append --log "$TMP/k" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
k_digest=$(digest "$TMP/k")
mkfifo "$TMP/feed"
( conversions 30000 100; exec sleep 120 ) > "$TMP/feed" 2>/dev/null &
feeder=$!
"$BILLSIM" log append --log "$TMP/k" --atomic --batch 1000 - < "$TMP/feed" >"$TMP/k.out" 2>"$TMP/k.err" &
victim=$!
BG_PIDS="$feeder $victim"
for _ in $(seq 1 300); do
  [ -n "$(find "$TMP/k" -name '*.seg.staged' -size +64k 2>/dev/null)" ] && break
  sleep 0.1
done
staged_now=$(find "$TMP/k" -name '*.seg.staged' -size +64k)
seq_during=$(last_seq "$TMP/k")
kill -9 "$victim"; wait "$victim" 2>/dev/null
kill "$feeder" 2>/dev/null; wait "$feeder" 2>/dev/null
[ -n "$staged_now" ] || fail "no staged segment grew while --atomic read its input: $(ls -l "$TMP/k")"
[ "$seq_during" -eq 4 ] || fail "a reader saw the stage before it committed: the log ended at $seq_during"
[ -n "$(ls "$TMP/k" | grep staged)" ] || fail "the kill left no stage (the test would prove nothing)"
[ "$(last_seq "$TMP/k")" -eq 4 ] && [ "$(digest "$TMP/k")" = "$k_digest" ] || fail "the killed stage shows in the log"
conversions 10 200000 | "$BILLSIM" log append --log "$TMP/k" - >"$TMP/k2.out" 2>"$TMP/k2.err" || fail "append after the kill: $(cat "$TMP/k2.err")"
grep -q "never committed" "$TMP/k2.err" && [ -z "$(ls "$TMP/k" | grep staged)" ] && [ "$(last_seq "$TMP/k")" -eq 14 ] \
  || fail "the next writer did not remove the stage: $(ls "$TMP/k") $(cat "$TMP/k2.err")"
ok
# An id with a line break cannot travel in CSV: the export says so.
printf '%s\n' '{"event_id":"5","time_us":"1768467600000000","campaign_created":{"account_id":"a1","campaign_id":"k\n2","billing_event":"BILLING_EVENT_CPC","price_micros":"1000000","budget_mode":"BUDGET_MODE_INFINITE"}}' \
  '{"event_id":"6","time_us":"1768467600000000","campaign_status_changed":{"account_id":"a1","campaign_id":"k\n2","operation":"ENABLE"}}' \
  '{"event_id":"7","time_us":"1768467600000000","delivery_reported":{"account_id":"a1","campaign_id":"k\n2","kind":"CLICK","count":"1"}}' > "$TMP/nl.jsonl"
"$BILLSIM" log append --log "$TMP/b3" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
"$BILLSIM" log append --log "$TMP/b3" "$TMP/nl.jsonl" >"$TMP/nl.out" 2>"$TMP/nl.err" || fail "append of an id with a line break"
"$BILLSIM" log export --log "$TMP/b3" --format csv --output "$TMP/nl.csv" >"$TMP/nlx.out" 2>"$TMP/nlx.err"
rc=$?
[ $rc -eq 2 ] && grep -q "event 7 (sequence 7): an id holds a line break" "$TMP/nlx.err" || fail "csv export of an id with a line break: exit $rc, $(cat "$TMP/nlx.err")"
ok

# --- bounded memory: 10x the lines, the same peak RSS ------------------------
big=$(python3 -c "print(max(100000, int(10000000 * $SCALE)))")
rss() { top peak_rss_bytes; }
"$BILLSIM" log append --log "$TMP/m1" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
"$BILLSIM" log append --log "$TMP/m2" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
"$BILLSIM" log append --log "$TMP/m3" "$TMP/plain_setup.jsonl" >/dev/null 2>&1
small_rss=$(conversions $((big / 10)) 100 | "$BILLSIM" log append --log "$TMP/m1" --json - 2>"$TMP/m1.err" | rss) || fail "small import"
big_rss=$(conversions "$big" 100 | "$BILLSIM" log append --log "$TMP/m2" --json - 2>"$TMP/m2.err" | rss) || fail "big import"
[ "$(last_seq "$TMP/m2")" -eq $((big + 4)) ] || fail "big import: log ends at $(last_seq "$TMP/m2")"
atomic_rss=$(conversions "$big" 100 | "$BILLSIM" log append --log "$TMP/m3" --atomic --json - 2>"$TMP/m3.err" | rss) || fail "big --atomic import"
[ "$(last_seq "$TMP/m3")" -eq $((big + 4)) ] || fail "big --atomic import: log ends at $(last_seq "$TMP/m3")"
echo "peak RSS: $((big / 10)) lines $small_rss bytes, $big lines $big_rss bytes, $big lines --atomic $atomic_rss bytes"
[ "$big_rss" -le $((small_rss + 16 * 1024 * 1024)) ] || fail "peak RSS grows with the input: $small_rss -> $big_rss"
[ "$atomic_rss" -le $((small_rss + 16 * 1024 * 1024)) ] || fail "peak RSS of --atomic grows with the input: $small_rss -> $atomic_rss"
ok

echo "$pass passed, 0 failed"
