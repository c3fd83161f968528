#!/usr/bin/env bash
# billsim bench memory (issue 11): the JSON report has a row per size asked
# for, in order, with every figure positive and one value per run; the table
# has a row per size; bad options are usage errors (exit 2) naming the
# option. Prints "N passed, N failed".
# usage: bench_memory_test.sh BILLSIM
set -u
BILLSIM=${1:?usage: bench_memory_test.sh BILLSIM}
tmp=$(mktemp -d /tmp/billsim-bench-memory-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/check_lib.sh"  # check, run

rc=$(run bench memory --mib 8 4 --runs 2 --json)
check "two small blocks exit 0" test "$rc" = 0
check "the JSON report has both sizes, every figure and every run" python3 - "$tmp/out" <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["runs"] == 2, r
assert [s["mib"] for s in r["sizes"]] == [8, 4], r
for s in r["sizes"]:
    for k in ["latency_ns", "line_per_page_ns", "eight_lines_per_page_ns", "eight_pages_per_2mib_ns"]:
        runs = s[k.replace("_ns", "_runs_ns")]
        assert s[k] > 0 and len(runs) == 2 and all(v > 0 for v in runs), (k, s)
        assert min(runs) <= s[k] <= max(runs), (k, s)  # the median of the runs
P
rc=$(run bench memory --mib 4 --runs 1)
check "the table has a row for the size" test "$rc" = 0 -a "$(grep -c '^ *4 MiB' "$tmp/out")" = 1
for bad in "--mib 0" "--mib 3" "--mib 65537" "--runs 0" "--runs 26" "--mib x"; do
  set -- $bad
  rc=$(run bench memory "$1" "$2")
  check "$bad is a usage error naming it" test "$rc" = 2 -a -n "$(grep -- "$1" "$tmp/err")"
done
# Past half this machine's memory (within --mib's range on any machine of
# less than 128 GiB).
over=$(( $(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo) / 2 + 1 ))
if [ "$over" -le 65536 ]; then
  rc=$(run bench memory --mib "$over")
  check "a block past half the machine's memory is a usage error" test "$rc" = 2 \
    -a -n "$(grep -- "--mib $over is more than half" "$tmp/err")"
fi
rc=$(run bench memory --mib $(printf '4 %.0s' $(seq 17)))
check "seventeen sizes are a usage error naming --mib" test "$rc" = 2 \
  -a -n "$(grep -- '--mib names 17 sizes; at most 16' "$tmp/err")"
rc=$(run bench memory --help)
check "--help explains every option" test "$rc" = 0 -a -n "$(grep -- '--mib' "$tmp/out")" \
  -a -n "$(grep -- '--runs' "$tmp/out")" -a -n "$(grep -- '--json' "$tmp/out")"
rc=$(run bench --help)
check "bench --help lists memory" test "$rc" = 0 -a -n "$(grep '^  memory' "$tmp/out")"

echo "bench memory: $passed passed, $failed failed"
test "$failed" = 0
