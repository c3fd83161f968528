// R4 (budgets hold funds) and R5 (no negative balances).
#include <string>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::HasSubstr;
using v1::DeliveryReported;

// --- R4 ------------------------------------------------------------------------

TEST_F(LedgerTest, EnablingALifetimeBudgetCampaignFreezesItsBudget) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 60 * kUnit));
  EXPECT_EQ(Frozen(), 0);
  ASSERT_APPLIED(Enable("c1"));
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 1u);
  EXPECT_EQ(freeze[0].frozen_delta_micros(), 60 * kUnit);
  EXPECT_EQ(freeze[0].balance_delta_micros(), 0);
  EXPECT_EQ(freeze[0].campaign_id(), "c1");
  EXPECT_EQ(Frozen(), 60 * kUnit);
  EXPECT_EQ(Valid(), 40 * kUnit);
  EXPECT_EQ(Cash(), 100 * kUnit);
  EXPECT_EQ(Held("c1"), 60 * kUnit);
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
}

TEST_F(LedgerTest, EnablingFreezesOnlyWhatTheValidBalanceAllows) {
  OpenFunded(30 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  EXPECT_EQ(SumLast(v1::FREEZE, true), 30 * kUnit);
  EXPECT_EQ(Held("c1"), 30 * kUnit);
  EXPECT_EQ(Valid(), 0);
}

TEST_F(LedgerTest, EnablingAnUnbudgetedCampaignHoldsNothing) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_INFINITE, 0);
  EXPECT_EQ(SumLast(v1::FREEZE, true), 0);
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(Valid(), 100 * kUnit);
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
}

TEST_F(LedgerTest, EnablingACampaignWithARejectedAdHoldsNothing) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 60 * kUnit));
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty() ||
              SumLast(v1::FREEZE, true) == 0);
  EXPECT_EQ(Frozen(), 0);
}

TEST_F(LedgerTest, EnablingACampaignWithAnApprovedAdFreezesItsBudget) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 60 * kUnit));
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::APPROVED));
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(Held("c1"), 60 * kUnit);
}

TEST_F(LedgerTest, PausingReturnsTheUnspentHoldAtOnce) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  EXPECT_EQ(Held("c1"), 50 * kUnit);

  ASSERT_APPLIED(Disable("c1"));
  auto ret = LastOf(v1::RETURN_OF_REMAINING_BUDGET);
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].frozen_delta_micros(), -50 * kUnit);
  EXPECT_EQ(ret[0].balance_delta_micros(), 0);
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(Valid(), 90 * kUnit);
  EXPECT_EQ(SpendOf("c1").status(), "DISABLE");
}

TEST_F(LedgerTest, DeletingReturnsTheUnspentHoldAtOnce) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  ASSERT_APPLIED(Delete("c1"));
  EXPECT_EQ(SumLast(v1::RETURN_OF_REMAINING_BUDGET, true), -50 * kUnit);
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(SpendOf("c1").status(), "DELETE");
}

TEST_F(LedgerTest, ReEnablingAPausedCampaignHoldsTheRestOfItsLifetimeBudget) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  ASSERT_APPLIED(Disable("c1"));
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 50 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
}

TEST_F(LedgerTest, EnablingADailyCampaignHoldsTheBudgetMinusTodaysSpend) {
  OpenFunded(200 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 20));
  ASSERT_APPLIED(Disable("c1"));
  EXPECT_EQ(SumLast(v1::RETURN_OF_REMAINING_BUDGET, true), -30 * kUnit);
  now_ = kT0 + 2 * kHour;
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 30 * kUnit);
  EXPECT_EQ(Held("c1"), 30 * kUnit);
}

TEST_F(LedgerTest, DeliveryPastTheBudgetIsNotBilledAndTheCampaignStaysEnabled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 50));
  EXPECT_EQ(Billed("c1"), 50 * kUnit);
  EXPECT_EQ(Held("c1"), 0);

  ASSERT_APPLIED(Clicks("c1", 5));
  EXPECT_TRUE(LastOf(v1::COST).empty());
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::OVER_BUDGET);
  EXPECT_EQ(nb[0].units(), 5);
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
  EXPECT_EQ(Cash(), 50 * kUnit);
  EXPECT_EQ(Valid(), 50 * kUnit);
}

