// The HTTP/JSON API (src/http/): the translation alone (HttpApi), then
// `serve --http` in-process (port 0) driven over HTTP by a blocking Beast
// client: appends and rejections, answers equal to the binary protocol's,
// tokens, bounds, malformed requests that change nothing, /metrics as
// Prometheus text.
#include <utility>  // before Boost: Asio 1.74 uses std::exchange (TOOLCHAIN.md)
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "http/http_api.h"
#include "log/batch_codec.h"
#include "net/client.h"
#include "server/access.h"
#include "server/server.h"
#include "sim/forecast.h"
#include "test_support.h"
#include "wire_events.h"

namespace billsim::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Json = nlohmann::json;
using wire_events::Events;
using wire_events::kT0;
using wire_events::kUnit;

const ApiLimits kLimits{};

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, options).ok());
  return out;
}

// The proto3 JSON of events: an array, or one a line.
std::string JsonArray(const std::vector<v1::Event>& events) {
  std::string out = "[";
  for (const auto& e : events) out += (out.size() > 1 ? "," : "") + ToJson(e);
  return out + "]";
}
std::string JsonLines(const std::vector<v1::Event>& events) {
  std::string out;
  for (const auto& e : events) out += ToJson(e) + "\n";
  return out;
}

// --- HttpApi: the translation ------------------------------------------------------

TEST(HttpApi, RoutesAccountQueriesWithDecodedIdsAndParameters) {
  ApiCall c = Translate("GET", "/api/v1/accounts/a%20b+c", "", "", kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire);
  EXPECT_EQ(c.request.balance().account_id(), "a b+c");  // '+' is a space in queries only

  c = Translate("GET", "/api/v1/accounts/acct?as_of=2026-01-15T00:00:00Z", "", "", kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire);
  EXPECT_EQ(c.request.balance_as_of().account_id(), "acct");
  EXPECT_EQ(c.request.balance_as_of().as_of_us(), kT0);

  c = Translate("GET", "/api/v1/accounts/acct/entries?since_seq=3&cursor=7&limit=2&to=12", "",
                "", kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire);
  const v1::HistoryQuery& h = c.request.history();
  EXPECT_EQ(h.account_id(), "acct");
  EXPECT_EQ(h.since_seq(), 3u);
  EXPECT_EQ(h.cursor(), 7u);
  EXPECT_EQ(h.limit(), 2u);
  EXPECT_EQ(h.to_us(), 12);
  c = Translate("GET", "/api/v1/accounts/acct/entries?kind=PROMOTION_EXPIRED&campaign=c%201", "",
                "", kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire) << c.answer.body;
  EXPECT_EQ(c.request.history().kind(), v1::PROMOTION_EXPIRED);
  EXPECT_EQ(c.request.history().campaign_id(), "c 1");

  c = Translate("GET", "/api/v1/campaigns/c%2F1", "", "", kLimits);
  EXPECT_EQ(c.request.spend().campaign_id(), "c/1");
  c = Translate("GET", "/api/v1/disputes/d1", "", "", kLimits);
  EXPECT_EQ(c.request.dispute().dispute_id(), "d1");
  EXPECT_EQ(Translate("GET", "/healthz", "", "", kLimits).kind, ApiCall::Kind::kHealth);
  EXPECT_EQ(Translate("GET", "/readyz", "", "", kLimits).kind, ApiCall::Kind::kHealth);
  EXPECT_EQ(Translate("GET", "/metrics", "", "", kLimits).kind, ApiCall::Kind::kMetrics);
}

// An answered call's error: status, code and field.
void ExpectError(const ApiCall& c, unsigned status, const std::string& code,
                 const std::string& field = "") {
  ASSERT_EQ(c.kind, ApiCall::Kind::kAnswered);
  EXPECT_EQ(c.answer.status, status) << c.answer.body;
  const Json j = Json::parse(c.answer.body);
  EXPECT_EQ(j["error"]["code"], code) << c.answer.body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  if (!field.empty()) {
    EXPECT_EQ(j["error"]["field"], field) << c.answer.body;
  }
}

TEST(HttpApi, BadParametersAreRefusedNamingTheParameter) {
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?limit=x", "", "", kLimits), 400,
              "BAD_REQUEST", "limit");
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?limit=-1", "", "", kLimits), 400,
              "BAD_REQUEST", "limit");
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?limit=4294967296", "", "", kLimits),
              400, "BAD_REQUEST", "limit");
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?colour=red", "", "", kLimits), 400,
              "BAD_REQUEST", "colour");
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?limit=1&limit=2", "", "", kLimits),
              400, "BAD_REQUEST", "limit");
  ExpectError(Translate("GET", "/api/v1/accounts/a?as_of=2026-02-30", "", "", kLimits), 400,
              "BAD_REQUEST", "as_of");
  ExpectError(Translate("GET", "/api/v1/accounts/a?x=%4", "", "", kLimits), 400, "BAD_REQUEST");
  ExpectError(Translate("GET", "/api/v1/accounts/a%zz", "", "", kLimits), 400, "BAD_REQUEST",
              "account_id");
  ExpectError(Translate("GET", "/api/v1/accounts/", "", "", kLimits), 400, "BAD_REQUEST",
              "account_id");
  // Not UTF-8 once decoded (ids are UTF-8 everywhere in billsim).
  ExpectError(Translate("GET", "/api/v1/accounts/%FF/entries", "", "", kLimits), 400,
              "BAD_REQUEST", "account_id");
  ExpectError(Translate("GET", "/api/v1/campaigns/%C3", "", "", kLimits), 400, "BAD_REQUEST",
              "campaign_id");
  ExpectError(Translate("GET", "/api/v1/disputes/%FF/evidence/spend_report.csv", "", "", kLimits),
              400, "BAD_REQUEST", "dispute_id");
  ExpectError(Translate("GET", "/api/v1/events/stream?account=%FF", "", "", kLimits), 400,
              "BAD_REQUEST");
  ExpectError(Translate("GET", "/api/v1/accounts?search=%FE", "", "", kLimits), 400,
              "BAD_REQUEST");
  ExpectError(Translate("GET", "/api/v1/campaigns/c1?x=1", "", "", kLimits), 400, "BAD_REQUEST",
              "x");
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?kind=CHARGE", "", "", kLimits), 400,
              "BAD_REQUEST", "kind");
  ExpectError(Translate("GET", "/api/v1/accounts/a/entries?kind=ENTRY_KIND_UNSPECIFIED", "", "",
                        kLimits),
              400, "BAD_REQUEST", "kind");
}

TEST(HttpApi, UnknownPathsAndMethodsAreRefused) {
  ExpectError(Translate("GET", "/nope", "", "", kLimits), 404, "NOT_FOUND");
  ExpectError(Translate("GET", "/api/v1/accounts/a/bills", "", "", kLimits), 404, "NOT_FOUND");
  ExpectError(Translate("GET", "/api/v1/campaigns/c/x", "", "", kLimits), 404, "NOT_FOUND");
  ExpectError(Translate("DELETE", "/api/v1/accounts/a", "", "", kLimits), 405,
              "METHOD_NOT_ALLOWED");
  ExpectError(Translate("GET", "/api/v1/events", "", "", kLimits), 405, "METHOD_NOT_ALLOWED");
  ExpectError(Translate("POST", "/metrics", "", "", kLimits), 405, "METHOD_NOT_ALLOWED");
}

