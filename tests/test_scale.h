// BILLSIM_TEST_SCALE: a factor (default 1) that long tests apply to their
// iterations, so that slow builds (the sanitizer presets of tools/check) can
// run fewer of them. Never below one iteration.
#ifndef BILLSIM_TESTS_TEST_SCALE_H_
#define BILLSIM_TESTS_TEST_SCALE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace billsim::test_support {

inline double TestScale() {
  const char* s = std::getenv("BILLSIM_TEST_SCALE");
  if (s == nullptr) return 1.0;
  const double f = std::strtod(s, nullptr);
  return f > 0 ? f : 1.0;
}

// `n` iterations, scaled; at least 1.
inline uint64_t Scaled(uint64_t n) {
  const double scaled = std::llround(static_cast<double>(n) * TestScale());
  return std::max<uint64_t>(1, static_cast<uint64_t>(scaled));
}

}  // namespace billsim::test_support

#endif  // BILLSIM_TESTS_TEST_SCALE_H_