TEST_F(LedgerTest, DailyHoldIsRenewedAtLocalMidnightEastOfUtc) {
  // UTC+2: local midnight of Jan 16 is 2026-01-15T22:00:00Z.
  now_ = kT0 + 10 * kHour;
  OpenFunded(200 * kUnit, 120);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 30));
  EXPECT_EQ(Held("c1"), 20 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + 22 * kHour - 1));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Held("c1"), 20 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + 22 * kHour));
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 1u);
  EXPECT_EQ(freeze[0].frozen_delta_micros(), 30 * kUnit);
  EXPECT_EQ(freeze[0].campaign_id(), "c1");
  EXPECT_EQ(freeze[0].time_us(), kT0 + 22 * kHour);
  EXPECT_EQ(Held("c1"), 50 * kUnit);

  // A whole new day's budget: 50 more clicks are billed.
  ASSERT_APPLIED(Clicks("c1", 50));
  EXPECT_EQ(-SumLast(v1::COST), 50 * kUnit);
  EXPECT_EQ(Billed("c1"), 80 * kUnit);
}

TEST_F(LedgerTest, DailyHoldIsRenewedAtLocalMidnightWestOfUtc) {
  // UTC-5: 2026-01-15T01:00Z is 20:00 local on Jan 14; local midnight is
  // 05:00Z.
  now_ = kT0 + kHour;
  OpenFunded(200 * kUnit, -300);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 50));
  now_ = kT0 + 4 * kHour;
  ASSERT_APPLIED(Clicks("c1", 1));
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 1);

  now_ = kT0 + 5 * kHour;
  ASSERT_APPLIED(Clicks("c1", 1));
  // Midnight fired first: the hold is renewed, then the click is billed.
  EXPECT_EQ(SumLast(v1::FREEZE, true), 50 * kUnit);
  EXPECT_EQ(-SumLast(v1::COST), 1 * kUnit);
  EXPECT_EQ(Held("c1"), 49 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 1);
}

TEST_F(LedgerTest, UtcMidnightIsNotANewDayForAnAccountEastOfUtc) {
  // UTC+9: UTC midnight is 09:00 local, not a day boundary.
  now_ = kT0 - 8 * kHour;  // 2026-01-14T16:00Z = Jan 15 01:00 local
  OpenFunded(200 * kUnit, 540);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 50));
  ASSERT_APPLIED(Advance(kT0 + kHour));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Held("c1"), 0);
  // Next local midnight: 2026-01-15T15:00Z.
  ASSERT_APPLIED(Advance(kT0 + 15 * kHour));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 50 * kUnit);
}

TEST_F(LedgerTest, DailyRenewalSkipsPausedCampaigns) {
  OpenFunded(200 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  ASSERT_APPLIED(Disable("c1"));
  ASSERT_APPLIED(Advance(kT0 + kDay + kHour));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Frozen(), 0);
}

TEST_F(LedgerTest, DailyRenewalRepeatsEveryDay) {
  OpenFunded(500 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  for (int day = 0; day < 4; ++day) {
    now_ = kT0 + day * kDay + kHour;
    ASSERT_APPLIED(Clicks("c1", 60));
    EXPECT_EQ(-SumLast(v1::COST), 50 * kUnit) << "day " << day;
    EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 10 * (day + 1));
  }
  EXPECT_EQ(Billed("c1"), 200 * kUnit);
  EXPECT_EQ(Cash(), 300 * kUnit);
}

// A daily hold that no funds can reach stays listed for renewal, and a
// midnight that renews it moves nothing: the turns after it, up to the
// account's next event, are skipped, not each done again to the same end.
TEST_F(LedgerTest, MidnightsThatCanRenewNothingAreSkippedUntilMoneyComesIn) {
  OpenFunded(30 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_EQ(Held("c1"), 30 * kUnit);  // short: the cash is all held
  const uint64_t days_before = ledger_.timer_work().days;
  ASSERT_APPLIED(Advance(kT0 + 30 * kDay + kHour, "a1"));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Held("c1"), 30 * kUnit);
  // The first midnight renews (and moves nothing); the 29 after it are
  // skipped.
  EXPECT_EQ(ledger_.timer_work().days - days_before, 1u);
  // Still listed: money coming in and the next midnight reach it.
  ASSERT_APPLIED(Deposit("a1", 100 * kUnit));
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 20));
  ASSERT_APPLIED(Advance(kT0 + 31 * kDay + kHour));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 20 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
}