TEST(HttpApi, EventBodiesParseAsArraysOrLinesWithIsoTimes) {
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  ApiCall c = Translate("POST", "/api/v1/events", "application/json; charset=utf-8",
                        JsonArray(ev.all()), kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire) << c.answer.body;
  ASSERT_EQ(c.request.append().events_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c.request.append().events(i).SerializeAsString(), ev.all()[i].SerializeAsString());
  }
  c = Translate("POST", "/api/v1/events", "application/x-ndjson",
                "\n" + JsonLines(ev.all()) + "  \n", kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire) << c.answer.body;
  EXPECT_EQ(c.request.append().events_size(), 4);
  c = Translate("POST", "/api/v1/events", "application/json",
                R"([{"event_id":"9","time_us":"2026-01-15T00:00:00Z","clock_advanced":{}}])",
                kLimits);
  ASSERT_EQ(c.kind, ApiCall::Kind::kWire) << c.answer.body;
  EXPECT_EQ(c.request.append().events(0).time_us(), kT0);
}

TEST(HttpApi, BadEventBodiesAreRefusedNamingTheFieldOrLine) {
  auto post = [](std::string_view type, std::string_view body, ApiLimits limits = {}) {
    return Translate("POST", "/api/v1/events", type, body, limits);
  };
  ExpectError(post("application/json", R"([{"event_id":"1","bogus":1}])"), 400, "BAD_REQUEST",
              "events[0].bogus");
  ExpectError(post("application/json", R"([{"event_id":"1"},{"time_us":"soon"}])"), 400,
              "BAD_REQUEST");
  ExpectError(post("application/json", "[1,2"), 400, "BAD_REQUEST");
  ExpectError(post("application/json", R"({"event_id":"1"})"), 400, "BAD_REQUEST");
  ExpectError(post("application/json", "[]"), 400, "BAD_REQUEST");
  ExpectError(post("application/json", R"(], "x": [)"), 400, "BAD_REQUEST");
  // One array and nothing else: no other field of the request gets in.
  ExpectError(post("application/json", R"([{"event_id":"1"}], "batch_events": 5)"), 400,
              "BAD_REQUEST");
  ExpectError(post("application/json", R"([{"event_id":"1"}] [])"), 400, "BAD_REQUEST");
  ExpectError(post("text/plain", "[]"), 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type");
  const ApiCall c = post("application/x-ndjson", "{\"event_id\":\"1\"}\n{\"nope\":1}\n");
  ExpectError(c, 400, "BAD_REQUEST");
  EXPECT_NE(c.answer.body.find("line 2"), std::string::npos) << c.answer.body;
  ApiLimits two;
  two.max_events_per_request = 2;
  const std::string three = R"({"event_id":"1"})" "\n" R"({"event_id":"2"})" "\n"
                            R"({"event_id":"3"})" "\n";
  ExpectError(post("application/x-ndjson", three, two), 400, "BAD_REQUEST");
  ExpectError(post("application/json", R"([{"event_id":"1"},{"event_id":"2"},{"event_id":"3"}])",
                   two),
              400, "BAD_REQUEST");
}

TEST(HttpApi, RendersWireAnswersAndErrors) {
  v1::Response r;
  r.mutable_error()->set_code(v1::Error::NOT_FOUND);
  r.mutable_error()->set_message("account 'x' is unknown");
  HttpAnswer a = Render(r);
  EXPECT_EQ(a.status, 404u);
  EXPECT_EQ(Json::parse(a.body)["error"]["code"], "NOT_FOUND");
  EXPECT_EQ(StatusOf(v1::Error::PERMISSION_DENIED), 403u);
  EXPECT_EQ(StatusOf(v1::Error::UNAUTHENTICATED), 401u);
  EXPECT_EQ(StatusOf(v1::Error::UNAVAILABLE), 503u);
  EXPECT_EQ(StatusOf(v1::Error::RESOURCE_EXHAUSTED), 429u);

  r.Clear();
  r.mutable_append()->set_first_seq(5);
  r.mutable_append()->set_last_seq(6);
  r.mutable_append()->set_accepted(2);
  a = Render(r);
  EXPECT_EQ(a.status, 200u);
  const Json j = Json::parse(a.body);
  EXPECT_EQ(j["accepted"], 2);
  EXPECT_EQ(j["first_seq"], "5");  // proto3 JSON: 64-bit integers are strings
  EXPECT_EQ(j["rejections"], Json::array());

  // An error message that is not UTF-8 still gives valid JSON.
  r.Clear();
  r.mutable_error()->set_code(v1::Error::BAD_REQUEST);
  r.mutable_error()->set_message(std::string("bad \xff byte \"quoted\"\n"));
  EXPECT_NO_THROW(Json::parse(Render(r).body));
}

TEST(HttpApi, BearerTokensAndPercentDecoding) {
  EXPECT_EQ(BearerToken("Bearer abc").value_or(""), "abc");
  EXPECT_EQ(BearerToken("bearer abc").value_or(""), "abc");
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearer "));
  EXPECT_FALSE(BearerToken(""));
  std::string out;
  EXPECT_TRUE(PercentDecode("a%2Fb%41", false, &out));
  EXPECT_EQ(out, "a/bA");
  EXPECT_FALSE(PercentDecode("%", false, &out));
  EXPECT_FALSE(PercentDecode("ab%4", false, &out));
  EXPECT_FALSE(PercentDecode("%g0", false, &out));
}

// --- the server over HTTP ---------------------------------------------------------

struct Reply {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string www_authenticate;
  bool keep_alive = false;
  Json json() const { return Json::parse(body); }
};

// One HTTP/1.1 connection, blocking, with a timeout on every operation.
class HttpConn {
 public:
  explicit HttpConn(const std::string& address) {
    const size_t colon = address.rfind(':');
    asio::ip::tcp::endpoint ep(asio::ip::make_address(address.substr(0, colon)),
                               static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(ep);
  }
  Reply Send(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& type = "", const std::string& token = "") {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!type.empty()) req.set(bhttp::field::content_type, type);
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    stream_.expires_after(std::chrono::seconds(10));
    bhttp::write(stream_, req);
    return Read();
  }
  // Writes raw bytes (a request the client library would not send).
  Reply SendRaw(const std::string& bytes) {
    stream_.expires_after(std::chrono::seconds(10));
    asio::write(stream_, asio::buffer(bytes));
    return Read();
  }
  Reply Read() {
    bhttp::response<bhttp::string_body> res;
    beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    bhttp::read(stream_, buffer_, res, ec);
    Reply r;
    if (ec) return r;  // status 0: no answer (closed)
    r.status = res.result_int();
    r.body = res.body();
    r.content_type = std::string(res[bhttp::field::content_type]);
    r.www_authenticate = std::string(res[bhttp::field::www_authenticate]);
    r.keep_alive = res.keep_alive();
    return r;
  }
  // Writes raw bytes, reads nothing.
  void Write(const std::string& bytes) {
    stream_.expires_after(std::chrono::seconds(10));
    asio::write(stream_, asio::buffer(bytes));
  }
  // Reads until `done(text so far)` or 10 s; returns the text (buffered
  // bytes first).
  std::string ReadUntil(const std::function<bool(const std::string&)>& done) {
    std::string text(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char chunk[4096];
    while (!done(text) && std::chrono::steady_clock::now() < deadline) {
      beast::error_code ec;
      stream_.expires_after(std::chrono::seconds(10));
      const size_t n = stream_.socket().read_some(asio::buffer(chunk), ec);
      if (ec) break;
      text.append(chunk, n);
    }
    return text;
  }
  // True once the server has closed the connection (reads EOF).
  bool ClosedByPeer() {
    char c;
    beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(10));
    stream_.socket().read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_{io_};
  beast::flat_buffer buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(server::ServerOptions options = {}) {
    options.log_dir = dir_.sub("log");
    if (!options.read_only) options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    server_ = std::make_unique<server::Server>(options);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }
  void StopServer() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
    server_.reset();
  }
  void TearDown() override { StopServer(); }
  std::string http() const { return server_->http_address(); }
  // The binary protocol's answer to `request`.
  v1::Response Wire(v1::Request request, const std::string& token = "") {
    net::Client client;
    EXPECT_TRUE(client.Connect(server_->address()).ok());
    if (!token.empty()) {
      v1::HelloAck::Role role;
      EXPECT_TRUE(client.Hello(token, &role).ok());
    }
    request.set_request_id(client.NextRequestId());
    v1::Response response;
    const Status st = client.Call(request, &response);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return response;
  }
  // The value of gauge `name` from /metrics.
  uint64_t Gauge(const std::string& name, const std::string& token = "") {
    const Reply r = HttpConn(http()).Send("GET", "/metrics", "", "", token);
    std::smatch m;
    const std::regex re("\n" + name + " ([0-9]+)\n");
    if (!std::regex_search(r.body, m, re)) {
      ADD_FAILURE() << name << " not in " << r.body;
      return 0;
    }
    return std::stoull(m[1]);
  }
  uint64_t AckedSeq(const std::string& token = "") {
    return Gauge("billsim_log_acked_seq", token);
  }

  test_support::TempDir dir_;
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
  Status run_status_;
};

TEST_F(HttpServerTest, AppendsAnswerWithSequencesAndRejectionsNamingTheField) {
  StartServer();
  HttpConn c(http());
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  Reply r = c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(r.keep_alive);
  Json j = r.json();
  EXPECT_EQ(j["accepted"], 4);
  EXPECT_EQ(j["first_seq"], "1");
  EXPECT_EQ(j["last_seq"], "4");
  EXPECT_TRUE(j["rejections"].empty());

  // JSON lines on the same connection: three clicks, one for an unknown
  // campaign, one a duplicate of an applied id.
  ev.clear();
  ev.Clicks(kT0 + 10, "acct", "camp", 3);
  ev.Clicks(kT0 + 11, "acct", "nope", 1);
  std::vector<v1::Event> events = ev.all();
  events.push_back(events[0]);  // the same event id again
  r = c.Send("POST", "/api/v1/events", JsonLines(events), "application/x-ndjson");
  ASSERT_EQ(r.status, 200u) << r.body;
  j = r.json();
  EXPECT_EQ(j["accepted"], 1);
  EXPECT_EQ(j["first_seq"], "5");
  EXPECT_EQ(j["last_seq"], "5");
  ASSERT_EQ(j["rejections"].size(), 2u) << r.body;
  EXPECT_EQ(j["rejections"][0]["event_id"], std::to_string(events[1].event_id()));
  EXPECT_EQ(j["rejections"][0]["field"], "delivery_reported.campaign_id");
  EXPECT_EQ(j["rejections"][0]["duplicate"], false);
  EXPECT_EQ(j["rejections"][1]["duplicate"], true);
  EXPECT_EQ(AckedSeq(), 5u);

  // A body over 16 KiB is parsed on a translation thread: the same answers.
  ev.clear();
  for (int i = 0; i < 400; ++i) ev.Clicks(kT0 + 100 + i, "acct", "camp", 1);
  const std::string big = JsonLines(ev.all());
  ASSERT_GT(big.size(), 16u * 1024);
  r = c.Send("POST", "/api/v1/events", big, "application/x-ndjson");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["accepted"], 400);
  EXPECT_EQ(r.json()["last_seq"], "405");
  r = c.Send("POST", "/api/v1/events", big + "{\"bogus\":1}\n", "application/x-ndjson");
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_NE(r.body.find("line 401"), std::string::npos) << r.body;
  EXPECT_EQ(AckedSeq(), 405u);
}

