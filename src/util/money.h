// Integer money and time helpers. Money is int64 micro-units, time is int64
// microseconds UTC; no floating point anywhere near either.
#ifndef BILLSIM_UTIL_MONEY_H_
#define BILLSIM_UTIL_MONEY_H_

#include <cstdint>
#include <string>

#include "util/assert.h"

namespace billsim {

inline constexpr int64_t kMicrosPerUnit = 1'000'000;       // 1.00 = 1e6 micros
inline constexpr int64_t kMicrosPerDay = 86'400'000'000;   // time, in us
inline constexpr int64_t kMicrosPerMinute = 60'000'000;

// Times: from the epoch to 2200-01-01T00:00:00Z inclusive. Later times (an
// expiry included) are refused, so time arithmetic (local days, refund
// validity) stays far from overflow.
inline constexpr int64_t kTimeMaxUs = 7'258'118'400'000'000;

// floor(a * b / c) for a, b >= 0 and c > 0, exact through 128-bit arithmetic.
// Saturates at INT64_MAX, which no real money amount reaches.
// The 128-bit case of MulDivFloor, out of line.
int64_t MulDivFloorWide(int64_t a, int64_t b, int64_t c);
inline int64_t MulDivFloor(int64_t a, int64_t b, int64_t c) {
  BILLSIM_ASSERT(a >= 0 && b >= 0 && c > 0);
  int64_t product;
  if (!__builtin_mul_overflow(a, b, &product)) return product / c;  // no 128-bit divide
  return MulDivFloorWide(a, b, c);
}

// "12.345678": micro-units as a decimal with six places, sign first.
std::string FormatMicros(int64_t micros);

// "2026-01-15T09:30:00Z" (microseconds shown only when nonzero).
std::string FormatTime(int64_t time_us);

// a + b for a, b >= 0, saturating at INT64_MAX: counters of units that a
// hostile count could otherwise overflow (undefined behaviour).
inline int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

// Floor division that rounds toward negative infinity (for local days).
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_MONEY_H_
