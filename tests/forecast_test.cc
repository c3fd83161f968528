// Forecast (issue 13): hand-computed runways. Every projected day is one
// delivery per enabled campaign at local noon, billed by the ledger.
#include <string>

#include "ledger_fixture.h"
#include "sim/forecast.h"

namespace billsim::testing {
namespace {

using ::testing::HasSubstr;

class ForecastTest : public LedgerTest {
 protected:
  sim::ForecastResult Run(sim::ForecastOptions o) {
    sim::ForecastResult r;
    const Status st = sim::Forecast(ledger_, o, &r);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return r;
  }
  static sim::ForecastOptions For(const std::string& account, int64_t until = 0) {
    sim::ForecastOptions o;
    o.account = account;
    o.until_us = until;
    return o;
  }
  static const sim::ForecastGrant* GrantOf(const sim::ForecastResult& r, const std::string& id) {
    for (const auto& g : r.grants) {
      if (g.grant_id == id) return &g;
    }
    return nullptr;
  }
  static const sim::ForecastAdvice* AdviceOf(const sim::ForecastResult& r, const std::string& id) {
    for (const auto& a : r.advice) {
      if (a.grant_id == id) return &a;
    }
    return nullptr;
  }
};

TEST_F(ForecastTest, AGrantExpiresUnusedAtBudgetPaceAndTheAdviceUsesItExactly) {
  // A 1000.00 grant for ten days; a 50.00 daily budget spends 500.00 of it
  // (the noons of days 0..9), the other 500.00 expires at T0+10d.
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 1000 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  const sim::ForecastResult r = Run(For("a1", kT0 + 20 * kDay));
  const sim::ForecastGrant* g = GrantOf(r, "g1");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->remaining, 1000 * kUnit);
  EXPECT_EQ(g->runs_out_us, 0);
  EXPECT_EQ(g->expires_unused, 500 * kUnit);
  EXPECT_EQ(g->expired_us, kT0 + 10 * kDay);
  EXPECT_EQ(r.days[0].spent, 50 * kUnit);
  EXPECT_EQ(r.days[9].spent, 50 * kUnit);
  EXPECT_EQ(r.days[10].spent, 0);  // nothing left to spend
  EXPECT_EQ(r.valid_zero_us, kT0 + 10 * kDay);
  // 1000.00 over ten noons: 100.00 a day uses it by its expiry, checked.
  const sim::ForecastAdvice* a = AdviceOf(r, "g1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->daily_spend, 100 * kUnit);
  EXPECT_TRUE(a->uses_it);
  EXPECT_TRUE(a->holdable);
  EXPECT_EQ(a->daily_budgets.at("c1"), 100 * kUnit);
  // And exactly: a click (1.00) a day less leaves 10.00 to expire.
  ASSERT_APPLIED(Apply([&] {
    v1::Event e = NewEvent();
    auto* m = e.mutable_campaign_updated();
    m->set_account_id("a1");
    m->set_campaign_id("c1");
    m->set_budget_micros(99 * kUnit);
    return e;
  }()));
  const sim::ForecastResult less = Run(For("a1", kT0 + 20 * kDay));
  EXPECT_EQ(GrantOf(less, "g1")->expires_unused, 10 * kUnit);
}

TEST_F(ForecastTest, ACouponRunsOutFirstThenItsCampaignDrawsOnTheAccountsGrant) {
  // Coupon k (200.00, c2 only, 5 days) and grant w (300.00, any, 20 days);
  // c1 and c2 spend 50.00 a day each. Days 0-3: c2 uses k up, c1 draws 200.00
  // of w. Day 4: both draw on w, which runs out.
  OpenFunded(0);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit));
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit));
  ASSERT_APPLIED(GrantCredit("a1", "k", 200 * kUnit, kT0 + 5 * kDay, {"c2"}));
  ASSERT_APPLIED(GrantCredit("a1", "w", 300 * kUnit, kT0 + 20 * kDay));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Enable("c2"));
  const sim::ForecastResult r = Run(For("a1", kT0 + 10 * kDay));
  EXPECT_EQ(GrantOf(r, "k")->runs_out_us, kT0 + 3 * kDay);
  EXPECT_EQ(GrantOf(r, "k")->expires_unused, 0);
  EXPECT_EQ(GrantOf(r, "w")->runs_out_us, kT0 + 4 * kDay);
  EXPECT_EQ(r.valid_zero_us, kT0 + 4 * kDay);
  for (int d = 0; d <= 4; ++d) EXPECT_EQ(r.days[d].spent, 100 * kUnit) << "day " << d;
  EXPECT_EQ(r.days[5].spent, 0);
  // Both stop for insufficient funds once the money is gone (R5).
  ASSERT_EQ(r.stops.size(), 2u);
  EXPECT_THAT(r.stops[0].reason, HasSubstr("insufficient"));
  // Both are used up at the projected pace: nothing to advise.
  EXPECT_TRUE(AdviceOf(r, "k")->uses_it);
  EXPECT_TRUE(AdviceOf(r, "k")->daily_budgets.empty());
  EXPECT_THAT(AdviceOf(r, "k")->note, HasSubstr("the projected pace uses it up (local day 2026-01-18)"));
  EXPECT_TRUE(AdviceOf(r, "w")->uses_it);
  // A slower coupon campaign: its advice counts only what c2 can spend,
  // 200.00 over the five noons before its expiry: 40.00, so the minimum.
  sim::ForecastOptions slow = For("a1", kT0 + 10 * kDay);
  slow.pace = sim::ForecastOptions::Pace::kHistory;  // nothing billed yet: no pace
  const sim::ForecastResult idle = Run(slow);
  const sim::ForecastAdvice* k = AdviceOf(idle, "k");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->daily_budgets.size(), 1u);
  EXPECT_EQ(k->daily_budgets.at("c2"), 50 * kUnit);
  EXPECT_TRUE(k->uses_it);
  EXPECT_EQ(GrantOf(idle, "k")->expires_unused, 200 * kUnit);
}

