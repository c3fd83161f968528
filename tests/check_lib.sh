# Sourced by the shell tests of one billsim command's output
# (bench_ledger_test.sh, bench_memory_test.sh). The caller sets BILLSIM (the
# program) and tmp (a scratch folder) first.
#   run ARGS...        runs billsim; stdout to $tmp/out, stderr to $tmp/err;
#                      prints its exit code
#   check NAME CMD...  counts CMD's success in passed or failed; on failure
#                      names the check and shows $tmp/out and $tmp/err
passed=0 failed=0
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name" >&2
    echo "--- stdout" >&2; cat "$tmp/out" >&2; echo "--- stderr" >&2; cat "$tmp/err" >&2; fi
}
run() { "$BILLSIM" "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
