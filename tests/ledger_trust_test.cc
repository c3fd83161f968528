// Issue 9, section 1: hostile input the ledger must refuse, not wrap, abort
// on, or let one account use against another. Each test is named after the
// finding it pins; each failed (wrapped, aborted or leaked across accounts)
// before the bounds, per-account clocks and coupon-aware holds.
#include <cstdint>
#include <limits>
#include <string>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using v1::DeliveryReported;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

#define EXPECT_REFUSED(expr, field_name)                                 \
  do {                                                                   \
    const ::billsim::Ledger::Result r_ = (expr);                         \
    EXPECT_EQ(r_.outcome, ::billsim::Ledger::Outcome::kRejected);        \
    EXPECT_EQ(r_.field, field_name) << r_.reason;                        \
  } while (0)

// --- Money overflow ---------------------------------------------------------

TEST_F(LedgerTest, TwoDepositsOfInt64MaxAreRefusedNotWrapped) {
  OpenFunded(0);
  EXPECT_REFUSED(Deposit("a1", kInt64Max), "cash_deposited.amount_micros");
  EXPECT_REFUSED(Deposit("a1", kInt64Max), "cash_deposited.amount_micros");
  EXPECT_EQ(Bal().cash_balance(), 0);
}

TEST_F(LedgerTest, TwoGrantsOfInt64MaxAreRefusedNotWrapped) {
  OpenFunded(0);
  EXPECT_REFUSED(GrantCredit("a1", "g1", kInt64Max, kT0 + kDay),
                 "credit_granted.amount_micros");
  EXPECT_REFUSED(GrantCredit("a1", "g2", kInt64Max, kT0 + kDay),
                 "credit_granted.amount_micros");
  EXPECT_EQ(Bal().grant_balance(), 0);
}

TEST_F(LedgerTest, DepositsPastTheAccountFundsBoundAreRefusedNamingTheOverflow) {
  OpenFunded(0);
  // 1,000 deposits of the largest amount reach the account bound exactly.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_APPLIED(Deposit("a1", kAmountMaxMicros));
  }
  EXPECT_EQ(Bal().cash_balance(), kAccountFundsMaxMicros);
  const Ledger::Result r = Deposit("a1", 1);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "cash_deposited.amount_micros");
  EXPECT_NE(r.reason.find("would overflow"), std::string::npos) << r.reason;
  EXPECT_REFUSED(GrantCredit("a1", "g", 1, kT0 + kDay), "credit_granted.amount_micros");
  EXPECT_EQ(Bal().cash_balance(), kAccountFundsMaxMicros);
}

TEST_F(LedgerTest, CpcPricedAtInt64MaxAndInt64MaxClicksAreRefused) {
  OpenFunded(100 * kUnit);
  EXPECT_REFUSED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, kInt64Max,
                                v1::BUDGET_MODE_INFINITE, 0),
                 "campaign_created.price_micros");
  EnabledCpc("c2", kAmountMaxMicros);
  EXPECT_REFUSED(Clicks("c2", kInt64Max), "delivery_reported.count");
  EXPECT_REFUSED(Clicks("c2", kInt64Max, /*fault=*/true), "delivery_reported.count");
  const auto spend = ledger_.Spend("c2");
  ASSERT_TRUE(spend.has_value());
  EXPECT_EQ(spend->billed_units(), 0);
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
}

TEST_F(LedgerTest, DeliveryWhoseCostAtThePriceWouldPassTheBoundIsRefused) {
  OpenFunded(100 * kUnit);
  // 10^15 per click: 1,000 clicks would cost 10^18, the campaign bound.
  EnabledCpc("c1", kAmountMaxMicros);
  ASSERT_APPLIED(Clicks("c1", 1000));
  EXPECT_REFUSED(Clicks("c1", 1), "delivery_reported.count");
  // Other kinds are counted up to their own bound, never charged.
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, kCountMax));
}

