// Server: `billsim serve`, the ingest server over TCP (boost::asio): the
// lifecycle (start, accept, stop) and the options. Its parts, a file each:
//
//   session.h             one connection: frames in, answers out in order
//                         (network thread)
//   connection_manager.h  the connections, their limit and shared byte
//                         budgets, and the route of each request (network
//                         thread)
//   commit_pipeline.h     the Journal (ledger + log) on the committer
//                         thread, the syncer thread, live-state queries
//   query_service.h       history and as-of answers from the history
//                         index on worker threads, and its indexer thread
//   bounded_queue.h       the bounded hand-offs between those threads
//   http/http_session.h   one HTTP connection, routed like a session
//                         (network thread)
//
// Damage: Start refuses a log that recovery or replay finds damaged. The
// part of the log behind the snapshot that replay starts from is not read
// at start: a scrubber thread (log_scrub.h) checks it in the background,
// rate-bounded, and Pong reports its state and the first damage found.
//
// Memory: every byte the server holds for clients is bounded, per
// connection and in total (the options below); the README's "Bounds"
// states the worst case they imply.
#ifndef BILLSIM_SERVER_SERVER_H_
#define BILLSIM_SERVER_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "log/log_writer.h"
#include "net/frame.h"
#include "util/status.h"

namespace billsim::server {

class Backend;
class Responder;
class TokenTable;
struct ServerOptions;

// Makes a server's backend (backend.h); `responder` outlives it.
using BackendFactory =
    std::function<std::unique_ptr<Backend>(const ServerOptions& options, Responder* responder)>;

// The largest --max-frame-bytes: a request is re-encoded into one log batch
// (its events plus a few bytes each), which must stay under the log's
// payload limit (log::kMaxPayloadBytes, 64 MiB); the committer's group
// limit is the same 32 MiB (commit_pipeline.cc).
inline constexpr uint32_t kMaxFrameBytesLimit = 32u << 20;

struct ServerOptions {
  std::string log_dir;
  std::string listen = "127.0.0.1:7600";  // port 0: an ephemeral port; empty: none
  // The HTTP/JSON API (http/http_api.h) on the same loop, or none if empty.
  std::string http_listen;
  // Queries only (`billsim console`): every append is refused
  // (PERMISSION_DENIED), whatever the token.
  bool read_only = false;
  log::FsyncPolicy fsync;                 // always by default
  uint64_t segment_bytes = 0;             // 0: the log's default
  // More connections are refused with an Error naming the limit.
  uint32_t max_connections = 1024;
  // At most kMaxFrameBytesLimit: one request's events go to the log in one
  // batch, which must stay under the log's payload limit.
  uint32_t max_frame_bytes = net::kDefaultMaxFrameBytes;
  int64_t idle_timeout_ms = 60'000;       // a connection silent this long is closed
  // ... this long, while the server holds 90% of max_connections or more.
  int64_t idle_timeout_near_limit_ms = 2'000;
  uint32_t max_in_flight = 8;             // per connection, then it stops reading
  uint64_t max_queued_events = 2'000'000; // committer queue bound
  uint32_t max_queued_queries = 1'024;    // history/as-of queue bound
  uint32_t query_threads = 2;             // history/as-of workers
  // The history indexer thread's nice value (0..19): it yields to ingest.
  int indexer_nice = 19;
  bool indexer_idle_class = true;  // and in the SCHED_IDLE class
  // How often the indexer follows the log when no query waits for it
  // (a query that needs more wakes it at once); 0: only then.
  int64_t index_follow_ms = 5;
  uint32_t max_events_per_request = 500'000;
  uint32_t history_limit = 10'000;        // HistoryQuery.limit 0 or above
  // All connections' partial frames above 64 KiB reserve their length from
  // this before their bodies are read. At least max_frame_bytes.
  uint64_t frame_bytes_max = 128ull << 20;
  // Answers not yet taken by their clients: per connection (then it stops
  // taking requests) and in total (then every connection does).
  uint64_t session_output_bytes_max = 4ull << 20;
  uint64_t output_bytes_max = 128ull << 20;
  // Access (access.h): null, every connection may do everything (then
  // listen on loopback only); else each must Hello with a token first.
  std::shared_ptr<const TokenTable> tokens;
  bool handle_signals = false;            // SIGINT/SIGTERM: graceful stop
  log::Env* env = nullptr;                // the log's files; nullptr: Env::Default()
  // What answers the requests (backend.h); unset: this node's own log
  // (log_dir). A cluster gateway sets it (cluster/gateway.h).
  BackendFactory backend;
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
  // The HTTP address, "HOST:PORT" (empty without http_listen).
  std::string http_address() const;

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
