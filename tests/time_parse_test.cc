// Tests of strict time parsing (src/util/time_parse.h) and of ISO 8601 times
// in event files (src/scenario/time_fields.h, through the loaders).
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "scenario/event_source.h"
#include "scenario/scenario_loader.h"
#include "scenario/time_fields.h"
#include "test_support.h"
#include "util/money.h"
#include "util/time_parse.h"

namespace billsim {
namespace {

constexpr int64_t k20260115 = 1'768'435'200'000'000;  // 2026-01-15T00:00:00Z

int64_t Parsed(const std::string& text) {
  int64_t us = -42;
  const Status st = ParseTimeUs(text, "--as-of", &us);
  EXPECT_TRUE(st.ok()) << text << ": " << st.ToString();
  return us;
}

// The refusal's message, which must name the option and the value.
std::string RefusalOf(const std::string& text) {
  int64_t us = -42;
  const Status st = ParseTimeUs(text, "--as-of", &us);
  EXPECT_FALSE(st.ok()) << text << " was accepted as " << us;
  EXPECT_EQ(us, -42) << text << ": output written on failure";
  EXPECT_NE(st.message().find("--as-of"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("\"" + text + "\""), std::string::npos) << st.message();
  return st.message();
}

TEST(ParseTimeUsTest, AcceptsMicrosecondsDatesAndRfc3339) {
  EXPECT_EQ(Parsed("0"), 0);
  EXPECT_EQ(Parsed("1768435200000000"), k20260115);
  EXPECT_EQ(Parsed("2026-01-15"), k20260115);
  EXPECT_EQ(Parsed("2026-01-15T00:00:00Z"), k20260115);
  EXPECT_EQ(Parsed("2026-01-15T09:30:00Z"), k20260115 + 34'200'000'000);
  EXPECT_EQ(Parsed("2026-01-15T09:30:00.25Z"), k20260115 + 34'200'250'000);
  EXPECT_EQ(Parsed("2026-01-15T09:30:00.000001Z"), k20260115 + 34'200'000'001);
  EXPECT_EQ(Parsed("2026-01-15T10:30:00+01:00"), k20260115 + 34'200'000'000);
  EXPECT_EQ(Parsed("2024-02-29"), 1'709'164'800'000'000);  // a leap day
  EXPECT_EQ(Parsed("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseTimeUsTest, AcceptsTheWholeDocumentedRange) {
  EXPECT_EQ(Parsed("2200-01-01T00:00:00Z"), kTimeMaxUs);
  EXPECT_EQ(Parsed("2200-01-01"), kTimeMaxUs);
  EXPECT_EQ(Parsed(std::to_string(kTimeMaxUs)), kTimeMaxUs);
}

TEST(ParseTimeUsTest, RefusesDatesThatDoNotExistInsteadOfNormalising) {
  RefusalOf("2026-02-30");            // was 2026-03-02
  RefusalOf("2026-13-45");            // was 2027-02-14
  RefusalOf("2025-02-29");            // not a leap year
  RefusalOf("2026-01-15T24:00:00Z");
  RefusalOf("2026-01-15T09:60:00Z");
  RefusalOf("2026-00-10");
}

TEST(ParseTimeUsTest, RefusesTrailingTextAndMissingZones) {
  RefusalOf("2026-01-15T09:30:00Zjunk");
  RefusalOf("2026-01-15T09:30:00");   // no zone: no instant
  RefusalOf("2026-01-15T09:30Z");
  RefusalOf("2026-01-15 09:30:00Z");
  RefusalOf(" 2026-01-15");
  RefusalOf("2026-01-15 ");
  RefusalOf("2026-01-15x");
  RefusalOf("2026-1-15");
  RefusalOf("+2026-01-15");
  RefusalOf("yesterday");
  RefusalOf("");
  RefusalOf("12abc");
  RefusalOf("infinite-future");
  RefusalOf("2026-01-15T09:30:00.Z");
  RefusalOf("2026-01-15T09:30:00+0100");
}

TEST(ParseTimeUsTest, RefusesTimesOutsideTheDocumentedRange) {
  EXPECT_NE(RefusalOf("9223372036854775807").find("2200-01-01"), std::string::npos);
  EXPECT_NE(RefusalOf(std::to_string(kTimeMaxUs + 1)).find("2200-01-01"), std::string::npos);
  RefusalOf("2200-01-01T00:00:00.000001Z");
  RefusalOf("9999-12-31");
  RefusalOf("99999999999999999999");  // past int64
  RefusalOf("-1");
  RefusalOf("1969-12-31T23:59:59Z");
}

TEST(ParseTimeUsTest, RefusesPrecisionBeyondAMicrosecond) {
  EXPECT_NE(RefusalOf("2026-01-15T09:30:00.0000001Z").find("microsecond"), std::string::npos);
  EXPECT_EQ(Parsed("2026-01-15T09:30:00.123456000Z"), k20260115 + 34'200'123'456);
}

// --- time strings in event files ---------------------------------------------

std::string Rewritten(std::string text) {
  const Status st = RewriteTimeStrings("f", 1, &text);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return text;
}

TEST(RewriteTimeStringsTest, TurnsTimeStringsIntoIntegersAndLeavesTheRest) {
  EXPECT_EQ(Rewritten(R"({"event_id": "7", "time_us": "2026-01-15", "x": "2026-01-15"})"),
            R"({"event_id": "7", "time_us": 1768435200000000, "x": "2026-01-15"})");
  EXPECT_EQ(Rewritten(R"({"timeUs":"2026-01-15T00:00:00Z"})"), R"({"timeUs":1768435200000000})");
  EXPECT_EQ(Rewritten("events { time_us: \"2026-01-15\" # \"time_us\": \"bad\"\n"
                      "  credit_granted { expires_at_us: '2026-01-16' name: \"time_us\" } }"),
            "events { time_us: 1768435200000000 # \"time_us\": \"bad\"\n"
            "  credit_granted { expires_at_us: 1768521600000000 name: \"time_us\" } }");
  // Integers, as numbers or as proto3 JSON's strings, are Protobuf's to read.
  EXPECT_EQ(Rewritten(R"({"time_us": "-5", "window_end_us": 12})"),
            R"({"time_us": "-5", "window_end_us": 12})");
  // A field's name as a value is not a key.
  EXPECT_EQ(Rewritten(R"({"a": "time_us", "b": "2026-01-15"})"),
            R"({"a": "time_us", "b": "2026-01-15"})");
}

TEST(RewriteTimeStringsTest, RefusalNamesFileLineFieldAndValue) {
  std::string text = "{\n\"event_id\": 1,\n\"window_start_us\": \"2026-02-30\"}";
  const std::string before = text;
  const Status st = RewriteTimeStrings("events.json", 1, &text);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(text, before);
  EXPECT_NE(st.message().find("events.json:3: field window_start_us"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("\"2026-02-30\""), std::string::npos) << st.message();
}

class EventFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.sub(name);
    std::ofstream(path) << text;
    return path;
  }
  test_support::TempDir dir_;
};

TEST_F(EventFileTest, JsonLinesAcceptIsoTimes) {
  const std::string path = Write(
      "e.jsonl",
      R"({"event_id": "1", "time_us": "2026-01-15T00:00:00Z", "account_opened": {"account_id": "a", "currency": "EUR"}})"
      "\n"
      R"({"event_id": "2", "time_us": 1768435200000001, "credit_granted": {"account_id": "a", "grant_id": "g", "amount_micros": "5", "expires_at_us": "2026-02-01"}})"
      "\n");
  std::vector<v1::Event> events;
  const Status st = LoadEvents(path, &events);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].time_us(), k20260115);
  EXPECT_EQ(events[1].time_us(), k20260115 + 1);
  EXPECT_EQ(events[1].credit_granted().expires_at_us(), 1'769'904'000'000'000);
}

TEST_F(EventFileTest, JsonLinesRefusalNamesTheLine) {
  const std::string path = Write(
      "e.jsonl", "{\"event_id\": \"1\", \"time_us\": 5, \"clock_advanced\": {}}\n\n"
                 "{\"event_id\": \"2\", \"time_us\": \"2026-01-15T09:30:00\", "
                 "\"clock_advanced\": {}}\n");
  std::vector<v1::Event> events;
  const Status st = LoadEvents(path, &events);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("e.jsonl:3: field time_us"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("2026-01-15T09:30:00\""), std::string::npos) << st.message();
}

TEST_F(EventFileTest, TextScenarioAcceptsIsoTimesAndNamesTheLineOfABadOne) {
  const std::string good = Write("s.textproto",
                                 "title: \"iso\"\n"
                                 "events { event_id: 1 time_us: \"2026-01-15\"\n"
                                 "  clock_advanced {} }\n");
  v1::Scenario scenario;
  Status st = LoadScenario(good, &scenario);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(scenario.events(0).time_us(), k20260115);

  const std::string bad = Write("b.textproto",
                                "title: \"iso\"\n"
                                "events { event_id: 1\n"
                                "  time_us: \"2026-01-15T09:30:00Zjunk\" clock_advanced {} }\n");
  st = LoadScenario(bad, &scenario);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("b.textproto:3: field time_us"), std::string::npos)
      << st.message();
}

TEST_F(EventFileTest, JsonScenarioAcceptsIsoTimes) {
  const std::string path = Write(
      "s.json", R"({"title": "iso", "events": [{"eventId": "1", "timeUs": "2026-01-15T00:00:01Z",
                   "clockAdvanced": {}}]})");
  v1::Scenario scenario;
  const Status st = LoadScenario(path, &scenario);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(scenario.events(0).time_us(), k20260115 + 1'000'000);
}

}  // namespace
}  // namespace billsim
