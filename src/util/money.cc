#include "util/money.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <limits>

#include "util/assert.h"

namespace billsim {

int64_t MulDivFloorWide(int64_t a, int64_t b, int64_t c) {
  const __int128 q = static_cast<__int128>(a) * b / c;
  if (q > std::numeric_limits<int64_t>::max()) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(q);
}

std::string FormatMicros(int64_t micros) {
  // Work on the magnitude as unsigned so that INT64_MIN formats too.
  const bool negative = micros < 0;
  const uint64_t mag = negative ? 0 - static_cast<uint64_t>(micros)
                                : static_cast<uint64_t>(micros);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%06" PRIu64,
                negative ? "-" : "", mag / kMicrosPerUnit,
                mag % kMicrosPerUnit);
  return buf;
}

bool ParseMicros(std::string_view text, int64_t* out) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 || frac.size() > 6 ||
      (dot != std::string_view::npos && frac.empty())) {
    return false;
  }
  int64_t v = 0;
  for (char ch : whole) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  int64_t f = 0;
  for (size_t i = 0; i < 6; ++i) {
    const char ch = i < frac.size() ? frac[i] : '0';
    if (ch < '0' || ch > '9') return false;
    f = f * 10 + (ch - '0');
  }
  const int64_t micros = v * 1'000'000 + f;  // < 10^18: no overflow
  if (micros > kAmountMaxMicros) return false;
  *out = negative ? -micros : micros;
  return true;
}

std::string FormatTime(int64_t time_us) {
  const int64_t secs = FloorDiv(time_us, 1'000'000);
  const int64_t frac = time_us - secs * 1'000'000;
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  if (frac == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, frac);
  }
  return buf;
}

}  // namespace billsim
