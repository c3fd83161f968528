// R7 (ad review and fault-marked delivery), R8 (performance is not a billing
// error), R9 (verified errors are adjusted, capped).
#include <string>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::HasSubstr;
using v1::DeliveryReported;

constexpr auto kSpend = v1::EVIDENCE_SPEND_REPORT;
constexpr auto kData = v1::EVIDENCE_DELIVERY_DATA;
constexpr auto kShot = v1::EVIDENCE_SCREENSHOT;

// --- R7 ------------------------------------------------------------------------

TEST_F(LedgerTest, RejectionBeforeServingReturnsTheHold) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
  auto ret = LastOf(v1::RETURN_OF_REMAINING_BUDGET);
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].frozen_delta_micros(), -50 * kUnit);
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(SpendOf("c1").review(), "REJECTED_BEFORE_SERVING");
  EXPECT_EQ(SpendOf("c1").status(), "ENABLE");
}

TEST_F(LedgerTest, DeliveryWhileTheAdIsRejectedIsNotBilled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
  ASSERT_APPLIED(Clicks("c1", 5));
  EXPECT_TRUE(LastOf(v1::COST).empty());
  auto nb = LastOf(v1::NOT_BILLED);
  ASSERT_EQ(nb.size(), 1u);
  EXPECT_EQ(nb[0].not_billed_reason(), v1::AD_REJECTED);
  EXPECT_EQ(nb[0].units(), 5);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

TEST_F(LedgerTest, RejectionAfterServingKeepsTheChargesBeforeIt) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_AFTER_SERVING));
  EXPECT_EQ(SumLast(v1::RETURN_OF_REMAINING_BUDGET, true), -40 * kUnit);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  EXPECT_EQ(Billed("c1"), 10 * kUnit);
  EXPECT_EQ(Cash(), 90 * kUnit);
  EXPECT_EQ(Frozen(), 0);
  EXPECT_EQ(SpendOf("c1").review(), "REJECTED_AFTER_SERVING");

  ASSERT_APPLIED(Clicks("c1", 3));
  EXPECT_EQ(NotBilledUnits("c1", v1::AD_REJECTED), 3);
  EXPECT_EQ(Cash(), 90 * kUnit);
}

TEST_F(LedgerTest, ApprovalLetsAnEnabledCampaignHoldAndDeliverAgain) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10));
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_AFTER_SERVING));
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::APPROVED));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 40 * kUnit);
  EXPECT_EQ(Held("c1"), 40 * kUnit);
  EXPECT_EQ(SpendOf("c1").review(), "APPROVED");
  ASSERT_APPLIED(Clicks("c1", 5));
  EXPECT_EQ(-SumLast(v1::COST), 5 * kUnit);
  EXPECT_EQ(Held("c1"), 35 * kUnit);
}

TEST_F(LedgerTest, ApprovalOfAPausedCampaignHoldsNothing) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
  ASSERT_APPLIED(Disable("c1"));
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::APPROVED));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Frozen(), 0);
}

TEST_F(LedgerTest, RejectionBeforeServingIsRefusedOnceDeliveryWasBilled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 1));
  auto r = ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "ad_reviewed.result");
  EXPECT_EQ(Held("c1"), 49 * kUnit);
  EXPECT_EQ(SpendOf("c1").review(), "PENDING");
  // After serving is still possible.
  EXPECT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_AFTER_SERVING));
}

TEST_F(LedgerTest, RejectionBeforeServingIsAcceptedWhenOnlyFaultMarkedDeliveryWasBilled) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 1, /*fault=*/true));
  ASSERT_EQ(Billed("c1"), 1 * kUnit);
  EXPECT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
  EXPECT_EQ(Frozen(), 0);
}

TEST_F(LedgerTest, DeliveryThatWasNeverBilledDoesNotCountAsServing) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(Clicks("c1", 4));  // not enabled: not billed
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Deliver("c1", DeliveryReported::IMPRESSION, 100));  // not billable
  EXPECT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
}

