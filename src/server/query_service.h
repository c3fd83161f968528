// QueryService: the server's read side for what the live ledger does not
// keep: history pages and balances as of a time. Answered from the history
// index (history/history_index.h) by worker threads, never by the
// committer, so queries never wait behind the log and appends never wait
// behind queries.
//
// Threads: an indexer thread owns the index's writing side: it follows the
// log up to the acknowledged sequence (CommitPipeline::acked_seq), a
// little behind ingest, and checkpoints it now and then and at stop.
// `workers` threads take queries from a bounded queue (a full queue: the
// session waits for room, as for the committer's queue), wait until the
// index covers the sequence the query must reflect (that connection's own
// acknowledged appends, and the log as recovered at start), read one page
// (O(page)) at what the index covers then (capped at what was acknowledged
// when the query was routed), and hand the answer, framed, to the
// Responder. The answer's acknowledged_seq says which sequence it
// reflects: acknowledged, a few milliseconds behind the newest
// acknowledgement while the machine has cycles to spare (the indexer
// follows it on idle cycles). The session puts answers back
// in request order.
#ifndef BILLSIM_SERVER_QUERY_SERVICE_H_
#define BILLSIM_SERVER_QUERY_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "history/history_index.h"
#include "server/bounded_queue.h"
#include "server/request.h"
#include "server/server.h"

namespace billsim::server {

class QueryService {
 public:
  // `acked_seq`: thread-safe, the sequence the index may follow up to.
  QueryService(const ServerOptions& options, Responder* responder,
               std::function<uint64_t()> acked_seq);
  ~QueryService();

  // Opens the index (it checkpoints in LOGDIR/history/) and starts the
  // threads. The index catches up in the background.
  Status Start();
  // Queues a history or as-of query (work.at_least_seq set). On kFull or
  // kClosed the work is left with the caller.
  Push Submit(Work& work) { return jobs_.TryPush(work, 1); }
  // Answers what is queued, checkpoints the index and stops the threads.
  void Stop();

  uint64_t covered_seq() const;

  // What each campaign of `account` was billed (its COST entries) from
  // `from_us` on, by campaign id, through at least log sequence `seq`
  // (waiting for the index to cover it): a forecast's history pace. Reads
  // at most 1,000,000 entries (then *truncated). Thread-safe.
  Status RecentBilling(const std::string& account, int64_t from_us, uint64_t seq,
                       std::map<std::string, int64_t>* billed, bool* truncated);

 private:
  void IndexerLoop();
  void WorkerLoop();
  // Waits until the index covers `seq`; false if it failed or stopped first.
  bool WaitCovered(uint64_t seq, Status* why);
  void Answer(const Work& work, v1::Response* response);
  void AnswerHistory(const v1::HistoryQuery& q, uint64_t through_seq, v1::Response* response);
  void AnswerAsOf(const v1::BalanceAsOfQuery& q, uint64_t through_seq, v1::Response* response);
  void AnswerEvidence(const v1::EvidenceQuery& q, uint64_t through_seq, v1::Response* response);

  const ServerOptions& options_;
  Responder* responder_;
  std::function<uint64_t()> acked_seq_;
  std::unique_ptr<history::HistoryIndex> index_;
  WeightedQueue<Work> jobs_;
  std::vector<std::thread> workers_;
  std::thread indexer_;
  std::mutex evidence_mu_;  // one evidence query at a time (each replays the log)

  mutable std::mutex mu_;  // guards the fields below; cv_ signals changes to them
  std::condition_variable cv_;
  uint64_t covered_ = 0;
  uint64_t wanted_ = 0;  // the highest sequence a waiting query needs
  bool stopping_ = false;
  Status index_failed_;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_QUERY_SERVICE_H_
