#include "http/http_api.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "http/assets.h"
#include "report/format.h"
#include "scenario/time_fields.h"
#include "util/time_parse.h"
#include "util/utf8.h"

namespace billsim::http {

namespace {

namespace pbu = google::protobuf::util;
using Json = nlohmann::ordered_json;

constexpr std::string_view kEvents = "/api/v1/events";
constexpr std::string_view kAccounts = "/api/v1/accounts/";
constexpr std::string_view kCampaigns = "/api/v1/campaigns/";
constexpr std::string_view kDisputes = "/api/v1/disputes/";

ApiCall Answered(HttpAnswer answer) {
  ApiCall call;
  call.answer = std::move(answer);
  return call;
}

ApiCall BadRequest(std::string_view message, std::string_view field = {}) {
  return Answered(ErrorAnswer(400, "BAD_REQUEST", message, field));
}

// The query string as (name, value) pairs, decoded.
struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  std::string error;  // non-empty: the query does not decode
};

Query ParseQuery(std::string_view text) {
  Query q;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name, value;
    if (!PercentDecode(part.substr(0, eq), true, &name) ||
        (eq != std::string_view::npos && !PercentDecode(part.substr(eq + 1), true, &value))) {
      q.error = "query parameter \"" + std::string(part) + "\": malformed percent escape";
      return q;
    }
    if (!IsValidUtf8(name) || !IsValidUtf8(value)) {
      q.error = "query parameter \"" + std::string(part) + "\": not UTF-8 once decoded";
      return q;
    }
    q.params.emplace_back(std::move(name), std::move(value));
  }
  return q;
}

// Reads the parameters a route knows; any other is an error naming it.
class Params {
 public:
  explicit Params(const Query& q) : q_(q) {}

  // An unsigned integer parameter; absent leaves *out alone.
  bool Uint(std::string_view name, uint64_t max, uint64_t* out) {
    const std::string* v = Find(name);
    if (v == nullptr) return true;
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n > max) {
      Fail(name, "\"" + *v + "\" is not an integer in 0.." + std::to_string(max));
      return false;
    }
    *out = n;
    return true;
  }
  // A time (integer microseconds or ISO 8601 UTC); absent leaves *out alone.
  bool Time(std::string_view name, int64_t* out) {
    const std::string* v = Find(name);
    if (v == nullptr) return true;
    const Status st = ParseTimeUs(*v, name, out);
    if (!st.ok()) Fail(name, st.message());
    return st.ok();
  }
  // An entry kind by its name (COST, PROMOTION_EXPIRED, ...).
  bool Enum(std::string_view name, v1::EntryKind* out) {
    const std::string* v = Find(name);
    if (v == nullptr) return true;
    if (!v1::EntryKind_Parse(*v, out) || *out == v1::ENTRY_KIND_UNSPECIFIED) {
      Fail(name, "\"" + *v + "\" is not an entry kind (ADD_BALANCE, COST, PROMOTION_EXPIRED, ...)");
      return false;
    }
    return true;
  }
  bool String(std::string_view name, std::string* out) {
    const std::string* v = Find(name);
    if (v != nullptr) *out = *v;
    return true;
  }
  bool Has(std::string_view name) { return Find(name) != nullptr; }
  // After the reads: false (and an error) if a parameter was not read, or
  // one came twice.
  bool Done() {
    if (!error_.empty()) return false;
    for (const auto& [name, value] : q_.params) {
      if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
        Fail(name, "unknown query parameter");
        return false;
      }
    }
    return true;
  }
  const std::string& error() const { return error_; }
  const std::string& field() const { return field_; }

 private:
  const std::string* Find(std::string_view name) {
    known_.emplace_back(name);
    const std::string* found = nullptr;
    for (const auto& [n, v] : q_.params) {
      if (n != name) continue;
      if (found != nullptr) {
        Fail(name, "given more than once");
        return nullptr;
      }
      found = &v;
    }
    return found;
  }
  void Fail(std::string_view name, std::string_view why) {
    if (!error_.empty()) return;
    field_ = std::string(name);
    error_ = "query parameter " + field_ + ": " + std::string(why);
  }

  const Query& q_;
  std::vector<std::string> known_;
  std::string error_, field_;
};

// The field a Protobuf JSON parse error names: "(events[0]) id: Cannot
// find field." gives "events[0].id", "(events[0].time_us): invalid value"
// gives "events[0].time_us".
std::string FieldOf(std::string_view message) {
  const size_t open = message.find('(');
  const size_t close = message.find(')', open);
  if (open == std::string_view::npos || close == std::string_view::npos) return {};
  std::string field(message.substr(open + 1, close - open - 1));
  std::string_view rest = message.substr(close + 1);
  if (rest.starts_with(' ')) {
    rest.remove_prefix(1);
    size_t n = 0;
    while (n < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_')) {
      ++n;
    }
    if (n > 0 && n < rest.size() && rest[n] == ':') {
      field += (field.empty() ? "" : ".") + std::string(rest.substr(0, n));
    }
  }
  return field;
}

