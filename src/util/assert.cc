#include "util/assert.h"

#include <cstdio>
#include <cstdlib>

namespace billsim::internal {

void AssertFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "billsim: invariant violated at %s:%d: %s\n", file, line,
               cond);
  std::abort();
}

}  // namespace billsim::internal
