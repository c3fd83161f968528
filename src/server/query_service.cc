#include "server/query_service.h"

#include <spdlog/spdlog.h>

#include <sstream>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audit/audit.h"
#include "history/statement.h"
#include "history/timeline.h"
#include "net/frame.h"
#include "util/thread_name.h"

namespace billsim::server {

namespace {
// The indexer checkpoints when this much has been covered since the last.
constexpr uint64_t kCheckpointEvents = 5'000'000;
}  // namespace

QueryService::QueryService(const ServerOptions& options, Responder* responder,
                           std::function<uint64_t()> acked_seq)
    : options_(options),
      responder_(responder),
      acked_seq_(std::move(acked_seq)),
      jobs_(options.max_queued_queries) {}

QueryService::~QueryService() { Stop(); }

Status QueryService::Start() {
  history::HistoryIndex::Options io;
  io.env = options_.env;
  Status st = history::HistoryIndex::Open(options_.log_dir, io, &index_);
  if (!st.ok()) return st;
  covered_ = index_->covered_seq();
  indexer_ = std::thread([this] {
    SetThreadName("bs-indexer");
    IndexerLoop();
  });
  for (uint32_t i = 0; i < options_.query_threads; ++i) {
    workers_.emplace_back([this] {
      SetThreadName("bs-query");
      WorkerLoop();
    });
  }
  return Status::Ok();
}

// Queries already covered are answered; those that would wait for the
// index are answered UNAVAILABLE (the server is stopping).
void QueryService::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  jobs_.Close();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (indexer_.joinable()) indexer_.join();
}

uint64_t QueryService::covered_seq() const {
  std::lock_guard lock(mu_);
  return covered_;
}

// --- The indexer ---------------------------------------------------------------------

void QueryService::IndexerLoop() {
  // Ingest first: the indexer replays every acknowledged event again, and
  // on a busy machine it should take the cycles the committer leaves, not
  // compete for them. Niced, it falls behind under a burst and catches up
  // after; a history query waits for it (and wakes it) meanwhile.
  if (options_.indexer_nice > 0) {
    setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), options_.indexer_nice);
  }
  if (options_.indexer_idle_class) {  // SCHED_IDLE: only cycles nobody else wants
    sched_param param{};
    sched_setscheduler(static_cast<pid_t>(::syscall(SYS_gettid)), SCHED_IDLE, &param);
  }
  uint64_t checkpointed = index_->covered_seq();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto woken = [&] { return stopping_ || wanted_ > covered_; };
      if (options_.index_follow_ms > 0) {
        cv_.wait_for(lock, std::chrono::milliseconds(options_.index_follow_ms), woken);
      } else {
        cv_.wait(lock, woken);
      }
      if (stopping_) break;
    }
    const uint64_t target = acked_seq_();
    if (target <= index_->covered_seq()) continue;
    Status st = index_->CatchUp(target);
    if (st.ok() && index_->covered_seq() - checkpointed >= kCheckpointEvents) {
      st = index_->Checkpoint();
      checkpointed = index_->covered_seq();
    }
    std::lock_guard lock(mu_);
    covered_ = index_->covered_seq();
    if (!st.ok()) {
      spdlog::error("history index: {}; history queries are refused", st.ToString());
      index_failed_ = st;
      cv_.notify_all();
      break;
    }
    cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  if (index_failed_.ok()) {
    Status st = index_->Checkpoint();
    if (!st.ok()) spdlog::warn("history index checkpoint at stop: {}", st.ToString());
  }
}

// --- The workers ---------------------------------------------------------------------

bool QueryService::WaitCovered(uint64_t seq, Status* why) {
  std::unique_lock lock(mu_);
  if (covered_ >= seq) return true;
  wanted_ = std::max(wanted_, seq);
  cv_.notify_all();  // wake the indexer
  cv_.wait(lock, [&] { return covered_ >= seq || stopping_ || !index_failed_.ok(); });
  if (covered_ >= seq) return true;
  *why = index_failed_.ok() ? Status::IOError("the server is stopping") : index_failed_;
  return false;
}

void QueryService::WorkerLoop() {
  Work work;
  while (jobs_.PopOne(&work)) {
    Delivery d;
    Answer(work, &d.response);
    d.response.set_request_id(work.parsed.request.request_id());
    d.session = std::move(work.session);
    d.slot = work.slot;
    // Serialized here, not on the network thread, which all connections share.
    if (!net::AppendFrame(d.response, &d.frame, UINT32_MAX).ok()) d.frame.clear();
    std::vector<Delivery> one;
    one.push_back(std::move(d));
    responder_->Send(std::move(one));
    jobs_.Release(1);
  }
}

