// R6: expiry removes, never refunds; the clock and its timers.
#include <algorithm>
#include <string>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::ElementsAre;
using v1::DeliveryReported;

TEST_F(LedgerTest, ExpiryRemovesTheRemainderInOneEntryStampedAtTheExpiryTime) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 5));
  ASSERT_EQ(GrantOf("g1").remaining_micros(), 15 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + 7 * kDay));
  auto expired = LastOf(v1::PROMOTION_EXPIRED);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].funds_type(), v1::FUNDS_TYPE_GRANT);
  EXPECT_EQ(expired[0].grant_id(), "g1");
  EXPECT_EQ(expired[0].balance_delta_micros(), -15 * kUnit);
  EXPECT_EQ(expired[0].time_us(), kT0 + 5 * kDay);
  EXPECT_EQ(ledger_.clock_us(), kT0 + 7 * kDay);

  const auto g = GrantOf("g1");
  EXPECT_TRUE(g.expired());
  EXPECT_EQ(g.remaining_micros(), 0);
  EXPECT_EQ(g.expired_micros(), 15 * kUnit);
  const auto b = Bal();
  EXPECT_EQ(b.grant_balance(), 0);
  EXPECT_EQ(b.cash_balance(), 100 * kUnit);  // the clicks drew on g1; nothing moved to cash
  EXPECT_EQ(b.total_expired(), 15 * kUnit);
  EXPECT_EQ(b.total_granted(), 20 * kUnit);
  EXPECT_EQ(b.total_spent(), 5 * kUnit);
}

TEST_F(LedgerTest, ExpiredCreditIsNotMovedToAnotherGrant) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "soon", 10 * kUnit, kT0 + 2 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "later", 7 * kUnit, kT0 + 9 * kDay));
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  EXPECT_EQ(SumLast(v1::PROMOTION_EXPIRED), -10 * kUnit);
  EXPECT_EQ(GrantOf("later").remaining_micros(), 7 * kUnit);
  EXPECT_EQ(Credit(), 7 * kUnit);
  EXPECT_EQ(Cash(), 0);
}

TEST_F(LedgerTest, AGrantExpiresOnlyOnce) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 10 * kUnit, kT0 + 2 * kDay));
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  ASSERT_EQ(LastOf(v1::PROMOTION_EXPIRED).size(), 1u);
  ASSERT_APPLIED(Advance(kT0 + 4 * kDay));
  EXPECT_TRUE(LastOf(v1::PROMOTION_EXPIRED).empty());
  ASSERT_APPLIED(Deposit("a1", 1 * kUnit));
  EXPECT_TRUE(LastOf(v1::PROMOTION_EXPIRED).empty());
  EXPECT_EQ(Bal().total_expired(), 10 * kUnit);
}

TEST_F(LedgerTest, AGrantFundsNothingAtItsExpiryInstant) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit);

  now_ = kT0 + 5 * kDay;
  ASSERT_APPLIED(Clicks("c1", 3));
  // The expiry fires before the delivery that reaches it.
  ASSERT_GE(last_proto_.size(), 2u);
  EXPECT_EQ(last_proto_[0].kind(), v1::PROMOTION_EXPIRED);
  EXPECT_EQ(last_proto_[0].balance_delta_micros(), -20 * kUnit);
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[0].balance_delta_micros(), -3 * kUnit);
}

TEST_F(LedgerTest, AGrantStillFundsAMicrosecondBeforeItExpires) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + 5 * kDay - 1;
  ASSERT_APPLIED(Clicks("c1", 3));
  EXPECT_TRUE(LastOf(v1::PROMOTION_EXPIRED).empty());
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].grant_id(), "g1");
}

TEST_F(LedgerTest, ALateEventIsAppliedAtTheClock) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  ASSERT_APPLIED(Advance(kT0 + 7 * kDay));

  // Stamped while the grant was valid, applied after it expired: the grant
  // is not revived.
  now_ = kT0 + 1 * kDay;
  ASSERT_APPLIED(Clicks("c1", 3));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[0].time_us(), kT0 + 7 * kDay);
  EXPECT_EQ(ledger_.clock_us(), kT0 + 7 * kDay);
  EXPECT_EQ(Cash(), 97 * kUnit);
}

