#include "bulk/fields.h"

#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "util/money.h"
#include "util/time_parse.h"

namespace billsim::bulk {

bool ParseKindName(std::string_view name, int* kind) {
  static const auto* const kNames = [] {
    auto* names = new std::vector<std::string>;
    for (int k = 0; k <= v1::DeliveryReported::Kind_MAX; ++k) {
      names->push_back(v1::DeliveryReported::Kind_IsValid(k) ? v1::DeliveryReported::Kind_Name(k)
                                                              : std::string());
    }
    return names;
  }();
  for (size_t k = 0; k < kNames->size(); ++k) {
    if (!(*kNames)[k].empty() && (*kNames)[k] == name) {
      *kind = static_cast<int>(k);
      return true;
    }
  }
  return false;
}

Status ParseTimeCell(std::string_view text, std::string_view what, int64_t* out) {
  // Up to 16 digits, no leading zero: below 10^16, so no overflow; the
  // range check is ParseTimeUs's.
  if (!text.empty() && text.size() <= 16 && (text[0] != '0' || text.size() == 1)) {
    int64_t x = 0;
    bool digits = true;
    for (const char c : text) {
      if (c < '0' || c > '9') {
        digits = false;
        break;
      }
      x = x * 10 + (c - '0');
    }
    if (digits && x <= kTimeMaxUs) {
      *out = x;
      return Status::Ok();
    }
  }
  return ParseTimeUs(text, what, out);
}

void AddDelivery(uint64_t event_id, int64_t time_us, std::string_view account,
                 std::string_view campaign, v1::DeliveryReported::Kind kind, int64_t count,
                 bool platform_fault, log::BatchBuilder* batch) {
  if (log::BatchBuilder::Columnar(kind, count)) {
    batch->AddDelivery(event_id, time_us, account, campaign, kind, count, platform_fault);
    return;
  }
  v1::Event e;
  e.set_event_id(event_id);
  e.set_time_us(time_us);
  auto* d = e.mutable_delivery_reported();
  d->set_account_id(std::string(account));
  d->set_campaign_id(std::string(campaign));
  d->set_kind(kind);
  d->set_count(count);
  d->set_platform_fault(platform_fault);
  batch->Add(e);
}

}  // namespace billsim::bulk
