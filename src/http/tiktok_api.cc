#include "http/tiktok_api.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "history/statement.h"
#include "util/keyed_id.h"
#include "util/money.h"
#include "util/time_parse.h"

namespace billsim::http::tiktok {

namespace {

using json = nlohmann::ordered_json;

// --- Exact numbers in and out -------------------------------------------------------

// JSON with every non-integer number kept as its text (a string starting
// with kRawNumber), so money is read exactly, never through a double.
constexpr char kRawNumber = '\x01';

struct ExactSax : nlohmann::detail::json_sax_dom_parser<json> {
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  explicit ExactSax(json& j) : Base(j, false) {}
  bool number_float(double, const std::string& raw) {
    std::string s = kRawNumber + raw;
    return Base::string(s);
  }
};

bool ParseJson(std::string_view text, json* out) {
  ExactSax sax(*out);
  return json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                         false) &&
         !sax.is_errored();
}

// Money out: a JSON number written from micro-units (at least two decimals,
// no trailing zeros past them), spliced in by Dump.
json Money(int64_t micros) {
  std::string s = FormatMicros(micros);
  while (s.size() > 3 && s.back() == '0' && s[s.size() - 3] != '.') s.pop_back();
  return json(kRawNumber + s);
}

// The answer's text, with Money's markers turned into numbers.
std::string Dump(const json& j) {
  // Invalid UTF-8 (a %-escaped byte echoed in a refusal) becomes U+FFFD:
  // json::dump would throw on it.
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  const std::string marker = "\"\\u0001";
  size_t i = 0;
  for (;;) {
    const size_t at = s.find(marker, i);
    if (at == std::string::npos) break;
    out.append(s, i, at - i);
    const size_t end = s.find('"', at + marker.size());
    out.append(s, at + marker.size(), end - at - marker.size());
    i = end + 1;
  }
  out.append(s, i);
  return out + "\n";
}

// --- Parameters ---------------------------------------------------------------------

// A refusal: TikTok's code and a message naming the parameter.
struct Refusal {
  int code = kBadParameter;
  std::string message;
};

// The call's parameters: the query's (objects and arrays as JSON strings,
// as TikTok passes them) or the JSON body's.
class Params {
 public:
  bool Load(std::string_view method, std::string_view target, std::string_view body,
            Refusal* why) {
    if (method == "GET") {
      const size_t q = target.find('?');
      std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
      obj_ = json::object();
      while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        std::string key, value;
        if (!PercentDecode(pair.substr(0, eq), true, &key) ||
            !PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true, &value)) {
          why->message = "the query string has a malformed %-escape";
          return false;
        }
        obj_[key] = value;
      }
      query_ = true;
      return true;
    }
    if (body.empty()) {
      obj_ = json::object();
      return true;
    }
    if (!ParseJson(body, &obj_) || !obj_.is_object()) {
      why->message = "the body is not a JSON object";
      return false;
    }
    return true;
  }

  bool Has(const char* name) const { return obj_.contains(name) && !obj_[name].is_null(); }

  // A string (or an integer written as one: ids).
  bool String(const char* name, bool required, std::string* out, Refusal* why) const {
    if (!Has(name)) return !required || Missing(name, why);
    const json& v = obj_[name];
    if (v.is_string() && (v.get_ref<const std::string&>().empty() ||
                          v.get_ref<const std::string&>()[0] != kRawNumber)) {
      *out = v.get<std::string>();
    } else if (v.is_number_integer()) {
      *out = v.dump();
    } else {
      return Bad(name, "must be a string", why);
    }
    if (required && out->empty()) return Missing(name, why);
    return true;
  }

  // Money in currency units: a JSON number (or its text), exact to 6 places.
  bool Amount(const char* name, int64_t* out, Refusal* why) const {
    const json& v = obj_[name];
    std::string text;
    if (v.is_number_integer()) {
      text = v.dump();
    } else if (v.is_string()) {
      text = v.get<std::string>();
      if (!text.empty() && text[0] == kRawNumber) text.erase(0, 1);
    } else {
      return Bad(name, "must be a number", why);
    }
    if (!ParseMicros(text, out)) {
      return Bad(name, "must be a decimal amount with at most six decimal places, got " + text,
                 why);
    }
    return true;
  }

  bool Integer(const char* name, int64_t lo, int64_t hi, int64_t fallback, int64_t* out,
               Refusal* why) const {
    if (!Has(name)) {
      *out = fallback;
      return true;
    }
    const json& v = obj_[name];
    int64_t n = 0;
    if (v.is_number_integer()) {
      n = v.get<int64_t>();
    } else if (v.is_string()) {
      const std::string s = v.get<std::string>();
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
        return Bad(name, "must be an integer", why);
      }
    } else {
      return Bad(name, "must be an integer", why);
    }
    if (n < lo || n > hi) {
      return Bad(name, "must be from " + std::to_string(lo) + " to " + std::to_string(hi), why);
    }
    *out = n;
    return true;
  }

  // An object or array parameter: in a GET query it is a JSON string.
  bool Nested(const char* name, json* out, Refusal* why) const {
    if (!Has(name)) {
      *out = json();
      return true;
    }
    if (query_) {
      const std::string text = obj_[name].get<std::string>();
      if (!ParseJson(text, out)) return Bad(name, "must be JSON (objects and arrays as JSON strings)", why);
    } else {
      *out = obj_[name];
    }
    return true;
  }

  bool StringList(const char* name, size_t max, std::vector<std::string>* out, Refusal* why) const {
    json list;
    if (!Nested(name, &list, why)) return false;
    return ListOf(list, name, max, out, why);
  }

  static bool ListOf(const json& list, const std::string& name, size_t max,
                     std::vector<std::string>* out, Refusal* why) {
    if (list.is_null()) return true;
    if (!list.is_array()) return Bad(name, "must be an array of strings", why);
    if (list.size() > max) return Bad(name, "has more than " + std::to_string(max) + " items", why);
    for (const json& v : list) {
      if (v.is_string()) {
        out->push_back(v.get<std::string>());
      } else if (v.is_number_integer()) {
        out->push_back(v.dump());
      } else {
        return Bad(name, "must be an array of strings", why);
      }
    }
    return true;
  }

  static bool Bad(const std::string& name, const std::string& reason, Refusal* why) {
    why->code = kBadParameter;
    why->message = name + ": " + reason;
    return false;
  }
  static bool Missing(const std::string& name, Refusal* why) {
    return Bad(name, "is required", why);
  }

 private:
  json obj_;
  bool query_ = false;
};

