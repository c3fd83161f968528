// CampaignUpdated: a running campaign's budget, budget mode and price
// change (R2, R4, R11). The fixture checks the invariants, R12 and the
// entries' running balances after every event.
#include <string>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::HasSubstr;

class LedgerUpdateTest : public LedgerTest {
 protected:
  v1::Event MakeUpdate(const std::string& campaign, std::optional<v1::BudgetMode> mode,
                       std::optional<int64_t> budget, std::optional<int64_t> price = {},
                       const std::string& account = "a1") {
    v1::Event e = NewEvent();
    auto* m = e.mutable_campaign_updated();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    if (mode) m->set_budget_mode(*mode);
    if (budget) m->set_budget_micros(*budget);
    if (price) m->set_price_micros(*price);
    return e;
  }
  Ledger::Result Update(const std::string& campaign, std::optional<v1::BudgetMode> mode,
                        std::optional<int64_t> budget, std::optional<int64_t> price = {}) {
    return Apply(MakeUpdate(campaign, mode, budget, price));
  }
  void ExpectRefused(const Ledger::Result& r, const std::string& field,
                     const std::string& words) {
    EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
    EXPECT_EQ(r.field, field);
    EXPECT_THAT(r.reason, HasSubstr(words));
  }
};

TEST_F(LedgerUpdateTest, LoweringALifetimeBudgetReturnsTheHoldAboveItAtOnce) {
  OpenFunded(300 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 120 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 20));
  EXPECT_EQ(Held("c1"), 100 * kUnit);
  ASSERT_APPLIED(Update("c1", {}, 70 * kUnit));
  ASSERT_EQ(LastOf(v1::CAMPAIGN_UPDATED).size(), 1u);
  EXPECT_THAT(LastOf(v1::CAMPAIGN_UPDATED)[0].note(), HasSubstr("budget 120.000000 -> 70.000000"));
  EXPECT_EQ(SumLast(v1::RETURN_OF_REMAINING_BUDGET, true), -50 * kUnit);
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  EXPECT_EQ(Cash(), 280 * kUnit);
  EXPECT_EQ(Valid(), 230 * kUnit);
  EXPECT_EQ(SpendOf("c1").budget_micros(), 70 * kUnit);
  // The new cap binds: 50 more clicks are billed, the rest is over budget.
  ASSERT_APPLIED(Clicks("c1", 60));
  EXPECT_EQ(Billed("c1"), 70 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 10);
}

TEST_F(LedgerUpdateTest, RaisingABudgetHoldsMoreAsFarAsFundsAllow) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  ASSERT_APPLIED(Update("c1", {}, 150 * kUnit));
  EXPECT_EQ(SumLast(v1::FREEZE, true), 40 * kUnit);  // the valid balance, no more
  EXPECT_EQ(Held("c1"), 100 * kUnit);
  EXPECT_EQ(Valid(), 0);
  // A deposit tops the short hold up to the new budget (R4).
  ASSERT_APPLIED(Deposit("a1", 80 * kUnit));
  EXPECT_EQ(Held("c1"), 150 * kUnit);
  EXPECT_EQ(Valid(), 30 * kUnit);
}

TEST_F(LedgerUpdateTest, ABudgetBelowWhatWasBilledIsRefusedAndChangesNothing) {
  OpenFunded(300 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 120 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 80));
  ExpectRefused(Update("c1", {}, 70 * kUnit), "campaign_updated.budget_micros",
                "a lifetime budget of 70.000000 is below the 80.000000 campaign \"c1\" was billed already");
  EXPECT_EQ(SpendOf("c1").budget_micros(), 120 * kUnit);
  ASSERT_APPLIED(Update("c1", {}, 80 * kUnit));  // equal is allowed: nothing left to hold
  EXPECT_EQ(Held("c1"), 0);
}

TEST_F(LedgerUpdateTest, ADailyBudgetBelowTodaysSpendIsRefusedUntilTheNextLocalDay) {
  // UTC+05:30: the local day turns at 18:30 UTC.
  OpenFunded(1000 * kUnit, 330);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 100 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 80));
  ExpectRefused(Update("c1", {}, 70 * kUnit), "campaign_updated.budget_micros",
                "a daily budget of 70.000000 is below the 80.000000 campaign \"c1\" was billed today");
  now_ = kT0 + 18 * kHour + 31 * kMinute;  // the next local day
  ASSERT_APPLIED(Update("c1", {}, 70 * kUnit));
  // The new day's hold is the new budget: the renewal topped it up to
  // 100.00, the update returned 30.00.
  EXPECT_EQ(Held("c1"), 70 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 75));
  EXPECT_EQ(Billed("c1"), 150 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 5);
}

