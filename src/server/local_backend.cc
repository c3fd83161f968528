#include "server/local_backend.h"

#include "server/connection_manager.h"

namespace billsim::server {

LocalBackend::LocalBackend(const ServerOptions& options, Responder* responder)
    : pipeline_(options, responder),
      queries_(options, responder, [this] { return pipeline_.acked_seq(); }) {}

Status LocalBackend::Open() {
  Status st = pipeline_.Open();
  if (!st.ok()) return st;
  pipeline_.recent_billing = [this](const std::string& account, int64_t from_us, uint64_t seq,
                                    std::map<std::string, int64_t>* billed, bool* truncated) {
    return queries_.RecentBilling(account, from_us, seq, billed, truncated);
  };
  st = queries_.Start();
  if (st.ok()) queries_started_ = true;
  return st;
}

void LocalBackend::Start() {
  pipeline_.on_done = [this] {
    if (on_done) on_done();
  };
  pipeline_.Start();
}

Push LocalBackend::Submit(Work& work) {
  return ConnectionManager::OffCommitter(work.parsed.request) ? queries_.Submit(work)
                                                              : pipeline_.Submit(work);
}

// The committer answers what is queued, then on_done; then Drain.
void LocalBackend::Close() { pipeline_.Close(); }

// The query workers answer what they hold, and stop.
void LocalBackend::Drain() {
  if (queries_started_) queries_.Stop();
}

void LocalBackend::Join() {
  pipeline_.Close();
  pipeline_.Join();
  if (queries_started_) queries_.Stop();
}

void LocalBackend::FillMetrics(http::MetricsSnapshot* m) const {
  m->recovered_seq = pipeline_.last_seq_at_open();
  m->acked_seq = pipeline_.acked_seq();
  m->history_covered_seq = queries_.covered_seq();
  m->queued_events = pipeline_.queued_events();
  m->numbered_pairs = pipeline_.numbered_pairs();
  m->numbered_pairs_max = pipeline_.max_pairs();
  m->server = &pipeline_.metrics();
}

}  // namespace billsim::server
