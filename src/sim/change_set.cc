#include "sim/change_set.h"

#include <algorithm>
#include <charconv>

#include "util/money.h"
#include "util/time_parse.h"

namespace billsim::sim {

namespace {

Status Bad(const std::string& flag, const std::string& value, const std::string& why) {
  return Status::InvalidArgument(flag + " " + value + ": " + why);
}

// "KEY=REST": false without '=' or with an empty side.
bool SplitAt(const std::string& text, char sep, std::string* key, std::string* rest) {
  const size_t at = text.find(sep);
  if (at == std::string::npos || at == 0 || at + 1 == text.size()) return false;
  *key = text.substr(0, at);
  *rest = text.substr(at + 1);
  return true;
}

bool ParseInt(const std::string& text, int64_t* out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end && !text.empty();
}

// 7d, 36h, 90m, 30s, 250us: a positive whole number and a unit.
bool ParseDuration(const std::string& text, int64_t* out) {
  struct Unit {
    const char* suffix;
    int64_t us;
  };
  static constexpr Unit kUnits[] = {{"us", 1}, {"d", kMicrosPerDay}, {"h", 3'600'000'000},
                                    {"m", 60'000'000}, {"s", 1'000'000}};
  for (const Unit& u : kUnits) {
    const std::string suffix = u.suffix;
    if (text.size() <= suffix.size() || text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    int64_t n = 0;
    if (!ParseInt(text.substr(0, text.size() - suffix.size()), &n) || n <= 0) return false;
    if (n > kTimeMaxUs / u.us) return false;  // beyond any time billsim knows
    *out = n * u.us;
    return true;
  }
  return false;
}

// MICROS within [low, kAmountMaxMicros].
Status ParseMoney(const std::string& flag, const std::string& value, const std::string& text,
                  int64_t low, int64_t* out) {
  if (!ParseInt(text, out)) {
    return Bad(flag, value, "\"" + text + "\" is not a whole number of micros");
  }
  if (*out < low || *out > kAmountMaxMicros) {
    return Bad(flag, value, "must be from " + std::to_string(low) + " to " +
                                std::to_string(kAmountMaxMicros) + " micros");
  }
  return Status::Ok();
}

// "ID=REST[@TIME]" of a campaign change.
Status SplitTimed(const std::string& flag, const std::string& value, std::string* id,
                  std::string* what, int64_t* at_us) {
  std::string rest;
  if (!SplitAt(value, '=', id, &rest)) return Bad(flag, value, "expected CAMPAIGN=VALUE[@TIME]");
  *at_us = CampaignChange::kAtCreation;
  const size_t at = rest.find('@');
  *what = rest.substr(0, at);
  if (at == std::string::npos) return Status::Ok();
  return ParseTimeUs(rest.substr(at + 1), flag, at_us);
}

std::string CampaignOf(const v1::Event& e) {
  switch (e.payload_case()) {
    case v1::Event::kDeliveryReported: return e.delivery_reported().campaign_id();
    case v1::Event::kCampaignCreated: return e.campaign_created().campaign_id();
    case v1::Event::kCampaignStatusChanged: return e.campaign_status_changed().campaign_id();
    case v1::Event::kCampaignUpdated: return e.campaign_updated().campaign_id();
    case v1::Event::kAdReviewed: return e.ad_reviewed().campaign_id();
    case v1::Event::kDisputeFiled: return e.dispute_filed().campaign_id();
    default: return "";
  }
}

}  // namespace

Status ChangeSet::Add(const std::string& flag, const std::string& value) {
  std::string key, rest;
  if (flag == "--funding-order") {
    if (!SplitAt(value, '=', &key, &rest)) return Bad(flag, value, "expected ACCOUNT=ORDER");
    if (rest == "cash_first") {
      funding_orders[key] = v1::FUNDING_ORDER_CASH_FIRST;
    } else if (rest == "credit_first") {
      funding_orders[key] = v1::FUNDING_ORDER_CREDIT_FIRST;
    } else {
      return Bad(flag, value, "the order must be cash_first or credit_first");
    }
  } else if (flag == "--grant-amount") {
    if (!SplitAt(value, '=', &key, &rest)) return Bad(flag, value, "expected GRANT=MICROS");
    int64_t amount = 0;
    Status st = ParseMoney(flag, value, rest, 1, &amount);
    if (!st.ok()) return st;
    grants[key].amount = amount;
  } else if (flag == "--grant-expiry") {
    if (!SplitAt(value, '=', &key, &rest)) {
      return Bad(flag, value, "expected GRANT=+DURATION, GRANT=-DURATION or GRANT=TIME");
    }
    std::optional<int64_t> shift, at;
    if (rest[0] == '+' || rest[0] == '-') {
      int64_t d = 0;
      if (!ParseDuration(rest.substr(1), &d)) {
        return Bad(flag, value,
                   "\"" + rest + "\" is not a duration such as +7d, -36h, +90m or +30s");
      }
      shift = rest[0] == '-' ? -d : d;
    } else {
      int64_t t = 0;
      Status st = ParseTimeUs(rest, flag, &t);
      if (!st.ok()) return Bad(flag, value, st.message());
      at = t;
    }
    GrantChange& g = grants[key];  // the last of several expiry changes wins
    g.expiry_shift_us = shift;
    g.expires_at_us = at;
  } else if (flag == "--campaign-budget" || flag == "--campaign-price" ||
             flag == "--campaign-mode") {
    CampaignChange c;
    std::string what;
    Status st = SplitTimed(flag, value, &c.campaign, &what, &c.at_us);
    if (!st.ok()) return st.message().rfind(flag, 0) == 0 ? st : Bad(flag, value, st.message());
    if (flag == "--campaign-mode") {
      if (what == "day") {
        c.budget_mode = v1::BUDGET_MODE_DAY;
      } else if (what == "total") {
        c.budget_mode = v1::BUDGET_MODE_TOTAL;
      } else if (what == "infinite") {
        c.budget_mode = v1::BUDGET_MODE_INFINITE;
      } else {
        return Bad(flag, value, "the mode must be day, total or infinite");
      }
    } else {
      int64_t micros = 0;
      st = ParseMoney(flag, value, what, flag == "--campaign-price" ? 1 : 0, &micros);
      if (!st.ok()) return st;
      (flag == "--campaign-price" ? c.price : c.budget) = micros;
    }
    // Flags naming the same campaign and time make one change.
    auto same = std::find_if(campaigns.begin(), campaigns.end(), [&](const CampaignChange& x) {
      return x.campaign == c.campaign && x.at_us == c.at_us;
    });
    if (same == campaigns.end()) {
      campaigns.push_back(c);
    } else {
      if (c.budget_mode) same->budget_mode = c.budget_mode;
      if (c.budget) same->budget = c.budget;
      if (c.price) same->price = c.price;
    }
  } else if (flag == "--pause" || flag == "--enable") {
    StatusChange s;
    if (!SplitAt(value, '@', &s.campaign, &rest)) return Bad(flag, value, "expected CAMPAIGN@TIME");
    Status st = ParseTimeUs(rest, flag, &s.at_us);
    if (!st.ok()) return Bad(flag, value, st.message());
    s.operation = flag == "--pause" ? v1::CampaignStatusChanged::DISABLE
                                    : v1::CampaignStatusChanged::ENABLE;
    statuses.push_back(s);
  } else if (flag == "--drop") {
    DropFilter f;
    f.text = value;
    size_t start = 0;
    while (start <= value.size()) {
      const size_t end = std::min(value.find(',', start), value.size());
      const std::string part = value.substr(start, end - start);
      start = end + 1;
      if (!SplitAt(part, '=', &key, &rest)) {
        return Bad(flag, value, "\"" + part + "\" is not KEY=VALUE (keys: kind, campaign, from, to, fault)");
      }
      if (key == "kind") {
        const auto* field = v1::Event::descriptor()->FindFieldByName(rest);
        v1::DeliveryReported::Kind kind;
        std::string upper = rest;
        std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
        if (field != nullptr && field->containing_oneof() != nullptr) {
          f.payload = field->number();
        } else if (v1::DeliveryReported::Kind_Parse(upper, &kind) &&
                   kind != v1::DeliveryReported::KIND_UNSPECIFIED) {
          f.payload = v1::Event::kDeliveryReported;
          f.delivery_kind = kind;
        } else {
          return Bad(flag, value, "kind \"" + rest +
                                      "\" is neither an event kind (such as delivery_reported, "
                                      "credit_granted) nor a delivery kind (impression, click, "
                                      "video_view_2s, video_view_6s, conversion)");
        }
      } else if (key == "campaign") {
        f.campaign = rest;
      } else if (key == "from" || key == "to") {
        int64_t at = 0;
        Status st = ParseTimeUs(rest, flag + " " + key, &at);
        if (!st.ok()) return Bad(flag, value, st.message());
        (key == "from" ? f.from_us : f.to_us) = at;
      } else if (key == "fault") {
        if (rest != "true" && rest != "false") return Bad(flag, value, "fault must be true or false");
        f.fault = rest == "true";
        if (f.payload == 0) f.payload = v1::Event::kDeliveryReported;
      } else {
        return Bad(flag, value, "unknown key \"" + key + "\" (keys: kind, campaign, from, to, fault)");
      }
      if (end == value.size()) break;
    }
    if (f.fault >= 0 && f.payload != v1::Event::kDeliveryReported) {
      return Bad(flag, value, "fault marks only deliveries: kind must be delivery_reported or a delivery kind");
    }
    if (f.from_us >= f.to_us) return Bad(flag, value, "the window [from, to) is empty");
    drops.push_back(f);
  } else {
    return Status::InvalidArgument("unknown change " + flag);
  }
  described.push_back(flag + " " + value);
  return Status::Ok();
}

void ChangeSet::AddInserted(const std::string& file, std::vector<v1::Event> events) {
  described.push_back("--insert " + file + " (" + std::to_string(events.size()) + " events)");
  for (auto& e : events) inserted.push_back(std::move(e));
}

// --- Counterfactual -------------------------------------------------------------

Counterfactual::Counterfactual(const ChangeSet& changes, uint64_t from_seq, int64_t from_us)
    : changes_(changes), from_seq_(from_seq), from_us_(from_us) {
  size_t order = 0;
  for (const v1::Event& e : changes.inserted) timed_.push_back({e.time_us(), order++, e});
  for (size_t i = 0; i < changes.campaigns.size(); ++i) {
    if (changes.campaigns[i].at_us == CampaignChange::kAtCreation) {
      at_creation_.push_back(static_cast<int>(i));
    } else {
      timed_.push_back({changes.campaigns[i].at_us, order++, {}, static_cast<int>(i)});
    }
  }
  for (size_t i = 0; i < changes.statuses.size(); ++i) {
    timed_.push_back({changes.statuses[i].at_us, order++, {}, -1, static_cast<int>(i)});
  }
  std::stable_sort(timed_.begin(), timed_.end(), [](const Timed& a, const Timed& b) {
    return a.at_us < b.at_us || (a.at_us == b.at_us && a.order < b.order);
  });
  for (const auto& [account, order_] : changes.funding_orders) used_["account:" + account] = false;
  for (const auto& [grant, g] : changes.grants) used_["grant:" + grant] = false;
  for (int i : at_creation_) used_["campaign:" + changes.campaigns[i].campaign] = false;
}

Status Counterfactual::TakeDue(int64_t time_us, const Ledger& alt, std::vector<v1::Event>* out) {
  for (; next_timed_ < timed_.size() && timed_[next_timed_].at_us <= time_us; ++next_timed_) {
    const Timed& t = timed_[next_timed_];
    if (t.campaign_change < 0 && t.status_change < 0) {
      out->push_back(t.event);
      inserted_++;
      continue;
    }
    const std::string& id = t.campaign_change >= 0 ? changes_.campaigns[t.campaign_change].campaign
                                                   : changes_.statuses[t.status_change].campaign;
    const uint32_t ci = alt.FindCampaign(id);
    if (ci == kNoIndex) {
      if (t.campaign_change >= 0) {
        // Not created yet: it takes the change at its creation.
        at_creation_.push_back(t.campaign_change);
        used_["campaign:" + id] = false;
        continue;
      }
      return Status::InvalidArgument(
          std::string(changes_.statuses[t.status_change].operation ==
                              v1::CampaignStatusChanged::DISABLE
                          ? "--pause "
                          : "--enable ") +
          id + "@" + std::to_string(t.at_us) + ": the what-if has no campaign \"" + id +
          "\" at that time");
    }
    v1::Event e;
    e.set_event_id(next_id_--);
    e.set_time_us(t.at_us);
    const std::string account(alt.account_id(alt.campaigns()[ci].account));
    if (t.campaign_change >= 0) {
      const CampaignChange& c = changes_.campaigns[t.campaign_change];
      auto* m = e.mutable_campaign_updated();
      m->set_account_id(account);
      m->set_campaign_id(id);
      if (c.budget_mode) m->set_budget_mode(*c.budget_mode);
      if (c.budget) m->set_budget_micros(*c.budget);
      if (c.price) m->set_price_micros(*c.price);
    } else {
      auto* m = e.mutable_campaign_status_changed();
      m->set_account_id(account);
      m->set_campaign_id(id);
      m->set_operation(changes_.statuses[t.status_change].operation);
    }
    out->push_back(std::move(e));
    inserted_++;
  }
  return Status::Ok();
}

bool Counterfactual::Matches(const DropFilter& f, const v1::Event& e) const {
  if (f.payload != 0 && f.payload != e.payload_case()) return false;
  if (f.delivery_kind != 0 && e.delivery_reported().kind() != f.delivery_kind) return false;
  if (f.fault >= 0 && e.delivery_reported().platform_fault() != (f.fault == 1)) return false;
  if (!f.campaign.empty() && CampaignOf(e) != f.campaign) return false;
  return e.time_us() >= f.from_us && e.time_us() < f.to_us;
}

bool Counterfactual::DropsDelivery(int64_t time_us, std::string_view campaign, int kind,
                                   bool fault) const {
  for (const DropFilter& f : changes_.drops) {
    if (f.payload != 0 && f.payload != v1::Event::kDeliveryReported) continue;
    if (f.delivery_kind != 0 && f.delivery_kind != kind) continue;
    if (f.fault >= 0 && fault != (f.fault == 1)) continue;
    if (!f.campaign.empty() && f.campaign != campaign) continue;
    if (time_us >= f.from_us && time_us < f.to_us) return true;
  }
  return false;
}

bool Counterfactual::Rewrite(const v1::Event& in, v1::Event* out, bool* changed) {
  *changed = false;
  for (const DropFilter& f : changes_.drops) {
    if (Matches(f, in)) {
      dropped_++;
      return false;
    }
  }
  switch (in.payload_case()) {
    case v1::Event::kAccountOpened: {
      auto it = changes_.funding_orders.find(in.account_opened().account_id());
      if (it == changes_.funding_orders.end()) break;
      *out = in;
      out->mutable_account_opened()->set_funding_order(it->second);
      used_["account:" + it->first] = true;
      *changed = true;
      break;
    }
    case v1::Event::kCreditGranted: {
      auto it = changes_.grants.find(in.credit_granted().grant_id());
      if (it == changes_.grants.end()) break;
      *out = in;
      auto* m = out->mutable_credit_granted();
      const GrantChange& g = it->second;
      if (g.amount) m->set_amount_micros(*g.amount);
      if (g.expires_at_us) m->set_expires_at_us(*g.expires_at_us);
      // The ledger judges the range of what comes out (R11); an expiry
      // moved past the last time billsim knows is clamped to it.
      if (g.expiry_shift_us) {
        m->set_expires_at_us(std::clamp<int64_t>(
            static_cast<int64_t>(std::clamp<__int128>(
                static_cast<__int128>(m->expires_at_us()) + *g.expiry_shift_us, INT64_MIN,
                INT64_MAX)),
            0, kTimeMaxUs));
      }
      used_["grant:" + it->first] = true;
      *changed = true;
      break;
    }
    case v1::Event::kCampaignCreated: {
      const std::string& id = in.campaign_created().campaign_id();
      for (int i : at_creation_) {
        const CampaignChange& c = changes_.campaigns[i];
        if (c.campaign != id) continue;
        if (!*changed) *out = in;
        auto* m = out->mutable_campaign_created();
        if (c.budget_mode) {
          m->set_budget_mode(*c.budget_mode);
          if (*c.budget_mode == v1::BUDGET_MODE_INFINITE && !c.budget) m->set_budget_micros(0);
        }
        if (c.budget) m->set_budget_micros(*c.budget);
        if (c.price) m->set_price_micros(*c.price);
        used_["campaign:" + id] = true;
        *changed = true;
      }
      break;
    }
    default:
      break;
  }
  if (*changed) rewritten_++;
  return true;
}

Status Counterfactual::CheckBefore(uint64_t seq, const v1::Event& e) const {
  std::string what;
  if (e.has_account_opened() && changes_.funding_orders.count(e.account_opened().account_id())) {
    what = "--funding-order: account \"" + e.account_opened().account_id() + "\" was opened";
  } else if (e.has_credit_granted() && changes_.grants.count(e.credit_granted().grant_id())) {
    what = "grant \"" + e.credit_granted().grant_id() + "\" was granted";
  } else if (e.has_campaign_created()) {
    for (const CampaignChange& c : changes_.campaigns) {
      if (c.at_us == CampaignChange::kAtCreation && c.campaign == e.campaign_created().campaign_id()) {
        what = "campaign \"" + c.campaign + "\" was created";
      }
    }
  }
  if (what.empty()) return Status::Ok();
  return Status::InvalidArgument(what + " at sequence " + std::to_string(seq) +
                                 ", before --from: the what-if replays it unchanged "
                                 "(give an earlier --from, or none)");
}

Status Counterfactual::CheckAllUsed() const {
  for (const auto& [key, used] : used_) {
    if (used) continue;
    const size_t colon = key.find(':');
    return Status::InvalidArgument(
        "no " + key.substr(0, colon) + " \"" + key.substr(colon + 1) +
        "\" is created in the replayed part of the stream (from sequence " +
        std::to_string(from_seq_ == UINT64_MAX ? 1 : from_seq_) +
        "): the change to it changes nothing");
  }
  return Status::Ok();
}

}  // namespace billsim::sim
