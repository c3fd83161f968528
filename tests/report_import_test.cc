// Importing a TikTok Ads Manager report (src/import/): the file in four
// locales, malformed files named by line and column, each row's Cost
// charged exactly, the findings and their disputes, a second import that
// charges nothing twice, and a round trip (a ledger's charges -> report
// rows -> import) that reproduces every campaign-day to the micro-unit.
#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "import/report_importer.h"
#include "import/tiktok_report.h"
#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using import::Finding;
using import::ImportOptions;
using import::ImportResult;
using import::Report;

const std::string kDir = BILLSIM_SOURCE_DIR "/tests/data/tiktok_report/";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status ParseFile(const std::string& file, Report* out) {
  return import::ParseReport(Slurp(kDir + file), file, out);
}

TEST(TikTokReportTest, FourLocalesReadAlike) {
  const std::vector<std::tuple<std::string, std::string, std::string>> files = {
      {"en_us.csv", "en", "Spring sale, shoes"},
      {"de_de.csv", "de", "Frühling; Schuhe"},
      {"es_es.csv", "es", "Primavera, zapatos"},
      {"fr_fr.tsv", "fr", "Printemps, chaussures"}};
  for (const auto& [file, locale, name] : files) {
    SCOPED_TRACE(file);
    Report r;
    ASSERT_TRUE(ParseFile(file, &r).ok()) << ParseFile(file, &r).message();
    EXPECT_EQ(r.locale, locale);
    ASSERT_EQ(r.rows.size(), 5u);  // the total row is not a campaign-day
    const auto& first = r.rows[0];
    EXPECT_EQ(first.line, 2);
    EXPECT_EQ(first.campaign_name, name);
    EXPECT_EQ(first.campaign_id, "1780001");
    EXPECT_EQ(import::FormatDay(first.day), "2026-03-05");
    EXPECT_EQ(first.cost_micros, 1'234'560'000);
    EXPECT_EQ(first.impressions, 1'000'001);
    EXPECT_EQ(first.clicks, 5'012);
    EXPECT_EQ(first.views_2s, 200);
    EXPECT_EQ(first.views_6s, 50);
    EXPECT_EQ(r.rows[1].cost_micros, 10'000);
    EXPECT_EQ(r.rows[2].cost_micros, 12'300'000);
    EXPECT_EQ(import::FormatDay(r.rows[4].day), "2026-03-07");
    EXPECT_EQ(r.rows[4].cost_micros, 0);  // "-"
    EXPECT_EQ(r.rows[4].impressions, 0);
  }
}

TEST(TikTokReportTest, MalformedFilesNameTheLineAndColumn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bad_amount.csv", "bad_amount.csv:3: column 4 (Cost): \"12,3x\" is not an amount"},
      {"bad_negative_cost.csv", "bad_negative_cost.csv:2: column 4 (Cost): \"-1.00\""},
      {"bad_date.csv", "bad_date.csv:2: column 3 (By Day): \"2026-02-30\" is not a day"},
      {"bad_quote.csv", "bad_quote.csv:3: column 1: malformed CSV"},
      {"bad_no_cost.csv", "bad_no_cost.csv:1: no Cost column"},
      {"bad_duplicate.csv", "bad_duplicate.csv:4: column 3 (By Day): campaign c1 on 2026-03-05 "
                            "again (first on line 2)"},
      {"bad_two_currencies.csv", "bad_two_currencies.csv:3: column 7 (Currency): \"EUR\""},
      {"bad_fraction_count.csv", "bad_fraction_count.csv:2: column 5 (Impressions): \"1.5\" is "
                                 "not a whole number"},
  };
  for (const auto& [file, message] : cases) {
    SCOPED_TRACE(file);
    Report r;
    const Status st = ParseFile(file, &r);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(message), std::string::npos) << st.message();
  }
  Report r;
  // Costs that add up past what an account can hold: refused at the row,
  // not summed into an overflow.
  std::string many = "Campaign ID,By Day,Cost,Impressions\n";
  for (int i = 0; i < 1100; ++i) many += "c" + std::to_string(i) + ",2026-03-05,999999999.99,1\n";
  const Status total = import::ParseReport(many, "many.csv", &r);
  ASSERT_FALSE(total.ok());
  EXPECT_NE(total.message().find("many.csv:1002: column 3 (Cost): the report's cost passes"),
            std::string::npos)
      << total.message();
  EXPECT_FALSE(import::ParseReport("", "empty.csv", &r).ok());
  EXPECT_FALSE(import::ParseReport("Campaign ID,By Day,Cost,Impressions\n", "h.csv", &r).ok());
  const std::string wide(import::kReportCellBytesMax + 1, 'x');
  const Status st = import::ParseReport(
      "Campaign ID,By Day,Cost,Impressions\n" + wide + ",2026-03-05,1,1\n", "wide.csv", &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("wide.csv:2:"), std::string::npos) << st.message();
}

