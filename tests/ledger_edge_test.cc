// Edges across the rules: timer ties across accounts, half-hour time zones,
// huge counts, coupon expiry against holds, AdvanceTo.
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using v1::DeliveryReported;

TEST_F(LedgerTest, DailyRenewalsAtTheSameInstantFireInAccountIdOrder) {
  // "b" opens first, "a" second; both UTC, so midnight is shared.
  for (const char* id : {"b", "a"}) {
    ASSERT_APPLIED(OpenAccount(id));
    ASSERT_APPLIED(Deposit(id, 200 * kUnit));
    ASSERT_APPLIED(CreateCampaign(std::string("c") + id, v1::BILLING_EVENT_CPC,
                                  1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit,
                                  id));
    ASSERT_APPLIED(Enable(std::string("c") + id, id));
  }
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Deliver("cb", DeliveryReported::CLICK, 10, false, "b"));
  ASSERT_APPLIED(Deliver("ca", DeliveryReported::CLICK, 10, false, "a"));
  ASSERT_APPLIED(Advance(kT0 + kDay + kHour));
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 2u);
  EXPECT_EQ(freeze[0].account_id(), "a");
  EXPECT_EQ(freeze[1].account_id(), "b");
  for (const auto& f : freeze) {
    EXPECT_EQ(f.frozen_delta_micros(), 10 * kUnit);
    EXPECT_EQ(f.time_us(), kT0 + kDay);
  }
}

TEST_F(LedgerTest, DailyHoldIsRenewedAtLocalMidnightOfAHalfHourTimeZone) {
  // UTC+5:30: local midnight of Jan 16 is 2026-01-15T18:30:00Z.
  OpenFunded(200 * kUnit, 330);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 50));
  ASSERT_APPLIED(Advance(kT0 + 18 * kHour + 29 * kMinute));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  ASSERT_APPLIED(Advance(kT0 + 18 * kHour + 30 * kMinute));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 50 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
}

TEST_F(LedgerTest, AtMidnightTheEarliestEnabledDailyCampaignRenewsFirst) {
  OpenFunded(120 * kUnit);
  // c2 created first, c1 enabled first.
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_DAY, 50 * kUnit));
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_DAY, 50 * kUnit));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Enable("c2"));
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c2", 50));
  ASSERT_APPLIED(Clicks("c1", 50));
  ASSERT_EQ(Cash(), 20 * kUnit);
  ASSERT_EQ(Frozen(), 0);

  ASSERT_APPLIED(Advance(kT0 + kDay + kHour));
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 1u);
  EXPECT_EQ(freeze[0].campaign_id(), "c1");
  EXPECT_EQ(freeze[0].frozen_delta_micros(), 20 * kUnit);
  EXPECT_EQ(Held("c1"), 20 * kUnit);
  EXPECT_EQ(Held("c2"), 0);
}

TEST_F(LedgerTest, AnExpiredCouponShrinksTheLatestHolds) {
  OpenFunded(60 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(
      GrantCredit("a1", "coupon", 50 * kUnit, kT0 + 2 * kDay, {"c2"}));
  ASSERT_APPLIED(Enable("c2"));
  ASSERT_EQ(Held("c1"), 50 * kUnit);
  ASSERT_EQ(Held("c2"), 50 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  EXPECT_EQ(SumLast(v1::PROMOTION_EXPIRED), -50 * kUnit);
  auto reduced = LastOf(v1::FREEZE_REDUCED);
  ASSERT_EQ(reduced.size(), 1u);
  EXPECT_EQ(reduced[0].campaign_id(), "c2");
  EXPECT_EQ(reduced[0].frozen_delta_micros(), -40 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  EXPECT_EQ(Held("c2"), 10 * kUnit);
  // Both holds are still fundable from cash.
  ASSERT_APPLIED(Clicks("c2", 10));
  ASSERT_APPLIED(Clicks("c1", 50));
  EXPECT_EQ(Cash(), 0);
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
}

TEST_F(LedgerTest, AHugeDeliveryIsBilledExactlyUpToTheFunds) {
  const int64_t price = 1'234'567;
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, price,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));
  const int64_t count = kCountMax;  // 10^12 impressions, the largest count
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, count));
  // The most n with floor(n * p / 1000) <= 100.00.
  const int64_t n = (100 * kUnit + 1) * 1000 / price;
  ASSERT_LE(MulDivFloor(n, price, 1000), 100 * kUnit);
  ASSERT_GT(MulDivFloor(n + 1, price, 1000), 100 * kUnit);
  EXPECT_EQ(SpendOf("c1").billed_units(), n);
  EXPECT_EQ(Billed("c1"), MulDivFloor(n, price, 1000));
  EXPECT_EQ(NotBilledUnits("c1", v1::INSUFFICIENT_FUNDS), count - n);
  EXPECT_EQ(SpendOf("c1").impressions(), count);
}