TEST_F(ForecastTest, ACashFirstAccountSpendsItsCashBeforeTheGrant) {
  OpenFunded(100 * kUnit, 0, v1::FUNDING_ORDER_CASH_FIRST);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 100 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  const sim::ForecastResult r = Run(For("a1", kT0 + 12 * kDay));
  EXPECT_EQ(r.days[1].cash, 0);
  EXPECT_EQ(r.days[1].credit, 100 * kUnit);
  EXPECT_EQ(GrantOf(r, "g1")->runs_out_us, kT0 + 3 * kDay);
  EXPECT_EQ(GrantOf(r, "g1")->expires_unused, 0);
  EXPECT_TRUE(AdviceOf(r, "g1")->uses_it);  // at the projected pace
  // Idle (history pace, nothing billed): using the grant by its expiry
  // means spending the cash first, 200.00 over ten noons: 20.00 a day,
  // below the minimum budget of 50.00.
  sim::ForecastOptions slow = For("a1", kT0 + 12 * kDay);
  slow.pace = sim::ForecastOptions::Pace::kHistory;
  const sim::ForecastResult idle = Run(slow);
  EXPECT_EQ(AdviceOf(idle, "g1")->daily_spend, 50 * kUnit);
  EXPECT_TRUE(AdviceOf(idle, "g1")->uses_it);
  EXPECT_EQ(GrantOf(idle, "g1")->expires_unused, 100 * kUnit);
}

TEST_F(ForecastTest, ADailyBudgetTurnsAtLocalMidnightInItsZone) {
  // India, UTC+05:30: T0 (00:00Z) is 05:30 local; local noons are 06:30Z.
  OpenFunded(0, 330);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 500 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  const sim::ForecastResult r = Run(For("a1", kT0 + 12 * kDay));
  const int64_t local_midnight = kT0 - 330 * kMinute;
  EXPECT_EQ(r.days[0].day_start_us, local_midnight);
  EXPECT_EQ(r.days[1].day_start_us, local_midnight + kDay);
  // The ten local noons before 05:30 on day 10 spend all 500.00.
  EXPECT_EQ(GrantOf(r, "g1")->runs_out_us, local_midnight + 9 * kDay);
  EXPECT_EQ(GrantOf(r, "g1")->expires_unused, 0);
  // Today's hold was frozen at enable; the forecast's first delivery is
  // billed against it, the next days' against each day's renewal.
  for (int d = 0; d < 10; ++d) EXPECT_EQ(r.days[d].spent, 50 * kUnit) << "day " << d;
}

TEST_F(ForecastTest, HistoryPaceProjectsWhatWasBilledPerLocalDay) {
  OpenFunded(1000 * kUnit);
  EnabledCpc("c1", kUnit);  // no budget: only history says how fast it spends
  sim::ForecastPaceSink pace(&ledger_, "a1");
  for (int d = 0; d < 7; ++d) {
    now_ = kT0 + d * kDay + kHour;
    ASSERT_EQ(ledger_.Apply(MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 10), &pace).outcome,
              Ledger::Outcome::kApplied);
  }
  EXPECT_EQ(pace.Recent(7).at(0), 70 * kUnit);
  EXPECT_EQ(pace.Recent(3).at(0), 30 * kUnit);
  sim::ForecastOptions o = For("a1", kT0 + 20 * kDay);
  o.pace = sim::ForecastOptions::Pace::kHistory;
  o.billed_recently = pace.Recent(7);
  const sim::ForecastResult r = Run(o);
  ASSERT_EQ(r.campaigns.size(), 1u);
  EXPECT_EQ(r.campaigns[0].pace_per_day, 10 * kUnit);
  EXPECT_EQ(r.days[0].spent, 10 * kUnit);
  EXPECT_EQ(r.days.back().cash, 930 * kUnit - 10 * kUnit * static_cast<int64_t>(r.days.size()));
}

