#include "bulk/jsonl_parser.h"

#include <google/protobuf/util/json_util.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bulk/fields.h"
#include "scenario/time_fields.h"
#include "util/time_parse.h"

namespace billsim::bulk {

// The DOM API: it picks the fastest kernel this CPU has at run time (the
// On Demand API is compiled for the build's target, generic x86-64 here).
namespace dom = simdjson::dom;

namespace {

// A delivery as the fast path reads it; defaults as proto3's.
struct Delivery {
  uint64_t event_id = 0;
  int64_t time_us = 0;
  std::string_view account;
  std::string_view campaign;
  int kind = 0;
  int64_t count = 0;
  bool platform_fault = false;
};

// A digit string as Protobuf reads an integer written as a string; only
// the plain form (no sign, no leading zero, at most 18 digits, so no
// overflow): anything else is left to Protobuf.
bool PlainDigits(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return false;
  int64_t x = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + (c - '0');
  }
  *out = x;
  return true;
}

bool Int64(dom::element v, int64_t* out) {
  if (v.is_int64()) return !v.get_int64().get(*out);
  std::string_view s;
  return v.is_string() && !v.get_string().get(s) && PlainDigits(s, out);
}

bool Uint64(dom::element v, uint64_t* out) {
  if (v.is_uint64()) return !v.get_uint64().get(*out);
  std::string_view s;
  int64_t x;
  if (!v.is_string() || v.get_string().get(s) || !PlainDigits(s, &x)) return false;
  *out = static_cast<uint64_t>(x);
  return true;
}

// A time: an integer (number or digit string) or an ISO 8601 string.
bool Time(dom::element v, int64_t* out) {
  if (v.is_int64()) return !v.get_int64().get(*out);
  std::string_view s;
  if (!v.is_string() || v.get_string().get(s)) return false;
  if (LooksLikeInteger(s)) return PlainDigits(s, out);
  return ParseTimeCell(s, "time_us", out).ok();
}

bool Kind(dom::element v, int* out) {
  if (v.is_int64()) {
    int64_t k;
    if (v.get_int64().get(k) || k < 0 || k > v1::DeliveryReported::Kind_MAX ||
        !v1::DeliveryReported::Kind_IsValid(static_cast<int>(k))) {
      return false;
    }
    *out = static_cast<int>(k);
    return true;
  }
  std::string_view s;
  if (!v.is_string() || v.get_string().get(s)) return false;
  return ParseKindName(s, out);
}

bool Is(std::string_view key, std::string_view proto_name, std::string_view json_name) {
  return key == proto_name || key == json_name;
}

// Every field once: a repeated field goes the general way.
bool Once(unsigned* seen, unsigned bit) {
  if (*seen & bit) return false;
  *seen |= bit;
  return true;
}

bool ReadDelivery(dom::object o, Delivery* d) {
  unsigned seen = 0;
  for (const dom::key_value_pair field : o) {
    const std::string_view key = field.key;
    const dom::element v = field.value;
    if (Is(key, "account_id", "accountId")) {
      if (!Once(&seen, 1) || v.get_string().get(d->account)) return false;
    } else if (Is(key, "campaign_id", "campaignId")) {
      if (!Once(&seen, 2) || v.get_string().get(d->campaign)) return false;
    } else if (key == "kind") {
      if (!Once(&seen, 4) || !Kind(v, &d->kind)) return false;
    } else if (key == "count") {
      if (!Once(&seen, 8) || !Int64(v, &d->count)) return false;
    } else if (Is(key, "platform_fault", "platformFault")) {
      if (!Once(&seen, 16) || v.get_bool().get(d->platform_fault)) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

struct JsonLineParser::Impl {
  dom::parser parser;
  // The strings of a fast delivery live in the parser until the next line:
  // the caller copies them into the batch before that.
  bool Fast(std::string_view line, Delivery* d) {
    // An escape anywhere goes the general way: its time scanner
    // (time_fields.h) reads keys and strings as written, undecoded, and the
    // fast path must not read a line differently.
    if (line.find('\\') != std::string_view::npos) return false;
    dom::element doc;
    if (parser.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get(doc)) {
      return false;
    }
    dom::object o;
    if (doc.get_object().get(o)) return false;
    unsigned seen = 0;
    for (const dom::key_value_pair field : o) {
      const std::string_view key = field.key;
      const dom::element v = field.value;
      if (Is(key, "event_id", "eventId")) {
        if (!Once(&seen, 1) || !Uint64(v, &d->event_id)) return false;
      } else if (Is(key, "time_us", "timeUs")) {
        if (!Once(&seen, 2) || !Time(v, &d->time_us)) return false;
      } else if (Is(key, "delivery_reported", "deliveryReported")) {
        dom::object inner;
        if (!Once(&seen, 4) || v.get_object().get(inner) || !ReadDelivery(inner, d)) return false;
      } else {
        return false;
      }
    }
    return (seen & 4) != 0;
  }
};

JsonLineParser::JsonLineParser() : impl_(std::make_unique<Impl>()) {}
JsonLineParser::~JsonLineParser() = default;

Status JsonLineParser::ParseGeneral(std::string_view input, uint64_t number,
                                    std::string_view line, v1::Event* event) {
  std::string text(line);
  const int line_number = static_cast<int>(std::min<uint64_t>(number, INT32_MAX));
  Status st = RewriteTimeStrings(input, line_number, &text);
  if (!st.ok()) return st;
  event->Clear();
  const auto pst = google::protobuf::util::JsonStringToMessage(text, event);
  if (!pst.ok()) {
    return Status::InvalidArgument(std::string(input) + ":" + std::to_string(number) + ": " +
                                   std::string(pst.message()));
  }
  return Status::Ok();
}

Status JsonLineParser::Add(std::string_view input, uint64_t number, std::string_view line,
                           size_t readable, log::BatchBuilder* batch) {
  Delivery d;
  if (readable >= line.size() + simdjson::SIMDJSON_PADDING && impl_->Fast(line, &d)) {
    ++fast_;
    AddDelivery(d.event_id, d.time_us, d.account, d.campaign,
                static_cast<v1::DeliveryReported::Kind>(d.kind), d.count, d.platform_fault,
                batch);
    return Status::Ok();
  }
  ++general_;
  v1::Event event;
  Status st = ParseGeneral(input, number, line, &event);
  if (!st.ok()) return st;
  batch->Add(event);
  return Status::Ok();
}

}  // namespace billsim::bulk
