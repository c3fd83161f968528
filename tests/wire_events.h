// Events for the tests that talk to a server over the wire
// (server_hostile_main.cc, server_history_test.cc): an account with cash
// and an enabled CPC campaign, clicks that charge it, and the AppendRequest
// that carries them. Ids count up from `first_id`; every event's time is the
// caller's. Single-threaded; header-only so that a test program with its own
// main can use it without the gtest binary.
#ifndef BILLSIM_TESTS_WIRE_EVENTS_H_
#define BILLSIM_TESTS_WIRE_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/wire.pb.h"

namespace billsim::wire_events {

inline constexpr int64_t kT0 = 1'768'435'200'000'000;  // 2026-01-15T00:00:00Z
inline constexpr int64_t kUnit = 1'000'000;            // one currency unit, in micros

class Events {
 public:
  explicit Events(uint64_t first_id = 1) : next_id_(first_id) {}

  v1::Event& New(int64_t time_us) {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(next_id_++);
    e.set_time_us(time_us);
    return e;
  }
  void Open(int64_t t, const std::string& account) {
    auto* m = New(t).mutable_account_opened();
    m->set_account_id(account);
    m->set_currency("USD");
    m->set_funding_order(v1::FUNDING_ORDER_CREDIT_FIRST);
  }
  void Deposit(int64_t t, const std::string& account, int64_t amount_micros) {
    auto* m = New(t).mutable_cash_deposited();
    m->set_account_id(account);
    m->set_amount_micros(amount_micros);
  }
  // A CPC campaign at one unit per click, infinite budget, ready to enable.
  void Campaign(int64_t t, const std::string& account, const std::string& campaign) {
    auto* m = New(t).mutable_campaign_created();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_objective(v1::OBJECTIVE_TRAFFIC);
    m->set_billing_event(v1::BILLING_EVENT_CPC);
    m->set_price_micros(kUnit);
    m->set_budget_mode(v1::BUDGET_MODE_INFINITE);
    m->set_creative_reviewed(true);
    m->set_audience_defined(true);
    m->set_landing_page_url("https://example.com");
  }
  void Enable(int64_t t, const std::string& account, const std::string& campaign) {
    auto* m = New(t).mutable_campaign_status_changed();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_operation(v1::CampaignStatusChanged::ENABLE);
  }
  void Clicks(int64_t t, const std::string& account, const std::string& campaign, int64_t n) {
    auto* m = New(t).mutable_delivery_reported();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_kind(v1::DeliveryReported::CLICK);
    m->set_count(n);
  }
  // Open, deposit `cash_units`, create and enable `campaign`: 4 events at
  // t .. t+3.
  void Setup(int64_t t, const std::string& account, const std::string& campaign,
             int64_t cash_units) {
    Open(t, account);
    Deposit(t + 1, account, cash_units * kUnit);
    Campaign(t + 2, account, campaign);
    Enable(t + 3, account, campaign);
  }

  std::vector<v1::Event>& all() { return events_; }
  void clear() { events_.clear(); }

 private:
  uint64_t next_id_;
  std::vector<v1::Event> events_;
};

// An append of events[begin, end) as one message each.
inline v1::Request AppendOf(uint64_t request_id, const std::vector<v1::Event>& events,
                            size_t begin, size_t end) {
  v1::Request r;
  r.set_request_id(request_id);
  for (size_t i = begin; i < end && i < events.size(); ++i) {
    *r.mutable_append()->add_events() = events[i];
  }
  return r;
}

}  // namespace billsim::wire_events

#endif  // BILLSIM_TESTS_WIRE_EVENTS_H_
