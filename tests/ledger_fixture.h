// Shared fixture of the ledger rule tests (tests/ledger_*_test.cc): event
// builders, a sink that keeps every entry, and checks that run after every
// Apply (CheckInvariants, R12 conservation from the views, and that every
// entry's balances are the running sum of the deltas before it).
#ifndef BILLSIM_TESTS_LEDGER_FIXTURE_H_
#define BILLSIM_TESTS_LEDGER_FIXTURE_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/projections.pb.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "util/money.h"

namespace billsim::testing {

inline constexpr int64_t kT0 = 1'768'435'200'000'000;  // 2026-01-15T00:00:00Z
inline constexpr int64_t kSecond = 1'000'000;
inline constexpr int64_t kMinute = 60 * kSecond;
inline constexpr int64_t kHour = 60 * kMinute;
inline constexpr int64_t kDay = 24 * kHour;
inline constexpr int64_t kUnit = 1'000'000;  // 1.00 of the currency

using Kind = v1::DeliveryReported::Kind;
using Op = v1::CampaignStatusChanged::Operation;
using Review = v1::AdReviewed::Result;

class CollectingSink : public EntrySink {
 public:
  void Add(const Entry& entry) override { entries.push_back(entry); }
  std::vector<Entry> entries;
};

// Serialized views, without the counters and digest: what a refused or
// duplicate event must leave unchanged.
inline std::string ViewsOf(const Ledger& ledger) {
  v1::BalanceReport r = ledger.Report();
  std::string out;
  for (const auto& a : r.accounts()) out += a.SerializeAsString() + "|";
  out += "#";
  for (const auto& c : r.campaigns()) out += c.SerializeAsString() + "|";
  out += "#";
  for (const auto& d : r.disputes()) out += d.SerializeAsString() + "|";
  return out;
}

class LedgerTest : public ::testing::Test {
 protected:
  // Restores ledger_'s saved state into *restored, which must then give the
  // same digest and views (call under ASSERT_NO_FATAL_FAILURE).
  void RestoreSameInto(Ledger* restored) const {
    v1::LedgerState state;
    ledger_.SaveState(&state);
    ASSERT_TRUE(restored->RestoreState(state).ok());
    EXPECT_EQ(restored->Digest(), ledger_.Digest());
    EXPECT_EQ(ViewsOf(*restored), ViewsOf(ledger_));
  }

