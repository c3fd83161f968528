// The TikTok sandbox: the parts of TikTok's Business API (v1.3) that
// concern money, served under /open_api/v1.3/ on `billsim serve --http`, so
// that code written for TikTok (its official SDK included) runs against a
// deterministic local ledger. No I/O and no state of its own: a call is a
// short conversation of wire requests (wire.proto), routed as every HTTP
// request is, and its answer is rendered from their responses. So every
// figure is billsim's own projection, and every change is a billsim event
// in the log (a replay reproduces everything the API did).
//
//   GET  advertiser/balance/get/        a business center's accounts and
//                                       balances (AccountsQuery)
//   GET  bc/account/transaction/get/    an account's money entries
//                                       (StatementQuery, ENTRIES)
//   GET  advertiser/transaction/get/    its money in and out by local day
//                                       (StatementQuery, DAYS)
//   POST bc/transfer/                   RECHARGE: cash_amount deposits
//                                       (CashDeposited), grant_amount grants
//                                       credit (CreditGranted)
//   POST campaign/create/               CampaignCreated (+ ENABLE)
//   GET  campaign/get/                  CampaignsQuery
//   POST campaign/update/               CampaignUpdated (name, budget)
//   POST campaign/status/update/        CampaignStatusChanged, <= 20
//   GET  report/integrated/get/         BASIC, AUCTION_CAMPAIGN, by
//                                       campaign_id and stat_time_day
//                                       (StatementQuery, CAMPAIGN_DAYS)
//
// TikTok's conventions: the Access-Token header (one of the server's
// tokens, as Bearer is for /api/v1); answers are HTTP 200 with
// {"code","message","request_id","data"}, code 0 on success, else a
// TikTok-style code (40002 a bad parameter, named in the message; 40001
// no permission; 40105 a bad token; 51000 the server could not) ; GET
// parameters that are objects or arrays come as JSON strings; lists are
// paged with page_info {page, page_size, total_number, total_page}; money
// is a JSON number in the account's currency (written from micro-units
// exactly, never through a float).
//
// Events the sandbox writes are stamped by the server (AppendRequest.stamp):
// ids from 2^62, the time of the account's clock. So the sandbox's clock
// is the log's: it moves with the events posted to /api/v1/events
// (delivery, ClockAdvanced), or with a `Billsim-Time` header (RFC 3339 or
// microseconds) on a sandbox call. campaign/create's request_id is its
// idempotency key: the event id is derived from it (top bit set), so a
// retry is a duplicate (R10) and answers the same campaign.
#ifndef BILLSIM_HTTP_TIKTOK_API_H_
#define BILLSIM_HTTP_TIKTOK_API_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "billsim/v1/wire.pb.h"
#include "http/http_api.h"

namespace billsim::http::tiktok {

inline constexpr std::string_view kPathPrefix = "/open_api/v1.3/";

// TikTok's codes, as its reference documents them.
inline constexpr int kOk = 0;
inline constexpr int kNoPermission = 40001;
inline constexpr int kBadParameter = 40002;
inline constexpr int kBadToken = 40105;
inline constexpr int kServerError = 51000;

// One call in progress.
class Call {
 public:
  virtual ~Call() = default;
  // What to do next, given the response to the request asked for last
  // (nullptr at the start): a wire request to route, or the answer.
  struct Step {
    std::optional<v1::Request> request;
    HttpAnswer answer;
  };
  virtual Step Next(const v1::Response* last) = 0;
};

// True when `target`'s path is the sandbox's.
bool IsSandboxPath(std::string_view target);

// The call for a request under kPathPrefix. `request_id` is the answer's
// request_id; `time_header` the Billsim-Time header (may be empty). An
// unknown endpoint or a malformed request gives a call that answers at once.
std::unique_ptr<Call> StartCall(std::string_view method, std::string_view target,
                                std::string_view body, std::string_view time_header,
                                std::string request_id);

// {"code":code,"message":message,"request_id":...,"data":{}}, HTTP 200.
HttpAnswer Envelope(int code, std::string_view message, std::string_view request_id);

}  // namespace billsim::http::tiktok

#endif  // BILLSIM_HTTP_TIKTOK_API_H_
