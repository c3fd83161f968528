// What the TikTok sandbox (http/tiktok_api.h) rests on: campaign names and
// business centers in the ledger and its snapshots, entries that carry their
// delivery kind (also through the history index's block encoding), the
// server's stamped ids, exact money parsing; and the sandbox's calls
// themselves, driven without a server (they are pure conversations of wire
// requests): what they ask, what they answer, and how they refuse bad input.
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "history/history_block.h"
#include "http/tiktok_api.h"
#include "ledger/id_set.h"
#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class SandboxLedgerTest : public LedgerTest {};

TEST_F(SandboxLedgerTest, NamesAndBusinessCentersAreKeptAndSnapshotted) {
  v1::Event open = MakeOpenAccount("a1");
  open.mutable_account_opened()->set_business_center_id("bc-1");
  ASSERT_EQ(Apply(open).outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(Apply(MakeOpenAccount("a2")).outcome, Ledger::Outcome::kApplied);
  v1::Event c = MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0);
  c.mutable_campaign_created()->set_name("Sneakers");
  ASSERT_EQ(Apply(c).outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(Apply(MakeCampaign("a1", "c2", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0))
                .outcome,
            Ledger::Outcome::kApplied);
  v1::Event rename = NewEvent();
  rename.mutable_campaign_updated()->set_account_id("a1");
  rename.mutable_campaign_updated()->set_campaign_id("c2");
  rename.mutable_campaign_updated()->set_name("Boots");
  ASSERT_EQ(Apply(rename).outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_THAT(last_proto_[0].note(), HasSubstr("name \"\" -> \"Boots\""));

  EXPECT_EQ(ledger_.Spend("c1")->name(), "Sneakers");
  EXPECT_EQ(ledger_.Spend("c2")->name(), "Boots");
  EXPECT_EQ(ledger_.Balance("a1")->business_center_id(), "bc-1");
  EXPECT_EQ(ledger_.Balance("a2")->business_center_id(), "");
  const uint32_t bc = ledger_.FindBusinessCenter("bc-1");
  ASSERT_NE(bc, kNoIndex);
  EXPECT_EQ(ledger_.business_centers()[bc].accounts, std::vector<uint32_t>{0});
  EXPECT_EQ(ledger_.accounts()[0].campaigns, (std::vector<uint32_t>{0, 1}));
  EXPECT_TRUE(ledger_.accounts()[1].campaigns.empty());

  Ledger restored;
  ASSERT_NO_FATAL_FAILURE(RestoreSameInto(&restored));
  EXPECT_EQ(restored.Spend("c2")->name(), "Boots");
  EXPECT_EQ(restored.FindBusinessCenter("bc-1"), bc);
  EXPECT_EQ(restored.accounts()[0].campaigns, (std::vector<uint32_t>{0, 1}));

  // A name is part of the state: renaming changes the digest.
  const std::string before = ledger_.Digest();
  rename.set_event_id(rename.event_id() + 100);
  rename.mutable_campaign_updated()->set_name("Boots 2");
  ASSERT_EQ(Apply(rename).outcome, Ledger::Outcome::kApplied);
  EXPECT_NE(ledger_.Digest(), before);
}

TEST_F(SandboxLedgerTest, OverlongNamesAreRefusedNamingTheField) {
  ASSERT_EQ(OpenAccount("a1").outcome, Ledger::Outcome::kApplied);
  v1::Event c = MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0);
  c.mutable_campaign_created()->set_name(std::string(kNameBytesMax + 1, 'x'));
  const Ledger::Result r = Apply(c);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "campaign_created.name");
  v1::Event open = MakeOpenAccount("a2");
  open.mutable_account_opened()->set_business_center_id(std::string(kNameBytesMax + 1, 'b'));
  EXPECT_EQ(Apply(open).field, "account_opened.business_center_id");
  EXPECT_EQ(ledger_.FindAccount("a2"), kNoIndex);
}

