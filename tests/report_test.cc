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