ApiCall Events(std::string_view content_type, std::string_view body, const ApiLimits& limits) {
  ApiCall call;
  call.kind = ApiCall::Kind::kWire;
  v1::AppendRequest* append = call.request.mutable_append();
  pbu::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  if (type == "application/x-ndjson" || type == "application/jsonl") {
    int line = 0;
    while (!body.empty()) {
      ++line;
      const size_t nl = body.find('\n');
      std::string text(body.substr(0, nl));
      body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
      if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (static_cast<uint64_t>(append->events_size()) >= limits.max_events_per_request) {
        return BadRequest("more than " + std::to_string(limits.max_events_per_request) +
                          " events in one request");
      }
      const Status st = RewriteTimeStrings("body", line, &text);
      if (!st.ok()) return BadRequest(st.message());
      const auto parsed = pbu::JsonStringToMessage(text, append->add_events(), options);
      if (!parsed.ok()) {
        const std::string why(parsed.message());
        return BadRequest("body line " + std::to_string(line) + ": " + why, FieldOf(why));
      }
    }
  } else if (type == "application/json" || type.empty()) {
    // The array is AppendRequest's `events`: Protobuf parses it in one go
    // and names the element and field at fault. It must be one array and
    // nothing else: Protobuf takes an object for a repeated field, and a
    // body like `[], "batch": ...` would set the request's other fields.
    const size_t first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || body[first] != '[') {
      return BadRequest("the body is not a JSON array of events");
    }
    if (!Json::accept(body)) {
      return BadRequest("the body is not one JSON document (a JSON array of events)");
    }
    std::string text = "{\"events\":";
    text.append(body);
    text.append("}");
    const Status st = RewriteTimeStrings("body", 1, &text);
    if (!st.ok()) return BadRequest(st.message());
    const auto parsed = pbu::JsonStringToMessage(text, append, options);
    if (!parsed.ok()) {
      const std::string why(parsed.message());
      return BadRequest("body (a JSON array of events): " + why, FieldOf(why));
    }
    if (static_cast<uint64_t>(append->events_size()) > limits.max_events_per_request) {
      return BadRequest("more than " + std::to_string(limits.max_events_per_request) +
                        " events in one request");
    }
  } else {
    return Answered(ErrorAnswer(415, "UNSUPPORTED_MEDIA_TYPE",
                                "Content-Type " + std::string(type) +
                                    ": send application/json (an array of events) or "
                                    "application/x-ndjson (an event a line)",
                                "Content-Type"));
  }
  if (append->events_size() == 0) return BadRequest("the body holds no events");
  return call;
}

ApiCall Account(std::string_view rest, const Query& query) {
  const size_t slash = rest.find('/');
  std::string id;
  if (!PercentDecode(rest.substr(0, slash), false, &id) || id.empty() || !IsValidUtf8(id)) {
    return BadRequest("account id: empty, a malformed percent escape or not UTF-8", "account_id");
  }
  const std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash);
  Params params(query);
  ApiCall call;
  call.kind = ApiCall::Kind::kWire;
  if (sub.empty()) {
    if (params.Has("as_of")) {
      int64_t as_of = 0;
      params.Time("as_of", &as_of);
      v1::BalanceAsOfQuery* q = call.request.mutable_balance_as_of();
      q->set_account_id(id);
      q->set_as_of_us(as_of);
    } else {
      call.request.mutable_balance()->set_account_id(id);
    }
  } else if (sub == "/entries") {
    uint64_t since = 0, cursor = 0, limit = 0;
    int64_t to = 0;
    params.Uint("since_seq", UINT64_MAX, &since);
    params.Uint("cursor", UINT64_MAX, &cursor);
    params.Uint("limit", UINT32_MAX, &limit);
    params.Time("to", &to);
    v1::EntryKind kind = v1::ENTRY_KIND_UNSPECIFIED;
    params.Enum("kind", &kind);
    std::string campaign;
    params.String("campaign", &campaign);
    v1::HistoryQuery* q = call.request.mutable_history();
    q->set_kind(kind);
    q->set_campaign_id(campaign);
    q->set_account_id(id);
    q->set_since_seq(since);
    q->set_cursor(cursor);
    q->set_limit(static_cast<uint32_t>(limit));
    q->set_to_us(to);
  } else if (sub == "/timeline") {
    int64_t from = 0, to = 0;
    uint64_t points = 0;
    params.Time("from", &from);
    params.Time("to", &to);
    params.Uint("points", 10'000, &points);
    v1::TimelineQuery* q = call.request.mutable_timeline();
    q->set_account_id(id);
    q->set_from_us(from);
    q->set_to_us(to);
    q->set_points(static_cast<uint32_t>(points));
  } else if (sub == "/forecast") {
    int64_t until = 0;
    params.Time("until", &until);
    std::string pace;
    params.String("pace", &pace);
    v1::ForecastQuery* q = call.request.mutable_forecast();
    q->set_account_id(id);
    q->set_until_us(until);
    if (pace == "history") {
      q->set_history_pace(true);
    } else if (pace.rfind("history=", 0) == 0) {
      uint64_t days = 0;
      const std::string n = pace.substr(8);
      const auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), days);
      if (ec != std::errc() || p != n.data() + n.size() || days < 1 || days > 366) {
        return BadRequest("pace: history=DAYS takes 1 to 366 days, got \"" + pace + "\"", "pace");
      }
      q->set_history_pace(true);
      q->set_history_days(static_cast<uint32_t>(days));
    } else if (!pace.empty() && pace != "budget") {
      return BadRequest("pace: budget, history or history=DAYS, got \"" + pace + "\"", "pace");
    }
  } else {
    return Answered(ErrorAnswer(404, "NOT_FOUND", "no such resource: accounts/{id}" +
                                                      std::string(sub)));
  }
  if (!params.Done()) return BadRequest(params.error(), params.field());
  return call;
}

