#!/usr/bin/env bash
# billsim on a three-node NATS cluster on loopback: R3 streams, two
# partitions with two shard replicas each, and a gateway (`serve --nats`).
# While `billsim stress` sends about a million events through the gateway,
# one NATS node (the one every client lists first) and one shard replica
# are SIGKILLed and restarted. At the end: the stress run ends consistent
# (every acknowledged event applied exactly once, every shard's balances
# equal to an offline single-node replay of its partition's stream), the
# replicas of each partition agree on the state digest and hold the same
# events, and every shard's log verifies. Servers, shards and folders are
# stopped and removed whatever happens.
# Usage: cluster_r3_test.sh BILLSIM [EVENTS] (default: a million, times
# BILLSIM_TEST_SCALE when set, as the sanitizer runs set it).
set -u
billsim=$1
events=${2:-$(python3 -c "import os; print(max(20000, int(1000000 * float(os.environ.get('BILLSIM_TEST_SCALE', '1')))))")}
source "$(dirname "$0")/cluster_lib.sh"
json() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

ports=($(free_ports 6))
client_ports=("${ports[@]:0:3}") route_ports=("${ports[@]:3:3}")
routes="nats://127.0.0.1:${route_ports[0]},nats://127.0.0.1:${route_ports[1]},nats://127.0.0.1:${route_ports[2]}"
url="nats://127.0.0.1:${client_ports[0]},nats://127.0.0.1:${client_ports[1]},nats://127.0.0.1:${client_ports[2]}"
node_pid=()
start_node() {  # start_node I
  local i=$1
  nats-server -a 127.0.0.1 -p "${client_ports[$i]}" -js -sd "$tmp/js$i" -n "node$i" \
    --cluster_name billsim --cluster "nats://127.0.0.1:${route_ports[$i]}" --routes "$routes" \
    >>"$tmp/nats$i.log" 2>&1 &
  node_pid[$i]=$!
  pids+=($!)
}
for i in 0 1 2; do start_node "$i"; done

# JetStream needs its meta leader before anything can be created.
for _ in $(seq 150); do
  "$billsim" cluster init --nats "$url" --partitions 2 --replicas 3 >"$out" 2>"$err" && break
  sleep 0.2
done
check "init: 2 partitions, R3" grep -q '2 partitions, 3 replica' "$out"

start_shard() {  # start_shard NAME PARTITION
  "$billsim" shard --nats "$url" --partition "$2" --state "$tmp/$1" --fsync never \
    >"$tmp/$1.out" 2>>"$tmp/$1.err" &
  pids+=($!)
  eval "pid_$1=$!"
}
start_shard p0a 0; start_shard p0b 0; start_shard p1a 1; start_shard p1b 1

serve_at gateway --nats "$url"; gateway=$addr
check "the gateway listens" test -n "$gateway"
"$billsim" stress --connect "$gateway" --nats "$url" --accounts 2000 --campaigns 20000 \
  --events "$events" --batch 2000 --retry-ms 60000 --json >"$tmp/stress.json" 2>"$tmp/stress.err" &
publisher=$!
pids+=($publisher)

# Kill node 0 (first in every client's list) as soon as the shards see
# the first batches, and shard p0a once its log holds about a fifth of its partition
# (some 50 bytes an event, half the events); restart both a moment later.
for _ in $(seq 600); do  # until the shards see the first batches
  [ "$(du -sk "$tmp/p0b" 2>/dev/null | cut -f1)" -gt 100 ] 2>/dev/null && break
  sleep 0.02
done
check "the stress run is still sending when node 0 is killed" kill -0 "$publisher"
kill -9 "${node_pid[0]}"
threshold_kb=$((events / 200))
for _ in $(seq 600); do
  [ "$(du -sk "$tmp/p0a" 2>/dev/null | cut -f1)" -gt "$threshold_kb" ] 2>/dev/null && break
  sleep 0.05
done
check "shard p0a is still running when killed" kill -0 "$pid_p0a"
kill -9 "$pid_p0a"
sleep 1
start_node 0
start_shard p0a 0

wait "$publisher"
rc=$?
cp "$tmp/stress.json" "$out"; cp "$tmp/stress.err" "$err"
check "the stress run ends acknowledged and consistent despite the kills" test "$rc" = 0 -a "$(json "$tmp/stress.json" "d['consistent'] and d['errors'] == 0 and d['lost'] == 0 and d['duplicated'] == 0 and d['accounts_checked'] == 2000")" = True
total=$(json "$tmp/stress.json" "d['log_events']")
check "about every event sent was applied" test "$(json "$tmp/stress.json" "d['events_acked'] >= $events")" = True

# Let the shards drain, then stop them and catch each up to the stream's end.
sleep 2
kill -TERM "$pid_p0a" "$pid_p0b" "$pid_p1a" "$pid_p1b"
wait "$pid_p0a" "$pid_p0b" "$pid_p1a" "$pid_p1b" 2>/dev/null
# (The four at once: each ends after 3 s without a message.)
declare -A catch_up
for s in p0a p0b p1a p1b; do
  "$billsim" shard --nats "$url" --partition "${s:1:1}" --state "$tmp/$s" --until-idle 3000 --json \
    >"$tmp/$s.json" 2>>"$tmp/$s.err" &
  catch_up[$s]=$!
  pids+=($!)
done
for s in p0a p0b p1a p1b; do
  wait "${catch_up[$s]}"
  rc=$?
  cp "$tmp/$s.json" "$out"; cp "$tmp/$s.err" "$err"
  check "$s catches up" test "$rc" = 0
  check "$s refused no message whole" test "$(json "$tmp/$s.json" "d['messages_refused']")" = 0
done
for p in 0 1; do
  check "partition $p's replicas agree" test "$(json "$tmp/p${p}a.json" "d['state_digest']")" = "$(json "$tmp/p${p}b.json" "d['state_digest']")"
  check "partition $p's replicas hold the same events" test "$(json "$tmp/p${p}a.json" "d['last_log_seq']")" = "$(json "$tmp/p${p}b.json" "d['last_log_seq']")"
done
check "the partitions' logs hold what a replay of the streams applies" test "$(( $(json "$tmp/p0a.json" "d['last_log_seq']") + $(json "$tmp/p1a.json" "d['last_log_seq']") ))" = "$total"
for s in p0a p0b p1a p1b; do
  "$billsim" log verify --log "$tmp/$s" >"$out" 2>"$err"; check "$s's log verifies" test $? = 0
done
check "the restarted shard resumed rather than starting over" grep -q 'resuming after stream sequence [1-9]' "$tmp/p0a.err"

echo "cluster_r3: $pass passed, $fail failed ($total events applied; $(json "$tmp/stress.json" "d['acked_events_per_s']") events/s acknowledged)"
[ "$fail" -eq 0 ]