// Paging as TikTok does it: page from 1, page_size from 1 to 1,000.
struct Paging {
  int64_t page = 1;
  int64_t page_size = 10;
  bool Load(const Params& p, int64_t max_size, Refusal* why) {
    return p.Integer("page", 1, 100'000, 1, &page, why) &&
           p.Integer("page_size", 1, max_size, 10, &page_size, why);
  }
  uint64_t offset() const { return static_cast<uint64_t>((page - 1) * page_size); }
  json Info(uint64_t total) const {
    return {{"page", page},
            {"page_size", page_size},
            {"total_number", total},
            {"total_page", (total + page_size - 1) / page_size}};
  }
};

// TikTok's "2024-01-15 09:30:00" (UTC, or the account's zone).
std::string TikTokTime(int64_t time_us, int32_t utc_offset_minutes = 0) {
  std::string s = FormatTime(time_us + int64_t{utc_offset_minutes} * 60'000'000).substr(0, 19);
  s[10] = ' ';
  return s;
}

// "Etc/GMT-8" style names are inverted; TikTok reports zones by offset too.
std::string Timezone(int32_t minutes) {
  const char sign = minutes < 0 ? '-' : '+';
  const int32_t m = std::abs(minutes);
  char buf[16];
  std::snprintf(buf, sizeof buf, "UTC%c%02d:%02d", sign, m / 60, m % 60);
  return buf;
}

// A day parameter ("2026-01-15") as the local midnight's instant.
bool LocalMidnight(const std::string& name, const std::string& date, int32_t offset, int64_t* out,
                   Refusal* why) {
  int64_t utc = 0;
  if (date.size() != 10 || !ParseTimeUs(date, name, &utc).ok()) {
    return Params::Bad(name, "must be a date YYYY-MM-DD, got \"" + date + "\"", why);
  }
  *out = utc - int64_t{offset} * 60'000'000;
  return true;
}

const char* ObjectiveName(v1::Objective o) {
  switch (o) {
    case v1::OBJECTIVE_REACH: return "REACH";
    case v1::OBJECTIVE_TRAFFIC: return "TRAFFIC";
    case v1::OBJECTIVE_VIDEO_VIEWS: return "VIDEO_VIEWS";
    case v1::OBJECTIVE_CONVERSIONS: return "WEB_CONVERSIONS";
    case v1::OBJECTIVE_APP_PROMOTION: return "APP_PROMOTION";
    case v1::OBJECTIVE_LEAD_GENERATION: return "LEAD_GENERATION";
    default: return "";
  }
}

bool ParseObjective(const std::string& s, v1::Objective* out) {
  static const std::map<std::string, v1::Objective> kNames = {
      {"REACH", v1::OBJECTIVE_REACH},
      {"RF_REACH", v1::OBJECTIVE_REACH},
      {"TRAFFIC", v1::OBJECTIVE_TRAFFIC},
      {"VIDEO_VIEWS", v1::OBJECTIVE_VIDEO_VIEWS},
      {"WEB_CONVERSIONS", v1::OBJECTIVE_CONVERSIONS},
      {"CONVERSIONS", v1::OBJECTIVE_CONVERSIONS},
      {"PRODUCT_SALES", v1::OBJECTIVE_CONVERSIONS},
      {"APP_PROMOTION", v1::OBJECTIVE_APP_PROMOTION},
      {"LEAD_GENERATION", v1::OBJECTIVE_LEAD_GENERATION},
  };
  const auto it = kNames.find(s);
  if (it == kNames.end()) return false;
  *out = it->second;
  return true;
}

const char* OperationStatus(const std::string& status) {
  return status == "ENABLE" ? "ENABLE" : "DISABLE";
}

std::string SecondaryStatus(const v1::CampaignSpend& c) {
  if (c.status() == "DELETE") return "CAMPAIGN_STATUS_DELETE";
  if (c.status() == "ENABLE") return "CAMPAIGN_STATUS_ENABLE";
  if (c.budget_mode() != v1::BUDGET_MODE_INFINITE && c.budget_mode() == v1::BUDGET_MODE_TOTAL &&
      c.billed_micros() >= c.budget_micros()) {
    return "CAMPAIGN_STATUS_BUDGET_EXCEED";
  }
  return "CAMPAIGN_STATUS_DISABLE";
}

json CampaignJson(const v1::CampaignSpend& c) {
  return {{"advertiser_id", c.account_id()},
          {"campaign_id", c.campaign_id()},
          {"campaign_name", c.name()},
          {"objective_type", ObjectiveName(c.objective())},
          {"budget_mode", v1::BudgetMode_Name(c.budget_mode())},
          {"budget", Money(c.budget_micros())},
          {"operation_status", OperationStatus(c.status())},
          {"secondary_status", SecondaryStatus(c)},
          {"is_new_structure", true}};
}

// What TikTok calls each money entry (bc/account/transaction/get).
const char* TransactionType(v1::EntryKind k) {
  switch (k) {
    case v1::ADD_BALANCE: return "ADD_BALANCE";
    case v1::PROMOTION_ISSUED: return "PROMOTION_ISSUED";
    case v1::PROMOTION_EXPIRED: return "PROMOTION_EXPIRED";
    case v1::RETURN_OF_REMAINING_BUDGET: return "RETURN_OF_REMAINING_BUDGET";
    case v1::REFUND: return "REFUND";
    case v1::COST: return "COST";
    case v1::FREEZE: return "FREEZE";
    case v1::FREEZE_REDUCED: return "FREEZE_REDUCED";
    default: return "";
  }
}

bool ParseTransactionType(const std::string& s, v1::EntryKind* out) {
  for (v1::EntryKind k : {v1::ADD_BALANCE, v1::PROMOTION_ISSUED, v1::PROMOTION_EXPIRED,
                          v1::RETURN_OF_REMAINING_BUDGET, v1::REFUND, v1::COST, v1::FREEZE,
                          v1::FREEZE_REDUCED}) {
    if (s == TransactionType(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

v1::Request Balance(const std::string& account) {
  v1::Request r;
  r.mutable_balance()->set_account_id(account);
  return r;
}

// --- The calls ----------------------------------------------------------------------

// Common to every call: its request id, its answers, its refusals.
class Base : public Call {
 public:
  explicit Base(std::string request_id) : request_id_(std::move(request_id)) {}

 protected:
  Step Done(json data) const {
    Step s;
    json body = {{"code", kOk}, {"message", "OK"}, {"request_id", request_id_}, {"data", std::move(data)}};
    s.answer.body = Dump(body);
    return s;
  }
  Step Fail(const Refusal& r) const {
    Step s;
    s.answer = Envelope(r.code, r.message, request_id_);
    return s;
  }
  Step Fail(int code, const std::string& message) const { return Fail(Refusal{code, message}); }
  static Step Ask(v1::Request r) {
    Step s;
    s.request = std::move(r);
    return s;
  }
  // A wire error in TikTok's terms: the parameter it concerns named.
  Step FromError(const v1::Error& e, const std::string& param) const {
    const int code = e.code() == v1::Error::NOT_FOUND || e.code() == v1::Error::BAD_REQUEST
                         ? kBadParameter
                     : e.code() == v1::Error::PERMISSION_DENIED ? kNoPermission
                                                                 : kServerError;
    return Fail(code, param.empty() ? e.message() : param + ": " + e.message());
  }
  // The first refusal of an append, else none.
  std::optional<Step> Refused(const v1::Response& r) const {
    if (r.has_error()) return FromError(r.error(), "");
    for (const v1::Rejection& rej : r.append().rejections()) {
      if (rej.duplicate()) continue;
      return Fail(kBadParameter, rej.field() + ": " + rej.reason());
    }
    return std::nullopt;
  }
  // A statement cut at its bound is refused, never answered in part.
  Step TooLong(const std::string& param) const {
    return Fail(kBadParameter, param + ": the window holds more than " +
                                   std::to_string(history::kMaxStatementEntries) +
                                   " entries of the account; narrow it");
  }
  // The stamp of a sandbox call's events (Billsim-Time, when given).
  v1::Request Append(std::vector<v1::Event> events) const {
    v1::Request r;
    v1::AppendRequest* a = r.mutable_append();
    a->set_stamp(true);
    for (v1::Event& e : events) {
      e.set_time_us(time_us_);
      *a->add_events() = std::move(e);
    }
    return r;
  }

  std::string request_id_;
  int64_t time_us_ = 0;  // 0: the account's clock
  Params params_;
  friend std::unique_ptr<Call> tiktok::StartCall(std::string_view, std::string_view,
                                                 std::string_view, std::string_view, std::string);
};

// A call refused before it asks anything.
class RefusedCall final : public Base {
 public:
  RefusedCall(std::string request_id, Refusal why) : Base(std::move(request_id)), why_(std::move(why)) {}
  Step Next(const v1::Response*) override { return Fail(why_); }

 private:
  Refusal why_;
};

// Checks that the advertiser exists (and, with a bc_id, belongs to that
// business center), then goes on with its balance at hand.
class AdvertiserCall : public Base {
 public:
  using Base::Base;
  Step Next(const v1::Response* last) override {
    if (stage_ == 0) {
      Refusal why;
      if (!Load(&why)) return Fail(why);
      stage_ = 1;
      return Ask(Balance(advertiser_));
    }
    if (stage_ == 1) {
      if (last->has_error()) return FromError(last->error(), "advertiser_id");
      account_ = last->balance();
      if (!bc_.empty() && account_.business_center_id() != bc_) {
        return Fail(kNoPermission, "advertiser_id: advertiser " + advertiser_ +
                                       " does not belong to business center " + bc_);
      }
      stage_ = 2;
      return Then(nullptr);
    }
    return Then(last);
  }

 protected:
  // Reads the parameters: sets advertiser_ (and bc_).
  virtual bool Load(Refusal* why) = 0;
  // The call's own steps, the advertiser's balance in account_.
  virtual Step Then(const v1::Response* last) = 0;

  std::string advertiser_, bc_;
  v1::AccountBalance account_;
  int stage_ = 0;
};

class BalanceGet final : public Base {
 public:
  using Base::Base;
  Step Next(const v1::Response* last) override {
    if (last == nullptr) {
      Refusal why;
      std::string bc;
      json filtering;
      std::vector<std::string> ids;
      if (!params_.String("bc_id", true, &bc, &why) || !paging_.Load(params_, 1'000, &why) ||
          !params_.Nested("filtering", &filtering, &why)) {
        return Fail(why);
      }
      if (!filtering.is_null() && !filtering.is_object()) {
        return Fail(kBadParameter, "filtering: must be an object");
      }
      if (filtering.is_object() && filtering.contains("advertiser_ids") &&
          !Params::ListOf(filtering["advertiser_ids"], "filtering.advertiser_ids", 1'000, &ids, &why)) {
        return Fail(why);
      }
      v1::Request r;
      v1::AccountsQuery* q = r.mutable_accounts();
      q->set_business_center_id(bc);
      for (const std::string& id : ids) q->add_account_ids(id);
      q->set_cursor(paging_.offset());
      q->set_limit(static_cast<uint32_t>(paging_.page_size));
      return Ask(std::move(r));
    }
    if (last->has_error()) return FromError(last->error(), "bc_id");
    json list = json::array();
    for (const v1::AccountBalance& a : last->accounts().accounts()) {
      // Holds are drawn in the funding order, so the frozen part of each
      // source is what that order would spend first.
      const int64_t frozen = a.frozen_balance();
      const bool cash_first = a.funding_order() == v1::FUNDING_ORDER_CASH_FIRST;
      const int64_t frozen_cash =
          cash_first ? std::min(frozen, a.cash_balance())
                     : std::max<int64_t>(0, frozen - a.grant_balance());
      const int64_t frozen_grant = frozen - frozen_cash;
      list.push_back({{"advertiser_id", a.account_id()},
                      {"advertiser_name", a.name()},
                      {"advertiser_status", "STATUS_ENABLE"},
                      {"currency", a.currency()},
                      {"timezone", Timezone(a.utc_offset_minutes())},
                      {"account_balance", Money(a.cash_balance() + a.grant_balance())},
                      {"valid_account_balance", Money(a.valid_balance())},
                      {"frozen_balance", Money(frozen)},
                      {"tax", Money(0)},
                      {"cash_balance", Money(a.cash_balance())},
                      {"valid_cash_balance", Money(a.cash_balance() - frozen_cash)},
                      {"grant_balance", Money(a.grant_balance())},
                      {"valid_grant_balance", Money(a.grant_balance() - frozen_grant)},
                      {"transferable_amount", Money(0)},
                      {"budget_mode", "BUDGET_MODE_INFINITE"},
                      {"budget", Money(0)},
                      {"budget_cost", Money(a.total_spent())},
                      {"budget_remaining", Money(0)}});
    }
    return Done({{"advertiser_account_list", std::move(list)},
                 {"page_info", paging_.Info(last->accounts().total())}});
  }

 private:
  Paging paging_;
};

// bc/account/transaction/get (ENTRIES) and advertiser/transaction/get (DAYS).
class TransactionGet final : public AdvertiserCall {
 public:
  TransactionGet(std::string request_id, bool daily)
      : AdvertiserCall(std::move(request_id)), daily_(daily) {}

 private:
  bool Load(Refusal* why) override {
    json filtering;
    if (!params_.String("bc_id", true, &bc_, why) || !paging_.Load(params_, 1'000, why) ||
        !params_.Nested("filtering", &filtering, why)) {
      return false;
    }
    if (!filtering.is_null() && !filtering.is_object()) {
      return Params::Bad("filtering", "must be an object", why);
    }
    filtering_ = filtering.is_null() ? json::object() : filtering;
    std::vector<std::string> ids;
    const char* ids_name = daily_ ? "advertiser_ids" : "account_ids";
    if (filtering_.contains(ids_name) &&
        !Params::ListOf(filtering_[ids_name], std::string("filtering.") + ids_name, 1, &ids, why)) {
      return false;
    }
    if (ids.empty() && !params_.String("advertiser_id", false, &advertiser_, why)) return false;
    if (!ids.empty()) advertiser_ = ids[0];
    if (advertiser_.empty()) {
      return Params::Bad(std::string("filtering.") + ids_name,
                         "name the advertiser (one id: billsim lists one account at a time)", why);
    }
    return true;
  }

  Step Then(const v1::Response* last) override {
    if (last == nullptr) {
      Refusal why;
      v1::Request r;
      v1::StatementQuery* q = r.mutable_statement();
      q->set_account_id(advertiser_);
      q->set_utc_offset_minutes(account_.utc_offset_minutes());
      q->set_offset(static_cast<uint32_t>(paging_.offset()));
      q->set_limit(static_cast<uint32_t>(paging_.page_size));
      const char* from = daily_ ? "start_date" : "start_time";
      const char* to = daily_ ? "end_date" : "end_time";
      for (const char* name : {from, to}) {
        if (!filtering_.contains(name)) continue;
        if (!filtering_[name].is_string()) return Fail(kBadParameter, std::string("filtering.") + name + ": must be a string");
        std::string text = filtering_[name].get<std::string>();
        int64_t at = 0;
        if (!LocalMidnight(std::string("filtering.") + name, text.substr(0, 10),
                           account_.utc_offset_minutes(), &at, &why)) {
          return Fail(why);
        }
        // A day's window: from its local midnight to the next one's.
        if (name == to) at += 86'400'000'000;
        if (name == from) q->set_from_us(at); else q->set_to_us(at);
      }
      if (daily_) {
        q->set_group(v1::StatementQuery::DAYS);
        for (v1::EntryKind k : {v1::ADD_BALANCE, v1::PROMOTION_ISSUED, v1::COST,
                                v1::PROMOTION_EXPIRED, v1::REFUND}) {
          q->add_kinds(k);
        }
      } else {
        std::vector<std::string> types;
        if (filtering_.contains("transaction_types") &&
            !Params::ListOf(filtering_["transaction_types"], "filtering.transaction_types", 20,
                            &types, &why)) {
          return Fail(why);
        }
        if (types.empty()) {
          types = {"ADD_BALANCE", "PROMOTION_ISSUED", "PROMOTION_EXPIRED",
                   "RETURN_OF_REMAINING_BUDGET", "REFUND", "COST"};
        }
        for (const std::string& t : types) {
          v1::EntryKind k;
          if (!ParseTransactionType(t, &k)) {
            return Fail(kBadParameter, "filtering.transaction_types: unknown type \"" + t + "\"");
          }
          q->add_kinds(k);
        }
      }
      return Ask(std::move(r));
    }
    if (last->has_error()) return FromError(last->error(), "");
    if (last->statement().truncated()) return TooLong(daily_ ? "filtering.start_date" : "filtering.start_time");
    json list = json::array();
    const int32_t tz = account_.utc_offset_minutes();
    for (const v1::Statement::Row& row : last->statement().rows()) {
      if (daily_) {
        const int64_t cash = row.cash_in() - row.cash_spent();
        const int64_t grant = row.grant_in() - row.grant_spent() - row.expired() + row.refunded();
        list.push_back({{"advertiser_id", advertiser_},
                        {"advertiser_name", account_.name()},
                        {"date", row.date()},
                        {"currency", account_.currency()},
                        {"cash_amount", Money(cash)},
                        {"grant_amount", Money(grant)},
                        {"tax_amount", Money(0)},
                        {"total_amount", Money(cash + grant)},
                        {"cash_in", Money(row.cash_in())},
                        {"grant_in", Money(row.grant_in())},
                        {"cash_cost", Money(row.cash_spent())},
                        {"grant_cost", Money(row.grant_spent())},
                        {"grant_expired", Money(row.expired())},
                        {"refund", Money(row.refunded())}});
        continue;
      }
      const v1::LedgerEntry& e = row.entry();
      const bool grant = e.funds_type() == v1::FUNDS_TYPE_GRANT;
      const int64_t amount = e.kind() == v1::FREEZE || e.kind() == v1::FREEZE_REDUCED ||
                                     e.kind() == v1::RETURN_OF_REMAINING_BUDGET
                                 ? -e.frozen_delta_micros()
                                 : e.balance_delta_micros();
      list.push_back({{"transaction_id", std::to_string(e.seq())},
                      {"account_id", advertiser_},
                      {"account_name", account_.name()},
                      {"transaction_type", TransactionType(e.kind())},
                      {"billing_type", grant ? "GRANT" : "CASH"},
                      {"amount", Money(amount)},
                      {"cash_amount", Money(grant ? 0 : amount)},
                      {"grant_amount", Money(grant ? amount : 0)},
                      {"currency", account_.currency()},
                      {"campaign_id", e.campaign_id()},
                      {"grant_id", e.grant_id()},
                      {"create_time", TikTokTime(e.time_us(), tz)},
                      {"description", e.note()}});
    }
    return Done({{daily_ ? "list" : "transaction_list", std::move(list)},
                 {"page_info", paging_.Info(last->statement().total())}});
  }

  const bool daily_;
  json filtering_;
  Paging paging_;
};

class Transfer final : public AdvertiserCall {
 public:
  using AdvertiserCall::AdvertiserCall;

 private:
  bool Load(Refusal* why) override {
    std::string type;
    if (!params_.String("bc_id", true, &bc_, why) ||
        !params_.String("advertiser_id", true, &advertiser_, why) ||
        !params_.String("transfer_type", true, &type, why)) {
      return false;
    }
    if (type != "RECHARGE") {
      return Params::Bad("transfer_type",
                         "must be RECHARGE (billsim moves money into an account, never out: "
                         "unused credit is removed at expiry, not refunded), got " + type, why);
    }
    if (params_.Has("cash_amount") && !params_.Amount("cash_amount", &cash_, why)) return false;
    if (params_.Has("grant_amount") && !params_.Amount("grant_amount", &grant_, why)) return false;
    if (cash_ <= 0 && grant_ <= 0) {
      return Params::Bad("cash_amount", "give a positive cash_amount or grant_amount", why);
    }
    if (cash_ < 0) return Params::Bad("cash_amount", "must be positive", why);
    if (grant_ < 0) return Params::Bad("grant_amount", "must be positive", why);
    std::string expiry;
    if (!params_.String("grant_expire_time", false, &expiry, why)) return false;
    if (!expiry.empty() && !ParseTimeUs(expiry, "grant_expire_time", &expires_).ok()) {
      return Params::Bad("grant_expire_time",
                         "must be an RFC 3339 time or a date, got \"" + expiry + "\"", why);
    }
    return params_.String("grant_program", false, &program_, why);
  }

  Step Then(const v1::Response* last) override {
    if (last == nullptr) {
      std::vector<v1::Event> events;
      if (cash_ > 0) {
        v1::CashDeposited* d = events.emplace_back().mutable_cash_deposited();
        d->set_account_id(advertiser_);
        d->set_amount_micros(cash_);
        d->set_reference("bc/transfer from " + bc_);
      }
      if (grant_ > 0) {
        // Credit always expires (R6): when grant_expire_time says, else 90
        // days after the grant (the server stamps it: expires_at_us 0).
        v1::CreditGranted* g = events.emplace_back().mutable_credit_granted();
        g->set_account_id(advertiser_);
        g->set_amount_micros(grant_);
        g->set_expires_at_us(expires_);
        g->set_program(program_.empty() ? "bc/transfer from " + bc_ : program_);
      }
      return Ask(Append(std::move(events)));
    }
    if (auto refused = Refused(*last)) return *refused;
    return Done(json::object());
  }


  int64_t cash_ = 0, grant_ = 0, expires_ = 0;
  std::string program_;
};

class CampaignCreate final : public AdvertiserCall {
 public:
  using AdvertiserCall::AdvertiserCall;

 private:
  bool Load(Refusal* why) override {
    std::string objective, mode, status, billing, key;
    if (!params_.String("advertiser_id", true, &advertiser_, why) ||
        !params_.String("campaign_name", true, &name_, why) ||
        !params_.String("objective_type", true, &objective, why) ||
        !params_.String("budget_mode", false, &mode, why) ||
        !params_.String("operation_status", false, &status, why) ||
        !params_.String("request_id", false, &key, why) ||
        !params_.String("billing_event", false, &billing, why)) {
      return false;
    }
    if (!ParseObjective(objective, &c_.objective_)) {
      return Params::Bad("objective_type",
                         "must be REACH, TRAFFIC, VIDEO_VIEWS, WEB_CONVERSIONS, APP_PROMOTION "
                         "or LEAD_GENERATION, got \"" + objective + "\"", why);
    }
    if (mode.empty()) mode = "BUDGET_MODE_INFINITE";
    if (!v1::BudgetMode_Parse(mode, &c_.mode_) || c_.mode_ == v1::BUDGET_MODE_UNSPECIFIED) {
      return Params::Bad("budget_mode",
                         "must be BUDGET_MODE_DAY, BUDGET_MODE_TOTAL or BUDGET_MODE_INFINITE, got \"" +
                             mode + "\"", why);
    }
    if (c_.mode_ != v1::BUDGET_MODE_INFINITE) {
      if (!params_.Has("budget")) return Params::Missing("budget", why);
      if (!params_.Amount("budget", &c_.budget_, why)) return false;
    }
    if (status.empty()) status = "ENABLE";  // TikTok's default
    if (status != "ENABLE" && status != "DISABLE") {
      return Params::Bad("operation_status", "must be ENABLE or DISABLE, got \"" + status + "\"", why);
    }
    enable_ = status == "ENABLE";
    // TikTok prices on the ad group; billsim's campaign carries its billing
    // event and price: the ad group's names for them, defaulted by objective.
    if (billing.empty()) {
      billing = c_.objective_ == v1::OBJECTIVE_TRAFFIC      ? "CPC"
                : c_.objective_ == v1::OBJECTIVE_VIDEO_VIEWS ? "CPV"
                                                             : "CPM";
    }
    if (billing == "CPM") {
      c_.billing_ = v1::BILLING_EVENT_CPM;
    } else if (billing == "CPC") {
      c_.billing_ = v1::BILLING_EVENT_CPC;
    } else if (billing == "CPV") {
      c_.billing_ = v1::BILLING_EVENT_CPV_6S;
    } else if (billing == "CPV_2S") {
      c_.billing_ = v1::BILLING_EVENT_CPV_2S;
    } else {
      return Params::Bad("billing_event", "must be CPM, CPC, CPV or CPV_2S, got \"" + billing + "\"",
                         why);
    }
    if (!params_.Has("bid_price")) {
      return Params::Bad("bid_price",
                         "is required by billsim's sandbox: the price per billing event (per "
                         "1,000 impressions for CPM), which TikTok sets on the ad group",
                         why);
    }
    if (!params_.Amount("bid_price", &c_.price_, why)) return false;
    if (!key.empty()) key_ = advertiser_ + "/" + key;
    return true;
  }

  Step Then(const v1::Response* last) override {
    if (last == nullptr) {
      std::vector<v1::Event> events;
      v1::Event& created = events.emplace_back();
      v1::CampaignCreated* m = created.mutable_campaign_created();
      m->set_account_id(advertiser_);
      m->set_name(name_);
      m->set_objective(c_.objective_);
      m->set_billing_event(c_.billing_);
      m->set_price_micros(c_.price_);
      m->set_budget_mode(c_.mode_);
      m->set_budget_micros(c_.budget_);
      if (!key_.empty()) {
        // request_id, TikTok's idempotency key: a retry is a duplicate.
        created.set_event_id(KeyedId(key_));
        campaign_id_ = std::to_string(created.event_id() & ~(uint64_t{1} << 63));
        m->set_campaign_id(campaign_id_);
      }
      if (enable_) {
        v1::Event& on = events.emplace_back();
        if (!key_.empty()) on.set_event_id(KeyedId(key_ + "/enable"));
        v1::CampaignStatusChanged* s = on.mutable_campaign_status_changed();
        s->set_account_id(advertiser_);
        s->set_campaign_id(campaign_id_.empty() ? "" : campaign_id_);
        s->set_operation(v1::CampaignStatusChanged::ENABLE);
      }
      if (enable_ && key_.empty()) {
        // The campaign's id is its stamped event id: enabled by a second call.
        events.pop_back();
        enable_later_ = true;
      }
      asked_ = 1;
      return Ask(Append(std::move(events)));
    }
    if (asked_ == 1 || asked_ == 2) {
      if (auto refused = Refused(*last)) return *refused;
      if (campaign_id_.empty()) {
        if (last->append().stamped_ids_size() == 0) return Fail(kServerError, "no id was stamped");
        campaign_id_ = std::to_string(last->append().stamped_ids(0));
      }
      if (enable_later_ && asked_ == 1) {
        asked_ = 2;
        v1::Event on;
        v1::CampaignStatusChanged* s = on.mutable_campaign_status_changed();
        s->set_account_id(advertiser_);
        s->set_campaign_id(campaign_id_);
        s->set_operation(v1::CampaignStatusChanged::ENABLE);
        return Ask(Append({std::move(on)}));
      }
      asked_ = 3;
      v1::Request r;
      r.mutable_campaigns()->set_account_id(advertiser_);
      r.mutable_campaigns()->add_campaign_ids(campaign_id_);
      return Ask(std::move(r));
    }
    if (last->has_error()) return FromError(last->error(), "");
    if (last->campaigns().campaigns_size() == 0) {
      return Fail(kBadParameter, "request_id: it names campaign " + campaign_id_ +
                                     " of another advertiser");
    }
    return Done(CampaignJson(last->campaigns().campaigns(0)));
  }

  struct Fields {
    v1::Objective objective_ = v1::OBJECTIVE_UNSPECIFIED;
    v1::BudgetMode mode_ = v1::BUDGET_MODE_UNSPECIFIED;
    v1::BillingEvent billing_ = v1::BILLING_EVENT_UNSPECIFIED;
    int64_t budget_ = 0, price_ = 0;
  } c_;
  std::string name_, key_, campaign_id_;
  bool enable_ = false, enable_later_ = false;
  int asked_ = 0;
};

class CampaignGet final : public AdvertiserCall {
 public:
  using AdvertiserCall::AdvertiserCall;

 private:
  bool Load(Refusal* why) override {
    json filtering;
    if (!params_.String("advertiser_id", true, &advertiser_, why) ||
        !paging_.Load(params_, 1'000, why) || !params_.Nested("filtering", &filtering, why)) {
      return false;
    }
    if (filtering.is_null()) return true;
    if (!filtering.is_object()) return Params::Bad("filtering", "must be an object", why);
    for (const auto& [key, value] : filtering.items()) {
      if (key != "campaign_ids") {
        return Params::Bad("filtering." + key,
                           "billsim's sandbox filters campaigns by campaign_ids only", why);
      }
    }
    return Params::ListOf(filtering["campaign_ids"], "filtering.campaign_ids", 100, &ids_, why);
  }

  Step Then(const v1::Response* last) override {
    if (last == nullptr) {
      v1::Request r;
      v1::CampaignsQuery* q = r.mutable_campaigns();
      q->set_account_id(advertiser_);
      for (const std::string& id : ids_) q->add_campaign_ids(id);
      q->set_cursor(paging_.offset());
      q->set_limit(static_cast<uint32_t>(paging_.page_size));
      return Ask(std::move(r));
    }
    if (last->has_error()) return FromError(last->error(), "advertiser_id");
    json list = json::array();
    for (const v1::CampaignSpend& c : last->campaigns().campaigns()) list.push_back(CampaignJson(c));
    return Done({{"list", std::move(list)}, {"page_info", paging_.Info(last->campaigns().total())}});
  }

  std::vector<std::string> ids_;
  Paging paging_;
};

class CampaignUpdate final : public AdvertiserCall {
 public:
  using AdvertiserCall::AdvertiserCall;

 private:
  bool Load(Refusal* why) override {
    if (!params_.String("advertiser_id", true, &advertiser_, why) ||
        !params_.String("campaign_id", true, &campaign_, why)) {
      return false;
    }
    if (params_.Has("campaign_name") && !params_.String("campaign_name", true, &name_, why)) {
      return false;
    }
    if (params_.Has("budget") && !params_.Amount("budget", &budget_, why)) return false;
    if (!params_.Has("campaign_name") && !params_.Has("budget")) {
      return Params::Bad("campaign_name", "give campaign_name or budget to change", why);
    }
    return true;
  }

  Step Then(const v1::Response* last) override {
    if (last == nullptr) {
      v1::Event e;
      v1::CampaignUpdated* u = e.mutable_campaign_updated();
      u->set_account_id(advertiser_);
      u->set_campaign_id(campaign_);
      if (params_.Has("campaign_name")) u->set_name(name_);
      if (params_.Has("budget")) u->set_budget_micros(budget_);
      asked_ = true;
      return Ask(Append({std::move(e)}));
    }
    if (asked_) {
      if (auto refused = Refused(*last)) return *refused;
      asked_ = false;
      v1::Request r;
      r.mutable_campaigns()->set_account_id(advertiser_);
      r.mutable_campaigns()->add_campaign_ids(campaign_);
      return Ask(std::move(r));
    }
    if (last->has_error() || last->campaigns().campaigns_size() == 0) {
      return Fail(kServerError, "the updated campaign could not be read back");
    }
    return Done(CampaignJson(last->campaigns().campaigns(0)));
  }

  std::string campaign_, name_;
  int64_t budget_ = 0;
  bool asked_ = false;
};

class CampaignStatusUpdate final : public AdvertiserCall {
 public:
  using AdvertiserCall::AdvertiserCall;

 private:
  bool Load(Refusal* why) override {
    if (!params_.String("advertiser_id", true, &advertiser_, why) ||
        !params_.String("operation_status", true, &status_, why) ||
        !params_.StringList("campaign_ids", 20, &ids_, why)) {
      return false;
    }
    if (ids_.empty()) return Params::Missing("campaign_ids", why);
    if (!v1::CampaignStatusChanged::Operation_Parse(status_, &op_) ||
        op_ == v1::CampaignStatusChanged::OPERATION_UNSPECIFIED) {
      return Params::Bad("operation_status",
                         "must be ENABLE, DISABLE or DELETE, got \"" + status_ + "\"", why);
    }
    return true;
  }

  Step Then(const v1::Response* last) override {
    if (last == nullptr) {
      std::vector<v1::Event> events;
      for (const std::string& id : ids_) {
        v1::CampaignStatusChanged* s = events.emplace_back().mutable_campaign_status_changed();
        s->set_account_id(advertiser_);
        s->set_campaign_id(id);
        s->set_operation(op_);
      }
      return Ask(Append(std::move(events)));
    }
    if (last->has_error()) return FromError(last->error(), "");
    // Each campaign's change stands alone (as each event does): the ones
    // refused are named, the rest took effect.
    std::map<uint64_t, const v1::Rejection*> refused;
    for (const v1::Rejection& r : last->append().rejections()) refused[r.event_id()] = &r;
    json done = json::array(), failed = json::array();
    for (int i = 0; i < last->append().stamped_ids_size() && i < static_cast<int>(ids_.size()); ++i) {
      const auto it = refused.find(last->append().stamped_ids(i));
      if (it == refused.end()) {
        done.push_back(ids_[i]);
      } else {
        failed.push_back({{"campaign_id", ids_[i]}, {"message", it->second->reason()}});
      }
    }
    if (done.empty()) {
      return Fail(kBadParameter, "campaign_ids: " + failed[0]["message"].get<std::string>());
    }
    json data = {{"campaign_ids", std::move(done)}, {"status", status_}};
    if (!failed.empty()) data["failed_campaigns"] = std::move(failed);
    return Done(std::move(data));
  }

  std::string status_;
  std::vector<std::string> ids_;
  v1::CampaignStatusChanged::Operation op_ = v1::CampaignStatusChanged::OPERATION_UNSPECIFIED;
};

// A metric's text as TikTok's reports write them: strings.
std::string Decimal(int64_t micros) {
  std::string s = FormatMicros(micros);
  while (s.size() > 3 && s.back() == '0' && s[s.size() - 3] != '.') s.pop_back();
  return s;
}

// a / b in micro-units, floored (0 when b is 0): cpm, cpc, ctr.
int64_t Ratio(int64_t a, int64_t scale, int64_t b) {
  return b == 0 ? 0 : static_cast<int64_t>(static_cast<__int128>(a) * scale / b);
}

class ReportGet final : public AdvertiserCall {
 public:
  using AdvertiserCall::AdvertiserCall;

 private:
  bool Load(Refusal* why) override {
    std::string report_type, level;
    json dimensions, metrics, filtering;
    if (!params_.String("advertiser_id", true, &advertiser_, why) ||
        !params_.String("report_type", true, &report_type, why) ||
        !params_.String("data_level", false, &level, why) ||
        !params_.Nested("dimensions", &dimensions, why) ||
        !params_.Nested("metrics", &metrics, why) ||
        !params_.Nested("filtering", &filtering, why) ||
        !params_.String("start_date", false, &start_, why) ||
        !params_.String("end_date", false, &end_, why) || !paging_.Load(params_, 1'000, why)) {
      return false;
    }
    if (report_type != "BASIC") {
      return Params::Bad("report_type", "billsim's sandbox serves BASIC reports, got \"" + report_type + "\"", why);
    }
    if (!level.empty() && level != "AUCTION_CAMPAIGN") {
      return Params::Bad("data_level", "billsim's sandbox reports AUCTION_CAMPAIGN, got \"" + level + "\"", why);
    }
    std::vector<std::string> dims;
    if (dimensions.is_null()) return Params::Missing("dimensions", why);
    if (!Params::ListOf(dimensions, "dimensions", 4, &dims, why)) return false;
    std::sort(dims.begin(), dims.end());
    if (dims != std::vector<std::string>{"campaign_id", "stat_time_day"}) {
      return Params::Bad("dimensions", "must be [\"campaign_id\", \"stat_time_day\"]", why);
    }
    if (metrics.is_null()) metrics = json::array({"spend", "impressions", "clicks"});
    if (!Params::ListOf(metrics, "metrics", 50, &metrics_, why)) return false;
    static const std::vector<std::string> kKnown = {
        "spend", "impressions", "clicks", "cpm", "cpc", "ctr", "video_watched_2s",
        "video_watched_6s", "conversion", "currency", "campaign_name"};
    for (const std::string& m : metrics_) {
      if (std::find(kKnown.begin(), kKnown.end(), m) == kKnown.end()) {
        return Params::Bad("metrics", "unknown or unsupported metric \"" + m + "\"", why);
      }
    }
    if (start_.empty()) return Params::Missing("start_date", why);
    if (end_.empty()) return Params::Missing("end_date", why);
    if (filtering.is_array()) {
      for (const json& f : filtering) {
        // A field of another type is refused, not thrown on (json::value
        // would throw type_error for a number where a string is expected).
        const auto text = [&f](const char* key) {
          return f.contains(key) && f[key].is_string() ? f[key].get<std::string>() : std::string();
        };
        if (!f.is_object() || text("field_name") != "campaign_ids" || text("filter_type") != "IN" ||
            !f.contains("filter_value")) {
          return Params::Bad("filtering", "billsim's sandbox filters by campaign_ids IN only", why);
        }
        json values = f["filter_value"];
        if (values.is_string() && !ParseJson(values.get<std::string>(), &values)) {
          return Params::Bad("filtering.filter_value", "must be a JSON array string", why);
        }
        std::vector<std::string> ids;
        if (!Params::ListOf(values, "filtering.filter_value", 100, &ids, why)) return false;
        campaigns_.insert(ids.begin(), ids.end());
        filtered_ = true;
      }
    } else if (!filtering.is_null()) {
      return Params::Bad("filtering", "must be an array of filters", why);
    }
    return true;
  }

  Step Then(const v1::Response* last) override {
    const int32_t tz = account_.utc_offset_minutes();
    if (last == nullptr) {
      Refusal why;
      int64_t from = 0, to = 0;
      if (!LocalMidnight("start_date", start_, tz, &from, &why) ||
          !LocalMidnight("end_date", end_, tz, &to, &why)) {
        return Fail(why);
      }
      to += 86'400'000'000;  // end_date is included
      if (to <= from) return Fail(kBadParameter, "end_date: before start_date");
      if (to - from > int64_t{366} * 86'400'000'000) {
        return Fail(kBadParameter, "end_date: at most 366 days after start_date");
      }
      v1::Request r;
      v1::StatementQuery* q = r.mutable_statement();
      q->set_account_id(advertiser_);
      q->set_from_us(from);
      q->set_to_us(to);
      q->set_utc_offset_minutes(tz);
      q->add_kinds(v1::COST);
      q->add_kinds(v1::NOT_BILLED);
      q->set_group(v1::StatementQuery::CAMPAIGN_DAYS);
      if (!filtered_) {
        q->set_offset(static_cast<uint32_t>(paging_.offset()));
        q->set_limit(static_cast<uint32_t>(paging_.page_size));
      } else {
        q->set_limit(history::kMaxStatementRows);  // filtered here, then paged
      }
      return Ask(std::move(r));
    }
    if (last->has_error()) return FromError(last->error(), "");
    if (last->statement().truncated()) return TooLong("start_date");
    std::vector<const v1::Statement::Row*> rows;
    for (const v1::Statement::Row& row : last->statement().rows()) {
      if (!filtered_ || campaigns_.count(row.campaign_id()) > 0) rows.push_back(&row);
    }
    uint64_t total = last->statement().total();
    if (filtered_) {
      total = rows.size();
      const uint64_t first = std::min<uint64_t>(paging_.offset(), rows.size());
      const uint64_t end = std::min<uint64_t>(first + paging_.page_size, rows.size());
      rows = std::vector<const v1::Statement::Row*>(rows.begin() + first, rows.begin() + end);
    }
    json list = json::array();
    for (const v1::Statement::Row* row : rows) {
      json m = json::object();
      for (const std::string& name : metrics_) {
        if (name == "spend") m[name] = Decimal(row->spend());
        if (name == "impressions") m[name] = std::to_string(row->impressions());
        if (name == "clicks") m[name] = std::to_string(row->clicks());
        if (name == "cpm") m[name] = Decimal(Ratio(row->spend(), 1000, row->impressions()));
        if (name == "cpc") m[name] = Decimal(Ratio(row->spend(), 1, row->clicks()));
        if (name == "ctr") m[name] = Decimal(Ratio(row->clicks(), 100'000'000, row->impressions()));
        if (name == "video_watched_2s") m[name] = std::to_string(row->video_views_2s());
        if (name == "video_watched_6s") m[name] = std::to_string(row->video_views_6s());
        if (name == "conversion") m[name] = std::to_string(row->conversions());
        if (name == "currency") m[name] = account_.currency();
        if (name == "campaign_name") m[name] = "";
      }
      list.push_back({{"dimensions",
                       {{"campaign_id", row->campaign_id()},
                        {"stat_time_day", row->date() + " 00:00:00"}}},
                      {"metrics", std::move(m)}});
    }
    return Done({{"list", std::move(list)}, {"page_info", paging_.Info(total)}});
  }

  std::string start_, end_;
  std::vector<std::string> metrics_;
  std::set<std::string> campaigns_;
  bool filtered_ = false;
  Paging paging_;
};

}  // namespace

bool IsSandboxPath(std::string_view target) { return target.starts_with(kPathPrefix); }

HttpAnswer Envelope(int code, std::string_view message, std::string_view request_id) {
  HttpAnswer a;
  const json body = {{"code", code},
                     {"message", std::string(message)},
                     {"request_id", std::string(request_id)},
                     {"data", json::object()}};
  a.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return a;
}

std::unique_ptr<Call> StartCall(std::string_view method, std::string_view target,
                                std::string_view body, std::string_view time_header,
                                std::string request_id) {
  const std::string_view path = target.substr(0, target.find('?')).substr(kPathPrefix.size());
  struct Route {
    std::string_view path;
    std::string_view method;
  };
  std::unique_ptr<Base> call;
  std::string_view want;
  if (path == "advertiser/balance/get/") {
    want = "GET", call = std::make_unique<BalanceGet>(request_id);
  } else if (path == "bc/account/transaction/get/") {
    want = "GET", call = std::make_unique<TransactionGet>(request_id, false);
  } else if (path == "advertiser/transaction/get/") {
    want = "GET", call = std::make_unique<TransactionGet>(request_id, true);
  } else if (path == "bc/transfer/") {
    want = "POST", call = std::make_unique<Transfer>(request_id);
  } else if (path == "campaign/create/") {
    want = "POST", call = std::make_unique<CampaignCreate>(request_id);
  } else if (path == "campaign/get/") {
    want = "GET", call = std::make_unique<CampaignGet>(request_id);
  } else if (path == "campaign/update/") {
    want = "POST", call = std::make_unique<CampaignUpdate>(request_id);
  } else if (path == "campaign/status/update/") {
    want = "POST", call = std::make_unique<CampaignStatusUpdate>(request_id);
  } else if (path == "report/integrated/get/") {
    want = "GET", call = std::make_unique<ReportGet>(request_id);
  } else {
    return std::make_unique<RefusedCall>(
        std::move(request_id),
        Refusal{kBadParameter, std::string(kPathPrefix) + std::string(path) +
                                   ": not an endpoint of billsim's TikTok sandbox"});
  }
  if (method != want) {
    return std::make_unique<RefusedCall>(
        std::move(request_id),
        Refusal{kBadParameter, std::string(path) + ": use " + std::string(want) + ", not " +
                                   std::string(method)});
  }
  Refusal why;
  if (!call->params_.Load(method, target, body, &why)) {
    return std::make_unique<RefusedCall>(std::move(request_id), why);
  }
  if (!time_header.empty()) {
    int64_t at = 0;
    const Status st = ParseTimeUs(time_header, "Billsim-Time", &at);
    if (!st.ok()) {
      return std::make_unique<RefusedCall>(std::move(request_id), Refusal{kBadParameter, st.message()});
    }
    if (at == 0) {
      return std::make_unique<RefusedCall>(std::move(request_id),
                                       Refusal{kBadParameter, "Billsim-Time: must be after 1970"});
    }
    call->time_us_ = at;
  }
  return call;
}

}  // namespace billsim::http::tiktok