void QueryService::Answer(const Work& work, v1::Response* response) {
  Status why;
  if (!WaitCovered(work.at_least_seq, &why)) {
    *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "history: " + why.ToString());
    return;
  }
  // What the index covers now (acknowledged: it follows acked_seq; at
  // least what this query must reflect), but nothing acknowledged after the
  // query was routed: not a later request of its own connection. Not
  // waiting for the newest acknowledgement keeps a page O(page) while
  // ingest runs.
  const uint64_t through_seq = std::min(covered_seq(), work.at_most_seq);
  const v1::Request& request = work.parsed.request;
  if (request.has_history()) {
    AnswerHistory(request.history(), through_seq, response);
  } else if (request.has_balance_as_of()) {
    AnswerAsOf(request.balance_as_of(), through_seq, response);
  } else if (request.has_evidence()) {
    AnswerEvidence(request.evidence(), through_seq, response);
  } else if (request.has_statement()) {
    const Status st = history::BuildStatement(*index_, request.statement(), through_seq,
                                              response->mutable_statement());
    if (st.code() == Status::Code::kNotFound) {
      *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                                "account '" + request.statement().account_id() + "' is unknown");
    } else if (st.code() == Status::Code::kInvalidArgument) {
      *response = ErrorResponse(0, v1::Error::BAD_REQUEST, st.message());
    } else if (!st.ok()) {
      *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "statement: " + st.ToString());
    }
  } else if (request.has_timeline()) {
    const Status st =
        history::BuildTimeline(*index_, request.timeline(), through_seq, response->mutable_timeline());
    if (st.code() == Status::Code::kNotFound) {
      *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                                "account '" + request.timeline().account_id() + "' is unknown");
    } else if (st.code() == Status::Code::kInvalidArgument) {
      *response = ErrorResponse(0, v1::Error::BAD_REQUEST, st.message());
    } else if (!st.ok()) {
      *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "timeline: " + st.ToString());
    }
  } else {
    *response = ErrorResponse(0, v1::Error::BAD_REQUEST, "unexpected request kind");
    return;
  }
  if (!response->has_error()) response->set_acknowledged_seq(through_seq);
}

Status QueryService::RecentBilling(const std::string& account, int64_t from_us, uint64_t seq,
                                   std::map<std::string, int64_t>* billed, bool* truncated) {
  Status why;
  if (!WaitCovered(seq, &why)) return why;
  history::PageQuery q;
  q.account = account;
  q.from_us = from_us;
  q.kind = v1::COST;
  q.through_seq = covered_seq();
  constexpr int kPages = 100;  // of 10,000 entries
  *truncated = false;
  for (int page_no = 0; page_no < kPages; ++page_no) {
    history::Page page;
    Status st = index_->ReadPage(q, &page);
    if (st.code() == Status::Code::kNotFound) return Status::Ok();  // nothing billed yet
    if (!st.ok()) return st;
    for (const history::HistoryItem& item : page.items) {
      (*billed)[item.entry.campaign_id()] -= item.entry.balance_delta_micros();
    }
    if (!page.truncated) return Status::Ok();
    q.cursor = page.next_cursor;
  }
  *truncated = true;
  return Status::Ok();
}

void QueryService::AnswerHistory(const v1::HistoryQuery& q, uint64_t through_seq,
                                 v1::Response* response) {
  history::PageQuery pq;
  pq.account = q.account_id();
  pq.since_seq = q.since_seq();
  pq.cursor = q.cursor();
  if (q.to_us() != 0) pq.to_us = q.to_us();
  pq.kind = q.kind();
  pq.campaign = q.campaign_id();
  pq.through_seq = through_seq;
  pq.limit = (q.limit() == 0 || q.limit() > options_.history_limit) ? options_.history_limit
                                                                     : q.limit();
  history::Page page;
  Status st = index_->ReadPage(pq, &page);
  if (st.code() == Status::Code::kNotFound) {
    *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                              "account '" + q.account_id() + "' is unknown");
    return;
  }
  if (!st.ok()) {
    *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "history: " + st.ToString());
    return;
  }
  v1::HistoryResult* result = response->mutable_history();
  for (history::HistoryItem& item : page.items) {
    auto* out = result->add_items();
    out->set_log_seq(item.log_seq);
    *out->mutable_entry() = std::move(item.entry);
  }
  result->set_truncated(page.truncated);
  result->set_next_cursor(page.next_cursor);
}

void QueryService::AnswerEvidence(const v1::EvidenceQuery& q, uint64_t through_seq,
                                  v1::Response* response) {
  // One at a time: each replays the log twice.
  std::lock_guard lock(evidence_mu_);
  audit::Evidence evidence;
  const Status st = audit::CollectEvidence(options_.log_dir, q.dispute_id(), through_seq, &evidence);
  if (st.code() == Status::Code::kNotFound) {
    *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                              "dispute '" + q.dispute_id() + "' is unknown");
    return;
  }
  if (!st.ok()) {
    *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "evidence: " + st.ToString());
    return;
  }
  std::ostringstream csv;
  v1::EvidenceFile* file = response->mutable_evidence();
  if (q.file() == v1::EvidenceQuery::DELIVERY_DATA) {
    audit::WriteDeliveryData(evidence, csv);
    file->set_name("delivery_data.csv");
  } else {
    audit::WriteSpendReport(evidence, csv);
    file->set_name("spend_report.csv");
  }
  file->set_csv(csv.str());
}

void QueryService::AnswerAsOf(const v1::BalanceAsOfQuery& q, uint64_t through_seq,
                              v1::Response* response) {
  history::BalanceAt at;
  Status st = index_->BalanceAsOf(q.account_id(), q.as_of_us(), through_seq, &at);
  if (st.code() == Status::Code::kNotFound) {
    *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                              "account '" + q.account_id() + "' is unknown");
    return;
  }
  if (!st.ok()) {
    *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "balance as of: " + st.ToString());
    return;
  }
  v1::BalanceAsOf* b = response->mutable_balance_as_of();
  b->set_account_id(q.account_id());
  b->set_as_of_us(q.as_of_us());
  b->set_log_seq(at.log_seq);
  b->set_entry_seq(at.entry_seq);
  b->set_cash_balance(at.cash);
  b->set_grant_balance(at.credit);
  b->set_frozen_balance(at.frozen);
  b->set_valid_balance(at.valid);
  b->set_account_clock_us(at.account_clock_us);
}

}  // namespace billsim::server
