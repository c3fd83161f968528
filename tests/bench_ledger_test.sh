#!/usr/bin/env bash
# billsim bench ledger (issue 11) on a small book: the JSON report has every
# key, its rates and sizes are positive, its counts add up, the stream spans
# the simulated days asked for (so day timers fire and grants expire), the
# digest is 32 hex digits and another seed gives another; bad options are
# usage errors (exit 2) naming the option. Prints "N passed, N failed".
# usage: bench_ledger_test.sh BILLSIM
set -u
BILLSIM=${1:?usage: bench_ledger_test.sh BILLSIM}
tmp=$(mktemp -d /tmp/billsim-bench-ledger-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check_lib.sh"  # check, run

small=(bench ledger --accounts 20 --campaigns 200 --events 20000)

rc=$(run "${small[@]}" --replay-runs 2 --json)
check "a small book exits 0" test "$rc" = 0
cp "$tmp/out" "$tmp/seed1.json"
check "the JSON report is complete and adds up" python3 - "$tmp/seed1.json" <<'P'
import json, re, sys
r = json.load(open(sys.argv[1]))
keys = """accounts campaigns events setup_events stream_events events_generated events_refused
  append_events_per_s ingest_events_per_s setup_events_per_s setup_runs_events_per_s
  delivery_replay_events_per_s replay_runs_events_per_s days expiries day_timers renewals
  expiries_per_day day_timers_per_day renewals_per_day peak_rss_bytes peak_rss_build_bytes
  peak_rss_replay_bytes peak_rss_snapshot_write_bytes peak_rss_snapshot_load_bytes
  peak_rss_per_phase rss_before_replay_bytes state_rss_bytes
  rss_bytes_per_campaign rss_bytes_per_account snapshot_bytes snapshot_bytes_per_campaign
  snapshot_bytes_per_account snapshot_write_s snapshot_load_s log_bytes bytes_per_event
  state_digest""".split()
missing = [k for k in keys if k not in r]
assert not missing, f"missing keys {missing}"
assert r["accounts"] == 20 and r["campaigns"] == 200, r
for k in ["append_events_per_s", "ingest_events_per_s", "setup_events_per_s",
          "delivery_replay_events_per_s", "peak_rss_bytes", "peak_rss_build_bytes",
          "peak_rss_replay_bytes", "peak_rss_snapshot_write_bytes",
          "peak_rss_snapshot_load_bytes", "rss_before_replay_bytes", "snapshot_bytes", "log_bytes",
          "snapshot_load_s", "snapshot_write_s", "snapshot_bytes_per_campaign",
          "snapshot_bytes_per_account"]:
    assert r[k] > 0, f"{k} = {r[k]}"
for k in ["setup_runs_events_per_s", "replay_runs_events_per_s"]:
    assert len(r[k]) == 2 and all(v > 0 for v in r[k]), f"{k} = {r[k]}"
# 5 events per account, 2 per campaign, a coupon on accounts 1 and 11.
assert r["setup_events"] == 5 * 20 + 2 * 200 + 2, r["setup_events"]
assert r["events_generated"] == r["setup_events"] + 20000, r
assert r["events"] + r["events_refused"] == r["events_generated"], r
assert r["events"] == r["setup_events"] + r["stream_events"], r
assert 27 <= r["days"] <= 33, f"days = {r['days']}"  # 30 by default
assert r["day_timers"] > 0 and r["expiries"] > 0, r  # DAY budgets; grants of 5..34 days
assert abs(r["day_timers_per_day"] - r["day_timers"] / r["days"]) < 0.1, r
assert abs(r["snapshot_bytes_per_campaign"] * 200 - r["snapshot_bytes"]) <= 10, r
assert abs(r["snapshot_bytes_per_account"] * 20 - r["snapshot_bytes"]) <= 1, r
assert abs(r["rss_bytes_per_campaign"] * 200 - r["state_rss_bytes"]) <= 10, r
assert re.fullmatch(r"[0-9a-f]{32}", r["state_digest"]), r["state_digest"]
assert r["peak_rss_bytes"] == max(r["peak_rss_build_bytes"], r["peak_rss_replay_bytes"],
                                  r["peak_rss_snapshot_write_bytes"],
                                  r["peak_rss_snapshot_load_bytes"]), r
P

rc=$(run "${small[@]}" --replay-runs 1 --days 3 --seed 2 --json)
check "another seed and span exit 0" test "$rc" = 0
check "another seed gives another digest, --days sets the span" python3 - "$tmp/seed1.json" "$tmp/out" <<'P'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["state_digest"] != b["state_digest"], a["state_digest"]
assert 2 <= b["days"] <= 4 and len(b["replay_runs_events_per_s"]) == 1, b
P

rc=$(run "${small[@]}")
check "the table names the figures" test "$rc" = 0 -a -n "$(grep 'replay delivery' "$tmp/out")" \
  -a -n "$(grep 'bytes/campaign' "$tmp/out")"

rc=$(run "${small[@]}" --dir "$tmp/kept" --replay-runs 1)
check "--dir keeps the log" test "$rc" = 0 -a -d "$tmp/kept/snapshots"
rc=$(run "${small[@]}" --dir "$tmp/kept" --replay-runs 1)
check "--dir that is not empty is a usage error" test "$rc" = 2 -a -n "$(grep -- '--dir' "$tmp/err")"

for bad in "--accounts 0" "--campaigns 0" "--campaigns 100000001" "--events 0" \
           "--events 10000000001" "--days 0" "--days 3651" "--replay-runs 0" "--batch 0" \
           "--fsync sometimes"; do
  set -- $bad
  rc=$(run bench ledger --accounts 20 --campaigns 200 --events 20000 "$1" "$2")
  check "$bad exits 2 naming the option" test "$rc" = 2 -a -n "$(grep -- "$1" "$tmp/err")"
done
rc=$(run bench ledger --campaigns 200 --events 20000)
check "a missing --accounts exits 2 naming it" test "$rc" = 2 -a -n "$(grep -- 'accounts' "$tmp/err")"
rc=$(run bench ledger --help)
check "--help explains every option" test "$rc" = 0 -a -n "$(grep -- '--replay-runs' "$tmp/out")" \
  -a -n "$(grep -- '--days' "$tmp/out")" -a -n "$(grep -- '--keep' "$tmp/out")"
rc=$(run bench --help)
check "bench --help lists ledger" test "$rc" = 0 -a -n "$(grep '^  ledger' "$tmp/out")"

echo "bench ledger: $passed passed, $failed failed"
test "$failed" = 0