TEST_F(LedgerTest, ALateDeliveryCountsAgainstTodaysBudgetNotAPastDays) {
  OpenFunded(200 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 10));  // day 1 spend 10
  ASSERT_APPLIED(Advance(kT0 + kDay + kHour));  // day 2, hold renewed to 50
  ASSERT_EQ(Held("c1"), 50 * kUnit);
  now_ = kT0 + 2 * kHour;  // stamped on day 1
  ASSERT_APPLIED(Clicks("c1", 45));
  EXPECT_EQ(-SumLast(v1::COST), 45 * kUnit);
  EXPECT_EQ(Held("c1"), 5 * kUnit);
}

TEST_F(LedgerTest, HoldsShrinkLatestEnabledFirstWhenTheCreditBehindThemExpires) {
  OpenFunded(20 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 60 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  EnabledCpc("c2", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_EQ(Held("c1"), 50 * kUnit);
  ASSERT_EQ(Held("c2"), 30 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + 6 * kDay));
  EXPECT_EQ(SumLast(v1::PROMOTION_EXPIRED), -60 * kUnit);
  auto reduced = LastOf(v1::FREEZE_REDUCED);
  ASSERT_EQ(reduced.size(), 2u);
  EXPECT_EQ(reduced[0].campaign_id(), "c2");
  EXPECT_EQ(reduced[0].frozen_delta_micros(), -30 * kUnit);
  EXPECT_EQ(reduced[1].campaign_id(), "c1");
  EXPECT_EQ(reduced[1].frozen_delta_micros(), -30 * kUnit);
  for (const auto& e : reduced) EXPECT_EQ(e.time_us(), kT0 + 5 * kDay);
  EXPECT_EQ(Held("c1"), 20 * kUnit);
  EXPECT_EQ(Held("c2"), 0);
  EXPECT_EQ(Frozen(), 20 * kUnit);
  EXPECT_EQ(Valid(), 0);
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
  EXPECT_EQ(SpendOf("c2").status(), "ENABLE");
}

TEST_F(LedgerTest, HoldsDoNotShrinkWhenCashStillCoversThem) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Advance(kT0 + 6 * kDay));
  EXPECT_EQ(SumLast(v1::PROMOTION_EXPIRED), -20 * kUnit);
  EXPECT_TRUE(LastOf(v1::FREEZE_REDUCED).empty());
  EXPECT_EQ(Held("c1"), 50 * kUnit);
}

TEST_F(LedgerTest, GrantsExpiringAtTheSameInstantExpireInIdOrder) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "b", 2 * kUnit, kT0 + 5 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "a", 3 * kUnit, kT0 + 5 * kDay));
  ASSERT_APPLIED(Advance(kT0 + 6 * kDay));
  auto expired = LastOf(v1::PROMOTION_EXPIRED);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].grant_id(), "a");
  EXPECT_EQ(expired[0].balance_delta_micros(), -3 * kUnit);
  EXPECT_EQ(expired[1].grant_id(), "b");
  EXPECT_EQ(expired[1].balance_delta_micros(), -2 * kUnit);
}

TEST_F(LedgerTest, TimersFireInTimeOrderAcrossAccounts) {
  ASSERT_APPLIED(OpenAccount("a1"));
  ASSERT_APPLIED(OpenAccount("a2"));
  ASSERT_APPLIED(GrantCredit("a2", "x", 1 * kUnit, kT0 + 3 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "y", 1 * kUnit, kT0 + 2 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "z", 1 * kUnit, kT0 + 4 * kDay));
  ASSERT_APPLIED(Advance(kT0 + 10 * kDay));
  auto expired = LastOf(v1::PROMOTION_EXPIRED);
  ASSERT_EQ(expired.size(), 3u);
  EXPECT_EQ(expired[0].grant_id(), "y");
  EXPECT_EQ(expired[0].time_us(), kT0 + 2 * kDay);
  EXPECT_EQ(expired[1].grant_id(), "x");
  EXPECT_EQ(expired[1].account_id(), "a2");
  EXPECT_EQ(expired[1].time_us(), kT0 + 3 * kDay);
  EXPECT_EQ(expired[2].grant_id(), "z");
  EXPECT_EQ(expired[2].time_us(), kT0 + 4 * kDay);
}

