// Server: `billsim serve`, the ingest server over TCP (boost::asio).
//
// Threads: one network thread (Run's caller) runs the io_context for every
// connection; one committer thread solely owns the Ledger and the
// LogWriter; with --fsync always, one syncer thread does nothing but
// fdatasync. Sessions parse requests (and decode columnar batches) and
// hand them to the committer through a bounded queue (bounded by queued
// events; when full, sessions stop reading: backpressure). The committer
// takes everything queued (group commit), applies the appends' events to
// the ledger, writes the accepted ones as one batch for every connection,
// and answers the group's queries. Then:
//   - --fsync always: the group goes to the syncer (at most 4 wait) and the
//     committer goes on with the next group; the syncer's one fdatasync
//     covers every group waiting, and only then are their responses posted
//     back to the network thread;
//   - interval / never: the write synced by policy, responses are posted
//     at once.
// So nothing is acknowledged, and no query answer leaves, before the state
// it reflects is durable under the policy; after a failed write or sync
// every request is answered UNAVAILABLE.
//
// History queries replay the log (no per-account history is kept in
// memory): O(log size) each.
//
// Damage: Start refuses a log that recovery or replay finds damaged. The
// part of the log behind the snapshot that replay starts from is not read
// at start: a scrubber thread (log_scrub.h) checks it in the background,
// rate-bounded, and Pong reports its state and the first damage found.
#ifndef BILLSIM_SERVER_SERVER_H_
#define BILLSIM_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "log/log_writer.h"
#include "net/frame.h"
#include "util/status.h"

namespace billsim::server {

struct ServerOptions {
  std::string log_dir;
  std::string listen = "127.0.0.1:7600";  // port 0: an ephemeral port
  log::FsyncPolicy fsync;                 // always by default
  uint64_t segment_bytes = 0;             // 0: the log's default
  uint32_t max_connections = 1024;        // more are closed at once
  uint32_t max_frame_bytes = net::kDefaultMaxFrameBytes;
  int64_t idle_timeout_ms = 60'000;       // a connection silent this long is closed
  uint32_t max_in_flight = 8;             // per connection, then it stops reading
  uint64_t max_queued_events = 2'000'000; // committer queue bound
  uint32_t max_events_per_request = 500'000;
  uint32_t history_limit = 10'000;        // HistoryQuery.limit 0 or above
  bool handle_signals = false;            // SIGINT/SIGTERM: graceful stop
  log::Env* env = nullptr;                // the log's files; nullptr: Env::Default()
  // The background checksum scan of the log recovered at start (log_scrub.h),
  // reported in Pong; its read rate bound. 0: no scrub.
  uint64_t scrub_bytes_per_sec_max = 64ull << 20;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens (recovers) the log, replays it into the ledger, binds and listens.
  Status Start();
  // The bound address, "HOST:PORT" (valid after Start).
  std::string address() const;
  uint16_t port() const;

  // Runs the network loop in this thread until Stop() (or a signal with
  // handle_signals): stops accepting, commits and acknowledges every request
  // already queued, syncs and closes the log, closes the connections.
  // Returns OK, or the log's failure.
  Status Run();
  // Thread-safe; returns at once (Run returns when the stop is complete).
  void Stop();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_SERVER_H_
