#include "http/http_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "http/assets.h"
#include "http/event_stream.h"
#include "http/metrics.h"
#include "net/frame.h"

namespace billsim::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using server::ConnectionManager;

namespace {

// The read buffer's bound: the header fits it, and a body passes through
// it a chunk at a time into the request.
constexpr size_t kReadBufferBytes = 128 * 1024;

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

// A sandbox answer's request_id: the connection and its request.
std::string SandboxRequestId(uint64_t connection, uint64_t slot) {
  return std::to_string(connection) + "-" + std::to_string(slot);
}

}  // namespace

HttpSession::HttpSession(std::shared_ptr<ConnectionManager> manager, tcp::socket socket,
                         uint64_t id)
    : manager_(std::move(manager)),
      stream_(std::move(socket)),
      buffer_(kReadBufferBytes),
      wait_timer_(manager_->io()),
      id_(id) {}

void HttpSession::Start() {
  boost::system::error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
  ReadHeader();
}

// --- Reading ------------------------------------------------------------------------

void HttpSession::ReadHeader() {
  if (phase_ == Phase::kClosed) return;
  if (closing_ || manager_->stopping) {
    Close();
    return;
  }
  if (manager_->OutputFull()) {  // answers wait to be taken: read no more
    phase_ = Phase::kWaitingOutput;
    WaitForRoom();
    return;
  }
  phase_ = Phase::kReadingHeader;
  parser_.emplace();
  parser_->header_limit(kMaxHeaderBytes);
  parser_->body_limit(manager_->options().max_frame_bytes);
  stream_.expires_after(manager_->IdleTimeout());
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       size_t) { self->OnHeader(ec); });
}

void HttpSession::OnHeader(const boost::system::error_code& ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec == bhttp::error::header_limit) {
    Respond(ErrorAnswer(431, "HEADER_TOO_LARGE",
                        "the request header is over " + std::to_string(kMaxHeaderBytes) +
                            " bytes"),
            true);
    return;
  }
  if (ec == bhttp::error::body_limit) {  // its Content-Length says so
    OnBody(ec);
    return;
  }
  if (ec) {  // the peer closed, went silent (timeout), or sent no HTTP
    if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
        ec != asio::error::eof && ec != asio::error::operation_aborted) {
      Respond(ErrorAnswer(400, "MALFORMED", "not an HTTP/1.1 request: " + ec.message()), true);
      return;
    }
    Close();
    return;
  }
  if (parser_->chunked()) {
    Respond(ErrorAnswer(411, "LENGTH_REQUIRED",
                        "send the body with a Content-Length, not chunked", "Content-Length"),
            true);
    return;
  }
  // Who asks, before any body is read or budget reserved for them.
  if (!Authenticate(parser_->get()) || !PermitBody(parser_->get())) return;
  if (!ReserveBody()) return;  // Resume reads it
  ReadBody();
}

// An append is refused at its header, when the role may not append at
// all or the server is read-only: its body is never read.
bool HttpSession::PermitBody(const Request& req) {
  const std::string_view target = Sv(req.target());
  if (req.method() != bhttp::verb::post || target.substr(0, target.find('?')) != "/api/v1/events") {
    return true;
  }
  std::string why;
  if (manager_->options().read_only) {
    why = "this server serves its log read-only (billsim console): no appends";
  } else if (manager_->options().tokens && role_ && *role_ < server::Role::kReadWrite) {
    why = std::string("appending needs a read-write or operator token; this one is ") +
          server::RoleName(*role_);
  }
  if (why.empty()) return true;
  Respond(ErrorAnswer(403, "PERMISSION_DENIED", why), true);
  return false;
}

// On the manager's list of connections waiting for room (it holds them
// weakly): the timer holds this one meanwhile, and ends a wait longer than
// the idle timeout: a request still unrouted gets a 503, else the
// connection closes.
void HttpSession::WaitForRoom() {
  if (!waiting_) {
    waiting_ = true;
    manager_->Wait(shared_from_this());
  }
  wait_timer_.expires_after(manager_->IdleTimeout());
  wait_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->phase_ == Phase::kClosed || !self->waiting_) return;
    self->waiting_ = false;
    if (self->phase_ == Phase::kRouting) {
      self->blocked_.reset();
      self->Respond(ErrorAnswer(503, "RESOURCE_EXHAUSTED",
                                "the server's queues stayed full for the idle timeout; try "
                                "again later"),
                    true);
      return;
    }
    spdlog::info("http connection {}: waited for room for the idle timeout: closing", self->id_);
    self->Close();
  });
}

