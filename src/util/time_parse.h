// Parsing a time given by a person: on the command line (--as-of, --from,
// --to) and in event files (time_us, expires_at_us, window_start_us,
// window_end_us written as text). One parser for every place, so a time that
// one of them accepts means the same instant everywhere.
#ifndef BILLSIM_UTIL_TIME_PARSE_H_
#define BILLSIM_UTIL_TIME_PARSE_H_

#include <cstdint>
#include <string_view>

#include "util/status.h"

namespace billsim {

// Parses `text` as a time in microseconds since the Unix epoch, UTC:
//   - an integer: "1768469400000000";
//   - an RFC 3339 date-time with its zone: "2026-01-15T09:30:00Z",
//     "2026-01-15T09:30:00.250Z", "2026-01-15T10:30:00+01:00" (fractions of
//     up to 9 digits, but the instant must be a whole microsecond);
//   - a date alone, meaning its midnight UTC: "2026-01-15".
// Nothing else: no surrounding spaces, no trailing text, no missing zone, no
// out-of-range field (2026-02-30 and 2026-13-45 are refused, not
// normalised). The result must lie in [0, kTimeMaxUs] (src/util/money.h).
// On failure *out is unchanged and the message names `what` (the option or
// field, e.g. "--as-of"), the value and the reason.
Status ParseTimeUs(std::string_view text, std::string_view what, int64_t* out);

// True when `text` is written as an integer (an optional '-', then digits):
// event-file loaders leave such strings to Protobuf's own int64 parsing.
bool LooksLikeInteger(std::string_view text);

}  // namespace billsim

#endif  // BILLSIM_UTIL_TIME_PARSE_H_