TEST_F(LedgerTest, FaultMarkedDeliveryIsChargedWhileTheAdIsRejected) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(ReviewAd("c1", v1::AdReviewed::REJECTED_BEFORE_SERVING));
  ASSERT_APPLIED(Clicks("c1", 5, /*fault=*/true));
  auto cost = LastOf(v1::COST);
  ASSERT_EQ(cost.size(), 1u);
  EXPECT_EQ(cost[0].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(cost[0].frozen_delta_micros(), 0);  // no hold: from valid
  EXPECT_EQ(SpendOf("c1").fault_billed_micros(), 5 * kUnit);
  EXPECT_EQ(Billed("c1"), 5 * kUnit);
  EXPECT_EQ(Cash(), 95 * kUnit);
}

TEST_F(LedgerTest, FaultMarkedDeliveryIsChargedOnACampaignNeverEnabled) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Clicks("c1", 3, /*fault=*/true));
  EXPECT_EQ(-SumLast(v1::COST), 3 * kUnit);
  EXPECT_EQ(SpendOf("c1").fault_billed_micros(), 3 * kUnit);
  EXPECT_EQ(Cash(), 97 * kUnit);
}

TEST_F(LedgerTest, FaultMarkedDeliveryIsChargedOnADeletedCampaign) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  ASSERT_APPLIED(Delete("c1"));
  ASSERT_APPLIED(Clicks("c1", 3, /*fault=*/true));
  EXPECT_EQ(-SumLast(v1::COST), 3 * kUnit);
  EXPECT_EQ(Cash(), 97 * kUnit);
}

TEST_F(LedgerTest, FaultMarkedDeliveryStillRespectsTheBudget) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_TOTAL, 50 * kUnit));
  ASSERT_APPLIED(Clicks("c1", 60, /*fault=*/true));
  EXPECT_EQ(-SumLast(v1::COST), 50 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 10);
  EXPECT_EQ(Cash(), 50 * kUnit);
}

TEST_F(LedgerTest, FaultMarkedDeliveryStillRespectsTheFunds) {
  OpenFunded(5 * kUnit);
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Clicks("c1", 8, /*fault=*/true));
  EXPECT_EQ(-SumLast(v1::COST), 5 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::INSUFFICIENT_FUNDS), 3);
  EXPECT_EQ(Cash(), 0);
}

TEST_F(LedgerTest, FaultMarkedDeliveryConsumesTheHoldWhenThereIsOne) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 10, /*fault=*/true));
  EXPECT_EQ(SumLast(v1::COST), -10 * kUnit);
  EXPECT_EQ(SumLast(v1::COST, true), -10 * kUnit);
  EXPECT_EQ(Held("c1"), 40 * kUnit);
  EXPECT_EQ(Valid(), 50 * kUnit);
}

// --- R8 ------------------------------------------------------------------------

class PerformanceDisputeTest
    : public LedgerTest,
      public ::testing::WithParamInterface<v1::DisputeReason> {};

TEST_P(PerformanceDisputeTest, IsDeniedWhenFiledAndMovesNoMoney) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 10, /*fault=*/true));  // there is money to claim
  now_ = kT0 + 2 * kHour;
  const std::string balance_before = Bal().SerializeAsString();
  const std::string spend_before = SpendOf("c1").SerializeAsString();
  ASSERT_APPLIED(FileDispute("d1", "c1", GetParam(), kT0, kT0 + kDay,
                             5 * kUnit, {kShot, kSpend, kData}));
  auto st = LastOf(v1::DISPUTE_STATUS);
  ASSERT_FALSE(st.empty());
  EXPECT_EQ(st.back().dispute_status(), v1::DENIED);
  EXPECT_EQ(st.back().dispute_id(), "d1");
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  const auto d = DisputeOf("d1");
  EXPECT_EQ(d.status(), v1::DENIED);
  EXPECT_THAT(d.status_note(), HasSubstr("R8"));
  EXPECT_EQ(d.adjusted_micros(), 0);
  EXPECT_EQ(Cash(), 90 * kUnit);
  EXPECT_EQ(Bal().total_adjusted(), 0);
  EXPECT_EQ(Bal().SerializeAsString(), balance_before);
  EXPECT_EQ(SpendOf("c1").SerializeAsString(), spend_before);
  // A decision on a denied dispute is refused: it is not under review.
  auto r = Decide("d1", true, 5 * kUnit);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "dispute_decided.dispute_id");
}

