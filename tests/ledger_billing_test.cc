// R1 (billing is for delivery), R2 (exact money), R3 (credit is spent like
// cash). Amounts are computed by hand from the README rules.
#include <string>
#include <tuple>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::ElementsAre;
using v1::DeliveryReported;

// --- R1 ------------------------------------------------------------------------

TEST_F(LedgerTest, ClicksOnACpmCampaignAreRecordedButNeverCharged) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, 2 * kUnit,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));

  ASSERT_APPLIED(Deliver("c1", DeliveryReported::CLICK, 10));

  EXPECT_TRUE(LastOf(v1::COST).empty());
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::NOT_BILLABLE_KIND);
  EXPECT_EQ(nb[0].units(), 10);
  EXPECT_EQ(nb[0].balance_delta_micros(), 0);
  EXPECT_EQ(nb[0].campaign_id(), "c1");
  EXPECT_EQ(Cash(), 100 * kUnit);
  EXPECT_EQ(SpendOf("c1").clicks(), 10);
  EXPECT_EQ(SpendOf("c1").billed_micros(), 0);
  EXPECT_EQ(SpendOf("c1").billed_units(), 0);
  EXPECT_EQ(NotBilledUnits("c1", v1::NOT_BILLABLE_KIND), 10);
}

TEST_F(LedgerTest, ConversionsAreNeverChargedWhateverTheBillingEvent) {
  OpenFunded(100 * kUnit);
  const v1::BillingEvent events[] = {v1::BILLING_EVENT_CPM, v1::BILLING_EVENT_CPC,
                                     v1::BILLING_EVENT_CPV_2S,
                                     v1::BILLING_EVENT_CPV_6S};
  int i = 0;
  for (v1::BillingEvent be : events) {
    const std::string c = "c" + std::to_string(++i);
    ASSERT_APPLIED(
        CreateCampaign(c, be, 1 * kUnit, v1::BUDGET_MODE_INFINITE, 0));
    ASSERT_APPLIED(Enable(c));
    ASSERT_APPLIED(Deliver(c, DeliveryReported::CONVERSION, 3));
    EXPECT_TRUE(LastOf(v1::COST).empty()) << c;
    auto nb = LastOf(v1::NOT_BILLED);
    ASSERT_EQ(nb.size(), 1u) << c;
    EXPECT_EQ(nb[0].not_billed_reason(), v1::NOT_BILLABLE_KIND);
    EXPECT_EQ(nb[0].units(), 3);
    EXPECT_EQ(SpendOf(c).conversions(), 3);
  }
  EXPECT_EQ(Cash(), 100 * kUnit);
  EXPECT_EQ(Bal().total_spent(), 0);
}

// Each billing event charges exactly its own delivery kind.
class BillingKindTest
    : public LedgerTest,
      public ::testing::WithParamInterface<
          std::tuple<v1::BillingEvent, DeliveryReported::Kind>> {};