// A campaign's line keeps no delivered counts: R11's check bounds them by
// its billed and not-billed units (unbilled_units, saturating), and reads
// the not-billed counters when that bound does not settle it. Clicks not
// billed (no funds for 10^15 a click) still count towards the bound.
TEST_F(LedgerTest, DeliveryNearTheBoundIsJudgedExactlyWhateverWasNotBilled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", kAmountMaxMicros);  // at most 1,000 clicks (R11)
  // Not billed: 10^9 impressions (a loose bound), then 999 clicks.
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 1'000'000'000));
  ASSERT_APPLIED(Clicks("c1", 999));
  // 2^32 units not billed in all: the bound saturates (a 32-bit count
  // would be back at 0 and let the 1,001st click through).
  const int64_t more = (int64_t{1} << 32) - 1'000'000'000 - 999;
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, more));
  ASSERT_APPLIED(Clicks("c1", 1));
  EXPECT_REFUSED(Clicks("c1", 1), "delivery_reported.count");
  const v1::CampaignSpend v = ledger_.CampaignView(ledger_.FindCampaign("c1"));
  EXPECT_EQ(v.clicks(), 1000);
  EXPECT_EQ(v.impressions(), 1'000'000'000 + more);
  EXPECT_EQ(v.billed_units(), 0);
  // A restored ledger judges the same.
  v1::LedgerState state;
  ledger_.SaveState(&state);
  Ledger restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  Ledger::DeliveryFact f;
  f.event_id = 999'999;
  f.time_us = now_;
  f.campaign = restored.FindCampaign("c1");
  f.kind = DeliveryReported::CLICK;
  f.count = 1;
  EXPECT_EQ(restored.ApplyDelivery(f, nullptr).outcome, Ledger::Outcome::kRejected);
  f.kind = DeliveryReported::CONVERSION;
  EXPECT_EQ(restored.ApplyDelivery(f, nullptr).outcome, Ledger::Outcome::kApplied);
}

TEST_F(LedgerTest, ColumnarDeliveryOfInt64MaxUnitsIsRefusedOnTheFastPath) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  Ledger::DeliveryFact f;
  f.event_id = 999;
  f.time_us = now_;
  f.campaign = ledger_.FindCampaign("c1");
  f.kind = DeliveryReported::CLICK;
  f.count = kInt64Max;
  EXPECT_EQ(ledger_.ApplyDelivery(f, nullptr).outcome, Ledger::Outcome::kRejected);
  f.count = 1;
  f.time_us = kInt64Max;
  EXPECT_EQ(ledger_.ApplyDelivery(f, nullptr).outcome, Ledger::Outcome::kRejected);
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
}

// --- The poison pill --------------------------------------------------------

TEST_F(LedgerTest, AnEventStampedInt64MaxIsRefusedAndLaterDayCampaignsStillEnable) {
  OpenFunded(200 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_DAY, 50 * kUnit));
  now_ = kInt64Max;
  EXPECT_REFUSED(Apply(MakeAdvance()), "time_us");
  EXPECT_REFUSED(Clicks("c1", 1), "time_us");
  now_ = kTimeMaxUs + 1;
  EXPECT_REFUSED(Apply(MakeAdvance()), "time_us");
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  // The last valid instant is accepted, and day renewal near it is fine.
  ASSERT_APPLIED(Advance(kTimeMaxUs));
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
}

TEST_F(LedgerTest, AGrantExpiringAfterTheTimeBoundIsRefused) {
  OpenFunded(0);
  EXPECT_REFUSED(GrantCredit("a1", "g1", kUnit, kInt64Max), "credit_granted.expires_at_us");
  EXPECT_REFUSED(GrantCredit("a1", "g1", kUnit, kTimeMaxUs + 1),
                 "credit_granted.expires_at_us");
  EXPECT_APPLIED(GrantCredit("a1", "g1", kUnit, kTimeMaxUs));
}

// --- Time as a weapon (R6: per-account clocks) ------------------------------

TEST_F(LedgerTest, OneAccountsFarFutureEventDoesNotExpireAnotherAccountsCredit) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 100 * kUnit, kT0 + 30 * kDay));
  ASSERT_APPLIED(OpenAccount("other"));
  ASSERT_APPLIED(GrantCredit("other", "g-other", 10 * kUnit, kT0 + 30 * kDay));
  const int64_t year_2100 = 4'102'444'800'000'000;
  now_ = year_2100 - kDay;
  ASSERT_APPLIED(Deposit("other", 1 * kUnit));  // other's clock: 2099
  EXPECT_EQ(Bal("other").grant_balance(), 0);   // its own credit expired
  EXPECT_EQ(Bal("a1").grant_balance(), 100 * kUnit);
  EXPECT_TRUE(LastOf(v1::PROMOTION_EXPIRED).size() == 1u);
  // a1 may still be granted credit expiring next month.
  now_ = kT0 + kHour;
  EXPECT_APPLIED(GrantCredit("a1", "g2", 5 * kUnit, kT0 + 60 * kDay));
  EXPECT_EQ(Bal("a1").grant_balance(), 105 * kUnit);
  // ...and its credit expires by its own clock.
  ASSERT_APPLIED(Advance(kT0 + 30 * kDay, "a1"));
  EXPECT_EQ(Bal("a1").grant_balance(), 5 * kUnit);
}

