#include "util/time_parse.h"

#include <absl/time/time.h>

#include <charconv>
#include <string>

#include "util/money.h"

namespace billsim {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whether `s[at, at + n)` is n digits.
bool Digits(std::string_view s, size_t at, size_t n) {
  if (s.size() < at + n) return false;
  for (size_t i = at; i < at + n; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

// The shape of the accepted forms, checked before absl::ParseTime because
// absl is more lenient than we want: %Y takes any number of digits and a
// sign, and whitespace around the input is skipped. absl then checks the
// fields' ranges and the calendar. Returns the absl format to use, or null.
const char* Shape(std::string_view s) {
  // YYYY-MM-DD
  if (!Digits(s, 0, 4) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2) || s[7] != '-' ||
      !Digits(s, 8, 2)) {
    return nullptr;
  }
  if (s.size() == 10) return "%Y-%m-%d";
  // THH:MM:SS
  if (s.size() < 19 || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2) || s[13] != ':' ||
      !Digits(s, 14, 2) || s[16] != ':' || !Digits(s, 17, 2)) {
    return nullptr;
  }
  size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    size_t n = 0;
    while (at + 1 + n < s.size() && IsDigit(s[at + 1 + n])) ++n;
    if (n == 0 || n > 9) return nullptr;
    at += 1 + n;
  }
  // The zone: Z, or +HH:MM / -HH:MM. A time without one names no instant.
  const std::string_view zone = s.substr(at);
  if (zone == "Z" || zone == "z") return "%Y-%m-%d%ET%H:%M:%E*S%Ez";
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && Digits(zone, 1, 2) &&
      zone[3] == ':' && Digits(zone, 4, 2)) {
    return "%Y-%m-%d%ET%H:%M:%E*S%Ez";
  }
  return nullptr;
}

Status Refuse(std::string_view what, std::string_view text, std::string_view reason) {
  return Status::InvalidArgument(std::string(what) + ": " + std::string(reason) + ", got \"" +
                                 std::string(text) + "\"");
}

Status InRange(int64_t us, std::string_view what, std::string_view text, int64_t* out) {
  if (us < 0) return Refuse(what, text, "a time before 1970-01-01T00:00:00Z");
  if (us > kTimeMaxUs) {
    return Refuse(what, text, "a time after 2200-01-01T00:00:00Z, the latest billsim accepts");
  }
  *out = us;
  return Status::Ok();
}

}  // namespace

bool LooksLikeInteger(std::string_view text) {
  const size_t start = !text.empty() && text[0] == '-' ? 1 : 0;
  return text.size() > start && Digits(text, start, text.size() - start);
}

Status ParseTimeUs(std::string_view text, std::string_view what, int64_t* out) {
  if (LooksLikeInteger(text)) {
    int64_t us = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), us);
    if (ec == std::errc::result_out_of_range) {
      return Refuse(what, text, "microseconds out of range");
    }
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Refuse(what, text, "not an integer");
    }
    return InRange(us, what, text, out);
  }
  const char* format = Shape(text);
  if (format == nullptr) {
    return Refuse(what, text,
                  "expected microseconds or an ISO 8601 UTC time like 2026-01-15 or "
                  "2026-01-15T09:30:00Z (with its zone, nothing after it)");
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(format, absl::string_view(text.data(), text.size()),
                       absl::UTCTimeZone(), &t, &err)) {
    return Refuse(what, text, "not a valid date and time (" + err + ")");
  }
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  absl::Duration rest;
  const int64_t us = absl::IDivDuration(since_epoch, absl::Microseconds(1), &rest);
  if (rest != absl::ZeroDuration()) {
    return Refuse(what, text, "finer than a microsecond");
  }
  return InRange(us, what, text, out);
}

}  // namespace billsim