TEST_F(HttpServerTest, QueriesAnswerAsTheBinaryProtocolDoes) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  for (int i = 0; i < 6; ++i) ev.Clicks(kT0 + 10 + i, "acct", "camp", 2);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);

  v1::Request q;
  q.mutable_balance()->set_account_id("acct");
  Reply r = c.Send("GET", "/api/v1/accounts/acct");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json(), Json::parse(ToJson(Wire(q).balance())));
  EXPECT_EQ(r.json()["cash_balance"], std::to_string(88 * kUnit));

  q.Clear();
  q.mutable_spend()->set_campaign_id("camp");
  r = c.Send("GET", "/api/v1/campaigns/camp");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json(), Json::parse(ToJson(Wire(q).spend())));

  // Paging the entries: the pages are the wire's pages, and together every
  // entry once.
  uint64_t cursor = 0;
  size_t items = 0;
  Json pages = Json::array();  // every item of every page
  for (int page = 0; page < 10; ++page) {
    q.Clear();
    q.mutable_history()->set_account_id("acct");
    q.mutable_history()->set_limit(3);
    q.mutable_history()->set_cursor(cursor);
    r = c.Send("GET", "/api/v1/accounts/acct/entries?limit=3&cursor=" + std::to_string(cursor));
    ASSERT_EQ(r.status, 200u) << r.body;
    const v1::Response wire = Wire(q);
    EXPECT_EQ(r.json(), Json::parse(ToJson(wire.history())));
    items += wire.history().items_size();
    const Json page_items = r.json()["items"];
    for (const auto& item : page_items) pages.push_back(item);
    if (!wire.history().truncated()) break;
    cursor = std::stoull(r.json()["next_cursor"].get<std::string>());
  }
  EXPECT_EQ(items, 8u);  // a deposit and six charges (the others are not money)

  q.Clear();
  q.mutable_balance_as_of()->set_account_id("acct");
  q.mutable_balance_as_of()->set_as_of_us(kT0 + 12);
  r = c.Send("GET", "/api/v1/accounts/acct?as_of=" + std::to_string(kT0 + 12));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json(), Json::parse(ToJson(Wire(q).balance_as_of())));
  EXPECT_EQ(r.json()["cash_balance"], std::to_string(94 * kUnit));

  r = c.Send("GET", "/api/v1/accounts/ghost");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.json()["error"]["code"], "NOT_FOUND");
  r = c.Send("GET", "/api/v1/disputes/ghost");
  EXPECT_EQ(r.status, 404u);
  const Json as_of = c.Send("GET", "/api/v1/accounts/acct?as_of=" + std::to_string(kT0 + 12)).json();

  // And what `billsim audit history` and `audit balance --as-of` say,
  // from a replay of the log once the server is gone.
  StopServer();
  std::vector<audit::AuditEntry> history;
  Status st = audit::AccountHistory(dir_.sub("log"), "acct", INT64_MIN, INT64_MAX, &history);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(history.size(), pages.size());
  for (size_t i = 0; i < history.size(); ++i) {
    v1::HistoryResult::Item item;
    item.set_log_seq(history[i].log_seq);
    *item.mutable_entry() = history[i].entry;
    EXPECT_EQ(pages[i], Json::parse(ToJson(item))) << i;
  }
  audit::BalanceAsOf at;
  st = audit::AccountBalanceAt(dir_.sub("log"), "acct", kT0 + 12, &at);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (const char* k : {"cash_balance", "grant_balance", "frozen_balance", "valid_balance"}) {
    EXPECT_EQ(as_of[k], Json::parse(ToJson(at.balance))[k]) << k;
  }
}