  // --- Event builders (no Apply) -----------------------------------------
  v1::Event NewEvent() {
    v1::Event e;
    e.set_event_id(next_id_++);
    e.set_time_us(now_);
    return e;
  }
  v1::Event MakeOpenAccount(
      const std::string& account, int32_t utc_offset_minutes = 0,
      v1::FundingOrder order = v1::FUNDING_ORDER_CREDIT_FIRST,
      const std::string& currency = "USD") {
    v1::Event e = NewEvent();
    auto* m = e.mutable_account_opened();
    m->set_account_id(account);
    m->set_currency(currency);
    m->set_utc_offset_minutes(utc_offset_minutes);
    m->set_funding_order(order);
    m->set_name("Account " + account);
    return e;
  }
  v1::Event MakeDeposit(const std::string& account, int64_t amount) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_cash_deposited();
    m->set_account_id(account);
    m->set_amount_micros(amount);
    m->set_reference("pay-" + std::to_string(e.event_id()));
    return e;
  }
  v1::Event MakeGrant(const std::string& account, const std::string& grant,
                      int64_t amount, int64_t expires_at_us,
                      std::vector<std::string> campaigns = {}) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_credit_granted();
    m->set_account_id(account);
    m->set_grant_id(grant);
    m->set_amount_micros(amount);
    m->set_expires_at_us(expires_at_us);
    m->set_program("new advertiser");
    for (const auto& c : campaigns) m->add_campaign_ids(c);
    return e;
  }
  v1::Event MakeCampaign(const std::string& account,
                         const std::string& campaign, v1::BillingEvent billing,
                         int64_t price, v1::BudgetMode mode, int64_t budget) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_campaign_created();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_objective(v1::OBJECTIVE_TRAFFIC);
    m->set_billing_event(billing);
    m->set_price_micros(price);
    m->set_budget_mode(mode);
    m->set_budget_micros(budget);
    m->set_creative_reviewed(true);
    m->set_audience_defined(true);
    m->set_landing_page_url("https://example.com/" + campaign);
    return e;
  }
  v1::Event MakeStatus(const std::string& account, const std::string& campaign,
                       Op op) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_campaign_status_changed();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_operation(op);
    return e;
  }
  v1::Event MakeReview(const std::string& account, const std::string& campaign,
                       Review result) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_ad_reviewed();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_result(result);
    m->set_reason("policy");
    return e;
  }
  v1::Event MakeDelivery(const std::string& account,
                         const std::string& campaign, Kind kind, int64_t count,
                         bool fault = false) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_delivery_reported();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_kind(kind);
    m->set_count(count);
    m->set_platform_fault(fault);
    return e;
  }
  v1::Event MakeDispute(const std::string& dispute, const std::string& account,
                        const std::string& campaign, v1::DisputeReason reason,
                        int64_t window_start, int64_t window_end,
                        int64_t claimed,
                        std::initializer_list<v1::Evidence> evidence) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_dispute_filed();
    m->set_dispute_id(dispute);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_reason(reason);
    m->set_window_start_us(window_start);
    m->set_window_end_us(window_end);
    m->set_claimed_micros(claimed);
    for (auto ev : evidence) m->add_evidence(ev);
    m->set_description("dispute " + dispute);
    return e;
  }
  v1::Event MakeEvidence(const std::string& dispute,
                         std::initializer_list<v1::Evidence> evidence) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_dispute_evidence_added();
    m->set_dispute_id(dispute);
    for (auto ev : evidence) m->add_evidence(ev);
    return e;
  }
  v1::Event MakeDecision(const std::string& dispute, bool verified,
                         int64_t amount) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_dispute_decided();
    m->set_dispute_id(dispute);
    m->set_verified(verified);
    m->set_amount_micros(amount);
    m->set_investigator("inv");
    return e;
  }
  // Every account's clock, or only `account`'s.
  v1::Event MakeAdvance(const std::string& account = "") {
    v1::Event e = NewEvent();
    e.mutable_clock_advanced()->set_account_id(account);
    return e;
  }

  // --- Apply with checks -------------------------------------------------
  // Applies `e`, keeps its entries in last_ (and all in sink_), and checks
  // the invariants that must hold after every event.
  Ledger::Result Apply(const v1::Event& e) {
    const size_t before = sink_.entries.size();
    const std::string views_before = ViewsOf(ledger_);
    const int64_t clock_before = ledger_.clock_us();
    Ledger::Result r = ledger_.Apply(e, &sink_);
    last_.assign(sink_.entries.begin() + before, sink_.entries.end());
    last_proto_.clear();
    for (const Entry& x : last_) last_proto_.push_back(ledger_.ToProto(x));
    CheckAfter(e, r, before, views_before, clock_before);
    return r;
  }

  Ledger::Result OpenAccount(const std::string& account,
                             int32_t utc_offset_minutes = 0,
                             v1::FundingOrder order =
                                 v1::FUNDING_ORDER_CREDIT_FIRST) {
    return Apply(MakeOpenAccount(account, utc_offset_minutes, order));
  }
  Ledger::Result Deposit(const std::string& account, int64_t amount) {
    return Apply(MakeDeposit(account, amount));
  }
  Ledger::Result GrantCredit(const std::string& account,
                             const std::string& grant, int64_t amount,
                             int64_t expires_at_us,
                             std::vector<std::string> campaigns = {}) {
    return Apply(
        MakeGrant(account, grant, amount, expires_at_us, std::move(campaigns)));
  }
  Ledger::Result CreateCampaign(const std::string& campaign,
                                v1::BillingEvent billing, int64_t price,
                                v1::BudgetMode mode, int64_t budget,
                                const std::string& account = "a1") {
    return Apply(MakeCampaign(account, campaign, billing, price, mode, budget));
  }
  Ledger::Result Enable(const std::string& campaign,
                        const std::string& account = "a1") {
    return Apply(MakeStatus(account, campaign, v1::CampaignStatusChanged::ENABLE));
  }
  Ledger::Result Disable(const std::string& campaign,
                         const std::string& account = "a1") {
    return Apply(
        MakeStatus(account, campaign, v1::CampaignStatusChanged::DISABLE));
  }
  Ledger::Result Delete(const std::string& campaign,
                        const std::string& account = "a1") {
    return Apply(MakeStatus(account, campaign, v1::CampaignStatusChanged::DELETE));
  }
  Ledger::Result ReviewAd(const std::string& campaign, Review result,
                          const std::string& account = "a1") {
    return Apply(MakeReview(account, campaign, result));
  }
  Ledger::Result Deliver(const std::string& campaign, Kind kind, int64_t count,
                         bool fault = false,
                         const std::string& account = "a1") {
    return Apply(MakeDelivery(account, campaign, kind, count, fault));
  }
  Ledger::Result Clicks(const std::string& campaign, int64_t count,
                        bool fault = false) {
    return Deliver(campaign, v1::DeliveryReported::CLICK, count, fault);
  }
  Ledger::Result FileDispute(const std::string& dispute,
                             const std::string& campaign,
                             v1::DisputeReason reason, int64_t window_start,
                             int64_t window_end, int64_t claimed,
                             std::initializer_list<v1::Evidence> evidence,
                             const std::string& account = "a1") {
    return Apply(MakeDispute(dispute, account, campaign, reason, window_start,
                             window_end, claimed, evidence));
  }
  Ledger::Result AddEvidence(const std::string& dispute,
                             std::initializer_list<v1::Evidence> evidence) {
    return Apply(MakeEvidence(dispute, evidence));
  }
  Ledger::Result Decide(const std::string& dispute, bool verified,
                        int64_t amount) {
    return Apply(MakeDecision(dispute, verified, amount));
  }
  Ledger::Result Advance(int64_t to_us, const std::string& account = "") {
    now_ = to_us;
    return Apply(MakeAdvance(account));
  }

  // Common setups.
  // a1 opened at now_ with `cash` deposited (no deposit when 0).
  void OpenFunded(int64_t cash, int32_t utc_offset_minutes = 0,
                  v1::FundingOrder order = v1::FUNDING_ORDER_CREDIT_FIRST) {
    ASSERT_EQ(OpenAccount("a1", utc_offset_minutes, order).outcome,
              Ledger::Outcome::kApplied);
    if (cash > 0) {
      ASSERT_EQ(Deposit("a1", cash).outcome, Ledger::Outcome::kApplied);
    }
  }
  // A CPC campaign of a1 at `price`, created and enabled.
  void EnabledCpc(const std::string& campaign, int64_t price,
                  v1::BudgetMode mode = v1::BUDGET_MODE_INFINITE,
                  int64_t budget = 0) {
    ASSERT_EQ(CreateCampaign(campaign, v1::BILLING_EVENT_CPC, price, mode,
                             budget)
                  .outcome,
              Ledger::Outcome::kApplied);
    ASSERT_EQ(Enable(campaign).outcome, Ledger::Outcome::kApplied);
  }

  // --- Views -------------------------------------------------------------
  v1::AccountBalance Bal(const std::string& account = "a1") const {
    auto b = ledger_.Balance(account);
    EXPECT_TRUE(b.has_value()) << "no account " << account;
    return b.value_or(v1::AccountBalance());
  }
  int64_t Cash(const std::string& a = "a1") const { return Bal(a).cash_balance(); }
  int64_t Credit(const std::string& a = "a1") const {
    return Bal(a).grant_balance();
  }
  int64_t Frozen(const std::string& a = "a1") const {
    return Bal(a).frozen_balance();
  }
  int64_t Valid(const std::string& a = "a1") const {
    return Bal(a).valid_balance();
  }
  v1::CampaignSpend SpendOf(const std::string& campaign) const {
    auto s = ledger_.Spend(campaign);
    EXPECT_TRUE(s.has_value()) << "no campaign " << campaign;
    return s.value_or(v1::CampaignSpend());
  }
  int64_t Held(const std::string& campaign) const {
    return SpendOf(campaign).frozen_micros();
  }
  int64_t Billed(const std::string& campaign) const {
    return SpendOf(campaign).billed_micros();
  }
  int64_t NotBilledUnits(const std::string& campaign,
                         v1::NotBilledReason reason) const {
    int64_t units = 0;
    const v1::CampaignSpend s = SpendOf(campaign);
    for (const auto& nb : s.not_billed()) {
      if (nb.reason() == reason) units += nb.units();
    }
    return units;
  }
  v1::DisputeView DisputeOf(const std::string& dispute) const {
    auto d = ledger_.DisputeState(dispute);
    EXPECT_TRUE(d.has_value()) << "no dispute " << dispute;
    return d.value_or(v1::DisputeView());
  }
  v1::GrantView GrantOf(const std::string& grant,
                        const std::string& account = "a1") const {
    const v1::AccountBalance b = Bal(account);
    for (const auto& g : b.grants()) {
      if (g.grant_id() == grant) return g;
    }
    ADD_FAILURE() << "no grant " << grant << " in account " << account;
    return v1::GrantView();
  }
  bool HasGrant(const std::string& grant,
                const std::string& account = "a1") const {
    const v1::AccountBalance b = Bal(account);
    for (const auto& g : b.grants()) {
      if (g.grant_id() == grant) return true;
    }
    return false;
  }

  // Entries of the last Apply, of one kind, as protos.
  std::vector<v1::LedgerEntry> LastOf(v1::EntryKind kind) const {
    std::vector<v1::LedgerEntry> out;
    for (const auto& e : last_proto_) {
      if (e.kind() == kind) out.push_back(e);
    }
    return out;
  }
  std::vector<v1::EntryKind> LastKinds() const {
    std::vector<v1::EntryKind> out;
    for (const auto& e : last_proto_) out.push_back(e.kind());
    return out;
  }
  int64_t SumLast(v1::EntryKind kind, bool frozen = false) const {
    int64_t sum = 0;
    for (const auto& e : LastOf(kind)) {
      sum += frozen ? e.frozen_delta_micros() : e.balance_delta_micros();
    }
    return sum;
  }

  Ledger ledger_;
  CollectingSink sink_;
  std::vector<Entry> last_;
  std::vector<v1::LedgerEntry> last_proto_;
  uint64_t next_id_ = 1;
  int64_t now_ = kT0;

 private:
  void CheckAfter(const v1::Event& e, const Ledger::Result& r, size_t before,
                  const std::string& views_before, int64_t clock_before) {
    const Status inv = ledger_.CheckInvariants();
    EXPECT_TRUE(inv.ok()) << "after event " << e.event_id() << ": "
                          << inv.ToString();
    EXPECT_EQ(ledger_.entries(), sink_.entries.size());
    if (r.outcome != Ledger::Outcome::kApplied) {
      // R10, R11: a refused or duplicate event changes nothing but the
      // counters and the one entry that records it.
      EXPECT_EQ(ViewsOf(ledger_), views_before)
          << "event " << e.event_id() << " was not applied but changed state";
      EXPECT_EQ(ledger_.clock_us(), clock_before);
      EXPECT_EQ(last_.size(), 1u);
      if (!last_.empty()) {
        EXPECT_EQ(last_[0].kind, r.outcome == Ledger::Outcome::kDuplicate
                                     ? v1::DUPLICATE
                                     : v1::REJECTED);
      }
    }
    for (size_t i = before; i < sink_.entries.size(); ++i) {
      const Entry& x = sink_.entries[i];
      EXPECT_EQ(x.seq, i + 1) << "entry seq is not dense";
      EXPECT_EQ(x.event_id, e.event_id());
      EXPECT_LE(x.time_us, ledger_.clock_us());
      if (x.account == kNoIndex) continue;
      auto& run = running_[x.account];
      run.first += x.balance_delta;
      run.second += x.frozen_delta;
      EXPECT_EQ(x.cash_after + x.credit_after, run.first)
          << "entry " << x.seq << " balance is not the running sum of deltas";
      EXPECT_EQ(x.frozen_after, run.second)
          << "entry " << x.seq << " frozen is not the running sum of deltas";
      EXPECT_EQ(x.valid_after + x.frozen_after, x.cash_after + x.credit_after);
      // R12: none negative after every entry.
      EXPECT_GE(x.cash_after, 0) << "entry " << x.seq;
      EXPECT_GE(x.credit_after, 0) << "entry " << x.seq;
      EXPECT_GE(x.frozen_after, 0) << "entry " << x.seq;
      EXPECT_GE(x.valid_after, 0) << "entry " << x.seq;
    }
    // R12 from the views.
    const v1::BalanceReport report = ledger_.Report();
    for (const auto& b : report.accounts()) {
      EXPECT_EQ(b.total_deposited() + b.total_granted() + b.total_adjusted(),
                b.total_spent() + b.total_expired() + b.cash_balance() +
                    b.grant_balance())
          << "R12 conservation, account " << b.account_id();
      EXPECT_EQ(b.valid_balance() + b.frozen_balance(),
                b.cash_balance() + b.grant_balance());
      EXPECT_GE(b.cash_balance(), 0);
      EXPECT_GE(b.grant_balance(), 0);
      EXPECT_GE(b.frozen_balance(), 0);
      EXPECT_GE(b.valid_balance(), 0);
    }
  }

  std::map<uint32_t, std::pair<int64_t, int64_t>> running_;
};

#define EXPECT_APPLIED(expr)                                          \
  do {                                                                \
    const ::billsim::Ledger::Result r_ = (expr);                      \
    EXPECT_EQ(r_.outcome, ::billsim::Ledger::Outcome::kApplied)       \
        << "refused: " << r_.field << ": " << r_.reason;              \
  } while (0)
#define ASSERT_APPLIED(expr)                                          \
  do {                                                                \
    const ::billsim::Ledger::Result r_ = (expr);                      \
    ASSERT_EQ(r_.outcome, ::billsim::Ledger::Outcome::kApplied)       \
        << "refused: " << r_.field << ": " << r_.reason;              \
  } while (0)

}  // namespace billsim::testing

#endif  // BILLSIM_TESTS_LEDGER_FIXTURE_H_
