// The JSON that billsim prints (audit check, history and balance, the stress
// report) parses back whatever bytes its strings hold: a quote, a backslash,
// control characters, and bytes that are not UTF-8 (a file path or a
// system's message may hold them). Keys keep their order and numbers stay
// numbers (issue 12: JSON comes from one library, not by hand).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/checker.h"
#include "stress/stress.h"

namespace billsim {
namespace {

using Json = nlohmann::ordered_json;

// As odd as an id the ledger accepts (valid UTF-8) can be.
const std::string kOddId = "a\"b\\c\x01" "d\n\t\x1f" "e\xc3\xa9";
// A path with bytes that are not UTF-8, as the file system allows.
const std::string kNotUtf8 = "/tmp/lo\xff" "g\"\\";
// What that path prints as: each byte that is not UTF-8 becomes U+FFFD.
const std::string kNotUtf8Printed = "/tmp/lo\xef\xbf\xbd" "g\"\\";

std::vector<std::string> Keys(const Json& j) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  return keys;
}

// One document on one line: parsed, or a failure showing the line.
Json ParseLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "not one line: " << line;
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
  return j;
}

audit::AuditEntry OddEntry(uint64_t log_seq) {
  audit::AuditEntry a;
  a.log_seq = log_seq;
  a.entry.set_seq(log_seq + 100);
  a.entry.set_account_id(kOddId);
  a.entry.set_campaign_id(kOddId);
  a.entry.set_note(kOddId);
  a.entry.set_balance_delta_micros(-5'000'000);
  return a;
}

TEST(JsonOutputTest, CheckReportParsesBackWhateverItsStringsHold) {
  audit::CheckReport r;
  r.checks.push_back({kOddId, 7, "events", audit::CheckReport::State::kFailed});
  r.checks.push_back({"replays", 3, "replays", audit::CheckReport::State::kNotRun});
  r.violation = audit::Violation{12, 3, kOddId, "conservation (R12)", "odd \"" + kOddId + "\""};
  r.last_seq = 12;
  r.digest = "00ff";
  r.tail_fault = kNotUtf8;
  std::ostringstream out;
  audit::WriteCheckReport(r, true, out);
  const Json j = ParseLine(out.str());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(Keys(j), (std::vector<std::string>{"ok", "last_seq", "digest", "checks",
                                               "violation", "tail_fault",
                                               "unknown_field_events"}));
  EXPECT_EQ(j["ok"], false);
  EXPECT_TRUE(j["last_seq"].is_number_unsigned());
  EXPECT_EQ(j["last_seq"], 12u);
  ASSERT_EQ(j["checks"].size(), 2u);
  EXPECT_EQ(Keys(j["checks"][0]), (std::vector<std::string>{"name", "count", "unit", "result"}));
  EXPECT_EQ(j["checks"][0]["name"], kOddId);
  EXPECT_EQ(j["checks"][0]["count"], 7u);
  EXPECT_EQ(j["checks"][0]["result"], "FAILED");
  EXPECT_EQ(j["checks"][1]["result"], "not run");
  EXPECT_EQ(Keys(j["violation"]),
            (std::vector<std::string>{"log_seq", "entry_seq", "account", "check", "what"}));
  EXPECT_EQ(j["violation"]["account"], kOddId);
  EXPECT_EQ(j["violation"]["what"], "odd \"" + kOddId + "\"");
  EXPECT_EQ(j["tail_fault"], kNotUtf8Printed);
}

TEST(JsonOutputTest, CheckReportWithoutViolationHasNull) {
  audit::CheckReport r;
  std::ostringstream out;
  audit::WriteCheckReport(r, true, out);
  const Json j = ParseLine(out.str());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j["violation"].is_null());
  EXPECT_TRUE(j["checks"].is_array());
  EXPECT_EQ(out.str().rfind("{\"ok\":true,\"last_seq\":0,", 0), 0u) << out.str();
}

