// Session: one client connection (the Asio example's `connection`), on
// the network thread only, owned through shared_from_this() by its pending
// handlers.
//
// It reads frames, parses requests, and routes each (ConnectionManager::
// Route) with a slot: its number on this connection. Answers come back in
// any order (the committer answers appends and live-state queries, the
// query workers history) and are written in slot order, so a client sees
// its responses in the order it sent its requests.
//
// Everything it holds is bounded, and a full bound is a decision:
//   - at most max_in_flight requests between parse and write;
//   - when its unwritten output reaches session_output_bytes_max (a client
//     not reading), or the server's output budget is spent, it stops
//     taking requests: it neither parses the frames it has nor reads more;
//   - a frame longer than kSmallFrameBytes reserves its length from the
//     server's frame budget before its body is read (else it waits);
//   - a request refused by a full queue waits here (one), reads stop.
// With a token table (access.h) the first frame must be a Hello with a
// known token; each later request is checked against its role (Permit).
// A refusal is an Error, then the connection closes.
// A history query waits until this connection's earlier appends are
// answered, and its answer reflects them (read your writes).
#ifndef BILLSIM_SERVER_SESSION_H_
#define BILLSIM_SERVER_SESSION_H_

#include <utility>  // before Boost: Asio 1.74 uses std::exchange (TOOLCHAIN.md)
#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "net/frame.h"
#include "server/access.h"
#include "server/connection_manager.h"
#include "server/request.h"

namespace billsim::server {

class Session final : public Peer, public std::enable_shared_from_this<Session> {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kReadChunk = 64 * 1024;

  Session(std::shared_ptr<ConnectionManager> manager, boost::asio::ip::tcp::socket socket,
          uint64_t id);
  ~Session() override;

  void Start();
  // Peer (request.h).
  void Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) override;
  void Resume() override;
  void Shutdown() override;
  void Close() override;

 private:
  struct Slot {
    bool append = false;
    std::optional<std::string> frame;  // the answer, framed
  };

  bool CanProcess() const;
  bool CanRead();
  void MaybeRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void ProcessFrames();
  bool Parse(std::string_view body, Parsed* parsed);
  bool CheckAppend(Parsed* parsed);
  bool Authorize(const Parsed& parsed);
  void Submit(Work&& work);
  bool Route();
  void WaitForRoom();
  void Answer(uint64_t slot, v1::Response&& response);
  void AnswerFramed(uint64_t slot, std::string&& frame);
  void WriteFrame(std::string&& frame);
  void Fail(uint64_t request_id, v1::Error::Code code, std::string message);
  void Write(const v1::Response& response);
  void DoWrite();
  void MaybeFinish();
  void ArmIdle(std::chrono::milliseconds after);
  uint64_t in_flight() const { return next_slot_ - write_slot_; }

  std::shared_ptr<ConnectionManager> manager_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer idle_timer_;
  net::FrameDecoder decoder_;
  const uint64_t id_;
  std::unique_ptr<char[]> read_buf_;
  bool reading_ = false;
  bool closing_ = false;  // no more requests; close once answered
  bool eof_ = false;      // the peer finished sending
  bool closed_ = false;
  bool waiting_ = false;  // on the manager's list of sessions waiting for room
  uint64_t frame_reserved_ = 0;  // of the manager's frame budget
  // What this connection may do: everything without a token table; with
  // one, nothing until a Hello names a known token.
  std::optional<Role> role_;

  uint64_t next_slot_ = 0;   // the next request's slot
  uint64_t write_slot_ = 0;  // the next slot to write
  std::deque<Slot> slots_;   // write_slot_ .. next_slot_-1
  uint32_t appends_in_flight_ = 0;
  uint64_t own_acked_seq_ = 0;  // the highest acknowledged_seq of our appends
  std::optional<Work> blocked_;  // refused by a full queue, or a history
                                 // query waiting for this connection's appends
  std::optional<v1::Response> pending_error_;
  std::string out_, writing_;
  bool writing_in_progress_ = false;
  Clock::time_point last_activity_;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_SESSION_H_
