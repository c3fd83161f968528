// A fast printer for the JSON that Protobuf's printer gives billsim's
// messages (report/format.h's ToJson: proto field names, default values
// printed). Protobuf's own printer serializes the message, then re-parses
// it through a type resolver and a tree of default values: about 20 us a
// campaign view, 20 s for the JSON report of a million campaigns. This one
// walks the message by reflection and appends to a string.
//
// It covers what billsim's protos use: integers (64-bit ones as strings),
// bools, enums (by name; an unknown number as the number), strings of
// ASCII, messages, repeated fields, oneofs and proto3 optional fields. For
// anything else (a string with a byte past 0x7F, whose escaping follows
// Unicode tables; bytes, floating point, maps) it declines, and the caller
// uses Protobuf's printer. tests/proto_json_test.cc holds it to Protobuf's
// bytes for every message type of billsim.v1, filled at random.
#ifndef BILLSIM_REPORT_PROTO_JSON_H_
#define BILLSIM_REPORT_PROTO_JSON_H_

#include <charconv>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

namespace billsim {

// Appends `message` as one JSON object, exactly the bytes of Protobuf's
// printer with preserve_proto_field_names and always_print_primitive_fields,
// and returns true; or returns false, with `out` as it was, if the message
// holds something outside the fast printer's subset.
bool AppendProtoJson(const google::protobuf::Message& message, std::string* out);

// Its pieces, for callers that format a message's JSON without building
// the message (log export's deliveries): `s` as Protobuf's printer writes
// a string, quotes included, and true; or false, with `out` as it was, if
// `s` holds a byte past 0x7F. And an integer in decimal.
bool AppendJsonString(std::string_view s, std::string* out);
template <typename Int>
void AppendDecimal(std::string* out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

}  // namespace billsim

#endif  // BILLSIM_REPORT_PROTO_JSON_H_