// GET /api/v1/campaigns/{id}, /api/v1/disputes/{id}: an id, no parameters;
// and /api/v1/disputes/{id}/evidence/{spend_report,delivery_data}.csv.
ApiCall ById(std::string_view rest, const Query& query, bool campaign) {
  const char* field = campaign ? "campaign_id" : "dispute_id";
  std::string id;
  const size_t slash = rest.find('/');
  if (!campaign && slash != std::string_view::npos) {
    const std::string_view sub = rest.substr(slash);
    const bool spend = sub == "/evidence/spend_report.csv";
    if (!spend && sub != "/evidence/delivery_data.csv") {
      return Answered(ErrorAnswer(404, "NOT_FOUND", "no such resource: disputes/{id}" +
                                                        std::string(sub)));
    }
    if (!PercentDecode(rest.substr(0, slash), false, &id) || id.empty() || !IsValidUtf8(id)) {
      return BadRequest("dispute_id: empty, a malformed percent escape or not UTF-8", "dispute_id");
    }
    Params params(query);
    if (!params.Done()) return BadRequest(params.error(), params.field());
    ApiCall call;
    call.kind = ApiCall::Kind::kWire;
    call.request.mutable_evidence()->set_dispute_id(id);
    call.request.mutable_evidence()->set_file(spend ? v1::EvidenceQuery::SPEND_REPORT
                                                    : v1::EvidenceQuery::DELIVERY_DATA);
    return call;
  }
  if (slash != std::string_view::npos) {
    return Answered(ErrorAnswer(404, "NOT_FOUND", "no such resource"));
  }
  if (!PercentDecode(rest, false, &id) || id.empty() || !IsValidUtf8(id)) {
    return BadRequest(std::string(field) + ": empty, a malformed percent escape or not UTF-8",
                      field);
  }
  Params params(query);
  if (!params.Done()) return BadRequest(params.error(), params.field());
  ApiCall call;
  call.kind = ApiCall::Kind::kWire;
  if (campaign) {
    call.request.mutable_spend()->set_campaign_id(id);
  } else {
    call.request.mutable_dispute()->set_dispute_id(id);
  }
  return call;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  if (!billsim::ToJson(message, &json)) {
    return ErrorAnswer(500, "INTERNAL", "the answer could not be printed as JSON").body;
  }
  return json;
}

}  // namespace

HttpAnswer ErrorAnswer(unsigned status, std::string_view code, std::string_view message,
                       std::string_view field) {
  Json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  HttpAnswer a;
  a.status = status;
  a.body = Json{{"error", std::move(error)}}.dump(-1, ' ', false,
                                                 Json::error_handler_t::replace);
  a.body.push_back('\n');
  return a;
}

bool PercentDecode(std::string_view in, bool query, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && query) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {  // the scheme is case-insensitive
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return std::nullopt;
    }
  }
  return authorization.substr(kScheme.size());
}

