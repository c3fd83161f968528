#!/usr/bin/env bash
# billsim on NATS JetStream, one node (R1), two partitions: `cluster init`
# (idempotent, another shape refused), `cluster publish` (a repeat is all
# duplicates), shards that replay their partition into their own logs, a
# shard SIGKILLed mid-stream that resumes exactly where its log ends (its
# digest equals an uninterrupted replica's), refusals equal to a single
# node's, and the union of the shards' balances equal to a single-node
# replay of the same events. Starts nats-server on a free loopback port in
# a temporary folder and stops it, whatever happens.
# Usage: cluster_test.sh BILLSIM
set -u
billsim=$1
source "$(dirname "$0")/cluster_lib.sh"
json() { python3 -c "import json,sys; d=json.load(open('$out')); print($1)"; }

rc=$(run cluster --help); check "cluster --help" test "$rc" = 0 -a -n "$(grep 'XXH64' "$out")"
rc=$(run shard --help); check "shard --help" test "$rc" = 0 -a -n "$(grep -- --until-idle "$out")"
rc=$(run cluster frobnicate); check "an unknown subcommand is usage" test "$rc" = 2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=nats://127.0.0.1:$port
nats-server -a 127.0.0.1 -p "$port" -js -sd "$tmp/js" >"$tmp/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

rc=$(run shard --nats "$url" --partition 0 --state "$tmp/none" --until-idle 100)
check "a shard before init fails naming the missing cluster" test "$rc" = 1 -a -n "$(grep 'cluster init' "$err")"
rc=$(run cluster init --nats "$url" --partitions 2)
check "init" test "$rc" = 0
rc=$(run cluster init --nats "$url" --partitions 2)
check "init again with the same shape changes nothing" test "$rc" = 0
rc=$(run cluster init --nats "$url" --partitions 3)
check "init with another shape is refused, naming both" test "$rc" = 2 -a -n "$(grep '2 partitions' "$err")"
rc=$(run cluster init --nats "$url" --partitions 0)
check "--partitions 0 is usage" test "$rc" = 2 -a -n "$(grep -- '--partitions' "$err")"
rc=$(run shard --nats "$url" --partition 2 --state "$tmp/none" --until-idle 100)
check "a partition the cluster lacks is usage" test "$rc" = 2 -a -n "$(grep -- '--partition: 2' "$err")"

# The workload: bench ledger's book and stream (deposits, grants, budgets in
# six time zones, pauses, rejections, disputes, faults), as JSON lines.
# (150,000 stream events, times BILLSIM_TEST_SCALE when the sanitizer runs set it.)
stream=$(python3 -c "import os; print(max(20000, int(150000 * float(os.environ.get('BILLSIM_TEST_SCALE', '1')))))")
"$billsim" bench ledger --accounts 300 --campaigns 3000 --events "$stream" --replay-runs 1 \
  --dir "$tmp/src" --json >"$out" 2>"$err"
check "the workload builds" test $? = 0
"$billsim" log dump --log "$tmp/src" --json 2>"$err" | python3 -c '
import json, sys
for line in sys.stdin:
    print(json.dumps(json.loads(line)["event"]))' >"$tmp/events.jsonl"
events=$(wc -l <"$tmp/events.jsonl")
check "the workload dumps" test "$events" -gt "$stream"
# Two events a single node refuses: delivery to a campaign no one created,
# and an event id used before.
python3 - "$tmp/events.jsonl" >"$tmp/bad.jsonl" <<'PY'
import json, sys
first = None
for line in open(sys.argv[1]):
    e = json.loads(line)
    if "delivery_reported" in e:
        first = e
        break
nope = json.loads(json.dumps(first)); nope["event_id"] = "999999999"
nope["delivery_reported"]["campaign_id"] = "no-such-campaign"
again = json.loads(json.dumps(first)); again["delivery_reported"]["count"] = "7"
print(json.dumps(nope)); print(json.dumps(again))
PY
cp -r "$tmp/src" "$tmp/single"
"$billsim" log append --log "$tmp/single" --fsync never "$tmp/bad.jsonl" >"$out" 2>"$err"
check "a single node refuses both bad events" test $? = 1 -a -n "$(grep 'appended 0 events, refused 2' "$out")"