TEST_F(LedgerTest, OneAccountsFarFutureEventDoesNotTurnAnotherAccountsDay) {
  OpenFunded(200 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 50));  // today's budget spent
  ASSERT_APPLIED(OpenAccount("other"));
  now_ = kT0 + 10 * kDay;
  ASSERT_APPLIED(Deposit("other", 1 * kUnit));
  // a1's day has not turned: no new hold, more clicks are over budget.
  EXPECT_EQ(Held("c1"), 0);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 5));
  EXPECT_EQ(Bal("a1").cash_balance(), 150 * kUnit);
}

TEST_F(LedgerTest, ClockAdvancedWithoutAnAccountMovesEveryAccount) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 100 * kUnit, kT0 + kDay));
  ASSERT_APPLIED(OpenAccount("b1"));
  ASSERT_APPLIED(GrantCredit("b1", "g2", 100 * kUnit, kT0 + kDay));
  ASSERT_APPLIED(Advance(kT0 + kDay));
  EXPECT_EQ(Bal("a1").grant_balance(), 0);
  EXPECT_EQ(Bal("b1").grant_balance(), 0);
}

TEST_F(LedgerTest, AdvanceToMovesAccountsBehindTheLatestClock) {
  // As-of queries: b1's event sets the latest clock at day 5; a1's grant,
  // expiring on day 1, must still expire when the book is read as of day 5.
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 100 * kUnit, kT0 + kDay));
  ASSERT_APPLIED(OpenAccount("b1"));
  now_ = kT0 + 5 * kDay;
  ASSERT_APPLIED(Deposit("b1", kUnit));
  EXPECT_EQ(Bal("a1").grant_balance(), 100 * kUnit);
  ledger_.AdvanceTo(kT0 + 5 * kDay, nullptr);
  EXPECT_EQ(Bal("a1").grant_balance(), 0);
  EXPECT_EQ(ledger_.accounts()[ledger_.FindAccount("a1")].clock_us, kT0 + 5 * kDay);
}

TEST_F(LedgerTest, ClockAdvancedForAnUnknownAccountIsRefused) {
  OpenFunded(0);
  EXPECT_REFUSED(Advance(kT0 + kDay, "nobody"), "clock_advanced.account_id");
}

// --- Coupons and holds -------------------------------------------------------

class CouponHoldTest : public LedgerTest {
 protected:
  // c1 and c2 of a1: CPC 1.00, lifetime budgets of 50.00, not yet enabled.
  void TwoLifetimeCampaigns() {
    ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                  v1::BUDGET_MODE_TOTAL, 50 * kUnit));
    ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                  v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  }
};

// c1 and c2 of a1: CPC 1.00, lifetime budgets of 50.00, not yet enabled.

TEST_F(CouponHoldTest, TwoCouponsForTwoCampaignsBothHoldTheirBudgets) {
  OpenFunded(0);
  TwoLifetimeCampaigns();
  ASSERT_APPLIED(GrantCredit("a1", "A", 50 * kUnit, kT0 + 30 * kDay, {"c1"}));
  ASSERT_APPLIED(GrantCredit("a1", "B", 50 * kUnit, kT0 + 30 * kDay, {"c2"}));
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  ASSERT_APPLIED(Enable("c2"));
  EXPECT_EQ(Held("c2"), 50 * kUnit);  // B is untouched by c1's hold
  ASSERT_APPLIED(Clicks("c1", 10));
  now_ += kMinute;
  ASSERT_APPLIED(Apply(MakeDelivery("a1", "c2", DeliveryReported::CLICK, 10)));
  EXPECT_EQ(ledger_.Spend("c2")->billed_micros(), 10 * kUnit);
  EXPECT_TRUE(LastOf(v1::NOT_BILLED).empty());
}