// Entries filtered by kind and by campaign, paged: exactly the unfiltered
// entries that match, in order, each once.
TEST_F(HttpServerTest, EntryFiltersPageThroughTheMatchingEntries) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  ev.Campaign(kT0 + 4, "acct", "other");
  ev.Enable(kT0 + 5, "acct", "other");
  for (int i = 0; i < 7; ++i) ev.Clicks(kT0 + 10 + i, "acct", i % 3 == 0 ? "other" : "camp", 1);
  ev.Deposit(kT0 + 20, "acct", kUnit);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  const Json all = c.Send("GET", "/api/v1/accounts/acct/entries").json()["items"];
  auto paged = [&](const std::string& filter) {
    Json items = Json::array();
    std::string cursor = "0";
    for (int page = 0; page < 20; ++page) {
      const Reply r = c.Send("GET", "/api/v1/accounts/acct/entries?limit=2&cursor=" + cursor +
                                        "&" + filter);
      EXPECT_EQ(r.status, 200u) << r.body;
      const Json j = r.json();
      for (const auto& item : j["items"]) items.push_back(item);
      if (!j["truncated"].get<bool>()) break;
      cursor = j["next_cursor"];
    }
    return items;
  };
  auto expected = [&](const std::string& key, const std::string& value) {
    Json items = Json::array();
    for (const auto& item : all) {
      if (item["entry"][key] == value) items.push_back(item);
    }
    return items;
  };
  const Json costs = paged("kind=COST");
  EXPECT_EQ(costs, expected("kind", "COST"));
  EXPECT_EQ(costs.size(), 7u);
  const Json other = paged("campaign=other");
  EXPECT_EQ(other, expected("campaign_id", "other"));
  EXPECT_GE(other.size(), 3u);
  const Json both = paged("campaign=other&kind=COST");
  EXPECT_EQ(both.size(), 3u);
  EXPECT_EQ(paged("campaign=ghost"), Json::array());
  EXPECT_EQ(paged("kind=REFUND"), Json::array());

  // Matches far apart, many index blocks between them: all found.
  ev.clear();
  auto grant = [&](int64_t t, const std::string& id) {
    v1::CreditGranted* g = ev.New(t).mutable_credit_granted();
    g->set_account_id("acct");
    g->set_grant_id(id);
    g->set_amount_micros(kUnit);
    g->set_expires_at_us(kT0 + 1'000'000'000'000);
  };
  grant(kT0 + 100, "g1");
  for (int batch = 0; batch < 6; ++batch) {  // batches: the index writes blocks between them
    for (int i = 0; i < 1'500; ++i) ev.Deposit(kT0 + 200 + batch * 2'000 + i, "acct", 1);
    ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
              200u);
    ev.clear();
    c.Send("GET", "/api/v1/accounts/acct/entries?limit=1");  // the index catches up
  }
  grant(kT0 + 20'000, "g2");
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  const Json grants =
      c.Send("GET", "/api/v1/accounts/acct/entries?kind=PROMOTION_ISSUED&limit=10").json();
  ASSERT_EQ(grants["items"].size(), 2u) << grants;
  // A large page (rendered off the network thread): the same as its halves.
  const Json big = c.Send("GET", "/api/v1/accounts/acct/entries?limit=2000").json();
  ASSERT_EQ(big["items"].size(), 2000u);
  const Json half = c.Send("GET", "/api/v1/accounts/acct/entries?limit=1000&cursor=" +
                                      big["items"][999]["entry"]["seq"].get<std::string>())
                        .json();
  ASSERT_EQ(half["items"].size(), 1000u);
  EXPECT_EQ(half["items"][999], big["items"][1999]);
  EXPECT_EQ(grants["items"][1]["entry"]["grant_id"], "g2");
  EXPECT_EQ(grants["truncated"], false);
}