// A body above kSmallFrameBytes reserves its length first; false: it waits.
bool HttpSession::ReserveBody() {
  const uint64_t length = parser_->content_length().value_or(0);
  if (length <= ConnectionManager::kSmallFrameBytes || body_reserved_ >= length) return true;
  if (length > manager_->options().max_frame_bytes) return true;  // the parser refuses it
  if (!manager_->ReserveFrame(length - body_reserved_)) {
    phase_ = Phase::kReserving;
    WaitForRoom();
    return false;
  }
  body_reserved_ = length;
  return true;
}

void HttpSession::ReadBody() {
  phase_ = Phase::kReadingBody;
  if (parser_->is_done()) {
    Handle();
    return;
  }
  stream_.expires_after(manager_->IdleTimeout());
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->OnBody(ec);
                    });
}

void HttpSession::OnBody(const boost::system::error_code& ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec == bhttp::error::body_limit) {
    ReleaseBody();
    Respond(ErrorAnswer(413, "BODY_TOO_LARGE",
                        "the body is over " +
                            std::to_string(manager_->options().max_frame_bytes) +
                            " bytes (--max-frame-bytes)"),
            true);
    return;
  }
  if (ec) {
    Close();
    return;
  }
  Handle();
}

void HttpSession::ReleaseBody() {
  if (body_reserved_ > 0) manager_->ReleaseFrame(body_reserved_);
  body_reserved_ = 0;
}

// --- Handling -----------------------------------------------------------------------

void HttpSession::Handle() {
  stream_.expires_never();
  request_ = parser_->release();
  parser_.reset();
  manager_->http_counters.requests++;
  // A large body's JSON is parsed on the translation threads, not on the
  // network thread that every connection shares.
  if (request_.body().size() > kInlineTranslateBytes && manager_->translate_pool != nullptr) {
    phase_ = Phase::kTranslating;
    asio::post(*manager_->translate_pool, [self = shared_from_this()] {
      auto call = std::make_shared<ApiCall>(self->TranslateRequest());
      asio::post(self->manager_->io(), [self, call] { self->Dispatch(std::move(*call)); });
    });
    return;
  }
  Dispatch(TranslateRequest());
}

// Reads request_ alone (a translation thread may run it).
ApiCall HttpSession::TranslateRequest() const {
  const auto it = request_.find(bhttp::field::content_type);
  ApiLimits limits;
  limits.max_events_per_request = manager_->options().max_events_per_request;
  if (tiktok::IsSandboxPath(Sv(request_.target()))) {
    const auto time = request_.find("Billsim-Time");
    ApiCall call;
    call.kind = ApiCall::Kind::kSandbox;
    call.sandbox = tiktok::StartCall(Sv(request_.method_string()), Sv(request_.target()),
                                     request_.body(),
                                     time == request_.end() ? std::string_view{} : Sv(time->value()),
                                     SandboxRequestId(id_, slot_ + 1));
    return call;
  }
  return Translate(Sv(request_.method_string()), Sv(request_.target()),
                   it == request_.end() ? std::string_view{} : Sv(it->value()), request_.body(),
                   limits);
}