// A coupon's campaigns are kept sorted and unique (a charge finds its
// campaign by binary search): a state listing them otherwise is refused,
// not restored into a coupon that funds the wrong campaigns.
TEST_F(CouponHoldTest, RestoringACouponWithItsCampaignsOutOfOrderIsRefused) {
  OpenFunded(0);
  TwoLifetimeCampaigns();
  ASSERT_APPLIED(GrantCredit("a1", "A", 50 * kUnit, kT0 + 30 * kDay, {"c2", "c1"}));
  v1::LedgerState good;
  ledger_.SaveState(&good);
  ASSERT_EQ(good.grants(0).campaigns_size(), 2);
  EXPECT_LT(good.grants(0).campaigns(0), good.grants(0).campaigns(1));
  for (const std::vector<uint32_t>& campaigns : {std::vector<uint32_t>{1, 0}, {0, 0}}) {
    v1::LedgerState s = good;
    s.mutable_grants(0)->clear_campaigns();
    for (uint32_t c : campaigns) s.mutable_grants(0)->add_campaigns(c);
    Ledger fresh;
    const Status st = fresh.RestoreState(s);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.ToString().find("grant A lists its campaigns out of order or twice"),
              std::string::npos)
        << st.ToString();
  }
  Ledger fresh;
  ASSERT_TRUE(fresh.RestoreState(good).ok());
  EXPECT_EQ(fresh.Digest(), ledger_.Digest());
}

TEST_F(CouponHoldTest, ACouponExpiringShrinksOnlyTheHoldItBacks) {
  OpenFunded(0);
  TwoLifetimeCampaigns();
  ASSERT_APPLIED(GrantCredit("a1", "A", 50 * kUnit, kT0 + 1 * kDay, {"c1"}));
  ASSERT_APPLIED(GrantCredit("a1", "B", 50 * kUnit, kT0 + 30 * kDay, {"c2"}));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Enable("c2"));
  ASSERT_APPLIED(Advance(kT0 + 2 * kDay));
  EXPECT_EQ(Held("c1"), 0);
  EXPECT_EQ(Held("c2"), 50 * kUnit);  // latest-enabled, but B still backs it
}

TEST_F(CouponHoldTest, ACouponHoldMovesToCashWhenAnotherCampaignNeedsTheCoupon) {
  // c1 (any source) enabled first; coupon A for c2 only, 50 cash.
  OpenFunded(50 * kUnit);
  TwoLifetimeCampaigns();
  ASSERT_APPLIED(GrantCredit("a1", "A", 50 * kUnit, kT0 + 30 * kDay, {"c2"}));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Enable("c2"));
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  EXPECT_EQ(Held("c2"), 50 * kUnit);
  EXPECT_EQ(Bal().valid_balance(), 0);
}

// --- The digest covers the whole state --------------------------------------

TEST_F(LedgerTest, DigestDiffersWhenOnlyTheAccountNameDiffers) {
  Ledger a, b;
  v1::Event e = MakeOpenAccount("a1");
  ASSERT_EQ(a.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  e.mutable_account_opened()->set_name("another name");
  ASSERT_EQ(b.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  EXPECT_NE(a.Digest(), b.Digest());
}

// --- Snapshots cannot smuggle in what events cannot --------------------------

TEST_F(LedgerTest, RestoringAStateWithValuesOutOfRangeIsRefusedNotAnAbort) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 3));
  v1::LedgerState good;
  ledger_.SaveState(&good);
  auto refused = [&](auto mutate) {
    v1::LedgerState s = good;
    mutate(&s);
    Ledger fresh;
    return !fresh.RestoreState(s).ok();
  };
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_campaigns(0)->set_billed_units(-5); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_campaigns(0)->set_price(kInt64Max); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_accounts(0)->set_cash(kInt64Max); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_accounts(0)->set_clock_us(kInt64Max); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_accounts(0)->set_utc_offset_minutes(1 << 30); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_accounts(0)->clear_holding(); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->mutable_accounts(0)->add_holding(0); }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) { s->add_timers()->set_at_us(kT0 + kDay); }));
  // Enums the ledger keeps in a byte: a value it does not know is refused,
  // not cut to a byte.
  EXPECT_TRUE(refused([](v1::LedgerState* s) {
    s->mutable_campaigns(0)->set_objective(static_cast<v1::Objective>(256 + v1::OBJECTIVE_REACH));
  }));
  EXPECT_TRUE(refused([](v1::LedgerState* s) {
    s->mutable_campaigns(0)->set_billing_event(
        static_cast<v1::BillingEvent>(256 + v1::BILLING_EVENT_CPC));
  }));
  Ledger fresh;
  ASSERT_TRUE(fresh.RestoreState(good).ok());
  EXPECT_EQ(fresh.Digest(), ledger_.Digest());
}

}  // namespace
}  // namespace billsim::testing