// The timeline: every entry that moved money but a charge is a point;
// charges are thinned to the last of each slice of the range; the first
// point is the balances at `from`.
TEST_F(HttpServerTest, TimelineKeepsEveryMoneyStepButThinsCharges) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  v1::CreditGranted* g = ev.New(kT0 + 5).mutable_credit_granted();
  g->set_account_id("acct");
  g->set_grant_id("promo");
  g->set_amount_micros(300 * kUnit);
  g->set_expires_at_us(kT0 + 3'600'000'000);  // an hour in
  const int64_t minute = 60'000'000;
  for (int i = 0; i < 100; ++i) ev.Clicks(kT0 + (i + 1) * minute, "acct", "camp", 1);
  ev.New(kT0 + 2 * 3'600'000'000).mutable_clock_advanced();  // the grant expires
  ev.Deposit(kT0 + 2 * 3'600'000'000 + 1, "acct", 5 * kUnit);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  const Json all = c.Send("GET", "/api/v1/accounts/acct/entries").json()["items"];

  const int slices = 10;
  const Reply r = c.Send("GET", "/api/v1/accounts/acct/timeline?points=" + std::to_string(slices));
  ASSERT_EQ(r.status, 200u) << r.body;
  const Json t = r.json();
  const int64_t from = std::stoll(t["from_us"].get<std::string>());
  const int64_t to = std::stoll(t["to_us"].get<std::string>());
  EXPECT_EQ(from, kT0 + 1);  // the first entry: the deposit (an opening moves no money)
  EXPECT_EQ(to, kT0 + 2 * 3'600'000'000 + 1);  // the account's clock
  const int64_t width = (to - from) / slices + 1;
  // What the points must be, from the entries.
  std::vector<std::string> want;  // entry seqs
  std::string charge;
  int64_t charge_slice = -1;
  for (const auto& item : all) {
    const Json& e = item["entry"];
    if (e["balance_delta_micros"] == "0" && e["frozen_delta_micros"] == "0") continue;
    const int64_t slice = (std::stoll(e["time_us"].get<std::string>()) - from) / width;
    if (!charge.empty() && (e["kind"] != "COST" || slice != charge_slice)) {
      want.push_back(charge);
      charge.clear();
    }
    if (e["kind"] == "COST") {
      charge = e["seq"];
      charge_slice = slice;
    } else {
      want.push_back(e["seq"]);
    }
  }
  if (!charge.empty()) want.push_back(charge);
  std::vector<std::string> got;
  int costs = 0;
  bool expired = false;
  int64_t last_time = 0;
  for (const auto& p : t["points"]) {
    const int64_t time = std::stoll(p["time_us"].get<std::string>());
    EXPECT_GE(time, last_time);
    last_time = time;
    if (p["kind"] == "ENTRY_KIND_UNSPECIFIED") continue;  // the start
    got.push_back(p["entry_seq"]);
    costs += p["kind"] == "COST";
    expired = expired || (p["kind"] == "PROMOTION_EXPIRED" && p["grant_id"] == "promo");
  }
  EXPECT_EQ(got, want);
  EXPECT_LE(costs, slices);
  EXPECT_GE(costs, 2);
  EXPECT_TRUE(expired) << r.body;
  // The last point is the account's balance now.
  const Json balance = c.Send("GET", "/api/v1/accounts/acct").json();
  const Json& last = t["points"].back();
  for (const char* k : {"cash_balance", "grant_balance", "frozen_balance", "valid_balance"}) {
    EXPECT_EQ(last[k], balance[k]) << k;
  }
  EXPECT_EQ(std::stoull(t["entries_read"].get<std::string>()), all.size());

  // A range: the first point is the balance as of just before it.
  const int64_t mid = kT0 + 30 * minute + 1;
  const Reply part = c.Send("GET", "/api/v1/accounts/acct/timeline?from=" + std::to_string(mid) +
                                       "&to=" + std::to_string(kT0 + 60 * minute));
  ASSERT_EQ(part.status, 200u) << part.body;
  const Json part_json = part.json();
  const Json& start = part_json["points"][0];
  const Json as_of =
      c.Send("GET", "/api/v1/accounts/acct?as_of=" + std::to_string(mid - 1)).json();
  EXPECT_EQ(start["kind"], "ENTRY_KIND_UNSPECIFIED");
  EXPECT_EQ(start["cash_balance"], as_of["cash_balance"]);
  EXPECT_EQ(start["valid_balance"], as_of["valid_balance"]);
  for (const auto& p : part_json["points"]) {
    const int64_t time = std::stoll(p["time_us"].get<std::string>());
    EXPECT_TRUE(time >= mid && time <= kT0 + 60 * minute) << p;
  }
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/timeline?from=5&to=4").status, 400u);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/ghost/timeline").status, 404u);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/timeline?points=10001").status, 400u);
}

// The forecast: the server's answer is the one the offline forecast gives
// for the same events (the same rules, the same fork), as the ForecastReport
// message; bad parameters and unknown accounts are refused.
TEST_F(HttpServerTest, ForecastIsTheOfflineForecastOfTheSameEvents) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  v1::CampaignUpdated* u = ev.New(kT0 + 10).mutable_campaign_updated();
  u->set_account_id("acct");
  u->set_campaign_id("camp");
  u->set_budget_mode(v1::BUDGET_MODE_DAY);
  u->set_budget_micros(50 * kUnit);
  v1::CreditGranted* g = ev.New(kT0 + 11).mutable_credit_granted();
  g->set_account_id("acct");
  g->set_grant_id("promo");
  g->set_amount_micros(300 * kUnit);
  g->set_expires_at_us(kT0 + 5 * 86'400'000'000);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  const Reply r = c.Send("GET", "/api/v1/accounts/acct/forecast");
  ASSERT_EQ(r.status, 200u) << r.body;

  Ledger ledger;
  for (const v1::Event& e : ev.all()) ASSERT_EQ(ledger.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  sim::ForecastOptions o;
  o.account = "acct";
  o.max_days = 366;
  sim::ForecastResult offline;
  ASSERT_TRUE(sim::Forecast(ledger, o, &offline).ok());
  v1::ForecastReport want;
  sim::ToProto(offline, &want);
  EXPECT_EQ(r.json(), Json::parse(ToJson(want)));
  // 300.00 of credit at 50.00 a day for five noons: 250.00 spent, 50.00 expires.
  const Json f = r.json();
  EXPECT_EQ(f["grants"][0]["expires_unused_micros"], "50000000");
  EXPECT_EQ(f["advice"][0]["uses_it_by_expiry"], true);

  // At its history's pace: what the campaign was billed over its last
  // local days, read from the history index, as the offline pace sink
  // reads it from the entries.
  Events more(1000);
  more.Clicks(kT0 + 3'600'000'000, "acct", "camp", 30);
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(more.all()), "application/json").status,
            200u);
  const Reply h = c.Send("GET", "/api/v1/accounts/acct/forecast?pace=history=3");
  ASSERT_EQ(h.status, 200u) << h.body;
  Ledger replayed;
  sim::ForecastPaceSink pace(&replayed, "acct");
  for (const v1::Event& e : ev.all()) replayed.Apply(e, &pace);
  for (const v1::Event& e : more.all()) replayed.Apply(e, &pace);
  o.pace = sim::ForecastOptions::Pace::kHistory;
  o.history_days = 3;
  o.billed_recently = pace.Recent(3);
  sim::ForecastResult at_pace;
  ASSERT_TRUE(sim::Forecast(replayed, o, &at_pace).ok());
  ASSERT_EQ(at_pace.campaigns.size(), 1u);
  EXPECT_EQ(at_pace.campaigns[0].pace_per_day, 10 * kUnit);  // 30.00 over 3 days
  v1::ForecastReport want_pace;
  sim::ToProto(at_pace, &want_pace);
  EXPECT_EQ(h.json(), Json::parse(ToJson(want_pace)));
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/forecast?pace=history=0").status, 400u);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/forecast?pace=fast").status, 400u);

  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/ghost/forecast").status, 404u);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/forecast?until=2200-01-01").status, 400u);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/forecast?until=soon").status, 400u);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts/acct/forecast?colour=red").status, 400u);
}

// The accounts of the book, a page at a time in the order they were
// opened, each with the balances GET accounts/{id} gives; a search.
TEST_F(HttpServerTest, AccountsListPagesTheBookAndSearches) {
  StartServer();
  Events ev;
  const std::vector<std::string> ids = {"north-1", "south-2", "north-3", "east-4", "north-5"};
  for (size_t i = 0; i < ids.size(); ++i) {
    ev.Open(kT0 + static_cast<int64_t>(i), ids[i]);
    ev.Deposit(kT0 + 10 + static_cast<int64_t>(i), ids[i], static_cast<int64_t>(i + 1) * kUnit);
  }
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  std::vector<std::string> seen;
  std::string cursor = "0";
  for (int page = 0; page < 10; ++page) {
    const Reply r = c.Send("GET", "/api/v1/accounts?limit=2&cursor=" + cursor);
    ASSERT_EQ(r.status, 200u) << r.body;
    const Json j = r.json();
    EXPECT_EQ(j["total"], "5");
    EXPECT_LE(j["accounts"].size(), 2u);
    for (const auto& a : j["accounts"]) {
      seen.push_back(a["account_id"]);
      Json one = c.Send("GET", "/api/v1/accounts/" + a["account_id"].get<std::string>()).json();
      one["grants"] = Json::array();
      EXPECT_EQ(a, one);
    }
    if (!j["truncated"].get<bool>()) break;
    cursor = j["next_cursor"];
  }
  EXPECT_EQ(seen, ids);
  const Json found = c.Send("GET", "/api/v1/accounts?search=north").json();
  ASSERT_EQ(found["accounts"].size(), 3u);
  EXPECT_EQ(found["accounts"][1]["account_id"], "north-3");
  EXPECT_EQ(found["accounts"][1]["cash_balance"], std::to_string(3 * kUnit));
  EXPECT_EQ(found["truncated"], false);
  EXPECT_EQ(c.Send("GET", "/api/v1/accounts?limit=1001").status, 400u);
  EXPECT_EQ(c.Send("POST", "/api/v1/accounts", "[]", "application/json").status, 405u);
}

