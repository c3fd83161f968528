// Metrics: the server's figures in the Prometheus text exposition format
// (version 0.0.4), for GET /metrics. A snapshot is taken on the network
// thread from what the server's parts publish (atomics, counters of the
// network thread); rendering it has no state.
#ifndef BILLSIM_HTTP_METRICS_H_
#define BILLSIM_HTTP_METRICS_H_

#include <array>
#include <cstdint>
#include <string>

#include "server/server_metrics.h"

namespace billsim::http {

// HTTP answers by status class, counted by the HTTP sessions (network
// thread only).
struct HttpCounters {
  // 1xx..5xx at 1..5; index 0 is unused.
  std::array<uint64_t, 6> responses_by_class{};
  uint64_t requests = 0;
  void Count(unsigned status) {
    const unsigned c = status / 100;
    responses_by_class[c >= 1 && c <= 5 ? c : 5]++;
  }
};

struct MetricsSnapshot {
  uint64_t recovered_seq = 0;     // the log's last sequence at start
  uint64_t acked_seq = 0;         // acknowledged (durable under the policy)
  uint64_t history_covered_seq = 0;  // the history index covers up to here
  uint64_t connections = 0;       // binary protocol and HTTP
  uint64_t max_connections = 0;
  uint64_t output_bytes = 0;      // answers written, not yet taken by clients
  uint64_t resident_bytes = 0;    // the process's resident set (0: unknown)
  uint64_t queued_events = 0;     // waiting for the committer
  uint64_t numbered_pairs = 0;    // pairs the network thread numbered (pair_numbering.h)
  uint64_t numbered_pairs_max = 0;  // their bound now
  const server::ServerMetrics* server = nullptr;  // the committer's and syncer's
  HttpCounters http;
};

// The resident set of this process, from /proc/self/statm (0 if unreadable).
uint64_t ResidentBytes();

// The text of GET /metrics.
std::string MetricsText(const MetricsSnapshot& m);

}  // namespace billsim::http

#endif  // BILLSIM_HTTP_METRICS_H_