class ReportImportTest : public LedgerTest {
 protected:
  // Imports `csv` into ledger_ (the account must exist unless `open`).
  Status Import(const std::string& csv, ImportResult* out, bool disputes = false,
                bool open = false, const std::vector<v1::Event>& base = {}) {
    Report report;
    Status st = import::ParseReport(csv, "report.csv", &report);
    if (!st.ok()) return st;
    ImportOptions o;
    o.account_id = "a1";
    o.disputes = disputes;
    o.open_account = open;
    o.currency = "USD";
    return import::ImportReport(report, o, base, &ledger_, out);
  }
  static std::string Row(const std::string& campaign, const std::string& day, int64_t cost,
                         int64_t impressions, int64_t clicks = 0, int64_t v2 = 0, int64_t v6 = 0) {
    return campaign + "," + day + "," + FormatMicros(cost) + "," + std::to_string(impressions) +
           "," + std::to_string(clicks) + "," + std::to_string(v2) + "," + std::to_string(v6) +
           "\n";
  }
  static constexpr const char* kHeader =
      "Campaign ID,By Day,Cost,Impressions,Clicks (destination),2-second video views,"
      "6-second video views\n";
};

// Each row's Cost is charged to the micro-unit, whatever the billing event,
// the campaign's price before and the units: R2's repricing plan.
TEST_F(ReportImportTest, EveryRowIsChargedItsCostExactly) {
  ASSERT_EQ(OpenAccount("a1").outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(Deposit("a1", int64_t{100'000'000} * kUnit).outcome, Ledger::Outcome::kApplied);
  const std::vector<std::pair<std::string, v1::BillingEvent>> campaigns = {
      {"cpm", v1::BILLING_EVENT_CPM}, {"cpc", v1::BILLING_EVENT_CPC},
      {"cpv2", v1::BILLING_EVENT_CPV_2S}, {"cpv6", v1::BILLING_EVENT_CPV_6S}};
  std::mt19937_64 rng(20261203);
  std::map<std::string, int64_t> price;
  for (const auto& [id, billing] : campaigns) {
    price[id] = 1 + static_cast<int64_t>(rng() % 9'000'000);
    ASSERT_EQ(CreateCampaign(id, billing, price[id], v1::BUDGET_MODE_INFINITE, 0).outcome,
              Ledger::Outcome::kApplied);
    ASSERT_EQ(Enable(id).outcome, Ledger::Outcome::kApplied);
  }
  std::string csv = kHeader;
  std::map<int, int64_t> cost_of_line;
  int line = 1;
  for (int day = 16; day < 46; ++day) {
    for (const auto& [id, billing] : campaigns) {
      // Units log-uniform in [1, 10^7]; the cost at least one micro-unit a
      // unit (billsim's smallest price), up to 100,000.00.
      const int64_t units = static_cast<int64_t>(std::pow(10.0, (rng() % 7001) / 1000.0));
      const int64_t cost = units + static_cast<int64_t>(rng() % (int64_t{100'000} * kUnit));
      const int64_t imp = billing == v1::BILLING_EVENT_CPM ? units : rng() % 1000;
      const int64_t clk = billing == v1::BILLING_EVENT_CPC ? units : rng() % 100;
      const int64_t v2 = billing == v1::BILLING_EVENT_CPV_2S ? units : rng() % 100;
      const int64_t v6 = billing == v1::BILLING_EVENT_CPV_6S ? units : rng() % 100;
      const std::string date = "2026-" + std::string(day < 32 ? "01-" : "02-") +
                               (((day - 1) % 31 + 1) < 10 ? "0" : "") +
                               std::to_string((day - 1) % 31 + 1);
      csv += Row(id, date, cost, imp, clk, v2, v6);
      cost_of_line[++line] = cost;
    }
  }
  ImportResult r;
  const Status st = Import(csv, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(r.rows.size(), cost_of_line.size());
  for (const auto& row : r.rows) {
    EXPECT_EQ(row.charged_micros, cost_of_line[row.line]) << "line " << row.line;
  }
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.charged_micros, r.report_micros);
  // The campaigns keep their own price after the import.
  for (const auto& [id, billing] : campaigns) {
    EXPECT_EQ(ledger_.Spend(id)->price_micros(), price[id]) << id;
  }
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
}

// A CPM campaign whose price is the one the plan picks, with a remainder
// carried from earlier delivery: the plan restarts R2's exact charge (a
// price change) or the row's charge would be one micro-unit off.
TEST_F(ReportImportTest, ThePlanRestartsTheExactChargeAtItsOwnPrice) {
  OpenAccount("a1");
  Deposit("a1", 1000 * kUnit);
  CreateCampaign("cpm", v1::BILLING_EVENT_CPM, 2'000'500, v1::BUDGET_MODE_INFINITE, 0);
  Enable("cpm");
  Apply(MakeDelivery("a1", "cpm", v1::DeliveryReported::IMPRESSION, 333));  // 666166.5
  // 1000 impressions for 1.998501: all but the last at floor(1998500 *
  // 1000 / 999) = 2000500 micros per thousand, the campaign's own price.
  ImportResult r;
  ASSERT_TRUE(Import(std::string(kHeader) + Row("cpm", "2026-01-16", 1'998'501, 1000), &r).ok());
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].charged_micros, 1'998'501);
  EXPECT_TRUE(r.findings.empty());
}

TEST_F(ReportImportTest, FindingsAndTheirDisputes) {
  OpenAccount("a1");
  Deposit("a1", 100 * kUnit);
  GrantCredit("a1", "promo", 80 * kUnit, kT0 + 3 * kDay);
  CreateCampaign("day", v1::BILLING_EVENT_CPC, kUnit / 2, v1::BUDGET_MODE_DAY, 60 * kUnit);
  Enable("day");
  CreateCampaign("paused", v1::BILLING_EVENT_CPM, 2 * kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  Enable("paused");
  Disable("paused");
  CreateCampaign("rejected", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_TOTAL, 50 * kUnit);
  Enable("rejected");
  ReviewAd("rejected", v1::AdReviewed::REJECTED_AFTER_SERVING);
  const std::string csv = std::string(kHeader) +
                          Row("day", "2026-01-15", 70 * kUnit, 9000, 120) +   // line 2
                          Row("day", "2026-01-16", 20 * kUnit, 3000, 37) +    // line 3
                          Row("paused", "2026-01-15", 9'990'000, 4000, 3) +   // line 4
                          Row("rejected", "2026-01-16", 3 * kUnit, 10, 3) +   // line 5
                          Row("new", "2026-01-16", 5'550'000, 1234, 2);       // line 6
  ImportResult r;
  const Status st = Import(csv, &r, /*disputes=*/true);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(r.campaigns_created, 1);
  ASSERT_EQ(r.findings.size(), 3u);

  const Finding& over = r.findings[0];
  EXPECT_EQ(over.kind, Finding::Kind::kOverDailyBudget);
  EXPECT_EQ(over.line, 2);
  EXPECT_LE(over.charged_micros, 60 * kUnit);
  EXPECT_EQ(over.amount_micros, 70 * kUnit - over.charged_micros);
  // billsim charged nothing in error: the claim waits for an investigator.
  EXPECT_EQ(ledger_.DisputeState(over.dispute_id)->status(), v1::UNDER_REVIEW);

  const Finding& paused = r.findings[1];
  EXPECT_EQ(paused.kind, Finding::Kind::kAfterPause);
  EXPECT_EQ(paused.line, 4);
  EXPECT_EQ(paused.charged_micros, 9'990'000);  // charged as the report shows
  EXPECT_EQ(paused.amount_micros, 9'990'000);
  // A fault-marked charge in the window: verified and adjusted at once (R9).
  EXPECT_EQ(ledger_.DisputeState(paused.dispute_id)->status(), v1::ADJUSTED);

  const Finding& rejected = r.findings[2];
  EXPECT_EQ(rejected.kind, Finding::Kind::kAfterRejection);
  EXPECT_EQ(rejected.line, 5);
  EXPECT_EQ(ledger_.DisputeState(rejected.dispute_id)->status(), v1::ADJUSTED);

  // Rows 3 and 6 are charged as reported; credit goes first (R3).
  EXPECT_EQ(r.rows[2].line, 3);
  EXPECT_EQ(r.rows[2].charged_micros, 20 * kUnit);
  EXPECT_EQ(r.rows.back().line, 6);
  EXPECT_EQ(r.rows.back().charged_micros, 5'550'000);
  EXPECT_EQ(r.credit_used_micros + r.cash_used_micros, r.charged_micros);
  ASSERT_EQ(r.grants.size(), 1u);
  EXPECT_EQ(r.grants[0].grant_id, "promo");
  EXPECT_EQ(r.grants[0].used_micros, r.credit_used_micros);
  EXPECT_TRUE(ledger_.CheckInvariants().ok());
}

// Rows imported before are found applied (their keyed ids) and skipped:
// nothing is charged twice, the state is as it was.
TEST_F(ReportImportTest, ASecondImportChargesNothingTwice) {
  const std::string csv = std::string(kHeader) + Row("c1", "2026-01-15", 12'340'000, 999, 4) +
                          Row("c1", "2026-01-16", 1'000'000, 1, 0);
  ImportResult first, second;
  ASSERT_TRUE(Import(csv, &first, false, /*open=*/true).ok());
  EXPECT_TRUE(first.account_opened);
  EXPECT_EQ(first.charged_micros, 13'340'000);
  const std::string digest = ledger_.Digest();
  ASSERT_TRUE(Import(csv, &second, false, true).ok());
  EXPECT_EQ(second.new_events, 0u);
  for (const auto& row : second.rows) EXPECT_TRUE(row.skipped) << row.line;
  EXPECT_EQ(ledger_.Digest(), digest);
  // One more row: only it is new. The account the first import opened
  // holds what that report cost, all spent: the new row finds no funds.
  ImportResult third;
  ASSERT_TRUE(Import(csv + Row("c1", "2026-01-17", 2'000'000, 10), &third, false, true).ok());
  EXPECT_EQ(third.charged_micros, 0);
  ASSERT_EQ(third.findings.size(), 1u);
  EXPECT_EQ(third.findings[0].kind, Finding::Kind::kBeyondFunds);
  EXPECT_EQ(third.findings[0].line, 4);
  EXPECT_EQ(third.findings[0].amount_micros, 2'000'000);
  EXPECT_EQ(ledger_.Spend("c1")->billed_micros(), 13'340'000);
}

TEST_F(ReportImportTest, RefusalsNameTheRowAndChangeNothingOfTheReport) {
  OpenAccount("a1");
  Deposit("a1", 100 * kUnit);
  OpenAccount("other");
  CreateCampaign("theirs", v1::BILLING_EVENT_CPM, kUnit, v1::BUDGET_MODE_INFINITE, 0, "other");
  now_ += 10 * kDay;
  Deposit("a1", kUnit);  // the account's clock: 2026-01-25
  ImportResult r;
  Status st = Import(std::string(kHeader) + Row("c1", "2026-01-20", kUnit, 10), &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("report.csv:2: column 2 (By Day): 2026-01-20 is a day before"),
            std::string::npos)
      << st.message();
  st = Import(std::string(kHeader) + Row("c1", "2026-01-25", kUnit, 0, 7), &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("report.csv:2: column 4 (Impressions): no impressions"),
            std::string::npos)
      << st.message();
  st = Import(std::string(kHeader) + Row("theirs", "2026-01-25", kUnit, 10), &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("column 1 (Campaign ID): campaign theirs is account other's"),
            std::string::npos)
      << st.message();
  ImportOptions o;
  o.account_id = "nobody";
  Report report;
  ASSERT_TRUE(import::ParseReport(std::string(kHeader) + Row("c1", "2026-01-25", kUnit, 10),
                                  "report.csv", &report)
                  .ok());
  st = import::ImportReport(report, o, {}, &ledger_, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--account nobody: no such account"), std::string::npos);
}

// A ledger's own charges, written as a report (campaign by local day, the
// cost to the micro-unit) and imported over the same setup, are charged
// again exactly, campaign-day by campaign-day.
TEST_F(ReportImportTest, RoundTripReproducesEveryCampaignDay) {
  std::vector<v1::Event> setup = {
      MakeOpenAccount("a1", 330), MakeDeposit("a1", 20'000 * kUnit),
      MakeGrant("a1", "promo", 500 * kUnit, kT0 + 3 * kDay + 7 * kHour),
      MakeCampaign("a1", "cpm", v1::BILLING_EVENT_CPM, 3'333'333, v1::BUDGET_MODE_INFINITE, 0),
      MakeStatus("a1", "cpm", v1::CampaignStatusChanged::ENABLE),
      MakeCampaign("a1", "cpc", v1::BILLING_EVENT_CPC, 470'000, v1::BUDGET_MODE_TOTAL,
                   15'000 * kUnit),
      MakeStatus("a1", "cpc", v1::CampaignStatusChanged::ENABLE),
      MakeCampaign("a1", "cpv", v1::BILLING_EVENT_CPV_6S, 21'000, v1::BUDGET_MODE_DAY, 80 * kUnit),
      MakeStatus("a1", "cpv", v1::CampaignStatusChanged::ENABLE)};
  for (const auto& e : setup) ASSERT_EQ(Apply(e).outcome, Ledger::Outcome::kApplied);
  const int32_t offset_us_min = 330;
  auto local_day = [&](int64_t t) {
    return (t + offset_us_min * kMinute) / kDay;  // times here are after 1970
  };
  // Delivery at assorted times of six local days, every kind.
  std::mt19937_64 rng(7);
  std::map<std::pair<std::string, int64_t>, std::array<int64_t, 5>> units;  // by kind 1..4
  const std::vector<std::string> ids = {"cpm", "cpc", "cpv"};
  const int64_t first_day = local_day(kT0) + 1;
  for (int64_t day = first_day; day < first_day + 6; ++day) {
    const int64_t start = day * kDay - offset_us_min * kMinute;
    std::vector<int64_t> times;
    for (int i = 0; i < 12; ++i) times.push_back(start + kHour + rng() % (22 * kHour));
    std::sort(times.begin(), times.end());
    for (int64_t t : times) {
      now_ = t;
      const std::string& id = ids[rng() % ids.size()];
      const auto kind = static_cast<Kind>(1 + rng() % 4);
      const int64_t count = 1 + rng() % (kind == v1::DeliveryReported::IMPRESSION ? 90'000 : 700);
      ASSERT_EQ(Apply(MakeDelivery("a1", id, kind, count)).outcome, Ledger::Outcome::kApplied);
      units[{id, day}][kind] += count;
    }
  }
  std::map<std::pair<std::string, int64_t>, int64_t> cost;
  const uint32_t account = ledger_.FindAccount("a1");
  for (const Entry& e : sink_.entries) {
    if (e.kind != v1::COST || e.account != account) continue;
    cost[{std::string(ledger_.campaign_id(e.campaign)), local_day(e.time_us)}] -= e.balance_delta;
  }
  // The report, as an export would have it.
  std::string csv = "Campaign name,Campaign ID,By Day,Cost,Impressions,Clicks (destination),"
                    "2-second video views,6-second video views,Currency\n";
  for (const auto& [key, u] : units) {
    const auto& [id, day] = key;
    csv += "Campaign " + id + "," + id + "," + import::FormatDay(day) + ",\"$" +
           FormatMicros(cost[key]) + "\"," + std::to_string(u[1]) + "," + std::to_string(u[2]) +
           "," + std::to_string(u[3]) + "," + std::to_string(u[4]) + ",USD\n";
  }
  csv += "Total,,,,,,,,\n";

  Ledger fresh;
  Report report;
  ASSERT_TRUE(import::ParseReport(csv, "roundtrip.csv", &report).ok());
  ImportOptions o;
  o.account_id = "a1";
  ImportResult r;
  const Status st = import::ImportReport(report, o, setup, &fresh, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(r.rows.size(), units.size());
  int64_t total = 0;
  for (const auto& row : r.rows) {
    const std::pair<std::string, int64_t> key(row.campaign_id, row.day);
    EXPECT_EQ(row.charged_micros, cost[key])
        << row.campaign_id << " " << import::FormatDay(row.day);
    total += row.charged_micros;
  }
  EXPECT_GT(total, 0);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(fresh.Balance("a1")->total_spent(), ledger_.Balance("a1")->total_spent());
  EXPECT_TRUE(fresh.CheckInvariants().ok());
}

}  // namespace
}  // namespace billsim::testing
