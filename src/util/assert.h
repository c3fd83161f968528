// BILLSIM_ASSERT: invariants checked in every build, Release included
// (TigerBeetle style). An invariant that fails means the ledger's state can no
// longer be trusted, so the process stops at once, naming the place and the
// condition, rather than go on to write wrong money.
#ifndef BILLSIM_UTIL_ASSERT_H_
#define BILLSIM_UTIL_ASSERT_H_

namespace billsim::internal {
[[noreturn]] void AssertFailed(const char* file, int line, const char* cond);
}  // namespace billsim::internal

#define BILLSIM_ASSERT(cond)                                        \
  do {                                                              \
    if (__builtin_expect(!(cond), 0))                               \
      ::billsim::internal::AssertFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#endif  // BILLSIM_UTIL_ASSERT_H_
