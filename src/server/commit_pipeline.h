// CommitPipeline: the server's write side, with no Asio in it. It owns the
// Journal (ledger + log writer) on one committer thread and, with
// --fsync always, the syncer thread that does nothing but fdatasync.
//
// Sessions (network thread) Submit parsed requests into a bounded queue
// (bounded by queued events; kFull: the session waits for room). The
// committer takes everything queued (group commit), applies the appends'
// events through the Journal, writes the accepted ones as one batch for
// every connection (but a columnar append the log takes as it came,
// Journal::ApplyBatch, a batch of its own), and answers the group's live-state queries (balance,
// spend, dispute, ping) from the ledger. Then:
//   - --fsync always: the group goes to the syncer (at most 4 wait) and the
//     committer goes on with the next group; the syncer's one fdatasync
//     covers every group waiting, and only then are their responses handed
//     to the Responder;
//   - interval / never: the write is synced by policy, responses go at once.
// So nothing is acknowledged, and no answer leaves, before the state it
// reflects is durable under the policy; after a failed write or sync every
// request is answered UNAVAILABLE, in order, and the log is not closed
// cleanly (the next Open recovers it).
//
// History and as-of queries never come here (query_service.h).
//
// Threads: Open/Start/Submit/Close/Join from the owner (network thread);
// everything else on the committer and syncer threads.
#ifndef BILLSIM_SERVER_COMMIT_PIPELINE_H_
#define BILLSIM_SERVER_COMMIT_PIPELINE_H_

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "journal/journal.h"
#include "log/log_scrub.h"
#include "log/pair_numbering.h"
#include "server/bounded_queue.h"
#include "server/request.h"
#include "server/server.h"
#include "server/server_metrics.h"

namespace billsim::server {

class CommitPipeline {
 public:
  CommitPipeline(const ServerOptions& options, Responder* responder);
  ~CommitPipeline();

  // Opens the log through the Journal (recovery, replay, agreement) and
  // starts the background scrub of what the startup did not read.
  Status Open();
  void Start();  // the committer (and syncer) threads
  // Queues a request; weight: its events (at least 1). On kFull or
  // kClosed the work is left with the caller. A columnar append's pairs
  // are numbered here, on the caller's (network) thread, so the committer
  // resolves a pair it has met before with no lookup (Journal::ApplyBatch).
  Push Submit(Work& work);
  // No more requests: the committer answers what is queued, syncs and
  // closes the log, then calls `on_done` (from its thread) and ends.
  void Close() { queue_.Close(); }
  void Join();
  // The first write or sync failure (after Join), else OK.
  Status failure() const { return log_failed_; }

  // Thread-safe: the last sequence whose acknowledgements have gone to the
  // Responder (durable under the policy). The query side answers up to it.
  uint64_t acked_seq() const { return acked_seq_.load(std::memory_order_acquire); }
  uint64_t last_seq_at_open() const { return last_seq_at_open_; }
  // Thread-safe: the committer's and syncer's figures, and the events
  // queued for the committer.
  const ServerMetrics& metrics() const { return metrics_; }
  uint64_t queued_events() const { return queue_.held(); }
  // The network thread's: the pairs it numbered, and their bound now.
  uint64_t numbered_pairs() const { return pairs_.size(); }
  uint64_t max_pairs() const {
    const uint64_t campaigns = campaigns_.load(std::memory_order_relaxed);
    return campaigns + std::max(kPairSlack, campaigns / 8);
  }

  std::function<void()> on_done;
  // A forecast's history pace (QueryService::RecentBilling); set before
  // Start. Without it, only daily budgets are projected.
  std::function<Status(const std::string& account, int64_t from_us, uint64_t seq,
                       std::map<std::string, int64_t>* billed, bool* truncated)>
      recent_billing;

 private:
  struct Commit {  // a written group waiting for its fdatasync
    log::LogWriter::SyncTicket ticket;
    std::vector<Delivery> deliveries;
  };
  // A request's accepted events are contiguous in the batch.
  struct Pending {
    size_t index;
    uint32_t first;
    uint32_t accepted;
  };

  void CommitterLoop();
  void SyncerLoop();
  void ProcessGroup(std::vector<Work>& group);
  void ApplyAppends(std::vector<Work>& group, std::vector<v1::Response>* responses);
  void Flush(std::vector<Pending>* pending, std::vector<v1::Response>* responses);
  // Takes parsed.payload, if the log takes it whole.
  void ApplyOne(Parsed& parsed, v1::AppendAck* ack);
  void Dispatch(std::vector<Delivery>&& deliveries);
  void Answered(const std::vector<Delivery>& deliveries);  // ack latencies
  void AnswerQuery(const v1::Request& request, v1::Response* response);
  // A ForecastQuery: copies the account's state here, then simulates on
  // forecasts_ and answers from there (true), or answers now (false).
  bool StartForecast(Work& work, v1::Response* response);
  void FillScrub(v1::Pong* pong) const;
  void Fail(const std::string& what, const Status& st);
  void Publish(uint64_t seq);

  // The network thread's numbering of the pairs appends name, bounded by
  // the book: at most its campaigns (as the committer last published
  // them) and a slack of max(kPairSlack, campaigns / 8), so names of pairs
  // that do not exist cost at most that (then their pairs go unnumbered,
  // and are looked up per batch).
  static constexpr uint64_t kPairSlack = uint64_t{1} << 16;
  log::PairNumbering pairs_;
  std::atomic<uint64_t> campaigns_{0};  // the committer's, after each group

  const ServerOptions& options_;
  Responder* responder_;
  const bool pipelined_;
  WeightedQueue<Work> queue_;
  std::thread committer_;
  std::unique_ptr<Journal> journal_;  // committer thread only, once started
  Status log_failed_;                 // committer: the first failure
  std::atomic<uint64_t> acked_seq_{0};
  uint64_t last_seq_at_open_ = 0;
  std::string log_dir_abs_;
  ServerMetrics metrics_;
  log::LogScrubber scrubber_;

  // Forecasts in flight (at most kForecastsMax; more are refused as
  // UNAVAILABLE), simulated off the committer.
  static constexpr int kForecastsMax = 4;
  static constexpr int kForecastDaysMax = 366;
  boost::asio::thread_pool forecasts_{1};
  std::atomic<int> forecasts_in_flight_{0};

  // Pipelined durability (--fsync always).
  SyncQueue<Commit> syncs_;
  std::thread syncer_;
  std::mutex sync_failed_mu_;
  Status sync_failed_;  // the syncer's first failure; the committer adopts it
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_COMMIT_PIPELINE_H_