TEST_P(BillingKindTest, OnlyTheBillingEventsDeliveryKindIsCharged) {
  const auto [billing, billed_kind] = GetParam();
  OpenFunded(100 * kUnit);
  // 100 units cost 0.50 either way: CPM 5.00 per 1,000, else 0.005 each.
  const int64_t price =
      billing == v1::BILLING_EVENT_CPM ? 5 * kUnit : 5'000;
  ASSERT_APPLIED(
      CreateCampaign("c1", billing, price, v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));
  for (auto kind : {DeliveryReported::IMPRESSION, DeliveryReported::CLICK,
                    DeliveryReported::VIDEO_VIEW_2S,
                    DeliveryReported::VIDEO_VIEW_6S,
                    DeliveryReported::CONVERSION}) {
    ASSERT_APPLIED(Deliver("c1", kind, 100));
    if (kind == billed_kind) {
      auto cost = LastOf(v1::COST);
      ASSERT_EQ(cost.size(), 1u) << kind;
      EXPECT_EQ(cost[0].balance_delta_micros(), -500'000);
      EXPECT_EQ(cost[0].units(), 100);
      EXPECT_TRUE(LastOf(v1::NOT_BILLED).empty());
    } else {
      EXPECT_TRUE(LastOf(v1::COST).empty()) << kind;
      auto nb = LastOf(v1::NOT_BILLED);
      ASSERT_EQ(nb.size(), 1u) << kind;
      EXPECT_EQ(nb[0].not_billed_reason(), v1::NOT_BILLABLE_KIND);
      EXPECT_EQ(nb[0].units(), 100);
    }
  }
  const auto s = SpendOf("c1");
  EXPECT_EQ(s.billed_units(), 100);
  EXPECT_EQ(s.billed_micros(), 500'000);
  EXPECT_EQ(NotBilledUnits("c1", v1::NOT_BILLABLE_KIND), 400);
  EXPECT_EQ(s.impressions(), 100);
  EXPECT_EQ(s.clicks(), 100);
  EXPECT_EQ(s.video_views_2s(), 100);
  EXPECT_EQ(s.video_views_6s(), 100);
  EXPECT_EQ(s.conversions(), 100);
  EXPECT_EQ(Cash(), 100 * kUnit - 500'000);
}

INSTANTIATE_TEST_SUITE_P(
    R1, BillingKindTest,
    ::testing::Values(
        std::make_tuple(v1::BILLING_EVENT_CPM, DeliveryReported::IMPRESSION),
        std::make_tuple(v1::BILLING_EVENT_CPC, DeliveryReported::CLICK),
        std::make_tuple(v1::BILLING_EVENT_CPV_2S,
                        DeliveryReported::VIDEO_VIEW_2S),
        std::make_tuple(v1::BILLING_EVENT_CPV_6S,
                        DeliveryReported::VIDEO_VIEW_6S)));

TEST_F(LedgerTest, ImpressionsArePricedPerThousand) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, 2 * kUnit,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 1500));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].balance_delta_micros(), -3 * kUnit);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[0].units(), 1500);
  EXPECT_EQ(Cash(), 97 * kUnit);
  EXPECT_EQ(Bal().total_spent(), 3 * kUnit);
}

// --- R2 ------------------------------------------------------------------------

TEST_F(LedgerTest, CpmChargeIsTheFloorOfCumulativeUnitsAfterEveryDelivery) {
  const int64_t price = 1'234'567;  // per 1,000 impressions
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, price,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));
  for (int64_t n = 1; n <= 3001; ++n) {
    ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 1));
    const int64_t want = MulDivFloor(n, price, 1000);
    // Each delivery is charged the difference of the cumulative floors.
    ASSERT_EQ(-SumLast(v1::COST), want - MulDivFloor(n - 1, price, 1000))
        << "n=" << n;
    ASSERT_EQ(Billed("c1"), want) << "n=" << n;
  }
  EXPECT_EQ(Billed("c1"), 3'704'935);  // floor(3001 * 1234567 / 1000)
  EXPECT_EQ(Cash(), 100 * kUnit - 3'704'935);
}

TEST_F(LedgerTest, OneImpressionAtATimeCostsTheSameAsAllAtOnce) {
  const int64_t price = 1'234'567;
  OpenFunded(100 * kUnit);
  for (const char* c : {"single", "batch", "ragged"}) {
    ASSERT_APPLIED(CreateCampaign(c, v1::BILLING_EVENT_CPM, price,
                                  v1::BUDGET_MODE_INFINITE, 0));
    ASSERT_APPLIED(Enable(c));
  }
  for (int i = 0; i < 3001; ++i) {
    ASSERT_APPLIED(Deliver("single", DeliveryReported::IMPRESSION, 1));
  }
  ASSERT_APPLIED(Deliver("batch", DeliveryReported::IMPRESSION, 3001));
  EXPECT_EQ(-SumLast(v1::COST), 3'704'935);
  int64_t total = 0;
  for (int64_t part : {7, 13, 1, 999, 3, 1000, 977, 1}) {
    ASSERT_APPLIED(Deliver("ragged", DeliveryReported::IMPRESSION, part));
    total += part;
  }
  ASSERT_EQ(total, 3001);
  EXPECT_EQ(Billed("single"), 3'704'935);
  EXPECT_EQ(Billed("batch"), 3'704'935);
  EXPECT_EQ(Billed("ragged"), 3'704'935);
  EXPECT_EQ(Bal().total_spent(), 3 * 3'704'935);
}

TEST_F(LedgerTest, BudgetLimitedClicksAreBilledInWholeUnits) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 3 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_EQ(Held("c1"), 50 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 20));
  // 16 clicks are 48.00; a 17th would pass the 50.00 budget.
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].units(), 16);
  EXPECT_EQ(cost[0].balance_delta_micros(), -48 * kUnit);
  EXPECT_EQ(cost[0].frozen_delta_micros(), -48 * kUnit);
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::OVER_BUDGET);
  EXPECT_EQ(nb[0].units(), 4);
  EXPECT_EQ(Held("c1"), 2 * kUnit);
  EXPECT_EQ(Cash(), 52 * kUnit);
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
}

