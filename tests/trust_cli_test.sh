#!/usr/bin/env bash
# Issue 9, section 1, through the programs: hostile events sent to
# `billsim log append` and to a server through `billsim client` are refused
# naming their field, and crash nothing; what is stored verifies, replays
# and passes `audit check`. Before the bounds and per-account clocks each
# case here wrapped a balance, aborted (SIGABRT) or expired another
# account's credit.
# usage: trust_cli_test.sh BILLSIM
set -u
BILLSIM=$1
pass=0
fail() { echo "FAIL: $*"; for f in "$TMP"/*.err; do echo "--- $f"; tail -n 20 "$f"; done; echo "$pass passed, 1 failed"; exit 1; }
. "$(dirname "$0")/server_lib.sh"
ok() { pass=$((pass + 1)); }

T0=1768467600000000  # 2026-01-15T09:00Z
setup() {  # account a1 with a DAY-budget CPC campaign and 100.00 cash
  cat <<J
{"event_id":"1","time_us":"$T0","account_opened":{"account_id":"a1","currency":"USD"}}
{"event_id":"2","time_us":"$T0","cash_deposited":{"account_id":"a1","amount_micros":"100000000"}}
{"event_id":"3","time_us":"$T0","campaign_created":{"account_id":"a1","campaign_id":"day","billing_event":"BILLING_EVENT_CPC","price_micros":"1000000","budget_mode":"BUDGET_MODE_DAY","budget_micros":"50000000"}}
J
}

# --- money overflow: two INT64_MAX deposits, an INT64_MAX CPC price and count
setup > "$TMP/overflow.jsonl"
cat >> "$TMP/overflow.jsonl" <<J
{"event_id":"10","time_us":"$T0","cash_deposited":{"account_id":"a1","amount_micros":"9223372036854775807"}}
{"event_id":"11","time_us":"$T0","cash_deposited":{"account_id":"a1","amount_micros":"9223372036854775807"}}
{"event_id":"12","time_us":"$T0","campaign_created":{"account_id":"a1","campaign_id":"max","billing_event":"BILLING_EVENT_CPC","price_micros":"9223372036854775807","budget_mode":"BUDGET_MODE_INFINITE"}}
{"event_id":"13","time_us":"$T0","campaign_created":{"account_id":"a1","campaign_id":"cpc","billing_event":"BILLING_EVENT_CPC","price_micros":"1000000","budget_mode":"BUDGET_MODE_INFINITE"}}
{"event_id":"14","time_us":"$T0","campaign_status_changed":{"account_id":"a1","campaign_id":"cpc","operation":"ENABLE"}}
{"event_id":"15","time_us":"$T0","delivery_reported":{"account_id":"a1","campaign_id":"cpc","kind":"CLICK","count":"9223372036854775807"}}
{"event_id":"16","time_us":"$T0","delivery_reported":{"account_id":"a1","campaign_id":"cpc","kind":"CLICK","count":"9223372036854775807","platform_fault":true}}
J
"$BILLSIM" log append --log "$TMP/overflow" "$TMP/overflow.jsonl" >"$TMP/overflow.out" 2>"$TMP/overflow.err"
rc=$?
[ $rc -eq 1 ] || fail "log append of overflowing events exits $rc, expected 1 (refused)"
for f in "event 10: cash_deposited.amount_micros" "event 11: cash_deposited.amount_micros" \
         "event 12: campaign_created.price_micros" "event 15: delivery_reported.count" \
         "event 16: delivery_reported.count"; do
  grep -q "$f" "$TMP/overflow.out" || fail "no refusal naming '$f': $(cat "$TMP/overflow.out")"
done
ok
"$BILLSIM" log verify --log "$TMP/overflow" >/dev/null 2>"$TMP/verify.err" || fail "log verify"
"$BILLSIM" audit check --log "$TMP/overflow" >"$TMP/check.out" 2>"$TMP/check.err"
rc=$?
[ $rc -eq 0 ] || fail "audit check exits $rc: $(cat "$TMP/check.out")"
"$BILLSIM" replay --log "$TMP/overflow" --report csv >"$TMP/replay.out" 2>"$TMP/replay.err" || fail "replay"
grep -q ",a1,USD,100000000,0,0,100000000,0,0,0$" "$TMP/replay.out" ||
  fail "cash is not 100.00 after the refused deposits: $(cat "$TMP/replay.out")"
ok

# --- the poison pill: a DAY campaign, then events stamped INT64_MAX ----------
setup > "$TMP/poison.jsonl"
cat >> "$TMP/poison.jsonl" <<J
{"event_id":"20","time_us":"9223372036854775807","clock_advanced":{}}
{"event_id":"21","time_us":"9223372036854775807","delivery_reported":{"account_id":"a1","campaign_id":"day","kind":"CLICK","count":"1"}}
{"event_id":"22","time_us":"$((T0 + 3600000000))","campaign_status_changed":{"account_id":"a1","campaign_id":"day","operation":"ENABLE"}}
J
"$BILLSIM" log append --log "$TMP/poison" "$TMP/poison.jsonl" >"$TMP/poison.out" 2>"$TMP/poison.err"
rc=$?
[ $rc -eq 1 ] || fail "log append of the poison pill exits $rc, expected 1 (refused, no abort)"
grep -q "event 20: time_us" "$TMP/poison.out" || fail "event 20 not refused on time_us: $(cat "$TMP/poison.out")"
grep -q "event 21: time_us" "$TMP/poison.out" || fail "event 21 not refused on time_us"
"$BILLSIM" audit check --log "$TMP/poison" >/dev/null 2>"$TMP/check.err" || fail "audit check after the poison pill"
ok

# ...and through a server: it must refuse, stay up, and enable DAY campaigns.
start_server "$TMP/served" serve || fail "server did not start"
"$BILLSIM" client --connect "$ADDR" "$TMP/poison.jsonl" >"$TMP/client.out" 2>"$TMP/client.err"
rc=$?
[ $rc -eq 1 ] || fail "client exits $rc, expected 1 (some refused)"
grep -q "time_us" "$TMP/client.out" || fail "client shows no time_us refusal: $(cat "$TMP/client.out")"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died on the poison pill"
"$BILLSIM" query --connect "$ADDR" --campaign day --json >"$TMP/campaign.json" 2>"$TMP/query.err" ||
  fail "query after the poison pill"
grep -q '"frozenMicros":"50000000"\|"frozen_micros":"50000000"' "$TMP/campaign.json" ||
  fail "the DAY campaign does not hold its budget: $(cat "$TMP/campaign.json")"
stop_server
"$BILLSIM" log verify --log "$TMP/served" >/dev/null 2>"$TMP/verify.err" || fail "served log verify"
ok

# --- one account's far-future event does not expire another's credit --------
cat > "$TMP/clock.jsonl" <<J
{"event_id":"1","time_us":"$T0","account_opened":{"account_id":"victim","currency":"USD"}}
{"event_id":"2","time_us":"$T0","credit_granted":{"account_id":"victim","grant_id":"g1","amount_micros":"70000000","expires_at_us":"$((T0 + 30 * 86400000000))"}}
{"event_id":"3","time_us":"$T0","account_opened":{"account_id":"other","currency":"USD"}}
{"event_id":"4","time_us":"4102444800000000","cash_deposited":{"account_id":"other","amount_micros":"1000000"}}
{"event_id":"5","time_us":"$((T0 + 60000000))","credit_granted":{"account_id":"victim","grant_id":"g2","amount_micros":"5000000","expires_at_us":"$((T0 + 60 * 86400000000))"}}
J
"$BILLSIM" log append --log "$TMP/clock" "$TMP/clock.jsonl" >"$TMP/clock.out" 2>"$TMP/clock.err" ||
  fail "every event of the clock case must be accepted: $(cat "$TMP/clock.out")"
"$BILLSIM" replay --log "$TMP/clock" --report json >"$TMP/clock.json" 2>"$TMP/replay.err" || fail "replay"
python3 - "$TMP/clock.json" <<'P' || fail "victim's credit: $(cat "$TMP/clock.json")"
import json, sys
r = json.load(open(sys.argv[1]))
victim = [a for a in r["accounts"] if a["account_id"] == "victim"][0]
assert victim["grant_balance"] == "75000000", victim
P
ok
echo "trust cli: $pass passed, 0 failed"