// Server-sent events: acks, and an account's new entries as the history
// index has them, each once and in order; a resume from a sequence.
TEST_F(HttpServerTest, EventStreamSendsAcksAndTheAccountsNewEntries) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);  // sequences 1..4: before the stream opens, not in it
  HttpConn stream(http());
  stream.Write("GET /api/v1/events/stream?account=acct HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string text = stream.ReadUntil(
      [](const std::string& t) { return t.find("data: {\"acked_seq\":\"4\"}") != std::string::npos; });
  ASSERT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("Content-Type: text/event-stream"), std::string::npos);
  ev.clear();
  for (int i = 0; i < 5; ++i) ev.Clicks(kT0 + 10 + i, "acct", "camp", 1);
  ev.Open(kT0 + 20, "other");  // another account: not in this stream
  ev.Deposit(kT0 + 21, "other", kUnit);
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);  // sequences 5..11
  const Json page = c.Send("GET", "/api/v1/accounts/acct/entries?since_seq=4").json()["items"];
  ASSERT_EQ(page.size(), 5u);  // the five charges
  const std::string last_id = "id: " + page.back()["entry"]["seq"].get<std::string>() + "\n";
  text += stream.ReadUntil([&](const std::string& t) {
    return t.find(last_id) != std::string::npos &&
           t.find("data: {\"acked_seq\":\"11\"}") != std::string::npos;
  });
  // The entries sent are the account's entries of sequences 5..11, as a
  // page of the history gives them, each with its entry seq as the id.
  auto entries = [](const std::string& t) {
    std::vector<Json> sent;
    const std::string tag = "\nevent: entry\ndata: ";
    for (size_t at = t.find(tag); at != std::string::npos; at = t.find(tag, at + 1)) {
      const size_t id_at = t.rfind("id: ", at);
      const size_t start = at + tag.size();
      Json item = Json::parse(t.substr(start, t.find('\n', start) - start));
      EXPECT_EQ(t.substr(id_at + 4, at - id_at - 4), item["entry"]["seq"].get<std::string>());
      sent.push_back(std::move(item));
    }
    return sent;
  };
  const std::vector<Json> sent = entries(text);
  ASSERT_EQ(sent.size(), page.size()) << text;
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(sent[i], page[i]);
  EXPECT_EQ(text.find("\"account_id\":\"other\""), std::string::npos);

  // Resuming after the second of them (as a browser does with Last-Event-ID).
  HttpConn resumed(http());
  resumed.Write("GET /api/v1/events/stream?account=acct HTTP/1.1\r\nHost: x\r\n"
                "Last-Event-ID: " + page[1]["entry"]["seq"].get<std::string>() + "\r\n\r\n");
  const std::string again =
      resumed.ReadUntil([&](const std::string& t) { return t.find(last_id) != std::string::npos; });
  const std::vector<Json> rest = entries(again);
  ASSERT_EQ(rest.size(), 3u) << again;
  for (size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i], page[i + 2]);
  // The stream ends when the server stops (TearDown must not hang).
}

// A dispute's evidence over HTTP is `audit evidence`'s, byte for byte.
TEST_F(HttpServerTest, EvidenceCsvIsAuditEvidence) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  for (int i = 0; i < 6; ++i) {
    ev.Clicks(kT0 + 10 + i, "acct", "camp", 2);
    if (i % 2 == 0) ev.all().back().mutable_delivery_reported()->set_platform_fault(true);
  }
  v1::DisputeFiled* d = ev.New(kT0 + 100).mutable_dispute_filed();
  d->set_dispute_id("d1");
  d->set_account_id("acct");
  d->set_campaign_id("camp");
  d->set_reason(v1::DISPUTE_REASON_PLATFORM_ERROR);
  d->set_window_start_us(kT0 + 11);
  d->set_window_end_us(kT0 + 15);
  d->set_claimed_micros(2 * kUnit);
  d->add_evidence(v1::EVIDENCE_SPEND_REPORT);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  const Reply spend = c.Send("GET", "/api/v1/disputes/d1/evidence/spend_report.csv");
  ASSERT_EQ(spend.status, 200u) << spend.body;
  EXPECT_EQ(spend.content_type.rfind("text/csv", 0), 0u);
  const Reply delivery = c.Send("GET", "/api/v1/disputes/d1/evidence/delivery_data.csv");
  ASSERT_EQ(delivery.status, 200u) << delivery.body;
  EXPECT_EQ(c.Send("GET", "/api/v1/disputes/ghost/evidence/spend_report.csv").status, 404u);
  EXPECT_EQ(c.Send("GET", "/api/v1/disputes/d1/evidence/other.csv").status, 404u);
  StopServer();

  audit::Evidence evidence;
  const Status st = audit::CollectEvidence(dir_.sub("log"), "d1", &evidence);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::ostringstream want_spend, want_delivery;
  audit::WriteSpendReport(evidence, want_spend);
  audit::WriteDeliveryData(evidence, want_delivery);
  EXPECT_EQ(spend.body, want_spend.str());
  EXPECT_EQ(delivery.body, want_delivery.str());
  EXPECT_EQ(evidence.delivery.size(), 4u);  // the clicks stamped in [start, end)
  EXPECT_EQ(std::count(delivery.body.begin(), delivery.body.end(), '\n'), 5);  // and a header
}

// A GET on any connection reflects every append acknowledged before it
// (HTTP clients seldom keep one connection).
TEST_F(HttpServerTest, HistoryReflectsAppendsAcknowledgedOnOtherConnections) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  ASSERT_EQ(HttpConn(http()).Send("POST", "/api/v1/events", JsonArray(ev.all()),
                                  "application/json").status,
            200u);
  for (int i = 0; i < 30; ++i) {
    ev.clear();
    ev.Deposit(kT0 + 10 + i, "acct", kUnit);
    const Reply posted =
        HttpConn(http()).Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json");
    ASSERT_EQ(posted.status, 200u) << posted.body;
    const std::string seq = posted.json()["last_seq"];
    const Reply page = HttpConn(http()).Send(
        "GET", "/api/v1/accounts/acct/entries?since_seq=" + std::to_string(std::stoull(seq) - 1));
    ASSERT_EQ(page.status, 200u) << "round " << i << ": " << page.body;
    ASSERT_EQ(page.json()["items"].size(), 1u) << "round " << i << ": " << page.body;
    EXPECT_EQ(page.json()["items"][0]["log_seq"], seq);
  }
}