TEST_F(LedgerUpdateTest, APriceChangeRestartsTheExactCumulativeChargeAtTheUpdate) {
  OpenFunded(100 * kUnit);
  // CPM at 1.000001 per thousand: each impression costs 1000.001 micros.
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPM, 1'000'001, v1::BUDGET_MODE_INFINITE, 0));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Deliver("c1", v1::DeliveryReported::IMPRESSION, 999));
  EXPECT_EQ(Billed("c1"), 999'000);  // floor(999 * 1000.001)
  ASSERT_APPLIED(Update("c1", {}, {}, 2'000'000));
  EXPECT_THAT(LastOf(v1::CAMPAIGN_UPDATED)[0].note(), HasSubstr("price 1.000001 -> 2.000000"));
  // One impression at the new price is 2000 micros; counting from the start
  // at the new price would charge floor(1000 * 2000) - 999000 = 1001000.
  ASSERT_APPLIED(Deliver("c1", v1::DeliveryReported::IMPRESSION, 1));
  EXPECT_EQ(Billed("c1"), 1'001'000);
  ASSERT_APPLIED(Deliver("c1", v1::DeliveryReported::IMPRESSION, 1));
  EXPECT_EQ(Billed("c1"), 1'003'000);
  EXPECT_EQ(SpendOf("c1").price_micros(), 2'000'000);

  // The restart survives a snapshot, and both ledgers go on alike.
  v1::LedgerState state;
  ledger_.SaveState(&state);
  Ledger copy;
  ASSERT_TRUE(copy.RestoreState(state).ok());
  EXPECT_EQ(copy.Digest(), ledger_.Digest());
  const v1::Event more = MakeDelivery("a1", "c1", v1::DeliveryReported::IMPRESSION, 3);
  ASSERT_APPLIED(Apply(more));
  ASSERT_EQ(copy.Apply(more, nullptr).outcome, Ledger::Outcome::kApplied);
  EXPECT_EQ(copy.Digest(), ledger_.Digest());
  EXPECT_EQ(copy.Spend("c1")->billed_micros(), 1'009'000);
}

TEST_F(LedgerUpdateTest, ARestoredStateWhoseChargeDoesNotMatchItsRepricingIsRefused) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1'500'000);
  ASSERT_APPLIED(Clicks("c1", 3));
  ASSERT_APPLIED(Update("c1", {}, {}, 2'000'000));
  ASSERT_APPLIED(Clicks("c1", 2));  // 4.50 + 4.00
  v1::LedgerState state;
  ledger_.SaveState(&state);
  ASSERT_TRUE(state.campaigns(0).repriced());
  state.mutable_campaigns(0)->set_repriced_units(2);  // charge no longer exact
  Ledger copy;
  const Status st = copy.RestoreState(state);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("R2"));
}

// R11 bounds what a campaign's billable units cost, billed or not: a
// price change leaves room only for what the bound has left after both,
// so repeated repricing of undelivered (not billed) units cannot push the
// would-be amounts past it (before the fix: an assertion after ~10 rounds).
TEST_F(LedgerUpdateTest, RepricingLeavesOnlyTheCostRoomNotBilledUnitsLeft) {
  OpenFunded(100 * kUnit);
  const int64_t top = kAmountMaxMicros;  // 10^15 a click
  ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, top, v1::BUDGET_MODE_INFINITE, 0));
  for (int round = 0; round < 12; ++round) {
    // Paused: every click is CAMPAIGN_NOT_ACTIVE at its would-be cost.
    const Ledger::Result r = Clicks("c1", 1000);
    if (round == 0) {
      ASSERT_EQ(r.outcome, Ledger::Outcome::kApplied);
    }
    ASSERT_APPLIED(Update("c1", {}, {}, round % 2 == 0 ? top - 1 : top));
  }
  // The would-be amounts stayed within R11 (the fixture checks the
  // invariants after each event), and the state still restores.
  int64_t would = 0;
  const v1::CampaignSpend spend = SpendOf("c1");
  for (const auto& nb : spend.not_billed()) would += nb.amount_micros();
  EXPECT_LE(would, 1'000'000'000'000'000'000);
  v1::LedgerState state;
  ledger_.SaveState(&state);
  Ledger copy;
  EXPECT_TRUE(copy.RestoreState(state).ok());
  // A delivery past the room is refused, naming the count.
  const Ledger::Result past = Clicks("c1", 1);
  EXPECT_EQ(past.outcome, Ledger::Outcome::kRejected);
}

TEST_F(LedgerUpdateTest, ARestoredRepricingBoundBeyondR11IsRefused) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", kAmountMaxMicros);
  ASSERT_APPLIED(Update("c1", {}, {}, kAmountMaxMicros - 1));
  v1::LedgerState state;
  ledger_.SaveState(&state);
  state.mutable_campaigns(0)->set_repriced_units_max(1'000'000'000'000'000'000);
  Ledger copy;
  const Status st = copy.RestoreState(state);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("repricing bound beyond R11"));
}