rc=$(run cluster publish --nats "$url" --batch 1000 --json "$tmp/events.jsonl")
check "publish" test "$rc" = 0 -a "$(json "d['events'] == $events and d['batches'] > 2 and d['duplicate_batches'] == 0")" = True
batches=$(json "d['batches']")
rc=$(run cluster publish --nats "$url" --batch 1000 --json "$tmp/events.jsonl")
check "publishing the same file again is all duplicates" test "$rc" = 0 -a "$(json "d['batches'] == 0 and d['duplicate_batches'] == $batches")" = True
rc=$(run cluster publish --nats "$url" --json "$tmp/bad.jsonl")
check "the bad events publish (the shards judge them)" test "$rc" = 0
printf '{"event_id":"5","time_us":"1","dispute_decided":{"dispute_id":"nobody-filed-it","verified":false}}\n' >"$tmp/orphan.jsonl"
rc=$(run cluster publish --nats "$url" "$tmp/orphan.jsonl")
check "a decision on a dispute the publisher never saw filed is refused, named" test "$rc" = 2 -a -n "$(grep 'nobody-filed-it' "$err")"

# Partition 0: replica a is SIGKILLed mid-stream and restarted; replica b
# runs through. Both must end in the same state.
"$billsim" shard --nats "$url" --partition 0 --state "$tmp/p0a" --fsync always >/dev/null 2>"$tmp/p0a.err" &
victim=$!
pids+=($victim)
for _ in $(seq 3000); do  # (up to a minute: a loaded machine, a sanitizer build)
  [ -f "$tmp/p0a/LOCK" ] && [ "$(du -sk "$tmp/p0a" | cut -f1)" -gt 200 ] && break
  sleep 0.02
done
kill -9 "$victim"; wait "$victim" 2>/dev/null
rc=$(run shard --nats "$url" --partition 0 --state "$tmp/p0a" --until-idle 1500 --json)
check "replica a, killed mid-stream, resumes where its log ends" test "$rc" = 0 -a "$(json "0 < d['resumed_after_stream_seq'] < d['last_stream_seq']")" = True
digest_a=$(json "d['state_digest']"); seq_a=$(json "d['last_stream_seq']")
refused0=$(json "d['events_refused']")
# Replica b and partition 1's shard at once (each ends 1.5 s after the
# stream's last message).
"$billsim" shard --nats "$url" --partition 0 --state "$tmp/p0b" --fsync never --until-idle 1500 --json \
  >"$tmp/p0b.out" 2>"$tmp/p0b.err" &
p0b=$!
pids+=($p0b)
rc=$(run shard --nats "$url" --partition 1 --state "$tmp/p1" --fsync never --until-idle 1500 --json)
check "partition 1's shard" test "$rc" = 0
refused1=$(json "d['events_refused']")
wait "$p0b"
rc=$?
cp "$tmp/p0b.out" "$out"; cp "$tmp/p0b.err" "$err"
check "replica b runs through" test "$rc" = 0 -a "$(json "d['resumed_after_stream_seq'] == 0 and d['last_stream_seq'] == $seq_a")" = True
check "the two replicas of partition 0 agree" test "$(json "d['state_digest']")" = "$digest_a"
check "the shards refuse what a single node refused, no more" test "$((refused0 + refused1))" = 2
rc=$(run shard --nats "$url" --partition 1 --state "$tmp/p1" --until-idle 300 --json)
check "a restarted shard that is caught up applies nothing" test "$rc" = 0 -a "$(json "d['events_applied'] == 0 and d['resumed_after_stream_seq'] == d['last_stream_seq']")" = True

for s in p0a p0b p1; do
  rc=$(run log verify --log "$tmp/$s"); check "$s's log verifies" test "$rc" = 0
done
"$billsim" replay --log "$tmp/single" --report csv 2>"$err" | tail -n +2 | cut -d, -f2- | sort >"$tmp/single.csv"
for s in p0a p1; do "$billsim" replay --log "$tmp/$s" --report csv 2>>"$err" | tail -n +2; done | cut -d, -f2- | sort >"$tmp/shards.csv"
check "the shards hold every account" test "$(wc -l <"$tmp/shards.csv")" = 300
check "the union of the shards' balances equals a single-node replay" cmp -s "$tmp/single.csv" "$tmp/shards.csv"

echo "cluster: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