// So too when the clock of every account moves (ClockAdvanced for all, or
// an as-of query), which fires the book's timers in time order.
TEST_F(LedgerTest, MidnightsThatCanRenewNothingAreSkippedWhenEveryClockMoves) {
  OpenFunded(30 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  const uint64_t days_before = ledger_.timer_work().days;
  ASSERT_APPLIED(Advance(kT0 + 30 * kDay + kHour));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(ledger_.timer_work().days - days_before, 1u);
  EXPECT_EQ(ledger_.clock_us(), kT0 + 30 * kDay + kHour);
  ASSERT_APPLIED(Deposit("a1", 100 * kUnit));
  EXPECT_EQ(Held("c1"), 50 * kUnit);
}

// A daily hold frozen in full when its campaign is enabled is what the
// next midnight would hold: that midnight reads none of it (no renewal),
// while a hold spent from, or short of funds, is renewed.
TEST_F(LedgerTest, AFullDailyHoldIsNotRenewedAtTheNextMidnight) {
  OpenFunded(200 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  EnabledCpc("c2", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
  ASSERT_EQ(Held("c1"), 50 * kUnit);
  ASSERT_EQ(Held("c2"), 50 * kUnit);
  const uint64_t renewals_before = ledger_.timer_work().renewals;
  ASSERT_APPLIED(Advance(kT0 + kDay + kHour, "a1"));
  EXPECT_EQ(ledger_.timer_work().renewals - renewals_before, 0u);
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  // Spent from: renewed at the midnight after.
  now_ = kT0 + kDay + 2 * kHour;
  ASSERT_APPLIED(Clicks("c1", 20));
  ASSERT_APPLIED(Advance(kT0 + 2 * kDay + kHour, "a1"));
  EXPECT_EQ(ledger_.timer_work().renewals - renewals_before, 1u);
  EXPECT_EQ(SumLast(v1::FREEZE, true), 20 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  EXPECT_EQ(Held("c2"), 50 * kUnit);
}

TEST_F(LedgerTest, ADepositTopsUpShortHoldsEarliestEnabledFirst) {
  OpenFunded(30 * kUnit);
  // c2 is created first but enabled second.
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Enable("c2"));
  EXPECT_EQ(Held("c1"), 30 * kUnit);
  EXPECT_EQ(Held("c2"), 0);

  ASSERT_APPLIED(Deposit("a1", 40 * kUnit));
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 2u);
  EXPECT_EQ(freeze[0].campaign_id(), "c1");
  EXPECT_EQ(freeze[0].frozen_delta_micros(), 20 * kUnit);
  EXPECT_EQ(freeze[1].campaign_id(), "c2");
  EXPECT_EQ(freeze[1].frozen_delta_micros(), 20 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  EXPECT_EQ(Held("c2"), 20 * kUnit);
  EXPECT_EQ(Valid(), 0);
  EXPECT_EQ(LastKinds().front(), v1::ADD_BALANCE);
}

TEST_F(LedgerTest, AGrantTopsUpShortHolds) {
  OpenFunded(30 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 100 * kUnit, kT0 + 10 * kDay));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 20 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  EXPECT_EQ(Valid(), 80 * kUnit);
}

TEST_F(LedgerTest, ACouponTopsUpOnlyTheHoldsOfCampaignsItFunds) {
  OpenFunded(30 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Enable("c2"));
  ASSERT_EQ(Held("c1"), 30 * kUnit);
  ASSERT_EQ(Held("c2"), 0);

  // c1 is short and enabled first, but the coupon cannot fund it.
  ASSERT_APPLIED(
      GrantCredit("a1", "coupon", 40 * kUnit, kT0 + 10 * kDay, {"c2"}));
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 1u);
  EXPECT_EQ(freeze[0].campaign_id(), "c2");
  EXPECT_EQ(freeze[0].frozen_delta_micros(), 40 * kUnit);
  EXPECT_EQ(Held("c1"), 30 * kUnit);
  EXPECT_EQ(Held("c2"), 40 * kUnit);
}

TEST_F(LedgerTest, ADepositDoesNotHoldForPausedCampaigns) {
  OpenFunded(0);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(Deposit("a1", 100 * kUnit));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Frozen(), 0);
}

// --- R5 ------------------------------------------------------------------------

