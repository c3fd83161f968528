// JSON documents that are not Protobuf messages (a report of figures, a log
// record wrapped with its sequence) come from one library, nlohmann::json,
// never from snprintf or a hand-written escaper (issue 12). Messages still
// go through Protobuf's JSON printer (ToJson in report/format.h), and can be
// placed inside such a document with ToJsonValue.
#ifndef BILLSIM_REPORT_JSON_H_
#define BILLSIM_REPORT_JSON_H_

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "report/format.h"

namespace billsim {

// Keys keep the order they were added in: readers and tests see the fields
// in the order the output has always had.
using JsonObject = nlohmann::ordered_json;

// A document as one line of JSON: compact (no spaces), then "\n". Bytes
// that are not UTF-8 (a file path, a message from the system) become
// U+FFFD instead of throwing: no input may stop a report from printing.
inline std::string ToJsonLine(const JsonObject& document) {
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// A message as a value inside a larger document: the same fields and values
// as ToJson (int64 as strings, as proto3 JSON says). A message Protobuf
// cannot print as JSON (its strings are UTF-8 once parsed, so this should
// not happen) becomes its printer's text as a string rather than a crash.
inline JsonObject ToJsonValue(const google::protobuf::Message& message) {
  const std::string text = ToJson(message);
  JsonObject value = JsonObject::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return JsonObject(text);
  return value;
}

// A measured figure rounded to `decimals` places, so that a reader sees
// 12.3 rather than 12.299999999999999 (what "%.1f" printed before). Not
// finite: null in the document.
inline double RoundedTo(double x, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

}  // namespace billsim

#endif  // BILLSIM_REPORT_JSON_H_