INSTANTIATE_TEST_SUITE_P(
    R8, PerformanceDisputeTest,
    ::testing::Values(v1::DISPUTE_REASON_POOR_PERFORMANCE,
                      v1::DISPUTE_REASON_LOW_CTR,
                      v1::DISPUTE_REASON_FEW_CONVERSIONS,
                      v1::DISPUTE_REASON_IRRELEVANT_AUDIENCE,
                      v1::DISPUTE_REASON_PERFORMANCE_GUARANTEE,
                      v1::DISPUTE_REASON_MONEY_BACK_GUARANTEE));

// --- R9 ------------------------------------------------------------------------

// a1 with 100.00; c1 CPC 1.00 unbudgeted; 10 fault-marked clicks at T0+1h
// (10.00) and 5 served clicks at T0+2h (5.00); the clock at T0+3h.
class DisputeTest : public LedgerTest {
 protected:
  void SetUp() override {
    OpenFunded(100 * kUnit);
    EnabledCpc("c1", 1 * kUnit);
    now_ = kT0 + kHour;
    ASSERT_APPLIED(Clicks("c1", 10, /*fault=*/true));
    now_ = kT0 + 2 * kHour;
    ASSERT_APPLIED(Clicks("c1", 5));
    now_ = kT0 + 3 * kHour;
    ASSERT_EQ(Cash(), 85 * kUnit);
    ASSERT_EQ(SpendOf("c1").fault_billed_micros(), 10 * kUnit);
  }
  v1::DisputeStatus LastStatus() const {
    auto st = LastOf(v1::DISPUTE_STATUS);
    return st.empty() ? v1::DISPUTE_STATUS_UNSPECIFIED
                      : st.back().dispute_status();
  }
};

TEST_F(DisputeTest, ABillingErrorWithoutDeliveryDataNeedsEvidence) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 4 * kUnit, {kShot, kSpend}));
  EXPECT_EQ(LastStatus(), v1::NEEDS_EVIDENCE);
  EXPECT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  EXPECT_EQ(Cash(), 85 * kUnit);
}

TEST_F(DisputeTest, ABillingErrorWithoutASpendReportNeedsEvidence) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR,
                             kT0, kT0 + kDay, 4 * kUnit, {kData}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  ASSERT_APPLIED(AddEvidence("d1", {kShot}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  EXPECT_EQ(Cash(), 85 * kUnit);
}

TEST_F(DisputeTest, CompletingTheEvidenceTriggersTheAutomaticAdjustment) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 4 * kUnit, {kSpend}));
  ASSERT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  now_ = kT0 + 4 * kHour;
  ASSERT_APPLIED(AddEvidence("d1", {kData}));
  auto refund = LastOf(v1::REFUND);
  ASSERT_EQ(refund.size(), 1u);
  EXPECT_EQ(refund[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(refund[0].balance_delta_micros(), 4 * kUnit);
  EXPECT_EQ(refund[0].dispute_id(), "d1");
  EXPECT_EQ(LastStatus(), v1::ADJUSTED);
  const auto d = DisputeOf("d1");
  EXPECT_EQ(d.status(), v1::ADJUSTED);
  EXPECT_EQ(d.adjusted_micros(), 4 * kUnit);
  EXPECT_EQ(Cash(), 89 * kUnit);
  EXPECT_EQ(Bal().total_adjusted(), 4 * kUnit);
  EXPECT_EQ(Bal().total_spent(), 15 * kUnit);  // spend is history
}

TEST_F(DisputeTest, TheRefundIsCappedAtTheVerifiableAmount) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR,
                             kT0, kT0 + kDay, 50 * kUnit, {kSpend, kData}));
  EXPECT_EQ(SumLast(v1::REFUND), 10 * kUnit);
  const auto d = DisputeOf("d1");
  EXPECT_EQ(d.status(), v1::ADJUSTED);
  EXPECT_EQ(d.adjusted_micros(), 10 * kUnit);
  EXPECT_EQ(d.claimed_micros(), 50 * kUnit);
  EXPECT_EQ(Cash(), 95 * kUnit);
  EXPECT_EQ(Bal().total_adjusted(), 10 * kUnit);
}

