// HttpSession: one HTTP/1.1 connection (Boost.Beast) on the server's
// network thread, beside the binary protocol's Session and sharing its
// ConnectionManager: the same connection limit, byte budgets, routes and
// access tokens (as "Authorization: Bearer TOKEN").
//
// A request is read whole, translated (http_api.h) and, unless answered at
// once, routed as the binary protocol routes its requests; the answer comes
// back through Deliver and is written; then the next request is read
// (keep-alive). One request at a time: a connection holds at most one
// request and one answer.
//
// Bounds (README "Bounds"): the header at most kMaxHeaderBytes (431
// otherwise); the body at most max_frame_bytes (413), with a
// Content-Length (411 without one), and a body over kSmallFrameBytes
// reserves its length from the server's frame budget before it is read (it
// waits for room); a connection silent for the idle timeout is closed;
// answers count against the output budget, and a connection does not read
// its next request while that budget is spent.
#ifndef BILLSIM_HTTP_HTTP_SESSION_H_
#define BILLSIM_HTTP_HTTP_SESSION_H_

#include <utility>  // before Boost: Asio 1.74 uses std::exchange (TOOLCHAIN.md)
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "http/http_api.h"
#include "http/tiktok_api.h"
#include "server/access.h"
#include "server/connection_manager.h"
#include "server/request.h"

namespace billsim::http {

class HttpSession final : public server::Peer,
                          public std::enable_shared_from_this<HttpSession> {
 public:
  static constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
  // Bodies above this are parsed on the server's translation threads.
  static constexpr size_t kInlineTranslateBytes = 16 * 1024;
  // Answers above this (framed) are rendered as JSON there too.
  static constexpr size_t kInlineRenderBytes = 64 * 1024;

  HttpSession(std::shared_ptr<server::ConnectionManager> manager,
              boost::asio::ip::tcp::socket socket, uint64_t id);

  void Start();

  // Peer (server/request.h).
  void Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) override;
  void Resume() override;
  void Shutdown() override;
  void Close() override;

  // A connection over the limit: a 503 answer, written without waiting,
  // then the close.
  static void Refuse(boost::asio::ip::tcp::socket socket, const std::string& why);

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  enum class Phase {
    kReadingHeader,
    kReserving,     // waiting for room in the frame budget for the body
    kReadingBody,
    kTranslating,   // a translation thread parses the body
    kRouting,       // the request waits for room in a queue (blocked_)
    kAnswering,     // routed: the answer comes through Deliver
    kRendering,     // a translation thread renders a large answer
    kWriting,
    kWaitingOutput, // the output budget is spent: the next read waits
    kClosed,
  };

  void ReadHeader();
  void OnHeader(const boost::system::error_code& ec);
  bool ReserveBody();
  void ReadBody();
  void OnBody(const boost::system::error_code& ec);
  void Handle();
  bool Authenticate(const Request& req);
  bool PermitBody(const Request& req);
  void WaitForRoom();
  ApiCall TranslateRequest() const;
  void Dispatch(ApiCall call);
  bool Permit(const ApiCall& call);
  void Route();
  // The TikTok sandbox's call (tiktok_api.h): its next step, given the
  // answer to its last request (nullptr at the start).
  void StepSandbox(const v1::Response* last);
  void StartStream(const v1::HistoryQuery& q);
  void Answer(const v1::Response& response, HttpAnswer&& answer);
  void Respond(HttpAnswer&& answer, bool close = false);
  void OnWrite(const boost::system::error_code& ec, bool close);
  void ReleaseBody();
  std::string Metrics() const;

  std::shared_ptr<server::ConnectionManager> manager_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer wait_timer_;  // holds us while we wait for room
  std::optional<Parser> parser_;
  Request request_;  // the one being handled
  boost::beast::http::response<boost::beast::http::string_body> response_;
  const uint64_t id_;
  Phase phase_ = Phase::kReadingHeader;
  bool closing_ = false;  // no more requests; close after this answer
  bool waiting_ = false;  // on the manager's list of connections waiting
  uint64_t body_reserved_ = 0;
  uint64_t written_ = 0;  // of the output budget, for the answer in write
  uint64_t slot_ = 0;
  uint64_t own_acked_seq_ = 0;  // read your writes, as Session does
  std::optional<server::Work> blocked_;
  std::optional<server::Role> role_;  // of the request being handled
  std::shared_ptr<tiktok::Call> sandbox_;  // a sandbox call in progress
};

}  // namespace billsim::http

#endif  // BILLSIM_HTTP_HTTP_SESSION_H_
