// EventStream: GET /api/v1/events/stream, server-sent events
// (text/event-stream) of what the server acknowledges, for live views. An
// HTTP connection that asks for it is handed to an EventStream, which owns
// the socket from then on (network thread only).
//
//   event: ack     data: {"acked_seq":"N"}      when the acknowledged
//                                               sequence moves
//   event: entry   id: ENTRY_SEQ  data: {"log_seq","entry"}   with ?account=,
//                                               each new entry of the account
//
// Entries come from the history index, polled every kPollMs while the
// acknowledged sequence is ahead of what was sent, as history queries
// through the query service (so a stream costs what paging costs). They
// start after the events acknowledged when the stream opened, or after
// the log sequence ?since_seq=, or after the entry the Last-Event-ID
// header names (a reconnecting browser resumes where it stopped, even in
// the middle of one event's entries).
//
// Bounds: a stream counts as a connection, and at most kMaxStreams are
// open; it asks for the next page only once what it holds unsent is under
// kQueryBelowBytes, and a client that leaves kMaxBufferedBytes unread is
// cut off; at most one query of its own is in flight; a comment goes out
// every kKeepAliveMs so that proxies keep it open.
#ifndef BILLSIM_HTTP_EVENT_STREAM_H_
#define BILLSIM_HTTP_EVENT_STREAM_H_

#include <utility>  // before Boost: Asio 1.74 uses std::exchange (TOOLCHAIN.md)
#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "server/connection_manager.h"
#include "server/request.h"

namespace billsim::http {

class EventStream final : public server::Peer, public std::enable_shared_from_this<EventStream> {
 public:
  static constexpr int64_t kPollMs = 100;
  static constexpr int64_t kKeepAliveMs = 15'000;
  static constexpr uint64_t kMaxBufferedBytes = 4 << 20;
  static constexpr uint64_t kQueryBelowBytes = 256 << 10;
  static constexpr uint32_t kMaxStreams = 64;
  static constexpr uint32_t kPageEntries = 1'000;

  // `account` empty: acks only. `since_seq`: entries of events after it
  // (kNow: after those acknowledged now); `after_entry`: and after that
  // entry of the account (Last-Event-ID).
  static constexpr uint64_t kNow = UINT64_MAX;
  EventStream(std::shared_ptr<server::ConnectionManager> manager,
              boost::asio::ip::tcp::socket socket, uint64_t id, std::string account,
              uint64_t since_seq, uint64_t after_entry);

  // Writes the response header and starts polling.
  void Start();

  // Peer (server/request.h).
  void Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) override;
  void Resume() override;
  void Shutdown() override;
  void Close() override;

 private:
  void Arm();
  void Tick();
  void Query();
  void Send(std::string&& text);
  void DoWrite();

  std::shared_ptr<server::ConnectionManager> manager_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  const uint64_t id_;
  const std::string account_;
  const uint64_t since_seq_;
  uint64_t cursor_ = 0;          // the last entry seq sent
  uint64_t sent_ack_ = 0;        // the last acked_seq sent
  uint64_t queried_through_ = 0; // entries are sent up to this acked_seq
  uint64_t slot_ = 0;
  bool query_in_flight_ = false;
  bool more_ = false;            // the last page was truncated: more to send
  bool closed_ = false;
  std::string out_, writing_;
  bool writing_in_progress_ = false;
  std::chrono::steady_clock::time_point last_write_;
};

}  // namespace billsim::http

#endif  // BILLSIM_HTTP_EVENT_STREAM_H_
