// HttpApi: the HTTP/JSON API's mapping onto the wire protocol
// (proto/billsim/v1/wire.proto), with no I/O and no state: an HTTP request
// becomes either a v1::Request, which the server routes as it routes the
// binary protocol's (so both answer alike, from the same ledger and index),
// or an answer given at once (health, a malformed request); a v1::Response
// becomes a status and a JSON body (the proto3 JSON mapping of its body:
// int64 money and sequences print as strings, as that mapping says).
//
//   GET  /, /console.js, ...                     the audit console (assets.h)
//   GET  /healthz, /readyz                       the process is up; ready
//   GET  /metrics                                Prometheus text (MetricsText)
//   POST /api/v1/events                          a JSON array of Events, or
//                                                JSON lines (x-ndjson)
//   GET  /api/v1/accounts?cursor=&limit=&search=   a page of the book
//   GET  /api/v1/accounts/{id}[?as_of=TIME]      balances (as of a time:
//                                                from the history index)
//   GET  /api/v1/accounts/{id}/entries?since_seq=&cursor=&limit=&to=
//                                         &kind=&campaign=
//   GET  /api/v1/accounts/{id}/timeline?from=&to=&points=   (history/timeline.h)
//   GET  /api/v1/events/stream[?account=&since_seq=]   server-sent events
//                                                (http/event_stream.h)
//   GET  /api/v1/campaigns/{id}                  spend
//   GET  /api/v1/disputes/{id}                   a dispute
//   GET  /api/v1/disputes/{id}/evidence/spend_report.csv, .../delivery_data.csv
//
// Errors are {"error":{"code","message","field"}} with a 4xx or 5xx status;
// `field` names the parameter or event field at fault, when there is one.
#ifndef BILLSIM_HTTP_HTTP_API_H_
#define BILLSIM_HTTP_HTTP_API_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "billsim/v1/wire.pb.h"

namespace billsim::http {
namespace tiktok {
class Call;
}

// An answer: status, content type and body.
struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // a 405's Allow header
};

// {"error":{"code":CODE,"message":MESSAGE,"field":FIELD}} with `status`.
HttpAnswer ErrorAnswer(unsigned status, std::string_view code, std::string_view message,
                       std::string_view field = {});

// What the request asks for.
struct ApiCall {
  enum class Kind {
    kAnswered,  // `answer` is the whole answer (an error, most often)
    kHealth,    // GET /healthz or /readyz: no token needed
    kMetrics,   // GET /metrics
    kWire,      // `request` goes the wire protocol's way
    kStream,    // GET /api/v1/events/stream: `request.history()` holds the
                // account (may be empty) and since_seq
    kSandbox,   // under /open_api/v1.3/: `sandbox` (http/tiktok_api.h)
  };
  Kind kind = Kind::kAnswered;
  HttpAnswer answer;
  v1::Request request;
  std::shared_ptr<tiktok::Call> sandbox;
};

struct ApiLimits {
  uint32_t max_events_per_request = 500'000;
};

// Translates one request. `target` is the request line's target (path and
// query), `content_type` the Content-Type header (may be empty).
ApiCall Translate(std::string_view method, std::string_view target,
                  std::string_view content_type, std::string_view body, const ApiLimits& limits);

// The answer to a wire response (of a kWire call).
HttpAnswer Render(const v1::Response& response);

// The wire error's HTTP status: NOT_FOUND 404, BAD_REQUEST and MALFORMED
// 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, RESOURCE_EXHAUSTED 429,
// FRAME_TOO_LARGE 413, UNAVAILABLE 503.
unsigned StatusOf(v1::Error::Code code);

// The token of an "Authorization: Bearer TOKEN" header; nullopt if the
// header is absent or of another scheme.
std::optional<std::string_view> BearerToken(std::string_view authorization);

// Percent-decodes a URL component ('+' is a space in a query). False if an
// escape is malformed.
bool PercentDecode(std::string_view in, bool query, std::string* out);

}  // namespace billsim::http

#endif  // BILLSIM_HTTP_HTTP_API_H_
