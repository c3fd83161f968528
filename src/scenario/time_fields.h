// Times written as text in event files. A scenario (.textproto, .json) or a
// JSON-lines file may give a time field as an ISO 8601 string instead of
// integer microseconds:
//
//   time_us: "2026-01-01T00:00:00Z"                      (text format)
//   {"time_us": "2026-01-01T00:00:00Z", ...}             (JSON, also "timeUs")
//
// Protobuf's parsers want an int64 there, so the loaders first rewrite each
// such string into its integer, in place, and parse the result. The fields
// are the times of events and expectations: time_us, expires_at_us,
// window_start_us, window_end_us. Other strings are left alone, and so is a
// string of digits (proto3 JSON writes int64 that way; Protobuf reads it).
#ifndef BILLSIM_SCENARIO_TIME_FIELDS_H_
#define BILLSIM_SCENARIO_TIME_FIELDS_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace billsim {

// Rewrites the time strings of `*text` (the contents of `path`, whose first
// line is line `first_line`) into integers, as ParseTimeUs reads them
// (src/util/time_parse.h). The scan knows only string literals, names,
// colons and '#' comments: anything it does not recognise is left for the
// Protobuf parser to judge. On failure `*text` is unchanged and the message
// names "path:line", the field and the value.
Status RewriteTimeStrings(std::string_view path, int first_line, std::string* text);

}  // namespace billsim

#endif  // BILLSIM_SCENARIO_TIME_FIELDS_H_