TEST_F(LedgerTest, BudgetLimitedImpressionsAreBilledInWholeImpressions) {
  const int64_t price = 1'234'567;
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, price,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(Enable("c1"));

  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 50'000));
  // floor(40500 * 1234567 / 1000) = 49,999,963 <= 50.00 < floor(40501 * ...)
  // = 50,001,198.
  EXPECT_EQ(SpendOf("c1").billed_units(), 40'500);
  EXPECT_EQ(Billed("c1"), 49'999'963);
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 9'500);
  EXPECT_EQ(Held("c1"), 37);

  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 1));
  EXPECT_TRUE(LastOf(v1::COST).empty());
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 9'501);
  EXPECT_EQ(Cash(), 100 * kUnit - 49'999'963);
}

TEST_F(LedgerTest, FundsLimitedImpressionsAreBilledInWholeImpressions) {
  const int64_t price = 1'234'567;
  OpenFunded(1 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, price,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 1000));
  // floor(810 * 1234567 / 1000) = 999,999; 811 would be 1,001,233.
  EXPECT_EQ(SpendOf("c1").billed_units(), 810);
  EXPECT_EQ(Billed("c1"), 999'999);
  EXPECT_EQ(NotBilledUnits("c1", v1::INSUFFICIENT_FUNDS), 190);
  EXPECT_EQ(Cash(), 1);
}

// --- R3 ------------------------------------------------------------------------

TEST_F(LedgerTest, CreditFirstSpendsTheGrantBeforeCash) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", 1 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 25));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 2u);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_GRANT);
  EXPECT_EQ(cost[0].grant_id(), "g1");
  EXPECT_EQ(cost[0].balance_delta_micros(), -20 * kUnit);
  EXPECT_EQ(cost[0].units(), 25);
  EXPECT_EQ(cost[1].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[1].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(cost[1].units(), 0);
  EXPECT_EQ(Cash(), 95 * kUnit);
  EXPECT_EQ(Credit(), 0);
  EXPECT_EQ(GrantOf("g1").remaining_micros(), 0);
  EXPECT_EQ(Bal().total_spent(), 25 * kUnit);
}

TEST_F(LedgerTest, CashFirstSpendsCashBeforeTheGrant) {
  OpenFunded(10 * kUnit, 0, v1::FUNDING_ORDER_CASH_FIRST);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", 1 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 25));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 2u);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[0].balance_delta_micros(), -10 * kUnit);
  EXPECT_EQ(cost[0].units(), 25);
  EXPECT_EQ(cost[1].funds_type(), v1::FUNDS_TYPE_GRANT);
  EXPECT_EQ(cost[1].grant_id(), "g1");
  EXPECT_EQ(cost[1].balance_delta_micros(), -15 * kUnit);
  EXPECT_EQ(cost[1].units(), 0);
  EXPECT_EQ(Cash(), 0);
  EXPECT_EQ(Credit(), 5 * kUnit);
}

TEST_F(LedgerTest, TheSoonestExpiringGrantIsSpentFirst) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "late", 10 * kUnit, kT0 + 20 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "soon", 10 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 15));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 2u);
  EXPECT_EQ(cost[0].grant_id(), "soon");
  EXPECT_EQ(cost[0].balance_delta_micros(), -10 * kUnit);
  EXPECT_EQ(cost[0].units(), 15);
  EXPECT_EQ(cost[1].grant_id(), "late");
  EXPECT_EQ(cost[1].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(GrantOf("late").remaining_micros(), 5 * kUnit);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

TEST_F(LedgerTest, GrantsExpiringTogetherAreSpentInGrantOrderNotIdOrder) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "zeta", 10 * kUnit, kT0 + 5 * kDay));
  now_ = kT0 + kHour;
  ASSERT_APPLIED(GrantCredit("a1", "alpha", 10 * kUnit, kT0 + 5 * kDay));
  EnabledCpc("c1", 1 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 15));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 2u);
  EXPECT_EQ(cost[0].grant_id(), "zeta");
  EXPECT_EQ(cost[0].balance_delta_micros(), -10 * kUnit);
  EXPECT_EQ(cost[1].grant_id(), "alpha");
  EXPECT_EQ(cost[1].balance_delta_micros(), -5 * kUnit);
}