void HttpSession::StepSandbox(const v1::Response* last) {
  if (last != nullptr && last->has_append()) {
    own_acked_seq_ = std::max(own_acked_seq_, last->acknowledged_seq());
  }
  tiktok::Call::Step step = sandbox_->Next(last);
  if (!step.request) {
    sandbox_.reset();
    Respond(std::move(step.answer));
    return;
  }
  ApiCall call;
  call.kind = ApiCall::Kind::kWire;
  call.request = std::move(*step.request);
  if (manager_->options().read_only && call.request.has_append()) {
    sandbox_.reset();
    Respond(tiktok::Envelope(tiktok::kNoPermission,
                             "this server serves its log read-only (billsim console): no changes",
                             SandboxRequestId(id_, slot_)));
    return;
  }
  if (manager_->options().tokens) {
    const Status st = server::Permit(*role_, call.request, nullptr);
    if (!st.ok()) {
      sandbox_.reset();
      Respond(tiktok::Envelope(tiktok::kNoPermission, st.message(), SandboxRequestId(id_, slot_)));
      return;
    }
  }
  server::Work work;
  work.session = shared_from_this();
  work.slot = ++slot_;
  work.parsed.request = std::move(call.request);
  work.parsed.request.set_request_id(slot_);
  work.parsed.bytes = work.parsed.request.ByteSizeLong();
  blocked_ = std::move(work);
  phase_ = Phase::kRouting;
  Route();
}

void HttpSession::Dispatch(ApiCall call) {
  if (phase_ == Phase::kClosed) return;
  const uint64_t body_bytes = request_.body().size();
  request_.body().clear();
  request_.body().shrink_to_fit();
  ReleaseBody();  // translated: the body's bytes are ours no more
  if (call.kind == ApiCall::Kind::kSandbox) {
    sandbox_ = std::move(call.sandbox);
    StepSandbox(nullptr);
    return;
  }
  if (!Permit(call)) return;

  switch (call.kind) {
    case ApiCall::Kind::kAnswered:
      Respond(std::move(call.answer));
      return;
    case ApiCall::Kind::kHealth: {
      HttpAnswer a;
      const nlohmann::ordered_json body = {{"status", "ok"},
                                           {"acked_seq", std::to_string(manager_->acked_seq())}};
      a.body = body.dump() + "\n";
      Respond(std::move(a));
      return;
    }
    case ApiCall::Kind::kMetrics: {
      HttpAnswer a;
      a.content_type = "text/plain; version=0.0.4; charset=utf-8";
      a.body = Metrics();
      Respond(std::move(a));
      return;
    }
    case ApiCall::Kind::kStream:
      StartStream(call.request.history());
      return;
    case ApiCall::Kind::kWire:
      break;
    case ApiCall::Kind::kSandbox:
      return;  // above
  }
  server::Work work;
  work.session = shared_from_this();
  work.slot = ++slot_;
  work.parsed.request = std::move(call.request);
  work.parsed.request.set_request_id(slot_);
  work.parsed.bytes = body_bytes;
  blocked_ = std::move(work);
  phase_ = Phase::kRouting;
  Route();
}

// Who asks, before any work is done for them: health and the console's
// files need no token; everything else one of the table, when the server
// checks access, as "Authorization: Bearer TOKEN". On a refusal: a 401.
bool HttpSession::Authenticate(const Request& req) {
  role_.reset();
  const auto& tokens = manager_->options().tokens;
  if (!tokens) {
    role_ = server::Role::kOperator;  // nothing to check
    return true;
  }
  const std::string_view target = Sv(req.target());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz" || path == "/readyz" || FindAsset(path) != nullptr) return true;
  if (tiktok::IsSandboxPath(target)) {
    // TikTok's way: an Access-Token header, and a refusal in its envelope.
    const auto at = req.find("Access-Token");
    if (at != req.end()) role_ = tokens->Authenticate(Sv(at->value()));
    if (role_) return true;
    Respond(tiktok::Envelope(tiktok::kBadToken,
                             at == req.end() ? "Access-Token: missing (send one of the server's "
                                               "--token-file tokens)"
                                             : "Access-Token: unknown token",
                             SandboxRequestId(id_, slot_ + 1)),
            true);
    return false;
  }
  const auto it = req.find(bhttp::field::authorization);
  const std::optional<std::string_view> token =
      it == req.end() ? std::nullopt : BearerToken(Sv(it->value()));
  if (token) role_ = tokens->Authenticate(*token);
  if (role_) return true;
  // The body (if any) is not read: the connection closes after the answer.
  Respond(ErrorAnswer(401, "UNAUTHENTICATED",
                      token ? "unknown token"
                            : "this server checks access: send Authorization: Bearer TOKEN (a "
                              "token of its --token-file)",
                      "Authorization"),
          true);
  return false;
}