TEST_F(DisputeTest, FaultChargesBeforeTheWindowAreNotVerifiable) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0 + kHour + 1, kT0 + kDay, 4 * kUnit,
                             {kSpend, kData}));
  EXPECT_EQ(LastStatus(), v1::UNDER_REVIEW);
  EXPECT_EQ(DisputeOf("d1").verifiable_micros(), 0);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  EXPECT_EQ(Cash(), 85 * kUnit);
}

TEST_F(DisputeTest, TheWindowEndIsExclusive) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kHour, 4 * kUnit, {kSpend, kData}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::UNDER_REVIEW);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
}

TEST_F(DisputeTest, TheWindowStartIsInclusive) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0 + kHour, kT0 + kHour + 1, 4 * kUnit,
                             {kSpend, kData}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::ADJUSTED);
  EXPECT_EQ(SumLast(v1::REFUND), 4 * kUnit);
}

TEST_F(DisputeTest, ServedDeliveryIsNotVerifiable) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR,
                             kT0 + 2 * kHour, kT0 + kDay, 4 * kUnit,
                             {kSpend, kData}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::UNDER_REVIEW);
  EXPECT_EQ(DisputeOf("d1").verifiable_micros(), 0);
  EXPECT_EQ(Cash(), 85 * kUnit);
}

TEST_F(DisputeTest, AnInvestigatorDenialMovesNoMoney) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0 + 2 * kHour, kT0 + kDay, 4 * kUnit,
                             {kSpend, kData}));
  ASSERT_EQ(DisputeOf("d1").status(), v1::UNDER_REVIEW);
  ASSERT_APPLIED(Decide("d1", false, 4 * kUnit));
  EXPECT_EQ(LastStatus(), v1::DENIED);
  EXPECT_EQ(DisputeOf("d1").status(), v1::DENIED);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  EXPECT_EQ(Cash(), 85 * kUnit);
}

TEST_F(DisputeTest, AnInvestigatorVerificationRefundsAtMostWhatIsVerifiableNow) {
  // Filed before the error happened: nothing verifiable yet.
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0 + 3 * kHour, kT0 + 2 * kDay, 100 * kUnit,
                             {kSpend, kData}));
  ASSERT_EQ(DisputeOf("d1").status(), v1::UNDER_REVIEW);
  now_ = kT0 + 4 * kHour;
  ASSERT_APPLIED(Clicks("c1", 6, /*fault=*/true));
  ASSERT_EQ(Cash(), 79 * kUnit);
  now_ = kT0 + 5 * kHour;
  ASSERT_APPLIED(Decide("d1", true, 100 * kUnit));
  EXPECT_EQ(SumLast(v1::REFUND), 6 * kUnit);
  EXPECT_EQ(LastStatus(), v1::ADJUSTED);
  EXPECT_EQ(DisputeOf("d1").adjusted_micros(), 6 * kUnit);
  EXPECT_EQ(Cash(), 85 * kUnit);
}

TEST_F(DisputeTest, AnInvestigatorVerificationRefundsTheDecidedAmountWhenLess) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0 + 3 * kHour, kT0 + 2 * kDay, 100 * kUnit,
                             {kSpend, kData}));
  now_ = kT0 + 4 * kHour;
  ASSERT_APPLIED(Clicks("c1", 6, /*fault=*/true));
  ASSERT_APPLIED(Decide("d1", true, 2 * kUnit));
  EXPECT_EQ(SumLast(v1::REFUND), 2 * kUnit);
  EXPECT_EQ(DisputeOf("d1").status(), v1::ADJUSTED);
  EXPECT_EQ(DisputeOf("d1").adjusted_micros(), 2 * kUnit);
}

TEST_F(DisputeTest, ADecisionOnADisputeNotUnderReviewIsRefused) {
  ASSERT_APPLIED(FileDispute("waiting", "c1",
                             v1::DISPUTE_REASON_PLATFORM_ERROR, kT0,
                             kT0 + kDay, 1 * kUnit, {kSpend}));
  auto r = Decide("waiting", true, 1 * kUnit);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "dispute_decided.dispute_id");

  ASSERT_APPLIED(FileDispute("done", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 1 * kUnit, {kSpend, kData}));
  ASSERT_EQ(DisputeOf("done").status(), v1::ADJUSTED);
  r = Decide("done", true, 1 * kUnit);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "dispute_decided.dispute_id");

  r = Decide("nosuch", false, 0);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "dispute_decided.dispute_id");
  EXPECT_EQ(Cash(), 86 * kUnit);
}

