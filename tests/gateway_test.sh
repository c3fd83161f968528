#!/usr/bin/env bash
# The cluster gateway (`billsim serve --nats`), one NATS node (R1), two
# partitions, partition 0 with two shard replicas: a stress run through the
# gateway ends consistent (every shard's balances equal an offline replay
# of its stream, every acknowledged event applied once) with the same
# acknowledgements and rejections as the same run against a single node;
# the union of the shards' balances equals the single node's; bad input is
# refused with the single node's words; a replica SIGKILLed mid-run and
# restarted catches up and agrees with the other. Starts nats-server, the
# shards, the gateway and a single node on free loopback ports in a
# temporary folder, and stops them whatever happens.
# Usage: gateway_test.sh BILLSIM
set -u
billsim=$1
source "$(dirname "$0")/cluster_lib.sh"
json() { python3 -c "import json,sys; d=json.load(open('$out')); print($1)"; }
shard() {  # shard NAME PARTITION: a long-running replica, its pid in $shard_pid
  "$billsim" shard --nats "$url" --partition "$2" --state "$tmp/$1" --fsync never --json \
    >"$tmp/$1.out" 2>"$tmp/$1.err" &
  shard_pid=$!
  pids+=($shard_pid)
}

port=$(free_port)
url=nats://127.0.0.1:$port
nats-server -a 127.0.0.1 -p "$port" -js -sd "$tmp/js" >"$tmp/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

rc=$(run serve --help); check "serve --help names --nats" test "$rc" = 0 -a -n "$(grep -- '--nats' "$out")"
rc=$(run serve --nats "$url" --listen 127.0.0.1:0)
check "a gateway before cluster init fails naming it" test "$rc" != 0 -a -n "$(grep 'cluster init' "$err")"
rc=$(run serve --log "$tmp/x" --nats "$url")
check "--log and --nats together are usage" test "$rc" = 2
rc=$(run cluster init --nats "$url" --partitions 2)
check "init" test "$rc" = 0

shard p0a 0; p0a=$shard_pid
shard p0b 0; p0b=$shard_pid
shard p1 1; p1=$shard_pid
serve_at gateway --nats "$url" --http 127.0.0.1:0; gateway=$addr gateway_pid=${pids[-1]}
gateway_http=$(awk '/^http on/ {print $3}' "$tmp/gateway.out")
check "the gateway listens" test -n "$gateway"
serve_at single --log "$tmp/single" --fsync never --http 127.0.0.1:0; single=$addr
single_http=$(awk '/^http on/ {print $3}' "$tmp/single.out")
check "the single node listens" test -n "$single" -a -n "$single_http"

