// The balance report streamed view by view (report/format.h, BalanceStream)
// is the report held as one message, byte for byte, in every format.
#include <sstream>

#include "ledger_fixture.h"
#include "report/format.h"

namespace billsim::testing {
namespace {

class ReportTest : public LedgerTest {
 protected:
  // Two accounts, a scoped grant, campaigns delivered and not billed, a
  // dispute, a source with a comma (CSV quoting).
  void SetUp() override {
    OpenFunded(100 * kUnit);
    ASSERT_APPLIED(OpenAccount("a2", 60, v1::FUNDING_ORDER_CASH_FIRST));
    ASSERT_APPLIED(Deposit("a2", 7 * kUnit));
    EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_DAY, 50 * kUnit);
    EnabledCpc("c2", 2 * kUnit);
    ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 10 * kDay, {"c1"}));
    ASSERT_APPLIED(Clicks("c1", 3));
    ASSERT_APPLIED(ReviewAd("c2", v1::AdReviewed::REJECTED_BEFORE_SERVING));
    ASSERT_APPLIED(Clicks("c2", 4));
    ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_CHARGED_IN_ERROR, kT0, kT0 + kDay,
                               1 * kUnit, {v1::EVIDENCE_SPEND_REPORT}));
  }
};

TEST_F(ReportTest, StreamedJsonIsTheWholeMessagesJson) {
  v1::BalanceReport whole = ledger_.Report();
  whole.set_source("log, main");
  ASSERT_EQ(whole.accounts_size(), 2);
  ASSERT_EQ(whole.campaigns_size(), 2);
  ASSERT_EQ(whole.disputes_size(), 1);
  std::ostringstream streamed;
  WriteBalances(BalancesOf(ledger_, "log, main"), Format::kJson, streamed);
  EXPECT_EQ(streamed.str(), ToJson(whole) + "\n");
  std::ostringstream held;
  WriteBalances(whole, Format::kJson, held);
  EXPECT_EQ(held.str(), ToJson(whole) + "\n");
}

TEST_F(ReportTest, StreamedJsonOfAnEmptyLedger) {
  Ledger empty;
  BalanceStream s;
  s.summary = empty.ReportSummary();
  std::ostringstream out;
  WriteBalances(s, Format::kJson, out);
  EXPECT_EQ(out.str(), ToJson(empty.Report()) + "\n");
}

// Long lists and strings JSON must escape (some spelling the report's own
// keys) still give the whole message's bytes.
TEST(ReportJsonTest, LongListsAreTheWholeMessagesJson) {
  v1::BalanceReport whole;
  for (int i = 0; i < 2'500; ++i) {
    v1::AccountBalance* a = whole.add_accounts();
    a->set_account_id("acct \"" + std::to_string(i) + "\"],\"campaigns\":[\u00e9\n");
    a->set_currency("USD");
    a->set_cash_balance(i * 1'000'003LL - 7);
    a->set_total_spent(i % 3 == 0 ? 0 : INT64_MAX - i);
  }
  for (int i = 0; i < 1'024; ++i) {
    v1::CampaignSpend* c = whole.add_campaigns();
    c->set_campaign_id("c" + std::to_string(i));
    c->set_account_id(i % 2 ? "a1" : "");
  }
  whole.add_disputes()->set_dispute_id("d\t1");
  whole.set_source("log \"x\"");
  whole.set_events_applied(UINT64_MAX);
  std::ostringstream out;
  WriteBalances(whole, Format::kJson, out);
  EXPECT_EQ(out.str(), ToJson(whole) + "\n");
}

TEST_F(ReportTest, StreamedTableAndCsvAreTheHeldReports) {
  v1::BalanceReport whole = ledger_.Report();
  whole.set_source("log, main");
  for (Format f : {Format::kCsv, Format::kTable}) {
    std::ostringstream streamed, held;
    WriteBalances(BalancesOf(ledger_, "log, main"), f, streamed);
    WriteBalances(whole, f, held);
    EXPECT_EQ(streamed.str(), held.str());
  }
  std::ostringstream csv;
  WriteBalances(BalancesOf(ledger_, "log, main"), Format::kCsv, csv);
  EXPECT_EQ(csv.str().substr(0, csv.str().find('\n')),
            "source,account,currency,cash_balance,grant_balance,frozen_balance,valid_balance,"
            "spent,expired,adjusted");
  EXPECT_NE(csv.str().find("\n\"log, main\",a1,"), std::string::npos) << csv.str();
  EXPECT_NE(csv.str().find("\n\"log, main\",a2,"), std::string::npos) << csv.str();
}

}  // namespace
}  // namespace billsim::testing