TEST_F(SandboxLedgerTest, EntriesCarryTheirDeliveryKind) {
  OpenFunded(100 * kUnit);
  ASSERT_EQ(CreateCampaign("c1", v1::BILLING_EVENT_CPC, kUnit, v1::BUDGET_MODE_INFINITE, 0)
                .outcome,
            Ledger::Outcome::kApplied);
  ASSERT_EQ(Enable("c1").outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(Apply(MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 3)).outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_EQ(last_proto_[0].kind(), v1::COST);
  EXPECT_EQ(last_proto_[0].delivery_kind(), v1::DeliveryReported::CLICK);
  ASSERT_EQ(Apply(MakeDelivery("a1", "c1", v1::DeliveryReported::VIDEO_VIEW_6S, 9)).outcome,
            Ledger::Outcome::kApplied);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_EQ(last_proto_[0].kind(), v1::NOT_BILLED);
  EXPECT_EQ(last_proto_[0].delivery_kind(), v1::DeliveryReported::VIDEO_VIEW_6S);
  EXPECT_EQ(last_proto_[0].units(), 9);

  // Through the history index's encoding and back.
  for (const Entry& e : {last_[0]}) {
    std::string bytes;
    history::EntryBase base, read_base;
    history::EncodeEntry(e, 7, &base, &bytes);
    const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
    history::StoredEntry out;
    ASSERT_TRUE(history::DecodeEntry(&p, p + bytes.size(), &read_base, &out));
    EXPECT_EQ(out.delivery_kind, static_cast<uint32_t>(v1::DeliveryReported::VIDEO_VIEW_6S));
    EXPECT_EQ(out.funds, static_cast<uint32_t>(e.funds));
  }
}

TEST_F(SandboxLedgerTest, BilledDeliveryCheaperThanAMicroUnitStillLeavesACostLine) {
  OpenFunded(100 * kUnit);
  // CPM at 0.000500 per thousand: one impression costs 0.0000005, floored to 0.
  ASSERT_EQ(CreateCampaign("c1", v1::BILLING_EVENT_CPM, 500, v1::BUDGET_MODE_INFINITE, 0)
                .outcome,
            Ledger::Outcome::kApplied);
  ASSERT_EQ(Enable("c1").outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(Apply(MakeDelivery("a1", "c1", v1::DeliveryReported::IMPRESSION, 1)).outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_EQ(last_proto_[0].kind(), v1::COST);
  EXPECT_EQ(last_proto_[0].units(), 1);
  EXPECT_EQ(last_proto_[0].balance_delta_micros(), 0);
  EXPECT_EQ(last_proto_[0].delivery_kind(), v1::DeliveryReported::IMPRESSION);
  // The next impression makes the first micro-unit: a real charge.
  ASSERT_EQ(Apply(MakeDelivery("a1", "c1", v1::DeliveryReported::IMPRESSION, 1)).outcome, Ledger::Outcome::kApplied);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_EQ(last_proto_[0].balance_delta_micros(), -1);
}

TEST(IdSetTest, FirstAbsentFromSkipsTheRunItFallsIn) {
  IdSet s;
  EXPECT_EQ(s.FirstAbsentFrom(100), 100u);
  for (uint64_t id : {100u, 101u, 102u, 104u}) s.Insert(id);
  EXPECT_EQ(s.FirstAbsentFrom(100), 103u);
  EXPECT_EQ(s.FirstAbsentFrom(101), 103u);
  EXPECT_EQ(s.FirstAbsentFrom(103), 103u);
  EXPECT_EQ(s.FirstAbsentFrom(104), 105u);
  EXPECT_EQ(s.FirstAbsentFrom(99), 99u);
  s.Insert(103);  // the runs merge
  EXPECT_EQ(s.FirstAbsentFrom(100), 105u);
  s.Insert(UINT64_MAX);
  EXPECT_EQ(s.FirstAbsentFrom(UINT64_MAX), 0u);
}

TEST(MoneyTest, ParseMicrosIsExactAndStrict) {
  int64_t v = 7;
  EXPECT_TRUE(ParseMicros("12", &v));
  EXPECT_EQ(v, 12 * kUnit);
  EXPECT_TRUE(ParseMicros("120.5", &v));
  EXPECT_EQ(v, 120'500'000);
  EXPECT_TRUE(ParseMicros("0.000001", &v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(ParseMicros("-3.25", &v));
  EXPECT_EQ(v, -3'250'000);
  EXPECT_TRUE(ParseMicros("1000000000", &v));  // kAmountMaxMicros
  EXPECT_EQ(v, kAmountMaxMicros);
  v = 7;
  for (const char* bad : {"", "-", ".", "1.", ".5", "1e3", "0.0000001", "1,000", " 1", "1 ",
                          "+1", "1.2.3", "9999999999999", "1000000000.000001", "999999999999.999999", "--1", "0x10", "NaN"}) {
    EXPECT_FALSE(ParseMicros(bad, &v)) << bad;
    EXPECT_EQ(v, 7) << bad;
  }
}

// --- The calls, without a server ---------------------------------------------------

json Body(const http::HttpAnswer& a) { return json::parse(a.body); }

http::tiktok::Call::Step Start(std::unique_ptr<http::tiktok::Call>& call, std::string_view method,
                               std::string_view target, std::string_view body = {},
                               std::string_view time = {}) {
  call = http::tiktok::StartCall(method, target, body, time, "r-1");
  return call->Next(nullptr);
}

TEST(SandboxCallTest, BadInputIsRefusedWithTikToksCodeNamingTheParameter) {
  struct Case {
    const char* method;
    const char* target;
    const char* body;
    const char* words;
  };
  const Case cases[] = {
      {"GET", "/open_api/v1.3/nope/", "", "not an endpoint"},
      {"POST", "/open_api/v1.3/advertiser/balance/get/", "", "use GET"},
      {"GET", "/open_api/v1.3/advertiser/balance/get/", "", "bc_id: is required"},
      {"GET", "/open_api/v1.3/advertiser/balance/get/?bc_id=b&page=0", "", "page: must be from 1"},
      {"GET", "/open_api/v1.3/advertiser/balance/get/?bc_id=b&page_size=x", "", "page_size: must be an integer"},
      {"GET", "/open_api/v1.3/advertiser/balance/get/?bc_id=b&filtering=%7Bx", "", "filtering: must be JSON"},
      {"GET", "/open_api/v1.3/advertiser/balance/get/?bc_id=%zz", "", "malformed %-escape"},
      {"POST", "/open_api/v1.3/bc/transfer/", "[1]", "not a JSON object"},
      {"POST", "/open_api/v1.3/bc/transfer/", "{\"bc_id\":\"b\",\"advertiser_id\":\"a\"}", "transfer_type: is required"},
      {"POST", "/open_api/v1.3/bc/transfer/",
       "{\"bc_id\":\"b\",\"advertiser_id\":\"a\",\"transfer_type\":\"RECHARGE\",\"cash_amount\":1.0000001}",
       "cash_amount: must be a decimal amount with at most six decimal places"},
      {"POST", "/open_api/v1.3/bc/transfer/",
       "{\"bc_id\":\"b\",\"advertiser_id\":\"a\",\"transfer_type\":\"RECHARGE\",\"cash_amount\":\"ten\"}",
       "cash_amount: must be a decimal"},
      {"POST", "/open_api/v1.3/bc/transfer/",
       "{\"bc_id\":\"b\",\"advertiser_id\":\"a\",\"transfer_type\":\"RECHARGE\",\"cash_amount\":[1]}",
       "cash_amount: must be a number"},
      {"POST", "/open_api/v1.3/bc/transfer/",
       "{\"bc_id\":\"b\",\"advertiser_id\":\"a\",\"transfer_type\":\"RECHARGE\",\"cash_amount\":-5}",
       "cash_amount"},
      {"POST", "/open_api/v1.3/bc/transfer/",
       "{\"bc_id\":\"b\",\"advertiser_id\":\"a\",\"transfer_type\":\"RECHARGE\",\"cash_amount\":1e300}",
       "cash_amount"},
      {"POST", "/open_api/v1.3/campaign/create/",
       "{\"advertiser_id\":\"a\",\"campaign_name\":\"x\",\"objective_type\":\"FAME\",\"bid_price\":1}",
       "objective_type: must be"},
      {"POST", "/open_api/v1.3/campaign/create/",
       "{\"advertiser_id\":\"a\",\"campaign_name\":\"x\",\"objective_type\":\"REACH\"}", "bid_price"},
      {"POST", "/open_api/v1.3/campaign/create/",
       "{\"advertiser_id\":\"a\",\"campaign_name\":7.5,\"objective_type\":\"REACH\",\"bid_price\":1}",
       "campaign_name: must be a string"},
      {"POST", "/open_api/v1.3/campaign/create/",
       "{\"advertiser_id\":\"a\",\"campaign_name\":\"x\",\"objective_type\":\"REACH\",\"bid_price\":1,"
       "\"budget_mode\":\"BUDGET_MODE_DAY\"}",
       "budget: is required"},
      {"POST", "/open_api/v1.3/campaign/status/update/",
       "{\"advertiser_id\":\"a\",\"operation_status\":\"ENABLE\",\"campaign_ids\":[\"1\",\"2\",\"3\","
       "\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\","
       "\"18\",\"19\",\"20\",\"21\"]}",
       "campaign_ids: has more than 20"},
      {"POST", "/open_api/v1.3/campaign/status/update/",
       "{\"advertiser_id\":\"a\",\"operation_status\":\"PAUSE\",\"campaign_ids\":[\"1\"]}",
       "operation_status: must be ENABLE, DISABLE or DELETE"},
      {"POST", "/open_api/v1.3/campaign/update/", "{\"advertiser_id\":\"a\",\"campaign_id\":\"c\"}",
       "give campaign_name or budget"},
      {"GET", "/open_api/v1.3/report/integrated/get/?advertiser_id=a&report_type=AUDIENCE", "",
       "report_type"},
      {"GET",
       "/open_api/v1.3/report/integrated/get/?advertiser_id=a&report_type=BASIC&dimensions=%5B%22ad_id%22%5D",
       "", "dimensions: must be"},
      {"GET",
       "/open_api/v1.3/report/integrated/get/?advertiser_id=a&report_type=BASIC&dimensions=%5B%22campaign_id%22%2C%22stat_time_day%22%5D"
       "&metrics=%5B%22reach%22%5D",
       "", "metrics: unknown"},
      {"GET", "/open_api/v1.3/campaign/get/?advertiser_id=a&filtering=%7B%22primary_status%22%3A1%7D",
       "", "filtering.primary_status"},
      // A byte that is not UTF-8, echoed in the refusal: rendered, not thrown on.
      {"GET", "/open_api/v1.3/report/integrated/get/?advertiser_id=a&report_type=%FF", "",
       "report_type"},
      // A filter whose field_name is a number: refused, never thrown on.
      {"GET",
       "/open_api/v1.3/report/integrated/get/?advertiser_id=a&report_type=BASIC&dimensions=%5B%22campaign_id%22%2C%22stat_time_day%22%5D"
       "&metrics=%5B%22spend%22%5D&start_date=2026-01-01&end_date=2026-01-02"
       "&filtering=%5B%7B%22field_name%22%3A5%2C%22filter_type%22%3A%22IN%22%2C%22filter_value%22%3A%22%5B%5D%22%7D%5D",
       "", "filtering: billsim's sandbox filters by campaign_ids IN only"},
      {"GET",
       "/open_api/v1.3/report/integrated/get/?advertiser_id=a&report_type=BASIC&dimensions=%5B%22campaign_id%22%2C%22stat_time_day%22%5D"
       "&metrics=%5B%22spend%22%5D&start_date=2026-01-01&end_date=2026-01-02"
       "&filtering=%5B%7B%22field_name%22%3A%22campaign_ids%22%2C%22filter_type%22%3A%5B%5D%2C%22filter_value%22%3A1%7D%5D",
       "", "filtering: billsim's sandbox filters by campaign_ids IN only"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target + " " + c.body);
    std::unique_ptr<http::tiktok::Call> call;
    const auto step = Start(call, c.method, c.target, c.body);
    ASSERT_FALSE(step.request.has_value()) << "asked " << step.request->ShortDebugString();
    EXPECT_EQ(step.answer.status, 200u);
    const json b = Body(step.answer);
    EXPECT_EQ(b["code"], http::tiktok::kBadParameter);
    EXPECT_THAT(b["message"].get<std::string>(), HasSubstr(c.words));
    EXPECT_EQ(b["request_id"], "r-1");
  }
}

// Every parameter of every call, given each hostile value (in a GET query
// as %-escaped text, in a POST body as JSON): each call either asks its
// first wire request or answers with a JSON envelope; none throws. The
// two bugs this found threw out of the server's handler: json::value on a
// number where a string was expected, json::dump on a byte not UTF-8.
TEST(SandboxCallTest, HostileParametersAreAnsweredNeverThrownOn) {
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"GET", "advertiser/balance/get/"}, {"GET", "bc/account/transaction/get/"},
      {"GET", "advertiser/transaction/get/"}, {"POST", "bc/transfer/"},
      {"POST", "campaign/create/"}, {"GET", "campaign/get/"}, {"POST", "campaign/update/"},
      {"POST", "campaign/status/update/"}, {"GET", "report/integrated/get/"}};
  const std::vector<std::string> names = {
      "advertiser_id", "bc_id", "page", "page_size", "filtering", "transfer_type", "cash_amount",
      "grant_amount", "grant_expire_time", "campaign_name", "objective_type", "budget_mode",
      "budget", "operation_status", "billing_event", "bid_price", "request_id", "campaign_id",
      "campaign_ids", "report_type", "data_level", "dimensions", "metrics", "start_date",
      "end_date", "start_time", "end_time", "transaction_types", "fields", "advertiser_ids",
      "service_type", "page_info"};
  // As JSON text; the GET form sends the text itself (a string's without
  // its quotes, as TikTok's clients send strings).
  std::vector<std::string> values = {
      "5", "-1", "0", "1.5", "1e400", "-0", "9223372036854775808", "true", "null", "\"\"",
      "\"x\"", "\"-1\"", "\"1e3\"", "\"\\u0000\"", "[]", "[1]", "[\"a\",[2]]", "{}",
      "{\"a\":1}", "[{\"field_name\":5,\"filter_type\":{},\"filter_value\":[[1]]}]",
      "{\"campaign_ids\":5,\"primary_status\":[]}", "\"" + std::string(5000, 'x') + "\""};
  values.push_back(std::string(2000, '[') + std::string(2000, ']'));
  const auto escape = [](std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += std::isalnum(c) ? std::string(1, static_cast<char>(c)) : std::string(buf);
    }
    return out;
  };
  const std::string base_query = "advertiser_id=7001&bc_id=b&report_type=BASIC&start_date=2026-01-01"
                                 "&end_date=2026-01-02&dimensions=" +
                                 escape("[\"campaign_id\",\"stat_time_day\"]") +
                                 "&metrics=" + escape("[\"spend\"]");
  size_t answered = 0, asked = 0;
  for (const auto& [method, path] : endpoints) {
    for (const std::string& name : names) {
      for (const std::string& value : values) {
        std::string target = "/open_api/v1.3/" + path, body;
        if (method == "GET") {
          const bool quoted = value.size() >= 2 && value.front() == '"';
          target += "?" + base_query + "&" + name + "=" +
                    escape(quoted ? value.substr(1, value.size() - 2) : value);
        } else {
          body = "{\"advertiser_id\":\"7001\",\"bc_id\":\"b\",\"transfer_type\":\"RECHARGE\","
                 "\"campaign_name\":\"n\",\"objective_type\":\"REACH\",\"bid_price\":1,"
                 "\"campaign_id\":\"c\",\"campaign_ids\":[\"c\"],\"operation_status\":\"ENABLE\",\"" +
                 name + "\":" + value + "}";
        }
        SCOPED_TRACE(method + " " + target + " " + body.substr(0, 200));
        std::unique_ptr<http::tiktok::Call> call;
        http::tiktok::Call::Step step;
        ASSERT_NO_THROW(step = Start(call, method, target, body));
        if (step.request.has_value()) {
          ++asked;
          continue;
        }
        ++answered;
        json b;
        ASSERT_NO_THROW(b = Body(step.answer));
        EXPECT_TRUE(b.contains("code") && b["code"].is_number_integer());
        EXPECT_NE(b["code"], 0);
      }
    }
  }
  // Not all refused: the base requests are good enough to ask the server.
  EXPECT_GT(asked, 0u);
  EXPECT_GT(answered, 0u);
  // A body or query of raw bytes.
  std::mt19937 rng(14);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    const auto& [method, path] = endpoints[i % endpoints.size()];
    std::unique_ptr<http::tiktok::Call> call;
    http::tiktok::Call::Step step;
    if (method == "GET") {
      ASSERT_NO_THROW(step = Start(call, method, "/open_api/v1.3/" + path + "?" + junk));
    } else {
      ASSERT_NO_THROW(step = Start(call, method, "/open_api/v1.3/" + path, junk));
    }
    if (!step.request.has_value()) {
      ASSERT_NO_THROW(Body(step.answer));
    }
  }
}

TEST(SandboxCallTest, ATransferChecksTheCenterThenAppendsStampedEvents) {
  std::unique_ptr<http::tiktok::Call> call;
  auto step = Start(call, "POST", "/open_api/v1.3/bc/transfer/",
                    R"({"bc_id":"bc-1","advertiser_id":"7001","transfer_type":"RECHARGE",)"
                    R"("cash_amount":100.25,"grant_amount":"20"})",
                    "2026-01-15T09:00:00Z");
  ASSERT_TRUE(step.request.has_value());
  EXPECT_EQ(step.request->balance().account_id(), "7001");

  // An account of another center: refused, nothing appended.
  v1::Response other;
  other.mutable_balance()->set_account_id("7001");
  other.mutable_balance()->set_business_center_id("bc-2");
  auto refused = call->Next(&other);
  ASSERT_FALSE(refused.request.has_value());
  EXPECT_EQ(Body(refused.answer)["code"], http::tiktok::kNoPermission);

  step = Start(call, "POST", "/open_api/v1.3/bc/transfer/",
               R"({"bc_id":"bc-1","advertiser_id":"7001","transfer_type":"RECHARGE",)"
               R"("cash_amount":100.25,"grant_amount":"20"})",
               "2026-01-15T09:00:00Z");
  v1::Response mine;
  mine.mutable_balance()->set_account_id("7001");
  mine.mutable_balance()->set_business_center_id("bc-1");
  step = call->Next(&mine);
  ASSERT_TRUE(step.request.has_value());
  const v1::AppendRequest& a = step.request->append();
  EXPECT_TRUE(a.stamp());
  ASSERT_EQ(a.events_size(), 2);
  EXPECT_EQ(a.events(0).event_id(), 0u);  // the server stamps it
  EXPECT_EQ(a.events(0).time_us(), 1768467600000000);  // Billsim-Time
  EXPECT_EQ(a.events(0).cash_deposited().amount_micros(), 100'250'000);
  EXPECT_EQ(a.events(1).credit_granted().amount_micros(), 20'000'000);
  EXPECT_EQ(a.events(1).credit_granted().expires_at_us(), 0);  // stamped: 90 days
  EXPECT_TRUE(a.events(1).credit_granted().grant_id().empty());

  v1::Response acked;
  acked.mutable_append()->set_accepted(1);
  v1::Rejection* rej = acked.mutable_append()->add_rejections();
  rej->set_field("credit_granted.amount_micros");
  rej->set_reason("too much");
  const auto answer = call->Next(&acked);
  ASSERT_FALSE(answer.request.has_value());
  const json b = Body(answer.answer);
  EXPECT_EQ(b["code"], http::tiktok::kBadParameter);
  EXPECT_THAT(b["message"].get<std::string>(), HasSubstr("credit_granted.amount_micros: too much"));
}

TEST(SandboxCallTest, TheReportAsksForTheAccountsLocalDaysAndRendersMetricsExactly) {
  std::unique_ptr<http::tiktok::Call> call;
  auto step = Start(call, "GET",
                    "/open_api/v1.3/report/integrated/get/?advertiser_id=7001&report_type=BASIC"
                    "&dimensions=%5B%22stat_time_day%22%2C%22campaign_id%22%5D"
                    "&metrics=%5B%22spend%22%2C%22impressions%22%2C%22cpm%22%5D"
                    "&start_date=2026-01-15&end_date=2026-01-16");
  ASSERT_TRUE(step.request.has_value());
  v1::Response account;
  account.mutable_balance()->set_account_id("7001");
  account.mutable_balance()->set_utc_offset_minutes(330);
  step = call->Next(&account);
  ASSERT_TRUE(step.request.has_value());
  const v1::StatementQuery& q = step.request->statement();
  EXPECT_EQ(q.group(), v1::StatementQuery::CAMPAIGN_DAYS);
  EXPECT_EQ(q.utc_offset_minutes(), 330);
  // 2026-01-15 00:00 at UTC+05:30 to the end of the 16th.
  EXPECT_EQ(q.from_us(), 1768435200000000 - 330 * 60'000'000LL);
  EXPECT_EQ(q.to_us(), q.from_us() + 2 * 86'400'000'000LL);

  v1::Response statement;
  v1::Statement::Row* row = statement.mutable_statement()->add_rows();
  row->set_campaign_id("c1");
  row->set_date("2026-01-15");
  row->set_spend(12'345'678);
  row->set_impressions(3);
  statement.mutable_statement()->set_total(1);
  step = call->Next(&statement);
  ASSERT_FALSE(step.request.has_value());
  const json b = Body(step.answer);
  EXPECT_EQ(b["code"], 0);
  const json& r = b["data"]["list"][0];
  EXPECT_EQ(r["dimensions"]["stat_time_day"], "2026-01-15 00:00:00");
  EXPECT_EQ(r["metrics"]["spend"], "12.345678");
  EXPECT_EQ(r["metrics"]["impressions"], "3");
  EXPECT_EQ(r["metrics"]["cpm"], "4115.226");  // 12.345678 * 1000 / 3, floored to a micro
  EXPECT_EQ(b["data"]["page_info"]["total_number"], 1);
}

TEST(SandboxCallTest, BalancesAreJsonNumbersWrittenExactly) {
  std::unique_ptr<http::tiktok::Call> call;
  auto step = Start(call, "GET", "/open_api/v1.3/advertiser/balance/get/?bc_id=bc-1&page=2&page_size=1");
  ASSERT_TRUE(step.request.has_value());
  EXPECT_EQ(step.request->accounts().business_center_id(), "bc-1");
  EXPECT_EQ(step.request->accounts().cursor(), 1u);
  v1::Response list;
  v1::AccountBalance* a = list.mutable_accounts()->add_accounts();
  a->set_account_id("7001");
  a->set_cash_balance(100'250'000);
  a->set_grant_balance(999'999'999'999'999'999);
  a->set_frozen_balance(30'000'000);
  a->set_valid_balance(100'250'000 + 999'999'999'999'999'999 - 30'000'000);
  list.mutable_accounts()->set_total(2);
  step = call->Next(&list);
  ASSERT_FALSE(step.request.has_value());
  EXPECT_THAT(step.answer.body, HasSubstr("\"cash_balance\":100.25,"));
  EXPECT_THAT(step.answer.body, HasSubstr("\"grant_balance\":999999999999.999999,"));
  EXPECT_THAT(step.answer.body, HasSubstr("\"frozen_balance\":30.00,"));
  const json b = Body(step.answer);
  EXPECT_EQ(b["data"]["page_info"]["total_page"], 2);
  // Credit first: the hold is the grant's.
  EXPECT_EQ(b["data"]["advertiser_account_list"][0]["valid_cash_balance"], 100.25);
}

}  // namespace
}  // namespace billsim::testing
