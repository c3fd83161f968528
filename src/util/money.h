// Integer money and time helpers. Money is int64 micro-units, time is int64
// microseconds UTC; no floating point anywhere near either.
#ifndef BILLSIM_UTIL_MONEY_H_
#define BILLSIM_UTIL_MONEY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/assert.h"

namespace billsim {

inline constexpr int64_t kMicrosPerUnit = 1'000'000;       // 1.00 = 1e6 micros
inline constexpr int64_t kMicrosPerDay = 86'400'000'000;   // time, in us
inline constexpr int64_t kMicrosPerMinute = 60'000'000;

// --- Bounds (README "The rules", events.proto) -------------------------------
// Every quantity the ledger adds up has a documented bound, chosen so that no
// sum or product of bounded values can overflow int64: an event whose value
// or effect would pass one is refused (R11), never wrapped or saturated.

// An amount, price or budget in one event: 10^15 micros (a billion units of
// the account currency).
inline constexpr int64_t kAmountMaxMicros = 1'000'000'000'000'000;
// Units in one delivery event.
inline constexpr int64_t kCountMax = 1'000'000'000'000;
// What may ever come into one account: deposited + granted + adjusted. By
// conservation (R12) every balance and total of the account is at most this.
inline constexpr int64_t kAccountFundsMaxMicros = 1'000'000'000'000'000'000;
// Delivered units of one kind to one campaign over its life, and what they
// would cost at the campaign's price.
// Display names (a campaign's, a business center's id) are at most this.
inline constexpr size_t kNameBytesMax = 512;
inline constexpr int64_t kCampaignUnitsMax = 1'000'000'000'000'000'000;
inline constexpr int64_t kCampaignCostMaxMicros = 1'000'000'000'000'000'000;
// Times: from the epoch to 2200-01-01T00:00:00Z inclusive. Later times (an
// expiry included) are refused, so time arithmetic (local days, refund
// validity) stays far from overflow.
inline constexpr int64_t kTimeMaxUs = 7'258'118'400'000'000;

// a + b, or false when the sum would pass `max` (or overflow).
// REQUIRES: a, b >= 0.
inline bool AddWithin(int64_t a, int64_t b, int64_t max, int64_t* sum) {
  return !__builtin_add_overflow(a, b, sum) && *sum <= max;
}

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

// Parses a plain decimal ("12", "-0.5", "1234.567891") into micro-units,
// exactly: at most six decimal places, no exponent, no spaces, within
// +/- kAmountMaxMicros. False (and *out unchanged) otherwise.
bool ParseMicros(std::string_view text, int64_t* out);

// "2026-01-15T09:30:00Z" (microseconds shown only when nonzero).
std::string FormatTime(int64_t time_us);

// a + b where the bounds above guarantee the sum fits: an invariant, not an
// input check (inputs were refused before they could get here).
inline int64_t CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  BILLSIM_ASSERT(!__builtin_add_overflow(a, b, &r));
  return r;
}

// Floor division that rounds toward negative infinity (for local days).
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_MONEY_H_