// A count up to kCountMax is a valid fact (R11 refuses zero, negative and
// larger counts); the largest one after earlier billing is billed up to the
// funds, the rest recorded as not billed, with no counter overflowing.
TEST_F(LedgerTest, TheLargestCountAfterEarlierBillingIsHandled) {
  // 0.01 a click: 10^12 clicks cost 10^16 micros, within the campaign's
  // cost bound (10^18); at 1.00 a click they would pass it (refused).
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", kUnit / 100);
  ASSERT_APPLIED(Clicks("c1", 1));
  ASSERT_APPLIED(Clicks("c1", kCountMax));
  EXPECT_EQ(Billed("c1"), 100 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::INSUFFICIENT_FUNDS), kCountMax - 9'999);
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
  const Ledger::Result r = Clicks("c1", kCountMax + 1);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "delivery_reported.count");
}

TEST_F(LedgerTest, AdvanceToFiresTimersWithoutAnEvent) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 5 * kUnit, kT0 + kDay));
  const uint64_t applied = ledger_.events_applied();
  CollectingSink sink;
  ledger_.AdvanceTo(kT0 + 2 * kDay, &sink);
  EXPECT_EQ(ledger_.clock_us(), kT0 + 2 * kDay);
  EXPECT_EQ(ledger_.events_applied(), applied);
  ASSERT_EQ(sink.entries.size(), 1u);
  EXPECT_EQ(sink.entries[0].kind, v1::PROMOTION_EXPIRED);
  EXPECT_EQ(sink.entries[0].event_id, 0u);
  EXPECT_EQ(sink.entries[0].time_us, kT0 + kDay);
  EXPECT_EQ(sink.entries[0].balance_delta, -5 * kUnit);
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
  EXPECT_EQ(Credit(), 0);
}

TEST_F(LedgerTest, AdvanceToAnEarlierTimeDoesNothing) {
  OpenFunded(0);
  ASSERT_APPLIED(Advance(kT0 + kDay));
  const std::string digest = ledger_.Digest();
  CollectingSink sink;
  ledger_.AdvanceTo(kT0, &sink);
  ledger_.AdvanceTo(kT0 + kDay, &sink);
  EXPECT_TRUE(sink.entries.empty());
  EXPECT_EQ(ledger_.clock_us(), kT0 + kDay);
  EXPECT_EQ(ledger_.Digest(), digest);
}

TEST_F(LedgerTest, AdvanceToGivesTheBalancesAClockAdvancedWould) {
  OpenFunded(30 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 60 * kUnit, kT0 + kDay));
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 20));
  Ledger other;
  // Replay the same events into `other`, then compare the two ways of
  // moving the clock.
  now_ = kT0;
  next_id_ = 1;
  for (const v1::Event& e :
       {MakeOpenAccount("a1"), MakeDeposit("a1", 30 * kUnit),
        MakeGrant("a1", "g1", 60 * kUnit, kT0 + kDay),
        MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                     v1::BUDGET_MODE_DAY, 50 * kUnit),
        MakeStatus("a1", "c1", v1::CampaignStatusChanged::ENABLE),
        MakeDelivery("a1", "c1", DeliveryReported::CLICK, 20)}) {
    ASSERT_EQ(other.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  }
  ASSERT_EQ(ViewsOf(other), ViewsOf(ledger_));
  ASSERT_APPLIED(Advance(kT0 + 2 * kDay));
  other.AdvanceTo(kT0 + 2 * kDay, nullptr);
  EXPECT_EQ(ViewsOf(other), ViewsOf(ledger_));
  EXPECT_TRUE(other.CheckInvariants().ok());
}

}  // namespace
}  // namespace billsim::testing