TEST_F(LedgerTest, ExpiryFiresBeforeTheDailyRenewalAtTheSameInstant) {
  // UTC account: the grant expires exactly at local midnight.
  OpenFunded(30 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 100 * kUnit, kT0 + kDay));
  now_ = kT0 + kHour;
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));  // from g1: g1 90, hold 40
  ASSERT_EQ(GrantOf("g1").remaining_micros(), 90 * kUnit);
  ASSERT_EQ(Held("c1"), 40 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + kDay + kHour));
  // Expiry first: the 40 hold shrinks to the 30 cash that will be left,
  // then 90 is removed (shrinking before removing keeps every entry's valid
  // balance >= 0, R12); the renewal then has nothing to top up from.
  // (Renewal first would have frozen 10 more and shrunk 20.)
  std::vector<v1::EntryKind> money_kinds;
  for (const auto& e : last_proto_) {
    if (e.kind() == v1::PROMOTION_EXPIRED || e.kind() == v1::FREEZE ||
        e.kind() == v1::FREEZE_REDUCED) {
      if (e.kind() == v1::FREEZE && e.frozen_delta_micros() == 0) continue;
      money_kinds.push_back(e.kind());
    }
  }
  EXPECT_THAT(money_kinds, ElementsAre(v1::FREEZE_REDUCED, v1::PROMOTION_EXPIRED));
  EXPECT_EQ(SumLast(v1::PROMOTION_EXPIRED), -90 * kUnit);
  EXPECT_EQ(SumLast(v1::FREEZE_REDUCED, true), -10 * kUnit);
  EXPECT_EQ(Held("c1"), 30 * kUnit);
  EXPECT_EQ(Valid(), 0);
}

TEST_F(LedgerTest, ClockAdvancedMovesTheClockAndNothingElse) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  const std::string before = ViewsOf(ledger_);
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  EXPECT_TRUE(last_.empty());
  EXPECT_EQ(ledger_.clock_us(), kT0 + 3 * kDay);
  EXPECT_EQ(ViewsOf(ledger_), before);
}

TEST_F(LedgerTest, TheClockNeverRunsBackwards) {
  OpenFunded(0);
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  ASSERT_APPLIED(Advance(kT0 + 1 * kDay));
  EXPECT_EQ(ledger_.clock_us(), kT0 + 3 * kDay);
  now_ = kT0;
  ASSERT_APPLIED(Deposit("a1", 1 * kUnit));
  EXPECT_EQ(ledger_.clock_us(), kT0 + 3 * kDay);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_EQ(last_proto_[0].time_us(), kT0 + 3 * kDay);
}

TEST_F(LedgerTest, ARefusedEventDoesNotMoveTheClock) {
  OpenFunded(0);
  now_ = kT0 + 9 * kDay;
  auto r = Deposit("a1", 0);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(ledger_.clock_us(), kT0);
}

TEST_F(LedgerTest, ARefusedEventDoesNotFireTimers) {
  OpenFunded(0);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 5 * kUnit, kT0 + kDay));
  now_ = kT0 + 2 * kDay;
  EXPECT_EQ(Deposit("a1", -1).outcome, Ledger::Outcome::kRejected);
  EXPECT_FALSE(GrantOf("g1").expired());
  EXPECT_EQ(Credit(), 5 * kUnit);
}

TEST_F(LedgerTest, AnExhaustedGrantExpiresWithoutRemovingAnything) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 5 * kUnit, kT0 + kDay));
  EnabledCpc("c1", 1 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 5));
  ASSERT_APPLIED(Advance(kT0 + 2 * kDay));
  EXPECT_EQ(SumLast(v1::PROMOTION_EXPIRED), 0);
  EXPECT_TRUE(GrantOf("g1").expired());
  EXPECT_EQ(Bal().total_expired(), 0);
}

}  // namespace
}  // namespace billsim::testing
