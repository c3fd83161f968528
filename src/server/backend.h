// Backend: where a server's parsed requests go, behind the network side
// (sessions, HTTP, the connection manager), which is the same whatever
// answers them:
//   - the single node (local_backend.h): the commit pipeline (appends and
//     live-state queries, one log on this machine) and the query service
//     (history and as-of answers from the history index);
//   - a cluster gateway (cluster/gateway.h): appends published to the
//     partitions' JetStream streams and acknowledged once their shards
//     applied them; queries forwarded to the owning shard.
// A backend answers every request it took, exactly once, through the
// Responder it was made with, from any thread.
//
// Threads: every method from the owner (the network thread); on_done from
// any thread.
#ifndef BILLSIM_SERVER_BACKEND_H_
#define BILLSIM_SERVER_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "http/metrics.h"
#include "server/bounded_queue.h"
#include "server/request.h"
#include "server/server.h"
#include "util/status.h"

namespace billsim::server {

class Backend {
 public:
  virtual ~Backend() = default;

  // Before the server listens: recovery, connections. An error stops the
  // start-up (the server does not listen).
  virtual Status Open() = 0;
  virtual void Start() = 0;
  // Queues a request; kFull: the session waits for room (Resume),
  // kClosed: stopping. On either the work stays with the caller.
  virtual Push Submit(Work& work) = 0;
  // No more requests: everything taken is answered, then on_done runs.
  virtual void Close() = 0;
  // On the owner's thread once on_done has come: answers what is left
  // (the single node's history queries) before the server closes
  // connections that do not take their answers.
  virtual void Drain() {}
  virtual void Join() = 0;   // after on_done, or to abandon a Start
  virtual Status failure() const = 0;  // after Join: the first fatal error

  // The bounds of what a query may reflect (request.h: Work): the last
  // sequence at start and the last one acknowledged (0 where there is no
  // single sequence, as in a cluster).
  virtual uint64_t recovered_seq() const = 0;
  virtual uint64_t acked_seq() const = 0;
  // The backend's part of GET /metrics.
  virtual void FillMetrics(http::MetricsSnapshot* m) const = 0;
  // Whether it writes appends to a log of its own, which may take a
  // batch's bytes as they came (DecodeAppend's keep_payload).
  virtual bool WritesOwnLog() const { return false; }

  std::function<void()> on_done;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_BACKEND_H_
