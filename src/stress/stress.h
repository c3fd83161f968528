// The stress run behind `billsim stress`: sets up a realistic book of
// accounts and campaigns on a running server, streams delivery (and the
// rest of the billing life) over several connections as fast as allowed,
// measures acknowledged throughput and ack latency, then proves nothing was
// lost: the server's live balances equal an offline replay of its log, every
// acknowledged event id is in the log, and no id is in it twice.
#ifndef BILLSIM_STRESS_STRESS_H_
#define BILLSIM_STRESS_STRESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "util/status.h"

namespace billsim::stress {

struct StressReport;

struct StressOptions {
  std::string connect = "127.0.0.1:7600";
  uint32_t accounts = 100;
  uint32_t campaigns = 1000;
  uint64_t events = 1'000'000;  // stream events (after set-up)
  uint32_t connections = 4;
  uint32_t batch = 10'000;
  uint32_t pipeline = 2;        // batches in flight per connection
  double rate = 0;              // events/s; 0: unlimited
  uint64_t seed = 1;
  int64_t retry_ms = 0;         // 0: a failed connection is an error
  // Sent in a Hello first on every connection (a server started with
  // --token-file needs it; read-write at least, the check only reads);
  // empty: no Hello.
  std::string token;
  bool progress = false;        // one line on stderr, about 4 times a second
  // The check, when the server is not a single node with a log to read (a
  // cluster gateway: cluster/cluster_check.h). Given every account and the
  // acknowledged event ids (inclusive runs), it fills the report's check
  // fields. Unset: the single node's check (below).
  std::function<Status(const std::vector<std::string>& accounts,
                       const std::vector<std::pair<uint64_t, uint64_t>>& acked_runs,
                       StressReport* report)>
      check;
};

struct StressReport {
  uint64_t setup_events = 0;
  uint64_t events_sent = 0;      // set-up and stream, resends not counted
  uint64_t events_acked = 0;     // appended, or acknowledged before (duplicate)
  uint64_t acked_before = 0;     // of those, answered as duplicates
  uint64_t batches = 0;
  uint64_t resent_batches = 0;
  uint64_t reconnects = 0;
  double setup_seconds = 0;
  double setup_events_per_s = 0;  // set-up events acknowledged
  double stream_seconds = 0;
  double acked_events_per_s = 0;  // stream events acknowledged per second
  // Per batch, send to ack, microseconds.
  int64_t latency_p50_us = 0, latency_p99_us = 0, latency_p999_us = 0, latency_max_us = 0;
  std::map<std::string, uint64_t> rejected;  // by the rejection's field
  uint64_t errors = 0;
  std::string first_error;
  // The check.
  bool checked = false;
  uint64_t accounts_checked = 0;
  uint64_t balance_mismatches = 0;
  uint64_t log_events = 0;        // event records in the log
  uint64_t lost = 0;              // acknowledged ids missing from the log
  uint64_t duplicated = 0;        // ids in the log more than once
  uint64_t durable_seq = 0;
  std::string log_dir;            // or, on a cluster, where its streams are
  bool consistent = false;
};

// The check's verdict on one account: a live answer (a Balance, or an
// Error) agrees with an offline replay's balance (none: unknown, so the
// answer must be NOT_FOUND).
bool BalanceAgrees(const v1::Response& live, const std::optional<v1::AccountBalance>& offline);

// Runs the whole thing. A non-OK status means the run could not start or
// the check could not be made (the report holds what was measured).
Status RunStress(const StressOptions& options, StressReport* report);

// The report as one JSON object on one line.
std::string ReportJson(const StressOptions& options, const StressReport& report);
// The report for people, several lines.
std::string ReportText(const StressOptions& options, const StressReport& report);

}  // namespace billsim::stress

#endif  // BILLSIM_STRESS_STRESS_H_
