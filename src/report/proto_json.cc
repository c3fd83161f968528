#include "report/proto_json.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string_view>

#include <google/protobuf/descriptor.h>

namespace billsim {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Protobuf's escaping of the ASCII range (util/internal/json_escaping.cc):
// JSON's required escapes, \b \t \n \f \r by name, the other controls and
// DEL as \u00XX, and '<' '>' as \u003c \u003e. A byte past 0x7F declines.
bool AppendString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80) return false;  // (the caller restores `out`)
    if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != 0x7f) {
      out->push_back(c);
      continue;
    }
    switch (b) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\t': out->append("\\t"); break;
      case '\n': out->append("\\n"); break;
      case '\f': out->append("\\f"); break;
      case '\r': out->append("\\r"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[b >> 4]);
        out->push_back(kHex[b & 0xf]);
    }
  }
  out->push_back('"');
  return true;
}

void AppendEnum(const FieldDescriptor* f, int number, std::string* out) {
  const auto* value = f->enum_type()->FindValueByNumber(number);
  if (value == nullptr) {  // unknown to this build: Protobuf prints the number
    AppendDecimal(out, number);
    return;
  }
  out->push_back('"');
  out->append(value->name());
  out->push_back('"');
}

bool AppendMessage(const Message& m, std::string* out);

// One value of field `f`: element `index` of a repeated field, or the
// singular value when index < 0.
bool AppendValue(const Message& m, const Reflection* r, const FieldDescriptor* f, int index,
                 std::string* out) {
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      AppendDecimal(out, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      AppendDecimal(out, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_INT64:  // proto3 JSON: 64-bit integers are strings
      out->push_back('"');
      AppendDecimal(out, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      out->push_back('"');
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      out->push_back('"');
      AppendDecimal(out, rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      out->push_back('"');
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      return true;
    case FieldDescriptor::CPPTYPE_ENUM:
      AppendEnum(f, rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f), out);
      return true;
    case FieldDescriptor::CPPTYPE_STRING: {
      if (f->type() == FieldDescriptor::TYPE_BYTES) return false;  // base64: not here
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      return AppendString(s, out);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return AppendMessage(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), out);
    default:  // double, float: Protobuf's own number formatting
      return false;
  }
}

// A field with a name: '"name":' after a comma unless it is the first.
void AppendKey(const FieldDescriptor* f, bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->push_back('"');
  out->append(f->name());
  out->append("\":");
}

// A scalar in a oneof, proto3 optionals included: printed only when set.
bool IsOptionalScalar(const FieldDescriptor* f) {
  return f->containing_oneof() != nullptr && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
}

// The order of Protobuf's default-value writer: first, in declaration
// order, every field but the optional scalars (a message field only when
// set; a list as [], a scalar at its default when unset); then the optional
// scalars that are set, in field-number order, as they come off the wire.
bool AppendMessage(const Message& m, std::string* out) {
  const Descriptor* d = m.GetDescriptor();
  // proto2's defaults, and the well-known types' own JSON forms: not here.
  if (d->file()->syntax() != FileDescriptor::SYNTAX_PROTO3 ||
      d->file()->name().rfind("google/protobuf/", 0) == 0) {
    return false;
  }
  const Reflection* r = m.GetReflection();
  const FieldDescriptor* optionals[32];
  int n_optionals = 0;
  out->push_back('{');
  bool first = true;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map()) return false;
    if (f->is_repeated()) {
      AppendKey(f, &first, out);
      out->push_back('[');
      const int n = r->FieldSize(m, f);
      for (int k = 0; k < n; ++k) {
        if (k > 0) out->push_back(',');
        if (!AppendValue(m, r, f, k, out)) return false;
      }
      out->push_back(']');
      continue;
    }
    if (f->has_presence() && !r->HasField(m, f)) continue;
    if (IsOptionalScalar(f)) {
      if (n_optionals == static_cast<int>(std::size(optionals))) return false;
      optionals[n_optionals++] = f;
      continue;
    }
    AppendKey(f, &first, out);
    if (!AppendValue(m, r, f, -1, out)) return false;
  }
  std::sort(optionals, optionals + n_optionals,
            [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
  for (int i = 0; i < n_optionals; ++i) {
    AppendKey(optionals[i], &first, out);
    if (!AppendValue(m, r, optionals[i], -1, out)) return false;
  }
  out->push_back('}');
  return true;
}

}  // namespace

bool AppendJsonString(std::string_view s, std::string* out) {
  const size_t before = out->size();
  if (AppendString(s, out)) return true;
  out->resize(before);
  return false;
}

bool AppendProtoJson(const Message& message, std::string* out) {
  const size_t before = out->size();
  if (AppendMessage(message, out)) return true;
  out->resize(before);
  return false;
}

}  // namespace billsim
