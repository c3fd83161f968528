// BILLSIM_PREFETCHER marks a function whose only effect is to start loading
// memory (__builtin_prefetch) that a later step will read.
//
// Such a function must be inlined into its caller before GCC's IPA passes
// run: GCC (12, -O2 and above) finds a function that only loads and
// prefetches to be pure, and then deletes every call to it as a call whose
// result is unused. The prefetches vanish without a warning, and the code
// runs, correctly and slower. So a function with that shape is marked, to
// be always inlined (tests/prefetch_check.sh counts the prefetches that
// reach the release binary's hot paths). Those that also call through a
// function pointer (IdIndex::Prefetch calls its owner's id_of and
// prefetch_of) cannot be proven pure, and neither can their callers
// (Ledger::PrefetchLookups): they need no mark.
#ifndef BILLSIM_UTIL_PREFETCH_H_
#define BILLSIM_UTIL_PREFETCH_H_

#define BILLSIM_PREFETCHER [[gnu::always_inline]] inline

#endif  // BILLSIM_UTIL_PREFETCH_H_