TEST_F(LedgerTest, AChargeSpanningThreeSourcesIsOneCostEntryPerSource) {
  OpenFunded(10 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 3 * kUnit, kT0 + 5 * kDay));
  ASSERT_APPLIED(GrantCredit("a1", "g2", 4 * kUnit, kT0 + 6 * kDay));
  EnabledCpc("c1", 1 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 9));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 3u);
  EXPECT_EQ(cost[0].grant_id(), "g1");
  EXPECT_EQ(cost[0].balance_delta_micros(), -3 * kUnit);
  EXPECT_EQ(cost[0].units(), 9);
  EXPECT_EQ(cost[1].grant_id(), "g2");
  EXPECT_EQ(cost[1].balance_delta_micros(), -4 * kUnit);
  EXPECT_EQ(cost[1].units(), 0);
  EXPECT_EQ(cost[2].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[2].balance_delta_micros(), -2 * kUnit);
  EXPECT_EQ(cost[2].units(), 0);
  EXPECT_EQ(Cash(), 8 * kUnit);
  EXPECT_EQ(Credit(), 0);
}

TEST_F(LedgerTest, ACouponFundsOnlyTheCampaignsItNames) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  EnabledCpc("c2", 1 * kUnit);
  ASSERT_APPLIED(
      GrantCredit("a1", "coupon", 10 * kUnit, kT0 + 10 * kDay, {"c1"}));

  ASSERT_APPLIED(Clicks("c2", 5));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[0].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(GrantOf("coupon").remaining_micros(), 10 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 5));
  cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].funds_type(), v1::FUNDS_TYPE_GRANT);
  EXPECT_EQ(cost[0].grant_id(), "coupon");
  EXPECT_EQ(cost[0].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(GrantOf("coupon").remaining_micros(), 5 * kUnit);
  EXPECT_EQ(Cash(), 95 * kUnit);
}

TEST_F(LedgerTest, ACouponForAnotherCampaignIsSkippedInFundingOrder) {
  // Credit first, but the soonest-expiring grant is c1's coupon: c2 is
  // charged from the open grant, then cash.
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  EnabledCpc("c2", 1 * kUnit);
  ASSERT_APPLIED(
      GrantCredit("a1", "coupon", 10 * kUnit, kT0 + 2 * kDay, {"c1"}));
  ASSERT_APPLIED(GrantCredit("a1", "open", 4 * kUnit, kT0 + 9 * kDay));

  ASSERT_APPLIED(Clicks("c2", 6));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 2u);
  EXPECT_EQ(cost[0].grant_id(), "open");
  EXPECT_EQ(cost[0].balance_delta_micros(), -4 * kUnit);
  EXPECT_EQ(cost[0].units(), 6);
  EXPECT_EQ(cost[1].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[1].balance_delta_micros(), -2 * kUnit);
  EXPECT_EQ(GrantOf("coupon").remaining_micros(), 10 * kUnit);
}

TEST_F(LedgerTest, ACouponForAnotherCampaignDoesNotBackAHold) {
  OpenFunded(0);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(
      GrantCredit("a1", "coupon", 10 * kUnit, kT0 + 10 * kDay, {"c1"}));

  ASSERT_APPLIED(Enable("c2"));
  EXPECT_EQ(SumLast(v1::FREEZE, /*frozen=*/true), 0);
  EXPECT_EQ(Held("c2"), 0);
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(SumLast(v1::FREEZE, /*frozen=*/true), 10 * kUnit);
  EXPECT_EQ(Held("c1"), 10 * kUnit);
  EXPECT_EQ(Frozen(), 10 * kUnit);
  EXPECT_EQ(Valid(), 0);
}

TEST_F(LedgerTest, AChargeAgainstAHoldDrawsOnTheSourcesAndConsumesTheHold) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_EQ(Frozen(), 50 * kUnit);

  ASSERT_APPLIED(Clicks("c1", 25));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 2u);
  EXPECT_EQ(cost[0].grant_id(), "g1");
  EXPECT_EQ(cost[0].balance_delta_micros(), -20 * kUnit);
  EXPECT_EQ(cost[1].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(cost[1].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(SumLast(v1::COST, /*frozen=*/true), -25 * kUnit);
  EXPECT_EQ(Frozen(), 25 * kUnit);
  EXPECT_EQ(Held("c1"), 25 * kUnit);
  EXPECT_EQ(Cash(), 95 * kUnit);
  EXPECT_EQ(Credit(), 0);
  EXPECT_EQ(Valid(), 70 * kUnit);
}

}  // namespace
}  // namespace billsim::testing