TEST_F(ForecastTest, AnAccountsForkBillsItsEventsAsTheWholeLedgerDoes) {
  // Two accounts; a1 with a coupon, a dispute, a fault-marked charge and a
  // daily hold, so that every renumbered index is used.
  ASSERT_APPLIED(OpenAccount("a0"));
  ASSERT_APPLIED(Deposit("a0", 10 * kUnit));
  ASSERT_APPLIED(CreateCampaign("x", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0, "a0"));
  OpenFunded(100 * kUnit, 60);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit));
  ASSERT_APPLIED(GrantCredit("a1", "g0", 20 * kUnit, kT0 + 3 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "k1", 30 * kUnit, kT0 + 5 * kDay, {"c1"}));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Clicks("c1", 5, /*fault=*/true));
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR, kT0 - kHour,
                             kT0 + kHour, 5 * kUnit, {}));
  Ledger fork;
  ASSERT_TRUE(ledger_.ForkAccount(ledger_.FindAccount("a1"), &fork).ok());
  EXPECT_TRUE(fork.CheckInvariants().ok());
  EXPECT_EQ(fork.accounts().size(), 1u);
  EXPECT_EQ(fork.Balance("a1")->SerializeAsString(), ledger_.Balance("a1")->SerializeAsString());
  // The same later events: the same views of the account.
  for (const v1::Event& e :
       {MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 40),
        MakeEvidence("d1", {v1::EVIDENCE_SPEND_REPORT, v1::EVIDENCE_DELIVERY_DATA}),
        MakeAdvance("a1")}) {
    now_ += 2 * kDay;
    v1::Event at = e;
    at.set_time_us(now_);
    ASSERT_APPLIED(Apply(at));
    ASSERT_EQ(fork.Apply(at, nullptr).outcome, Ledger::Outcome::kApplied);
  }
  EXPECT_EQ(fork.Balance("a1")->SerializeAsString(), ledger_.Balance("a1")->SerializeAsString());
  EXPECT_EQ(fork.Spend("c1")->SerializeAsString(), ledger_.Spend("c1")->SerializeAsString());
  EXPECT_EQ(fork.DisputeState("d1")->SerializeAsString(),
            ledger_.DisputeState("d1")->SerializeAsString());
  EXPECT_FALSE(fork.Balance("a0").has_value());
}

// A state that names another account's campaign in a coupon is refused:
// by the restore (the invariants), and by the fork if it ever met one.
TEST_F(ForecastTest, AStateNamingAnotherAccountsCampaignInACouponIsRefused) {
  ASSERT_APPLIED(OpenAccount("a0"));
  ASSERT_APPLIED(CreateCampaign("x", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0, "a0"));
  OpenFunded(10 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(GrantCredit("a1", "k", 5 * kUnit, kT0 + kDay, {"c1"}));
  v1::LedgerState state;
  ledger_.SaveState(&state);
  state.mutable_grants(0)->set_campaigns(0, 0);  // a0's "x"
  Ledger restored;
  const Status refused = restored.RestoreState(state);
  EXPECT_EQ(refused.code(), Status::Code::kCorruption);
  EXPECT_THAT(refused.message(), HasSubstr("names a campaign of another account"));
  if (!refused.ok()) return;
  Ledger fork;
  const Status st = restored.ForkAccount(restored.FindAccount("a1"), &fork);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_THAT(st.message(), HasSubstr("another account"));
}

TEST_F(ForecastTest, BadOptionsAreRefused) {
  OpenFunded(10 * kUnit);
  sim::ForecastResult r;
  EXPECT_EQ(sim::Forecast(ledger_, For("nope"), &r).code(), Status::Code::kNotFound);
  Status st = sim::Forecast(ledger_, For("a1", kT0 - kDay), &r);
  EXPECT_THAT(st.message(), HasSubstr("until 2026-01-14T00:00:00Z: not after"));
  st = sim::Forecast(ledger_, For("a1", kT0 + 4000 * kDay), &r);
  EXPECT_THAT(st.message(), HasSubstr("at most 3660 days"));
}

}  // namespace
}  // namespace billsim::testing