TEST_F(LedgerUpdateTest, ChangingTheBudgetModeReturnsTheOldHoldAndFreezesTheNewOne) {
  OpenFunded(500 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 100 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 30));
  ASSERT_APPLIED(Update("c1", v1::BUDGET_MODE_TOTAL, 300 * kUnit));
  EXPECT_EQ(SumLast(v1::RETURN_OF_REMAINING_BUDGET, true), -70 * kUnit);
  EXPECT_EQ(SumLast(v1::FREEZE, true), 270 * kUnit);  // 300.00 less the 30.00 billed
  EXPECT_EQ(Held("c1"), 270 * kUnit);
  ASSERT_APPLIED(Update("c1", v1::BUDGET_MODE_INFINITE, {}));
  EXPECT_EQ(Held("c1"), 0);
  EXPECT_EQ(SpendOf("c1").budget_micros(), 0);
  EXPECT_EQ(Frozen(), 0);
  // Back to a daily budget: it counts the day's spend from the update.
  ASSERT_APPLIED(Update("c1", v1::BUDGET_MODE_DAY, 50 * kUnit));
  EXPECT_EQ(Held("c1"), 50 * kUnit);
  ASSERT_APPLIED(Clicks("c1", 60));
  EXPECT_EQ(Billed("c1"), 80 * kUnit);
  EXPECT_EQ(NotBilledUnits("c1", v1::OVER_BUDGET), 10);
}

TEST_F(LedgerUpdateTest, APausedCampaignTakesTheNewBudgetWhenEnabled) {
  OpenFunded(500 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 100 * kUnit);
  ASSERT_APPLIED(Disable("c1"));
  ASSERT_APPLIED(Update("c1", {}, 200 * kUnit));
  EXPECT_TRUE(LastOf(v1::FREEZE).empty());
  EXPECT_EQ(Frozen(), 0);
  ASSERT_APPLIED(Enable("c1"));
  EXPECT_EQ(Held("c1"), 200 * kUnit);
}

// A rename leaves the old name behind in the name pool, but only until the
// names replaced outweigh the live ones: memory follows the book's names,
// not the renames in the log (it grew by every rename).
TEST_F(LedgerUpdateTest, RenamesDoNotGrowMemoryWithTheLog) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  const uint64_t before = ledger_.string_pool_bytes();
  std::string name;
  for (int i = 0; i < 40'000; ++i) {
    v1::Event e = MakeUpdate("c1", {}, {});
    name = std::string(200, static_cast<char>('a' + i % 2)) + std::to_string(i);
    e.mutable_campaign_updated()->set_name(name);
    ASSERT_APPLIED(Apply(e));
  }
  // 40,000 renames of about 205 bytes each are 8 MB; the pool may hold
  // twice its live names and 2 MiB of dead ones.
  EXPECT_LT(ledger_.string_pool_bytes() - before, uint64_t{3} << 20);
  EXPECT_EQ(ledger_.campaign_name(ledger_.FindCampaign("c1")), name);
  v1::LedgerState state;
  ledger_.SaveState(&state);
  Ledger restored;
  ASSERT_TRUE(restored.RestoreState(state).ok());
  EXPECT_EQ(restored.Digest(), ledger_.Digest());
  EXPECT_EQ(restored.campaign_name(restored.FindCampaign("c1")), name);
}

TEST_F(LedgerUpdateTest, MalformedUpdatesAreRefusedNamingTheField) {
  OpenFunded(500 * kUnit);
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 100 * kUnit);
  ExpectRefused(Update("c1", {}, {}), "campaign_updated", "changes nothing");
  ExpectRefused(Update("nope", {}, 100 * kUnit), "campaign_updated.campaign_id",
                "unknown campaign \"nope\"");
  ExpectRefused(Update("c1", {}, {}, 0), "campaign_updated.price_micros", "must be from 1");
  ExpectRefused(Update("c1", {}, 10 * kUnit), "campaign_updated.budget_micros",
                "a finite budget must be from 50.000000");
  ExpectRefused(Update("c1", v1::BUDGET_MODE_INFINITE, 100 * kUnit),
                "campaign_updated.budget_micros", "must be 0 with BUDGET_MODE_INFINITE");
  ExpectRefused(Update("c1", v1::BUDGET_MODE_UNSPECIFIED, 100 * kUnit),
                "campaign_updated.budget_mode", "must be BUDGET_MODE_DAY");
  ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0));
  ExpectRefused(Update("c2", v1::BUDGET_MODE_DAY, {}), "campaign_updated.budget_micros",
                "(the campaign's; set budget_micros)");
  ASSERT_APPLIED(Delete("c1"));
  ExpectRefused(Update("c1", {}, 200 * kUnit), "campaign_updated.campaign_id",
                "a deleted campaign cannot change");
}

}  // namespace
}  // namespace billsim::testing