TEST_F(DisputeTest, ASecondDisputeRecoversOnlyWhatWasNotYetAdjusted) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 4 * kUnit, {kSpend, kData}));
  EXPECT_EQ(SumLast(v1::REFUND), 4 * kUnit);
  ASSERT_APPLIED(FileDispute("d2", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR,
                             kT0, kT0 + kDay, 100 * kUnit, {kSpend, kData}));
  EXPECT_EQ(SumLast(v1::REFUND), 6 * kUnit);
  EXPECT_EQ(DisputeOf("d2").adjusted_micros(), 6 * kUnit);
  ASSERT_APPLIED(FileDispute("d3", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 1 * kUnit, {kSpend, kData}));
  EXPECT_EQ(DisputeOf("d3").status(), v1::UNDER_REVIEW);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  // Nor can an investigator give more.
  ASSERT_APPLIED(Decide("d3", true, 1 * kUnit));
  EXPECT_EQ(SumLast(v1::REFUND), 0);
  EXPECT_EQ(Cash(), 95 * kUnit);
  EXPECT_EQ(Bal().total_adjusted(), 10 * kUnit);
}

TEST_F(LedgerTest, ARefundRestoresAnUnexpiredGrantToThatGrant) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 5 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 8, /*fault=*/true));  // g1 5.00, cash 3.00
  ASSERT_EQ(Cash(), 97 * kUnit);
  now_ = kT0 + 2 * kHour;
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 8 * kUnit, {kSpend, kData}));
  auto refund = LastOf(v1::REFUND);
  ASSERT_EQ(refund.size(), 2u);
  int64_t to_grant = 0, to_cash = 0;
  for (const auto& e : refund) {
    if (e.funds_type() == v1::FUNDS_TYPE_GRANT) {
      EXPECT_EQ(e.grant_id(), "g1");
      to_grant += e.balance_delta_micros();
    } else {
      EXPECT_EQ(e.funds_type(), v1::FUNDS_TYPE_CASH);
      to_cash += e.balance_delta_micros();
    }
  }
  EXPECT_EQ(to_grant, 5 * kUnit);
  EXPECT_EQ(to_cash, 3 * kUnit);
  EXPECT_EQ(GrantOf("g1").remaining_micros(), 5 * kUnit);
  EXPECT_EQ(Cash(), 100 * kUnit);
  EXPECT_EQ(Bal().total_adjusted(), 8 * kUnit);
  EXPECT_FALSE(HasGrant("refund:d1"));
}

TEST_F(LedgerTest, ARefundRestoresTheOldestChargeFirst) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 4 * kUnit, kT0 + 10 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 4, /*fault=*/true));  // all from g1
  now_ = kT0 + 2 * kHour;
  ASSERT_APPLIED(Clicks("c1", 4, /*fault=*/true));  // all from cash
  ASSERT_EQ(Cash(), 96 * kUnit);
  now_ = kT0 + 3 * kHour;
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 4 * kUnit, {kSpend, kData}));
  auto refund = LastOf(v1::REFUND);
  ASSERT_EQ(refund.size(), 1u);
  EXPECT_EQ(refund[0].funds_type(), v1::FUNDS_TYPE_GRANT);
  EXPECT_EQ(refund[0].grant_id(), "g1");
  EXPECT_EQ(refund[0].balance_delta_micros(), 4 * kUnit);
  EXPECT_EQ(Cash(), 96 * kUnit);

  ASSERT_APPLIED(FileDispute("d2", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 4 * kUnit, {kSpend, kData}));
  refund = LastOf(v1::REFUND);
  ASSERT_EQ(refund.size(), 1u);
  EXPECT_EQ(refund[0].funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(refund[0].balance_delta_micros(), 4 * kUnit);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

TEST_F(LedgerTest, CreditFromAnExpiredGrantComesBackAsANewRefundGrant) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 5 * kUnit, kT0 + 2 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 8, /*fault=*/true));  // g1 5.00, cash 3.00
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  ASSERT_TRUE(GrantOf("g1").expired());

  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR,
                             kT0, kT0 + kDay, 8 * kUnit, {kSpend, kData}));
  auto refund = LastOf(v1::REFUND);
  int64_t to_new = 0, to_cash = 0;
  for (const auto& e : refund) {
    if (e.funds_type() == v1::FUNDS_TYPE_GRANT) {
      EXPECT_EQ(e.grant_id(), "refund:d1");
      to_new += e.balance_delta_micros();
    } else {
      to_cash += e.balance_delta_micros();
    }
  }
  EXPECT_EQ(to_new, 5 * kUnit);
  EXPECT_EQ(to_cash, 3 * kUnit);

  const auto g = GrantOf("refund:d1");
  EXPECT_EQ(g.amount_micros(), 5 * kUnit);
  EXPECT_EQ(g.remaining_micros(), 5 * kUnit);
  EXPECT_EQ(g.expires_at_us(), kT0 + 3 * kDay + 30 * kDay);
  EXPECT_TRUE(g.adjustment());
  EXPECT_FALSE(g.expired());
  // The expired grant stays expired and empty.
  EXPECT_TRUE(GrantOf("g1").expired());
  EXPECT_EQ(GrantOf("g1").remaining_micros(), 0);

  const auto b = Bal();
  EXPECT_EQ(b.cash_balance(), 100 * kUnit);
  EXPECT_EQ(b.grant_balance(), 5 * kUnit);
  EXPECT_EQ(b.total_adjusted(), 8 * kUnit);
  EXPECT_EQ(b.total_granted(), 5 * kUnit);
}