ApiCall Translate(std::string_view method, std::string_view target,
                  std::string_view content_type, std::string_view body, const ApiLimits& limits) {
  const size_t qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const Query query =
      ParseQuery(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (!query.error.empty()) return BadRequest(query.error);
  const bool get = method == "GET";
  auto wrong_method = [&](std::string_view allowed) {
    HttpAnswer a = ErrorAnswer(405, "METHOD_NOT_ALLOWED",
                               std::string(method) + " " + std::string(path) + ": use " +
                                   std::string(allowed));
    a.allow = std::string(allowed);
    return Answered(std::move(a));
  };

  if (path == "/healthz" || path == "/readyz") {
    if (!get) return wrong_method("GET");
    ApiCall call;
    call.kind = ApiCall::Kind::kHealth;
    return call;
  }
  if (path == "/metrics") {
    if (!get) return wrong_method("GET");
    ApiCall call;
    call.kind = ApiCall::Kind::kMetrics;
    return call;
  }
  if (path == "/api/v1/events/stream") {
    if (!get) return wrong_method("GET");
    Params params(query);
    uint64_t since = UINT64_MAX;  // absent: from now (EventStream::kNow)
    std::string account;
    params.String("account", &account);
    params.Uint("since_seq", UINT64_MAX - 1, &since);
    if (!params.Done()) return BadRequest(params.error(), params.field());
    ApiCall call;
    call.kind = ApiCall::Kind::kStream;
    call.request.mutable_history()->set_account_id(account);
    call.request.mutable_history()->set_since_seq(since);
    return call;
  }
  if (path == kEvents) {
    if (method != "POST") return wrong_method("POST");
    if (!query.params.empty()) return BadRequest("POST /api/v1/events takes no query parameters");
    return Events(content_type, body, limits);
  }
  if (path == "/api/v1/accounts") {
    if (!get) return wrong_method("GET");
    Params params(query);
    uint64_t cursor = 0, limit = 0;
    std::string search;
    params.Uint("cursor", UINT64_MAX, &cursor);
    params.Uint("limit", 1'000, &limit);
    params.String("search", &search);
    if (!params.Done()) return BadRequest(params.error(), params.field());
    ApiCall call;
    call.kind = ApiCall::Kind::kWire;
    v1::AccountsQuery* q = call.request.mutable_accounts();
    q->set_cursor(cursor);
    q->set_limit(static_cast<uint32_t>(limit));
    q->set_search(search);
    return call;
  }
  const bool account = path.starts_with(kAccounts);
  const bool campaign = path.starts_with(kCampaigns);
  const bool dispute = path.starts_with(kDisputes);
  if (account || campaign || dispute) {
    if (!get) return wrong_method("GET");
    if (account) return Account(path.substr(kAccounts.size()), query);
    return ById(path.substr(campaign ? kCampaigns.size() : kDisputes.size()), query, campaign);
  }
  if (const Asset* asset = FindAsset(path)) {  // the console: no data in it, no token
    if (!get) return wrong_method("GET");
    HttpAnswer a;
    a.content_type = std::string(asset->content_type);
    a.body = std::string(asset->body);
    return Answered(std::move(a));
  }
  return Answered(ErrorAnswer(404, "NOT_FOUND", "no such resource: " + std::string(path)));
}

unsigned StatusOf(v1::Error::Code code) {
  switch (code) {
    case v1::Error::NOT_FOUND: return 404;
    case v1::Error::BAD_REQUEST:
    case v1::Error::MALFORMED: return 400;
    case v1::Error::UNAUTHENTICATED: return 401;
    case v1::Error::PERMISSION_DENIED: return 403;
    case v1::Error::FRAME_TOO_LARGE: return 413;
    case v1::Error::RESOURCE_EXHAUSTED: return 429;
    case v1::Error::UNAVAILABLE: return 503;
    default: return 500;
  }
}

HttpAnswer Render(const v1::Response& response) {
  HttpAnswer a;
  switch (response.body_case()) {
    case v1::Response::kError: {
      const v1::Error& e = response.error();
      return ErrorAnswer(StatusOf(e.code()), v1::Error::Code_Name(e.code()), e.message());
    }
    case v1::Response::kAppend: a.body = ToJson(response.append()); break;
    case v1::Response::kBalance: a.body = ToJson(response.balance()); break;
    case v1::Response::kSpend: a.body = ToJson(response.spend()); break;
    case v1::Response::kDispute: a.body = ToJson(response.dispute()); break;
    case v1::Response::kHistory: a.body = ToJson(response.history()); break;
    case v1::Response::kBalanceAsOf: a.body = ToJson(response.balance_as_of()); break;
    case v1::Response::kTimeline: a.body = ToJson(response.timeline()); break;
    case v1::Response::kAccounts: a.body = ToJson(response.accounts()); break;
    case v1::Response::kForecast: a.body = ToJson(response.forecast()); break;
    case v1::Response::kEvidence:
      a.content_type = "text/csv; charset=utf-8";
      a.body = response.evidence().csv();
      return a;
    case v1::Response::kPong: a.body = ToJson(response.pong()); break;
    default: return ErrorAnswer(500, "INTERNAL", "the server gave an answer of no known kind");
  }
  a.body.push_back('\n');
  return a;
}

}  // namespace billsim::http
