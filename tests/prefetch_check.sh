#!/usr/bin/env bash
# The prefetches of the replay's hot paths reach the release binary.
#
# GCC deletes calls to a function that only prefetches unless it was
# inlined first (util/prefetch.h): the program stays correct and gets slower,
# so no other test notices. This one counts the prefetch instructions in
# the functions that carry them, in the optimized build only (sanitizer
# builds inline differently). Before BILLSIM_PREFETCHER, Interner::InternAll
# had 2 (its record prefetch was gone), a replay's delivery row had lost
# its not-billed counters' prefetch, and the later stages of a delivery
# row's prefetch (BatchApplier::PrefetchDeep) compiled to nothing.
# usage: prefetch_check.sh BILLSIM
set -u
BILLSIM=${1:?usage: prefetch_check.sh BILLSIM}
passed=0 failed=0
symbols=$(nm "$BILLSIM") || { echo "nm failed on $BILLSIM" >&2; exit 1; }
# count PATTERN: the most prefetch instructions in one function whose
# mangled name matches PATTERN (a function may also be inlined elsewhere).
count() {
  local best=0 n sym
  for sym in $(grep -E " [tTwW] " <<<"$symbols" | awk '{print $3}' | grep -E "$1"); do
    n=$(objdump -d --no-show-raw-insn --disassemble="$sym" "$BILLSIM" | grep -c prefetch)
    [ "$n" -gt "$best" ] && best=$n
  done
  echo "$best"
}
check() {  # check WHAT PATTERN AT_LEAST
  local n
  n=$(count "$2")
  if [ "$n" -ge "$3" ]; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAILED: $1: $n prefetch instructions, want at least $3" >&2; fi
}
# Slot ahead (before and in the loop), record ahead.
check "the read-ahead thread's Interner::InternAll" '^_ZN7billsim8Interner9InternAll' 3
# By-stable entry or campaign line 1, campaign 1 (one line), account 3 (the
# first stages, in Apply, inlined into the replay's visitor or not).
check "a replayed delivery row (BatchApplier::Apply)" \
  '(^_ZN7billsim12BatchApplier5ApplyE|ApplyVisitor10OnDeliveryE)' 5
# Not-billed counters, grant list and holds 3; grants 1 (a grant is one
# line) and holds to renew 2 (each in a loop: the campaign's line and its
# enable order).
check "a replayed delivery row's later stages (BatchApplier::PrefetchDeep)" \
  '^_ZN7billsim12BatchApplier12PrefetchDeepE' 6
# Each hold to renew: the campaign's line and its enable order.
check "a midnight's renewals (Ledger::FireDay)" '^_ZN7billsim6Ledger7FireDayE' 2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