TEST_F(LedgerTest, TheRefundGrantExpiresThirtyDaysAfterTheRefund) {
  OpenFunded(100 * kUnit);
  ASSERT_APPLIED(GrantCredit("a1", "g1", 5 * kUnit, kT0 + 2 * kDay));
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 5, /*fault=*/true));
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR,
                             kT0, kT0 + kDay, 5 * kUnit, {kSpend, kData}));
  ASSERT_EQ(GrantOf("refund:d1").remaining_micros(), 5 * kUnit);

  ASSERT_APPLIED(Advance(kT0 + 33 * kDay - 1));
  EXPECT_TRUE(LastOf(v1::PROMOTION_EXPIRED).empty());
  ASSERT_APPLIED(Advance(kT0 + 34 * kDay));
  auto expired = LastOf(v1::PROMOTION_EXPIRED);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].grant_id(), "refund:d1");
  EXPECT_EQ(expired[0].balance_delta_micros(), -5 * kUnit);
  EXPECT_EQ(expired[0].time_us(), kT0 + 33 * kDay);
  EXPECT_EQ(Credit(), 0);
  EXPECT_EQ(Bal().total_expired(), 5 * kUnit);
}

TEST_F(LedgerTest, ARefundTopsUpShortHolds) {
  OpenFunded(60 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 10, /*fault=*/true));
  ASSERT_EQ(Cash(), 50 * kUnit);
  EnabledCpc("c2", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  ASSERT_EQ(Held("c2"), 50 * kUnit);

  now_ = kT0 + 2 * kHour;
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 10 * kUnit, {kSpend, kData}));
  EXPECT_EQ(SumLast(v1::REFUND), 10 * kUnit);
  auto freeze = LastOf(v1::FREEZE);
  ASSERT_EQ(freeze.size(), 1u);
  EXPECT_EQ(freeze[0].campaign_id(), "c2");
  EXPECT_EQ(freeze[0].frozen_delta_micros(), 10 * kUnit);
  EXPECT_EQ(Held("c2"), 60 * kUnit);
  EXPECT_EQ(Valid(), 0);
}

TEST_F(LedgerTest, EvidenceMayArriveInPieces) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 3, /*fault=*/true));
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 3 * kUnit, {}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  ASSERT_APPLIED(AddEvidence("d1", {kShot}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  ASSERT_APPLIED(AddEvidence("d1", {kSpend}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::NEEDS_EVIDENCE);
  EXPECT_TRUE(LastOf(v1::REFUND).empty());
  ASSERT_APPLIED(AddEvidence("d1", {kData}));
  EXPECT_EQ(DisputeOf("d1").status(), v1::ADJUSTED);
  EXPECT_EQ(SumLast(v1::REFUND), 3 * kUnit);
  EXPECT_EQ(Cash(), 100 * kUnit);
}

}  // namespace
}  // namespace billsim::testing