TEST_F(LedgerTest, AShortHoldBillsWhatItCoversThenPausesTheCampaign) {
  OpenFunded(20 * kUnit);
  EnabledCpc("c1", 3 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_EQ(Held("c1"), 20 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 10));
  // 6 clicks (18.00) fit the 20.00 hold; 4 do not.
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].units(), 6);
  EXPECT_EQ(cost[0].balance_delta_micros(), -18 * kUnit);
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::INSUFFICIENT_FUNDS);
  EXPECT_EQ(nb[0].units(), 4);
  auto ret = LastOf(v1::RETURN_OF_REMAINING_BUDGET);
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].frozen_delta_micros(), -2 * kUnit);
  EXPECT_FALSE(LastOf(v1::CAMPAIGN_STATUS).empty());

  const auto s = SpendOf("c1");
  EXPECT_EQ(s.status(), "DISABLE");
  EXPECT_THAT(s.status_reason(), HasSubstr("insufficient balance"));
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(Cash(), 2 * kUnit);
  EXPECT_EQ(Valid(), 2 * kUnit);
}

TEST_F(LedgerTest, AnUnbudgetedCampaignIsBilledUpToTheValidBalanceThenPaused) {
  OpenFunded(5 * kUnit);
  EnabledCpc("c1", 2 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 4));
  EXPECT_EQ(-SumLast(v1::COST), 4 * kUnit);
  EXPECT_EQ(SpendOf("c1").billed_units(), 2);
  EXPECT_EQ(NotBilledUnits("c1", v1::INSUFFICIENT_FUNDS), 2);
  EXPECT_EQ(SpendOf("c1").status(), "DISABLE");
  EXPECT_THAT(SpendOf("c1").status_reason(), HasSubstr("insufficient balance"));
  EXPECT_EQ(Cash(), 1 * kUnit);
}

TEST_F(LedgerTest, AnUnbudgetedCampaignCannotSpendFundsHeldForOthers) {
  OpenFunded(60 * kUnit);
  EnabledCpc("held", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  EnabledCpc("free", 1 * kUnit);
  ASSERT_APPLIED(Clicks("free", 20));
  EXPECT_EQ(-SumLast(v1::COST), 10 * kUnit);
  EXPECT_EQ(NotBilledUnits("free", v1::INSUFFICIENT_FUNDS), 10);
  EXPECT_EQ(SpendOf("free").status(), "DISABLE");
  EXPECT_EQ(Held("held"), 50 * kUnit);
  EXPECT_EQ(SpendOf("held").status(), "ENABLE");
  EXPECT_EQ(Cash(), 50 * kUnit);
  EXPECT_EQ(Valid(), 0);
}

TEST_F(LedgerTest, APausedForFundsCampaignStaysPausedAfterADeposit) {
  OpenFunded(20 * kUnit);
  EnabledCpc("c1", 3 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  ASSERT_EQ(SpendOf("c1").status(), "DISABLE");
  ASSERT_APPLIED(Deposit("a1", 100 * kUnit));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(SpendOf("c1").status(), "DISABLE");
  ASSERT_APPLIED(Clicks("c1", 1));
  EXPECT_EQ(NotBilledUnits("c1", v1::CAMPAIGN_NOT_ACTIVE), 1);
}

TEST_F(LedgerTest, ACampaignNeverEnabledIsNotBilled) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Clicks("c1", 3));
  EXPECT_TRUE(LastOf(v1::COST).empty());
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::CAMPAIGN_NOT_ACTIVE);
  EXPECT_EQ(nb[0].units(), 3);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

TEST_F(LedgerTest, APausedCampaignIsNotBilled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  ASSERT_APPLIED(Disable("c1"));
  ASSERT_APPLIED(Clicks("c1", 3));
  EXPECT_TRUE(LastOf(v1::COST).empty());
  EXPECT_EQ(NotBilledUnits("c1", v1::CAMPAIGN_NOT_ACTIVE), 3);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

TEST_F(LedgerTest, ADeletedCampaignIsNotBilled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  ASSERT_APPLIED(Delete("c1"));
  ASSERT_APPLIED(Clicks("c1", 3));
  EXPECT_TRUE(LastOf(v1::COST).empty());
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::CAMPAIGN_DELETED);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

TEST_F(LedgerTest, AnEmptyAccountBillsNothingAndPauses) {
  OpenFunded(0);
  EnabledCpc("c1", 1 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 3));
  EXPECT_TRUE(LastOf(v1::COST).empty() || SumLast(v1::COST) == 0);
  EXPECT_EQ(NotBilledUnits("c1", v1::INSUFFICIENT_FUNDS), 3);
  EXPECT_EQ(SpendOf("c1").status(), "DISABLE");
  EXPECT_EQ(Cash(), 0);
}

}  // namespace
}  // namespace billsim::testing