TEST(JsonOutputTest, AuditHistoryLinesParseBackWithTheirLogSequence) {
  const std::vector<audit::AuditEntry> entries = {OddEntry(3), OddEntry(0)};
  std::ostringstream out;
  audit::WriteAuditHistory(entries, Format::kJson, out);
  std::istringstream lines(out.str());
  std::string line;
  for (const audit::AuditEntry& a : entries) {
    ASSERT_TRUE(std::getline(lines, line));
    const Json j = ParseLine(line + "\n");
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(Keys(j), (std::vector<std::string>{"log_seq", "entry"}));
    EXPECT_TRUE(j["log_seq"].is_number_unsigned()) << line;
    EXPECT_EQ(j["log_seq"], a.log_seq);
    // The entry is Protobuf's JSON of the message: int64 as strings.
    EXPECT_EQ(j["entry"]["note"], kOddId);
    EXPECT_EQ(j["entry"]["account_id"], kOddId);
    EXPECT_EQ(j["entry"]["balance_delta_micros"], "-5000000");
  }
  EXPECT_FALSE(std::getline(lines, line));
}

TEST(JsonOutputTest, BalanceAsOfParsesBack) {
  audit::BalanceAsOf b;
  b.as_of_us = 1'768'435'200'000'000;
  b.last_seq = 9;
  b.balance.set_account_id(kOddId);
  b.balance.set_cash_balance(253'000'000);
  b.entries = {OddEntry(1), OddEntry(2)};
  std::ostringstream out;
  audit::WriteBalanceAsOf(b, Format::kJson, out);
  const Json j = ParseLine(out.str());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(Keys(j), (std::vector<std::string>{"as_of_us", "last_seq", "balance", "entries"}));
  EXPECT_EQ(j["as_of_us"], b.as_of_us);
  EXPECT_EQ(j["balance"]["account_id"], kOddId);
  EXPECT_EQ(j["balance"]["cash_balance"], "253000000");
  ASSERT_EQ(j["entries"].size(), 2u);
  EXPECT_EQ(j["entries"][1]["log_seq"], 2u);
  EXPECT_EQ(j["entries"][1]["entry"]["note"], kOddId);
}

TEST(JsonOutputTest, StressReportParsesBackWithItsFiguresAsNumbers) {
  stress::StressOptions o;
  o.connections = 3;
  stress::StressReport r;
  r.events_sent = 302'500;
  r.setup_events_per_s = 1234.6;
  r.setup_seconds = 1.23456;
  r.acked_events_per_s = 99.4;
  r.stream_seconds = 2.5;
  r.latency_p99_us = 870;
  r.rejected[kOddId] = 2;
  r.rejected["campaign_id"] = 3;
  r.first_error = kNotUtf8;
  r.log_dir = kOddId;
  r.consistent = true;
  const Json j = ParseLine(stress::ReportJson(o, r));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(Keys(j), (std::vector<std::string>{
                         "events_sent", "events_acked", "setup_events", "setup_events_per_s",
                         "setup_seconds", "acked_before", "acked_events_per_s", "seconds",
                         "connections", "batch", "batches", "resent_batches", "reconnects",
                         "ack_latency_us", "rejected_total", "rejected", "errors", "checked",
                         "accounts_checked", "balance_mismatches", "log_events", "durable_seq",
                         "lost", "duplicated", "consistent", "first_error", "log_dir"}));
  EXPECT_EQ(j["events_sent"], 302'500u);
  // Rates are whole numbers and times keep three decimals, as "%.0f" and
  // "%.3f" printed them.
  EXPECT_TRUE(j["setup_events_per_s"].is_number_integer());
  EXPECT_EQ(j["setup_events_per_s"], 1235);
  EXPECT_EQ(j["acked_events_per_s"], 99);
  EXPECT_DOUBLE_EQ(j["setup_seconds"].get<double>(), 1.235);
  EXPECT_EQ(j["connections"], 3u);
  EXPECT_EQ(j["ack_latency_us"]["p99"], 870);
  EXPECT_EQ(j["rejected_total"], 5u);
  EXPECT_EQ(j["rejected"][kOddId], 2u);
  EXPECT_EQ(j["consistent"], true);
  EXPECT_EQ(j["first_error"], kNotUtf8Printed);
  EXPECT_EQ(j["log_dir"], kOddId);
  const std::string text = j.dump();
  EXPECT_NE(text.find("\"setup_events_per_s\":1235,\"setup_seconds\":1.235,"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace billsim