// What the role may do: a wire request as the binary protocol judges it.
bool HttpSession::Permit(const ApiCall& call) {
  if (call.kind != ApiCall::Kind::kWire) return true;
  if (manager_->options().read_only && call.request.has_append()) {
    Respond(ErrorAnswer(403, "PERMISSION_DENIED",
                        "this server serves its log read-only (billsim console): no appends"));
    return false;
  }
  if (!manager_->options().tokens) return true;
  const Status st = server::Permit(*role_, call.request, nullptr);
  if (!st.ok()) {
    Respond(ErrorAnswer(403, "PERMISSION_DENIED", st.message()));
    return false;
  }
  return true;
}

void HttpSession::Route() {
  if (phase_ != Phase::kRouting || !blocked_) return;
  server::Work& work = *blocked_;
  if (ConnectionManager::OffCommitter(work.parsed.request)) {
    // Every event acknowledged before the query came, on any connection:
    // HTTP clients rarely keep one connection, and expect a GET after an
    // acknowledged POST to reflect it (the binary protocol promises only
    // the connection's own appends, and answers sooner under ingest).
    work.at_least_seq = std::max({own_acked_seq_, manager_->recovered_seq(),
                                  manager_->acked_seq()});
    work.at_most_seq = work.at_least_seq;
  }
  switch (manager_->Route(work)) {
    case server::Push::kOk:
      blocked_.reset();
      phase_ = Phase::kAnswering;
      return;
    case server::Push::kFull:
      WaitForRoom();
      return;
    case server::Push::kClosed:
      blocked_.reset();
      Respond(ErrorAnswer(503, "UNAVAILABLE", "the server is shutting down"), true);
      return;
  }
}

// The connection becomes an EventStream: it takes the socket and this
// connection's place (and id) in the manager.
void HttpSession::StartStream(const v1::HistoryQuery& q) {
  uint64_t since = q.since_seq(), after_entry = 0;
  const auto last = request_.find("Last-Event-ID");  // a browser resuming
  if (last != request_.end()) {
    const std::string_view v = Sv(last->value());
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), after_entry);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
      Respond(ErrorAnswer(400, "BAD_REQUEST", "Last-Event-ID: not an entry sequence",
                          "Last-Event-ID"));
      return;
    }
    since = 0;  // the entry's cursor says where
  }
  if (manager_->streams >= EventStream::kMaxStreams) {
    Respond(ErrorAnswer(503, "RESOURCE_EXHAUSTED",
                        "the server holds " + std::to_string(manager_->streams) +
                            " event streams, its limit; try again later"));
    return;
  }
  manager_->http_counters.Count(200);
  phase_ = Phase::kClosed;  // the socket is the stream's now
  auto stream = std::make_shared<EventStream>(manager_, stream_.release_socket(), id_,
                                              q.account_id(), since, after_entry);
  manager_->Add(stream, id_);
  stream->Start();
}

std::string HttpSession::Metrics() const {
  MetricsSnapshot m = manager_->metrics ? manager_->metrics() : MetricsSnapshot{};
  m.http = manager_->http_counters;
  return MetricsText(m);
}

// --- Answers ------------------------------------------------------------------------

namespace {

// A query worker's framed answer, read back. False if it does not decode.
bool Unframe(const std::string& frame, v1::Response* response) {
  response->Clear();
  return frame.size() >= net::kFrameHeaderBytes &&
         response->ParseFromArray(frame.data() + net::kFrameHeaderBytes,
                                  static_cast<int>(frame.size() - net::kFrameHeaderBytes));
}

}  // namespace