TEST_F(HttpServerTest, MalformedRequestsGetA4xxAndChangeNothing) {
  server::ServerOptions options;
  options.max_frame_bytes = 100'000;
  StartServer(options);
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  ASSERT_EQ(HttpConn(http()).Send("POST", "/api/v1/events", JsonArray(ev.all()),
                                  "application/json").status,
            200u);
  const uint64_t before = AckedSeq();
  ASSERT_EQ(before, 4u);

  struct Case {
    std::string name, body, type;
    unsigned status;
  };
  ev.clear();
  ev.Clicks(kT0 + 10, "acct", "camp", 1);
  const std::string good = JsonArray(ev.all());
  const std::vector<Case> cases = {
      {"not JSON", "[{", "application/json", 400},
      {"an unknown field", R"([{"event_id":"99","colour":"red"}])", "application/json", 400},
      {"a good event then a bad one", good.substr(0, good.size() - 1) + R"(,{"x":1}])",
       "application/json", 400},
      {"a wrong media type", good, "text/csv", 415},
      {"a body over --max-frame-bytes", "[" + std::string(100'001, ' ') + "]",
       "application/json", 413},
  };
  for (const Case& c : cases) {
    HttpConn conn(http());
    const Reply r = conn.Send("POST", "/api/v1/events", c.body, c.type);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_NO_THROW(r.json()) << c.name;
  }
  // What the client library would not send.
  const std::vector<std::pair<std::string, unsigned>> raw = {
      {"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
       "Content-Type: application/json\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n",
       411},
      {"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20'000, 'a') + "\r\n\r\n",
       431},
      {"NOT-HTTP\r\n\r\n", 400},
      {"GET /api/v1/accounts/acct HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400},
  };
  for (const auto& [bytes, status] : raw) {
    HttpConn conn(http());
    const Reply r = conn.SendRaw(bytes);
    EXPECT_EQ(r.status, status) << bytes.substr(0, 60) << ": " << r.body;
    EXPECT_TRUE(conn.ClosedByPeer()) << bytes.substr(0, 60);
  }
  {  // HEAD: a 405 naming what is allowed, with no body: the next answer follows at once.
    HttpConn conn(http());
    conn.Write("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string text = conn.ReadUntil([](const std::string& t) {
      return t.find("\"status\":\"ok\"") != std::string::npos;
    });
    EXPECT_EQ(text.rfind("HTTP/1.1 405 ", 0), 0u) << text;
    EXPECT_NE(text.find("Allow: GET\r\n"), std::string::npos) << text;
    const size_t end = text.find("\r\n\r\n");
    EXPECT_EQ(text.substr(end + 4, 15), "HTTP/1.1 200 OK") << text;
  }
  EXPECT_EQ(AckedSeq(), before);  // nothing was appended
  // And the server still works.
  const Reply r = HttpConn(http()).Send("POST", "/api/v1/events", good, "application/json");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(AckedSeq(), before + 1);
}

TEST_F(HttpServerTest, TokensApplyAsBearerTokensWithTheirRoles) {
  const std::string reader = "r0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const std::string writer = "w1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  auto table = std::make_shared<server::TokenTable>();
  ASSERT_TRUE(server::TokenTable::Parse("read-only " + reader + "\nread-write " + writer + "\n",
                                        "tokens", table.get())
                  .ok());
  server::ServerOptions options;
  options.tokens = table;
  StartServer(options);
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  const std::string body = JsonArray(ev.all());
  // A refusal at the header closes the connection (its body is not read):
  // each on a connection of its own.
  auto once = [&](const std::string& method, const std::string& target, const std::string& b,
                  const std::string& token) {
    HttpConn conn(http());
    return conn.Send(method, target, b, b.empty() ? "" : "application/json", token);
  };
  Reply r = once("POST", "/api/v1/events", body, "");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.www_authenticate, "Bearer");
  EXPECT_EQ(r.json()["error"]["field"], "Authorization");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(once("POST", "/api/v1/events", body, "w1-not-a-token-at-all-xxxxxxxx").status, 401u);
  EXPECT_EQ(once("GET", "/metrics", "", "").status, 401u);
  r = once("POST", "/api/v1/events", body, reader);
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "PERMISSION_DENIED");
  EXPECT_EQ(AckedSeq(reader), 0u);
  // Without a token nothing is parsed or judged: not even a bad body.
  EXPECT_EQ(once("POST", "/api/v1/events", "[{", "").status, 401u);
  EXPECT_EQ(once("GET", "/nope", "", "").status, 401u);
  EXPECT_EQ(once("GET", "/api/v1/accounts/acct", "", "").status, 401u);
  // A refused header: the server does not wait for a body it will not read.
  {
    HttpConn conn(http());
    const Reply early = conn.SendRaw(
        "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000000\r\n\r\n[");
    EXPECT_EQ(early.status, 401u);
    EXPECT_TRUE(conn.ClosedByPeer());
  }

  HttpConn c(http());
  r = c.Send("POST", "/api/v1/events", body, "application/json", writer);
  EXPECT_EQ(r.status, 200u) << r.body;
  r = c.Send("GET", "/api/v1/accounts/acct", "", "", reader);
  EXPECT_EQ(r.status, 200u) << r.body;
  r = c.Send("GET", "/healthz");  // no token needed
  EXPECT_EQ(r.status, 200u);
  r = c.Send("GET", "/");  // nor for the console's files, which hold no data
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("<title>billsim audit console</title>"), std::string::npos);
}

