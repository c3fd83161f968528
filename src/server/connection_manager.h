// ConnectionManager: what the sessions share, on the network thread only
// (the Asio example's connection_manager, with the request handler's
// routing): the set of connections and its limit, the byte budgets every
// connection draws on, the sessions waiting for room, and the route of a
// parsed request to the commit pipeline (appends, live-state queries) or
// the query service (history, balance as of).
//
// Bounds it keeps, in total over all connections (server.h states them):
//   - frame bytes: a frame longer than kSmallFrameBytes reserves its whole
//     length before its body is read; while the budget cannot hold it, the
//     connection stops reading (the kernel holds the bytes, not us);
//   - output bytes: answers written and not yet taken by their clients;
//     above the bound every connection stops taking new requests.
// A session that had to wait is resumed when room comes back (Resume).
#ifndef BILLSIM_SERVER_CONNECTION_MANAGER_H_
#define BILLSIM_SERVER_CONNECTION_MANAGER_H_

#include <utility>  // before Boost: Asio 1.74 uses std::exchange (TOOLCHAIN.md)
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "http/metrics.h"
#include "server/bounded_queue.h"
#include "server/request.h"
#include "server/server.h"

namespace billsim::server {

class Backend;
class TokenTable;

class ConnectionManager {
 public:
  // Frames up to this size need no reservation: a connection buffers at
  // most about two read chunks of them.
  static constexpr uint32_t kSmallFrameBytes = 64 * 1024;

  ConnectionManager(const ServerOptions& options, boost::asio::io_context& io,
                    Backend* backend)
      : options_(options), io_(io), backend_(backend) {}

  const ServerOptions& options() const { return options_; }
  bool backend_writes_own_log() const;  // Backend::WritesOwnLog
  boost::asio::io_context& io() { return io_; }

  // --- connections -----------------------------------------------------------------
  bool full() const { return sessions_.size() >= options_.max_connections; }
  void Add(const std::shared_ptr<Peer>& session, uint64_t id) { sessions_[id] = session; }
  void Forget(uint64_t id);
  size_t size() const { return sessions_.size(); }
  std::vector<std::shared_ptr<Peer>> All() const;
  // Idle connections are closed after idle_timeout_ms, or after
  // idle_timeout_near_limit_ms while the server holds 90% of its limit.
  std::chrono::milliseconds IdleTimeout() const;

  // --- budgets ---------------------------------------------------------------------
  bool ReserveFrame(uint64_t bytes);
  void ReleaseFrame(uint64_t bytes);
  bool OutputFull() const { return out_bytes_ >= options_.output_bytes_max; }
  void AddOutput(uint64_t bytes) { out_bytes_ += bytes; }
  void RemoveOutput(uint64_t bytes);

  // --- routing ---------------------------------------------------------------------
  // To the backend (backend.h); on kFull/kClosed `work` stays.
  Push Route(Work& work);
  // The last sequence of the log as recovered at start, and the last one
  // acknowledged so far.
  uint64_t recovered_seq() const;
  uint64_t acked_seq() const;
  static bool OffCommitter(const v1::Request& r) {
    return r.has_history() || r.has_balance_as_of() || r.has_timeline() || r.has_evidence() ||
           r.has_statement();
  }

  // A session waits for room (queue, frame or output budget).
  void Wait(const std::shared_ptr<Peer>& s) { waiting_.push_back(s); }
  void Resume();

  // --- what GET /metrics reports (http/metrics.h) -------------------------------
  uint64_t output_bytes() const { return out_bytes_; }
  http::HttpCounters http_counters;
  std::function<http::MetricsSnapshot()> metrics;  // the server's part, set by it

  uint32_t streams = 0;  // open event streams (http/event_stream.h)
  // Where HTTP bodies are parsed (http_session.h), off the network thread.
  boost::asio::thread_pool* translate_pool = nullptr;

  bool stopping = false;
  bool committer_done = false;
  // Called when the last connection closes after the committer is done.
  std::function<void()> on_all_closed;

 private:
  const ServerOptions& options_;
  boost::asio::io_context& io_;
  Backend* backend_;
  std::unordered_map<uint64_t, std::weak_ptr<Peer>> sessions_;
  std::vector<std::weak_ptr<Peer>> waiting_;
  uint64_t frame_bytes_ = 0;
  uint64_t out_bytes_ = 0;
  bool resuming_ = false;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_CONNECTION_MANAGER_H_