void HttpSession::Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) {
  if (phase_ != Phase::kAnswering || slot != slot_) return;
  if (sandbox_) {
    if (!frame.empty() && !Unframe(frame, &response)) {
      sandbox_.reset();
      Respond(ErrorAnswer(500, "INTERNAL", "the answer did not decode"), true);
      return;
    }
    StepSandbox(&response);
    return;
  }
  if (frame.size() > kInlineRenderBytes && manager_->translate_pool != nullptr) {
    // A large page: decoded and rendered as JSON off the network thread.
    phase_ = Phase::kRendering;
    auto framed = std::make_shared<std::string>(std::move(frame));
    asio::post(*manager_->translate_pool, [self = shared_from_this(), framed] {
      auto r = std::make_shared<v1::Response>();
      const bool ok = Unframe(*framed, r.get());
      framed->clear();
      auto answer = std::make_shared<HttpAnswer>(
          ok ? Render(*r) : ErrorAnswer(500, "INTERNAL", "the answer did not decode"));
      asio::post(self->manager_->io(), [self, r, answer] {
        if (self->phase_ != Phase::kRendering) return;  // closed meanwhile
        self->phase_ = Phase::kAnswering;
        self->Answer(*r, std::move(*answer));
      });
    });
    return;
  }
  if (!frame.empty() && !Unframe(frame, &response)) {
    Respond(ErrorAnswer(500, "INTERNAL", "the answer did not decode"), true);
    return;
  }
  Answer(response, Render(response));
}

void HttpSession::Answer(const v1::Response& response, HttpAnswer&& answer) {
  if (response.has_append()) {
    own_acked_seq_ = std::max(own_acked_seq_, response.acknowledged_seq());
  }
  response_.set("X-Billsim-Acknowledged-Seq", std::to_string(response.acknowledged_seq()));
  Respond(std::move(answer));
}

void HttpSession::Respond(HttpAnswer&& answer, bool close) {
  if (phase_ == Phase::kClosed) return;
  if (close || manager_->stopping) closing_ = true;
  manager_->http_counters.Count(answer.status);
  response_.version(11);
  response_.result(answer.status);
  response_.set(bhttp::field::server, "billsim");
  response_.set(bhttp::field::content_type, answer.content_type);
  if (answer.status == 401) response_.set(bhttp::field::www_authenticate, "Bearer");
  response_.keep_alive(!closing_ && request_.keep_alive());
  if (!response_.keep_alive()) closing_ = true;
  if (!answer.allow.empty()) response_.set(bhttp::field::allow, answer.allow);
  response_.body() = std::move(answer.body);
  response_.prepare_payload();
  // An answer to HEAD has no body (a 405: billsim serves GET, not HEAD).
  if (request_.method() == bhttp::verb::head) response_.body().clear();
  written_ = response_.body().size();
  manager_->AddOutput(written_);
  phase_ = Phase::kWriting;
  stream_.expires_after(std::chrono::milliseconds(manager_->options().idle_timeout_ms));
  bhttp::async_write(stream_, response_,
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       self->OnWrite(ec, self->closing_);
                     });
}

void HttpSession::OnWrite(const boost::system::error_code& ec, bool close) {
  manager_->RemoveOutput(written_);
  written_ = 0;
  response_ = {};
  request_ = {};
  if (phase_ == Phase::kClosed) return;
  if (ec || close) {
    Close();
    return;
  }
  ReadHeader();
}

// --- Lifetime -----------------------------------------------------------------------

void HttpSession::Resume() {
  waiting_ = false;
  wait_timer_.cancel();
  switch (phase_) {
    case Phase::kReserving:
      if (ReserveBody()) ReadBody();
      return;
    case Phase::kRouting:
      Route();
      return;
    case Phase::kWaitingOutput:
      ReadHeader();
      return;
    default:
      return;
  }
}

void HttpSession::Shutdown() {
  closing_ = true;
  switch (phase_) {
    case Phase::kReadingHeader:
    case Phase::kReserving:
    case Phase::kWaitingOutput:
      Close();  // between requests: nothing is owed
      return;
    case Phase::kRouting:
      Route();  // the queues are closed: answered UNAVAILABLE
      return;
    default:
      return;  // the answer in flight is written, then the close
  }
}

void HttpSession::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  waiting_ = false;
  wait_timer_.cancel();
  boost::system::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
  blocked_.reset();
  sandbox_.reset();
  ReleaseBody();
  manager_->Forget(id_);
}

void HttpSession::Refuse(tcp::socket socket, const std::string& why) {
  const std::string body = ErrorAnswer(503, "RESOURCE_EXHAUSTED", why).body;
  const std::string text = "HTTP/1.1 503 Service Unavailable\r\nServer: billsim\r\n"
                           "Content-Type: application/json\r\nConnection: close\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(text), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace billsim::http