TEST_F(HttpServerTest, MetricsParseAsPrometheusText) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  HttpConn c(http());
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json").status,
            200u);
  // A second append: a click, one refused (unknown campaign), one duplicate.
  ev.clear();
  ev.Clicks(kT0 + 10, "acct", "camp", 1);
  ev.Clicks(kT0 + 11, "acct", "nope", 1);
  std::vector<v1::Event> events = ev.all();
  events.push_back(events[0]);
  ASSERT_EQ(c.Send("POST", "/api/v1/events", JsonArray(events), "application/json").status, 200u);
  const Reply r = c.Send("GET", "/metrics");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << r.content_type;
  // The exposition format: HELP and TYPE lines, then samples of that
  // metric (a histogram's with _bucket, _sum, _count): name, optional
  // labels, a value.
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? [0-9]+)");
  std::string typed, kind;
  std::map<std::string, uint64_t> values;
  std::set<std::string> names;
  size_t start = 0;
  ASSERT_FALSE(r.body.empty());
  ASSERT_EQ(r.body.back(), '\n');
  while (start < r.body.size()) {
    const size_t nl = r.body.find('\n', start);
    const std::string line = r.body.substr(start, nl - start);
    start = nl + 1;
    std::smatch m;
    if (std::regex_match(line, m, help)) continue;
    if (std::regex_match(line, m, type)) {
      typed = m[1];
      kind = m[2];
      EXPECT_TRUE(names.insert(typed).second) << "declared twice: " << typed;
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "not a sample: " << line;
    const std::string name = m[1];
    if (kind == "histogram") {
      EXPECT_TRUE(name == typed + "_bucket" || name == typed + "_sum" || name == typed + "_count")
          << line;
    } else {
      EXPECT_EQ(name, typed) << "a sample without its TYPE: " << line;
    }
    values[line.substr(0, line.rfind(' '))] = std::stoull(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(values["billsim_log_acked_seq"], 5u);
  EXPECT_EQ(values["billsim_connections"], 1u);
  EXPECT_GT(values["billsim_process_resident_memory_bytes"], 1'000'000u);
  EXPECT_EQ(values["billsim_http_requests_total"], 3u);
  EXPECT_EQ(values["billsim_http_responses_total{class=\"2xx\"}"], 2u);  // this one not yet
  EXPECT_EQ(values["billsim_events_received_total{kind=\"account_opened\"}"], 1u);
  EXPECT_EQ(values["billsim_events_received_total{kind=\"delivery_reported\"}"], 3u);
  EXPECT_EQ(values["billsim_events_received_total{kind=\"dispute_filed\"}"], 0u);
  EXPECT_EQ(values["billsim_events_applied_total{kind=\"account_opened\"}"], 1u);
  EXPECT_EQ(values["billsim_events_applied_total{kind=\"delivery_reported\"}"], 1u);
  EXPECT_EQ(values["billsim_events_refused_total{kind=\"delivery_reported\"}"], 1u);
  EXPECT_EQ(values["billsim_events_duplicate_total{kind=\"delivery_reported\"}"], 1u);
  EXPECT_EQ(values["billsim_events_duplicate_total{kind=\"account_opened\"}"], 0u);
  EXPECT_EQ(values["billsim_events_refused_by_field_total{field=\"delivery_reported.campaign_id\"}"],
            1u);
  EXPECT_EQ(values["billsim_committer_queued_events"], 0u);
  EXPECT_GT(values["billsim_log_written_bytes_total"], 0u);
  // Histograms: cumulative buckets ending at +Inf, which is the count.
  EXPECT_EQ(values["billsim_ack_latency_microseconds_count"], 2u);
  EXPECT_EQ(values["billsim_ack_latency_microseconds_bucket{le=\"+Inf\"}"], 2u);
  EXPECT_LE(values["billsim_ack_latency_microseconds_bucket{le=\"100\"}"],
            values["billsim_ack_latency_microseconds_bucket{le=\"250\"}"]);
  EXPECT_EQ(values["billsim_group_events_count"], 2u);
  EXPECT_EQ(values["billsim_group_events_sum"], 5u);
  EXPECT_GE(values["billsim_fsync_microseconds_count"], 1u);  // --fsync always by default
}

// billsim console: the same API over a log, HTTP only, every append refused.
TEST_F(HttpServerTest, ReadOnlyServesQueriesAndRefusesAppends) {
  StartServer();
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  ev.Clicks(kT0 + 10, "acct", "camp", 3);
  ASSERT_EQ(HttpConn(http()).Send("POST", "/api/v1/events", JsonArray(ev.all()),
                                  "application/json").status,
            200u);
  const std::string balance = HttpConn(http()).Send("GET", "/api/v1/accounts/acct").body;
  const std::string entries = HttpConn(http()).Send("GET", "/api/v1/accounts/acct/entries").body;
  StopServer();

  server::ServerOptions options;
  options.read_only = true;
  options.listen.clear();
  StartServer(options);
  EXPECT_EQ(server_->address(), "");  // no binary protocol
  HttpConn c(http());
  Reply r = c.Send("GET", "/api/v1/accounts/acct");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, balance);
  r = c.Send("GET", "/api/v1/accounts/acct/entries");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, entries);
  EXPECT_GE(r.json()["items"].size(), 2u);  // the deposit and the charge at least
  ev.clear();
  ev.Deposit(kT0 + 20, "acct", kUnit);
  r = c.Send("POST", "/api/v1/events", JsonArray(ev.all()), "application/json");
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_NE(r.body.find("read-only"), std::string::npos) << r.body;
  EXPECT_EQ(AckedSeq(), 5u);  // nothing appended
}

// A connection that must wait for the frame budget waits (it is not
// dropped, nor its slot lost), and goes on when room comes back.
TEST_F(HttpServerTest, ABodyWaitsForTheFrameBudgetAndThenGoesOn) {
  server::ServerOptions options;
  options.max_frame_bytes = 100'000;
  options.frame_bytes_max = 200'000;
  StartServer(options);
  Events ev;
  ev.Setup(kT0, "acct", "camp", 100);
  for (int i = 0; i < 480; ++i) ev.Clicks(kT0 + 10 + i, "acct", "camp", 1);
  const std::string body = JsonLines(ev.all());
  ASSERT_GT(body.size(), 70'000u);
  ASSERT_LT(body.size(), 90'000u);
  // Two connections hold 180,000 bytes of the budget with bodies half sent.
  const std::string hold = "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/x-ndjson\r\nContent-Length: 90000\r\n\r\n{";
  auto a = std::make_unique<HttpConn>(http());
  auto b = std::make_unique<HttpConn>(http());
  a->Write(hold);
  b->Write(hold);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The third must wait; a moment later the first goes away.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    a.reset();
  });
  const Reply r = HttpConn(http()).Send("POST", "/api/v1/events", body, "application/x-ndjson");
  release.join();
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.status == 200u ? r.json()["accepted"].get<int>() : 0, 484);
  b.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const Reply m = HttpConn(http()).Send("GET", "/metrics");
  EXPECT_NE(m.body.find("\nbillsim_connections 1\n"), std::string::npos) << m.body;
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreRefusedWith503) {
  server::ServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  HttpConn a(http()), b(http());
  ASSERT_EQ(a.Send("GET", "/healthz").status, 200u);  // both counted once answered
  ASSERT_EQ(b.Send("GET", "/healthz").status, 200u);
  HttpConn third(http());
  const Reply r = third.Read();
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.json()["error"]["code"], "RESOURCE_EXHAUSTED");
  EXPECT_NE(r.body.find("--max-connections 2"), std::string::npos) << r.body;
  EXPECT_EQ(a.Send("GET", "/healthz").status, 200u);  // the others go on
}

// Columnar appends naming pairs no campaign has: the network thread numbers
// at most its bound of them (an empty book: 65,536), so such names cannot
// grow the server's memory; every row is refused either way.
TEST_F(HttpServerTest, PairsNamedByAppendsAreNumberedOnlyUpToTheBound) {
  StartServer();
  constexpr int kRequests = 4, kRows = 20'000;
  uint64_t event_id = 1;
  for (int r = 0; r < kRequests; ++r) {
    log::BatchBuilder builder;
    for (int i = 0; i < kRows; ++i, ++event_id) {
      const std::string n = std::to_string(event_id);
      builder.AddDelivery(event_id, 1'000'000, "ghost-a" + n, "ghost-c" + n,
                          v1::DeliveryReported::IMPRESSION, 1, false);
    }
    v1::Request request;
    builder.Finish(request.mutable_append()->mutable_batch());
    request.mutable_append()->set_batch_events(builder.count());
    const v1::Response response = Wire(request);
    ASSERT_TRUE(response.has_append()) << response.ShortDebugString().substr(0, 500);
    EXPECT_EQ(response.append().accepted(), 0u);
    EXPECT_EQ(response.append().rejections_size(), kRows);
  }
  EXPECT_EQ(Gauge("billsim_numbered_pairs_max"), 65'536u);
  EXPECT_EQ(Gauge("billsim_numbered_pairs"), 65'536u);  // not 80,000
  EXPECT_EQ(AckedSeq(), 0u);
}

}  // namespace
}  // namespace billsim::http