# One connection, one request in flight: both see the events in the same
# order, so both must answer them alike.
events=$(python3 -c "import os; print(max(20000, int(120000 * float(os.environ.get('BILLSIM_TEST_SCALE', '1')))))")
common=(--accounts 40 --campaigns 400 --events "$events" --connections 1 --pipeline 1 --batch 2000 --seed 7 --json)
rc=$(run stress --connect "$gateway" --nats "$url" "${common[@]}")
check "stress through the gateway ends consistent" test "$rc" = 0 -a "$(json "d['consistent'] and d['checked'] and d['errors'] == 0 and d['accounts_checked'] == 40")" = True
cp "$out" "$tmp/stress_gateway.json"
rc=$(run stress --connect "$single" "${common[@]}")
check "the same stress against a single node" test "$rc" = 0 -a "$(json "d['consistent']")" = True
cp "$out" "$tmp/stress_single.json"
same=$(python3 -c "
import json
g = json.load(open('$tmp/stress_gateway.json')); s = json.load(open('$tmp/stress_single.json'))
print(g['events_acked'] == s['events_acked'] and g['rejected'] == s['rejected'])")
check "the gateway acknowledges and rejects as the single node does" test "$same" = True

# Bad input, through both: the same refusals, in the same words and order.
# (Times at the accounts' opening, not earlier: an event stamped before its
# account opened is refused for that, whatever else is wrong with it.)
python3 - >"$tmp/bad.jsonl" <<'PY'
import json
T = "1767225600000000"  # 2026-01-01T00:00:00Z, when the workload opens its accounts
rows = [
  {"event_id": "900000001", "time_us": T, "delivery_reported": {"account_id": "acct-1", "campaign_id": "no-such-campaign", "kind": "IMPRESSION", "count": "3"}},
  {"event_id": "900000002", "time_us": "1", "delivery_reported": {"account_id": "", "campaign_id": "c", "kind": "IMPRESSION", "count": "3"}},
  {"event_id": "900000003", "time_us": "1", "dispute_decided": {"dispute_id": "nobody-filed-it", "verified": False}},
  {"event_id": "900000004", "time_us": "1", "cash_deposited": {"account_id": "nobody", "amount_micros": "5"}},
  {"event_id": "900000005", "time_us": "1"},
  {"event_id": "0", "time_us": T, "cash_deposited": {"account_id": "acct-2", "amount_micros": "5"}},
  {"event_id": "900000006", "time_us": T, "cash_deposited": {"account_id": "acct-1", "amount_micros": "5"}},
  {"event_id": "900000006", "time_us": T, "cash_deposited": {"account_id": "acct-1", "amount_micros": "5"}},
]
for r in rows: print(json.dumps(r))
PY
"$billsim" client --connect "$gateway" "$tmp/bad.jsonl" >"$tmp/bad_gateway.out" 2>"$tmp/bad_gateway.err"
rc_g=$?
"$billsim" client --connect "$single" "$tmp/bad.jsonl" >"$tmp/bad_single.out" 2>"$tmp/bad_single.err"
rc_s=$?
grep -v '^ack' "$tmp/bad_single.out" >"$tmp/bad_single.refusals"
grep -v '^ack' "$tmp/bad_gateway.out" >"$tmp/bad_gateway.refusals"
cp "$tmp/bad_gateway.out" "$out"; cp "$tmp/bad_gateway.err" "$err"
check "the single node refuses every bad event, each for its own fault" test "$rc_s" = 1 -a "$(grep -c -E "no-such-campaign|must not be empty|unknown dispute|unknown account|no payload|already applied" "$tmp/bad_single.refusals")" -ge 6 -a "$(grep -c '^refused' "$tmp/bad_single.out")" = 7 -a -n "$(grep '1 of 8 accepted' "$tmp/bad_single.out")"
check "the gateway refuses them alike, in the same words" test "$rc_g" = "$rc_s" -a -z "$(diff "$tmp/bad_single.refusals" "$tmp/bad_gateway.refusals")"
# client --nats: the same, with the gateway in the client. (The events
# are all applied or refused by now: each refusal is as before, and the
# accepted one is now a duplicate.)
"$billsim" client --nats "$url" "$tmp/bad.jsonl" >"$out" 2>"$err"
rc=$?
check "client --nats refuses them alike" test "$rc" = 1 -a -z "$(diff <(grep -v -e '^ack' -e '^accepted' -e 900000006 "$tmp/bad_single.out") <(grep -v -e '^ack' -e '^accepted' -e 900000006 "$out"))" -a "$(grep -c 'refused 900000006: duplicate' "$out")" = 2

# Every account's balance through the gateway (from its partition's shard)
# equals the single node's; an unknown one is unknown to both.
normalize() {  # the answer without the sequence it is as of (a stream's, or the log's)
  python3 -c 'import sys, json
for l in sys.stdin:
    l = l.strip()
    if l.startswith("{"):
        d = json.loads(l); d.pop("acknowledged_seq", None); d.pop("as_of_seq", None)
        print(json.dumps(d, sort_keys=True))
    elif l: print(l)'
}
# Every account over HTTP (one process: a sanitizer build's process costs
# half a second to start), a few through `query` (the wire).
python3 - "$gateway_http" "$single_http" >"$out" 2>"$err" <<'PY'
import json, sys, urllib.error, urllib.request
def get(base, account):
    try:
        r = urllib.request.urlopen("http://%s/api/v1/accounts/%s" % (base, account))
        return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
accounts = ["acct-%d" % a for a in range(40)] + ["acct-nobody"]
answers = [(a, get(sys.argv[1], a), get(sys.argv[2], a)) for a in accounts]
differ = [a for a, g, s in answers if g != s]
for a, g, s in answers:
    if g != s: print(a, "gateway:", g, "single:", s)
known = sum(1 for a, g, s in answers if g[0] == 200 and g[1]["account_id"] == a)
print(len(differ) == 0 and known == 40 and answers[-1][1][0] == 404)
PY
check "every account's balance through the gateway (HTTP) equals the single node's" test "$(tail -1 "$out")" = True
differ=0
for a in 0 17 39 nobody; do
  "$billsim" query --connect "$gateway" --account "acct-$a" --json 2>&1 | normalize >"$tmp/q_gateway"
  "$billsim" query --connect "$single" --account "acct-$a" --json 2>&1 | normalize >"$tmp/q_single"
  cmp -s "$tmp/q_gateway" "$tmp/q_single" || { differ=$((differ + 1)); cp "$tmp/q_gateway" "$out"; cp "$tmp/q_single" "$err"; }
done
check "balances through the gateway (query) equal the single node's" test "$differ" = 0
"$billsim" query --nats "$url" --account acct-7 --json 2>&1 | normalize >"$tmp/q_nats"
"$billsim" query --connect "$single" --account acct-7 --json 2>&1 | normalize >"$tmp/q_single"
cp "$tmp/q_nats" "$out"; cp "$tmp/q_single" "$err"
check "query --nats answers as the single node" cmp -s "$tmp/q_nats" "$tmp/q_single"
rc=$(run query --nats "$url" --connect "$single" --ping)
check "query with --nats and --connect is usage" test "$rc" = 2
# HTTP through the gateway: an append with a refusal, then the balance.
python3 - "$gateway_http" >"$out" 2>"$err" <<'PY'
import json, sys, urllib.request
base = "http://" + sys.argv[1]
body = "\n".join(json.dumps(e) for e in [
  {"event_id": "910000001", "time_us": "2026-01-01T00:00:00Z", "account_opened": {"account_id": "web-1", "currency": "USD"}},
  {"event_id": "910000002", "time_us": "2026-01-01T00:00:01Z", "cash_deposited": {"account_id": "web-1", "amount_micros": "5000000"}},
  {"event_id": "910000003", "time_us": "2026-01-01T00:00:01Z", "cash_deposited": {"account_id": "nobody", "amount_micros": "5"}}]).encode()
req = urllib.request.Request(base + "/api/v1/events", data=body, headers={"Content-Type": "application/x-ndjson"})
ack = json.load(urllib.request.urlopen(req))
balance = json.load(urllib.request.urlopen(base + "/api/v1/accounts/web-1"))
print(ack["accepted"] == 2 and [r["event_id"] for r in ack["rejections"]] == ["910000003"]
      and balance["cash_balance"] == "5000000")
PY
check "HTTP through the gateway: appended (a refusal named) and the balance read back" test "$(cat "$out")" = True
rc=$(run query --connect "$gateway" --history acct-1)
check "a history query is refused, naming the gateway" test "$rc" = 2 -a -n "$(grep 'cluster gateway' "$err")"

# A replica of partition 0 SIGKILLed during a second run (more accounts,
# four connections), then restarted: the run ends consistent, the replicas
# agree.
common2=(--accounts 60 --campaigns 600 --events "$events" --connections 4 --pipeline 2 --batch 2000 --seed 8 --json)
"$billsim" stress --connect "$gateway" --nats "$url" "${common2[@]}" >"$tmp/stress2.json" 2>"$tmp/stress2.err" &
stress_pid=$!
before=$(du -sk "$tmp/p0a" | cut -f1)
for _ in $(seq 1500); do  # until the replica has applied some of it (early:
  # a sanitizer build's short run could end before a later kill)
  [ "$(du -sk "$tmp/p0a" | cut -f1)" -gt $((before + 24)) ] && break
  sleep 0.02
done
kill -9 "$p0a"; wait "$p0a" 2>/dev/null
shard p0a 0; p0a=$shard_pid
wait "$stress_pid"; rc=$?
cp "$tmp/stress2.json" "$out"; cp "$tmp/stress2.err" "$err"
check "a run during which a replica was killed ends consistent" test "$rc" = 0 -a "$(json "d['consistent'] and d['errors'] == 0 and d['lost'] == 0 and d['duplicated'] == 0")" = True

# Stop the shards (SIGTERM: each prints its digest) and the servers.
for p in $p0a $p0b $p1; do kill -TERM "$p"; done
stopped=0
for p in $p0a $p0b $p1; do wait "$p" && stopped=$((stopped + 1)); done
check "SIGTERM stops every shard cleanly (exit 0)" test "$stopped" = 3
kill -TERM "$gateway_pid"; wait "$gateway_pid"; rc=$?
cp "$tmp/gateway.out" "$out"; cp "$tmp/gateway.err" "$err"
check "SIGTERM stops the gateway cleanly (exit 0)" test "$rc" = 0
digest() { python3 -c "import json; print(json.load(open('$tmp/$1.out'))['state_digest'])" 2>/dev/null; }
check "the restarted replica agrees with the other" test -n "$(digest p0a)" -a "$(digest p0a)" = "$(digest p0b)"
cp "$tmp/p0a.out" "$out"; cp "$tmp/p0a.err" "$err"
check "the restarted replica resumed mid-run and caught up" test "$(python3 -c "
import json; d = json.load(open('$tmp/p0a.out'))
print(0 < d['resumed_after_stream_seq'] < d['last_stream_seq'] and d['messages'] > 0)")" = True
for s in p0a p0b p1; do
  rc=$(run log verify --log "$tmp/$s"); check "$s's log verifies" test "$rc" = 0
done

echo "gateway: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
