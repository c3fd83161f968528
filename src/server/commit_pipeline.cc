#include "server/commit_pipeline.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <unordered_map>

#include "log/format.h"
#include "server/live_queries.h"
#include "sim/forecast.h"
#include "util/thread_name.h"

namespace billsim::server {

namespace {

// Group commit limits, below the log's batch limits (kMaxBatchEvents,
// kMaxPayloadBytes): a group larger than this is appended in several batches.
constexpr uint32_t kMaxBatchEventsPerAppend = 500'000;
constexpr uint64_t kMaxBatchBytesPerAppend = 32u << 20;
// A group is cut before the request that would pass the byte limit, so a
// log batch holds either several requests within the limit or one request
// alone, which the frame cap keeps within the limit too; its events
// re-encode with at most a few bytes more each (max_events_per_request).
static_assert(kMaxFrameBytesLimit <= kMaxBatchBytesPerAppend);
static_assert(kMaxBatchBytesPerAppend + 3 * 1'000'000 < log::kMaxPayloadBytes);

// Server-stamped event ids start here (wire.proto, AppendRequest.stamp):
// above any producer's dense numbering, below the ids a client derives from
// a key with the top bit set (the TikTok sandbox's request_id).
constexpr uint64_t kServerIdBase = uint64_t{1} << 62;
// A stamped grant without an expiry expires this long after it (credit
// always expires, R6).
constexpr int64_t kStampedGrantValidityUs = int64_t{90} * 86'400'000'000;

// Stamps one event of a stamped append, as the ledger stands before it.
void Stamp(const Ledger& ledger, v1::Event* e) {
  if (e->event_id() == 0) e->set_event_id(ledger.FirstUnappliedId(kServerIdBase));
  if (e->time_us() == 0) e->set_time_us(ledger.ClockOf(*e));
  if (e->has_campaign_created() && e->campaign_created().campaign_id().empty()) {
    e->mutable_campaign_created()->set_campaign_id(std::to_string(e->event_id()));
  }
  if (e->has_credit_granted() && e->credit_granted().grant_id().empty()) {
    e->mutable_credit_granted()->set_grant_id(std::to_string(e->event_id()));
  }
  if (e->has_credit_granted() && e->credit_granted().expires_at_us() == 0) {
    e->mutable_credit_granted()->set_expires_at_us(e->time_us() + kStampedGrantValidityUs);
  }
}

v1::Response Unavailable(uint64_t request_id, const Status& failure) {
  return ErrorResponse(request_id, v1::Error::UNAVAILABLE,
                       "the log failed (" + failure.message() +
                           "): the server accepts nothing more");
}

}  // namespace

CommitPipeline::CommitPipeline(const ServerOptions& options, Responder* responder)
    : options_(options),
      responder_(responder),
      pipelined_(options.fsync.mode == log::FsyncPolicy::Mode::kAlways),
      queue_(options.max_queued_events) {}

CommitPipeline::~CommitPipeline() {
  queue_.Close();
  Join();
}

Status CommitPipeline::Open() {
  JournalOptions jo;
  jo.log.fsync = options_.fsync;
  jo.log.env = options_.env;
  if (options_.segment_bytes) jo.log.segment_bytes = options_.segment_bytes;
  jo.check_skipped = false;  // the scrubber does, in the background
  std::error_code fs_ec;
  std::filesystem::create_directories(options_.log_dir, fs_ec);
  log_dir_abs_ =
      std::filesystem::absolute(options_.log_dir, fs_ec).lexically_normal().string();
  Status st = Journal::Open(options_.log_dir, jo, &journal_);
  if (!st.ok()) return st;
  last_seq_at_open_ = journal_->last_seq();
  acked_seq_ = journal_->last_seq();  // recovered: on disk
  campaigns_ = journal_->ledger().campaigns().size();
  spdlog::info("log {}: {} events, next sequence {}", options_.log_dir,
               journal_->ledger().events_applied(),
               last_seq_at_open_ + 1);
  if (options_.scrub_bytes_per_sec_max > 0) {
    scrubber_.Start(options_.log_dir, last_seq_at_open_, options_.scrub_bytes_per_sec_max);
  }
  return Status::Ok();
}

void CommitPipeline::Start() {
  committer_ = std::thread([this] {
    SetThreadName("bs-committer");
    CommitterLoop();
  });
}

Push CommitPipeline::Submit(Work& work) {
  Parsed& parsed = work.parsed;
  // (A request the queue had no room for comes back here numbered already.)
  if (parsed.batch && (parsed.pairs.size() != parsed.batch->dictionary_size() ||
                       parsed.created_pairs.size() != parsed.batch->other_events())) {
    pairs_.set_max_pairs(max_pairs());
    pairs_.Number(*parsed.batch, 0, &parsed.pairs, &parsed.created_pairs);
  }
  work.queued_at = std::chrono::steady_clock::now();
  return queue_.TryPush(work, std::max<uint64_t>(1, work.parsed.events()));
}

void CommitPipeline::Join() {
  if (committer_.joinable()) committer_.join();
}

void CommitPipeline::Fail(const std::string& what, const Status& st) {
  spdlog::error("log {} failed: {}; refusing all requests", what, st.ToString());
  log_failed_ = st;
}

void CommitPipeline::Publish(uint64_t seq) {
  if (seq > acked_seq_.load(std::memory_order_relaxed)) {
    acked_seq_.store(seq, std::memory_order_release);
  }
}

// --- The committer --------------------------------------------------------------

void CommitPipeline::CommitterLoop() {
  if (pipelined_) syncer_ = std::thread([this] {
    SetThreadName("bs-syncer");
    SyncerLoop();
  });
  std::vector<Work> group;
  const bool interval = options_.fsync.mode == log::FsyncPolicy::Mode::kInterval;
  const auto wait = std::chrono::milliseconds(
      interval ? std::max<int64_t>(1, options_.fsync.interval_ms) : 1000);
  while (queue_.PopAll(&group, wait)) {
    if (!group.empty()) {
      ProcessGroup(group);
      continue;
    }
    // Idle: make interval-policy appends durable without waiting for more.
    if (interval && log_failed_.ok() && journal_->durable_seq() < journal_->last_seq()) {
      Status st = journal_->Sync();
      if (!st.ok()) Fail("sync", st);
    }
  }
  if (pipelined_) {
    syncs_.Close();  // the syncer drains what waits, then stops
    syncer_.join();
    std::lock_guard lock(sync_failed_mu_);
    if (log_failed_.ok()) log_failed_ = sync_failed_;
  }
  forecasts_.join();  // their answers go out before the server winds down
  scrubber_.Stop();
  if (log_failed_.ok()) {
    Status st = journal_->Close();
    if (!st.ok()) Fail("close", st);
  }
  spdlog::info("log closed at sequence {}", journal_->last_seq());
  if (on_done) on_done();
}

void CommitPipeline::ProcessGroup(std::vector<Work>& group) {
  if (pipelined_ && log_failed_.ok()) {
    std::lock_guard lock(sync_failed_mu_);
    if (!sync_failed_.ok()) log_failed_ = sync_failed_;
  }
  std::vector<v1::Response> responses(group.size());
  std::vector<bool> later(group.size(), false);  // answered by a forecast worker
  uint64_t weight = 0;
  for (auto& w : group) weight += std::max<uint64_t>(1, w.parsed.events());
  ApplyAppends(group, &responses);
  // Applied: their decoders go back to the network thread, not freed
  // string by string here.
  for (Work& w : group) {
    if (w.parsed.batch) DecoderPool::Shared().Give(std::move(w.parsed.batch));
  }
  campaigns_.store(journal_->ledger().campaigns().size(), std::memory_order_relaxed);

  const uint64_t acked = journal_->last_seq();
  for (size_t i = 0; i < group.size(); ++i) {
    const v1::Request& request = group[i].parsed.request;
    v1::Response& response = responses[i];
    if (!log_failed_.ok()) {
      response = Unavailable(0, log_failed_);
    } else if (request.has_forecast()) {
      later[i] = StartForecast(group[i], &response);
    } else if (!request.has_append()) {
      AnswerQuery(request, &response);
    }
    response.set_request_id(request.request_id());
    response.set_acknowledged_seq(log_failed_.ok() ? acked : acked_seq());
  }
  queue_.Release(weight);

  std::vector<Delivery> deliveries;
  deliveries.reserve(group.size());
  for (size_t i = 0; i < group.size(); ++i) {
    if (later[i]) continue;
    deliveries.push_back({std::move(group[i].session), group[i].slot, std::move(responses[i]), {},
                          group[i].queued_at});
  }
  group.clear();
  Dispatch(std::move(deliveries));
}

void CommitPipeline::ApplyAppends(std::vector<Work>& group,
                                  std::vector<v1::Response>* responses) {
  std::vector<Pending> pending;
  uint64_t batch_bytes = 0;
  for (size_t i = 0; i < group.size(); ++i) {
    Parsed& parsed = group[i].parsed;
    if (!parsed.request.has_append() || !log_failed_.ok()) continue;
    if (journal_->pending() > 0 &&
        (journal_->pending() + parsed.events() > kMaxBatchEventsPerAppend ||
         batch_bytes + parsed.bytes > kMaxBatchBytesPerAppend)) {
      Flush(&pending, responses);
      batch_bytes = 0;
      if (!log_failed_.ok()) break;
    }
    v1::AppendAck* ack = (*responses)[i].mutable_append();
    const uint32_t first = journal_->pending();
    ApplyOne(parsed, ack);
    const uint32_t accepted = journal_->pending() - first;
    ack->set_accepted(accepted);
    pending.push_back({i, first, accepted});
    batch_bytes += parsed.bytes;
  }
  Flush(&pending, responses);
}

void CommitPipeline::ApplyOne(Parsed& parsed, v1::AppendAck* ack) {
  std::vector<Refusal> refusals;
  std::vector<v1::Event> stamped;  // a stamped append's events, as applied
  auto received = [this](int kind, uint64_t n) {
    const size_t k = kind >= 0 && static_cast<size_t>(kind) < ServerMetrics::kKinds ? kind : 0;
    metrics_.received_by_kind[k].fetch_add(n, std::memory_order_relaxed);
  };
  if (parsed.batch) {
    const log::BatchDecoder& batch = *parsed.batch;
    received(v1::Event::kDeliveryReported, batch.delivery_rows());
    for (uint32_t i = 0; i < batch.other_events(); ++i) {
      received(batch.other_event(i).payload_case(), 1);
    }
    journal_->ApplyBatch(batch, &refusals, Journal::PairIds{&parsed.pairs, &parsed.created_pairs},
                         parsed.payload.empty() ? nullptr : &parsed.payload);
  } else if (parsed.request.append().stamp()) {
    for (const v1::Event& event : parsed.request.append().events()) {
      received(event.payload_case(), 1);
      v1::Event& e = stamped.emplace_back(event);
      Stamp(journal_->ledger(), &e);
      ack->add_stamped_ids(e.event_id());
      Refusal refusal;
      if (!journal_->Apply(e, &refusal)) refusals.push_back(std::move(refusal));
    }
  } else {
    for (const v1::Event& event : parsed.request.append().events()) {
      received(event.payload_case(), 1);
      Refusal refusal;
      if (!journal_->Apply(event, &refusal)) refusals.push_back(std::move(refusal));
    }
  }
  // Each refusal's kind, found by its event id (refusals are the
  // exception: the map is built only when there are some).
  std::unordered_map<uint64_t, int> kind_of;
  if (!refusals.empty()) {
    if (parsed.batch) {
      for (uint32_t i = 0; i < parsed.batch->other_events(); ++i) {
        const v1::Event& e = parsed.batch->other_event(i);
        kind_of.emplace(e.event_id(), e.payload_case());
      }
    } else {
      for (const v1::Event& e : parsed.request.append().events()) {
        kind_of.emplace(e.event_id(), e.payload_case());
      }
      for (const v1::Event& e : stamped) kind_of.emplace(e.event_id(), e.payload_case());
    }
  }
  for (Refusal& r : refusals) {
    const auto it = kind_of.find(r.event_id);
    // Not among the whole events of a batch: one of its delivery rows.
    const int kind = it != kind_of.end() ? it->second : v1::Event::kDeliveryReported;
    const size_t k = kind >= 0 && static_cast<size_t>(kind) < ServerMetrics::kKinds ? kind : 0;
    if (r.duplicate) {
      metrics_.duplicate_by_kind[k].fetch_add(1, std::memory_order_relaxed);
    } else {
      metrics_.refused_by_kind[k].fetch_add(1, std::memory_order_relaxed);
      metrics_.Refused(r.field);
    }
    v1::Rejection* rej = ack->add_rejections();
    rej->set_event_id(r.event_id);
    rej->set_field(std::move(r.field));
    rej->set_reason(std::move(r.reason));
    rej->set_duplicate(r.duplicate);
  }
}

void CommitPipeline::Flush(std::vector<Pending>* pending, std::vector<v1::Response>* responses) {
  if (journal_->pending() > 0 && log_failed_.ok()) {
    metrics_.group_events.Observe(journal_->pending());
    log::SeqRange range;
    // Pipelined, the syncer thread makes it durable before any ack.
    Status st = pipelined_ ? journal_->Write(&range) : journal_->Append(&range);
    metrics_.log_bytes_written.store(journal_->bytes_written(), std::memory_order_relaxed);
    if (!st.ok()) {
      Fail("append", st);
    } else {
      for (const Pending& p : *pending) {
        if (p.accepted == 0) continue;
        v1::AppendAck* ack = (*responses)[p.index].mutable_append();
        ack->set_first_seq(range.first + p.first);
        ack->set_last_seq(range.first + p.first + p.accepted - 1);
      }
    }
  }
  journal_->DropPending();
  pending->clear();
}

void CommitPipeline::Dispatch(std::vector<Delivery>&& deliveries) {
  if (!pipelined_) {
    if (log_failed_.ok()) Publish(journal_->last_seq());
    Answered(deliveries);
    responder_->Send(std::move(deliveries));
    return;
  }
  // Pipelined, every group's responses go through the syncer, errors too,
  // so a connection's responses keep their order. A group after a failure
  // carries no ticket (nothing to sync).
  Commit commit;
  if (log_failed_.ok()) {
    Status st = journal_->StartSync(&commit.ticket);
    if (!st.ok()) {
      Fail("sync", st);
      commit.ticket = log::LogWriter::SyncTicket{};
      for (Delivery& d : deliveries) d.response = Unavailable(d.response.request_id(), st);
    }
  }
  commit.deliveries = std::move(deliveries);
  syncs_.Push(std::move(commit));  // waits while the syncer is far behind
}

// --- The syncer (--fsync always) ------------------------------------------------------

void CommitPipeline::SyncerLoop() {
  std::vector<Commit> waiting;
  uint64_t synced = acked_seq();
  bool failed = false;
  while (syncs_.PopAll(&waiting)) {
    // The newest ticket covers every group before it: earlier writes went
    // to the same segment, or to one a roll synced when it left it. Groups
    // after a failure carry none.
    log::LogWriter::SyncTicket* newest = nullptr;
    for (auto it = waiting.rbegin(); it != waiting.rend() && newest == nullptr; ++it) {
      if (!it->ticket.segment.empty()) newest = &it->ticket;
    }
    Status st;
    if (!failed && newest != nullptr && newest->seq > synced) {
      const auto start = std::chrono::steady_clock::now();
      st = newest->Run();
      metrics_.fsync_us.Observe(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - start).count()));
    }
    if (st.ok() && !failed) {
      if (newest != nullptr) synced = std::max(synced, newest->seq);
      Publish(synced);
    } else if (!failed) {
      // A failed fsync leaves the page cache's state unknown (fsyncgate):
      // nothing more is acknowledged.
      failed = true;
      spdlog::error("log sync failed: {}; refusing all requests", st.ToString());
      std::lock_guard lock(sync_failed_mu_);
      sync_failed_ = st;
    }
    for (Commit& c : waiting) {
      if (failed) {
        for (Delivery& d : c.deliveries) {
          d.response = ErrorResponse(d.response.request_id(), v1::Error::UNAVAILABLE,
                                     "the log failed to sync: the server accepts nothing more");
        }
      }
      Answered(c.deliveries);
      responder_->Send(std::move(c.deliveries));
    }
  }
}

void CommitPipeline::Answered(const std::vector<Delivery>& deliveries) {
  const auto now = std::chrono::steady_clock::now();
  for (const Delivery& d : deliveries) {
    if (!d.response.has_append()) continue;
    metrics_.ack_latency_us.Observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - d.queued_at).count()));
  }
}

// --- Live-state queries -----------------------------------------------------------

void CommitPipeline::AnswerQuery(const v1::Request& request, v1::Response* response) {
  const Ledger& ledger = journal_->ledger();
  if (AnswerLiveQuery(ledger, request, response)) return;
  switch (request.body_case()) {
    case v1::Request::kPing: {
      v1::Pong* pong = response->mutable_pong();
      // Pipelined, this answer goes out once its group is synced, and
      // everything written so far is in that group or before it.
      pong->set_durable_seq(pipelined_ ? journal_->last_seq() : journal_->durable_seq());
      pong->set_log_dir(log_dir_abs_);
      pong->set_fsync(options_.fsync.ToString());
      pong->set_events_applied(ledger.events_applied());
      FillScrub(pong);
      break;
    }
    default:
      *response = ErrorResponse(0, v1::Error::BAD_REQUEST, "unexpected request kind");
      break;
  }
}

bool CommitPipeline::StartForecast(Work& work, v1::Response* response) {
  const v1::ForecastQuery& q = work.parsed.request.forecast();
  if (forecasts_in_flight_.load() >= kForecastsMax) {
    *response = ErrorResponse(0, v1::Error::UNAVAILABLE,
                              std::to_string(kForecastsMax) +
                                  " forecasts are being computed; try again shortly");
    return false;
  }
  sim::ForecastOptions o;
  o.account = q.account_id();
  o.until_us = q.until_us();
  o.max_days = kForecastDaysMax;
  o.pace = q.history_pace() ? sim::ForecastOptions::Pace::kHistory : sim::ForecastOptions::Pace::kBudget;
  o.history_days = q.history_days() == 0 ? 7 : static_cast<int>(std::min<uint32_t>(q.history_days(), 367));
  auto job = std::make_shared<sim::ForecastJob>();
  Status st = sim::PrepareForecast(journal_->ledger(), o, job.get());  // O(the account)
  if (!st.ok()) {
    *response = ErrorResponse(0, st.code() == Status::Code::kNotFound ? v1::Error::NOT_FOUND
                                                                      : v1::Error::BAD_REQUEST,
                              st.code() == Status::Code::kNotFound
                                  ? "account '" + q.account_id() + "' is unknown"
                                  : st.message());
    return false;
  }
  forecasts_in_flight_++;
  const uint64_t seq = journal_->last_seq();
  boost::asio::post(forecasts_, [this, job, seq, session = std::move(work.session),
                                 slot = work.slot, id = work.parsed.request.request_id(),
                                 queued_at = work.queued_at]() mutable {
    v1::Response r;
    sim::ForecastResult result;
    // What it shows is durable before it is shown (pipelined, the state
    // may run ahead of the last fdatasync), and the history index follows
    // only what is acknowledged: wait for both, a bounded time.
    for (int waited = 0; acked_seq() < seq && waited < 5000; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Status st = acked_seq() >= seq
                    ? Status::Ok()
                    : Status::IOError("the log is not durable through sequence " +
                                      std::to_string(seq) + " yet");
    if (st.ok() && recent_billing) {  // the pace: what each campaign was billed lately
      std::map<std::string, int64_t> billed;
      bool truncated = false;
      st = recent_billing(job->options.account, sim::PaceWindowStart(*job), seq, &billed,
                          &truncated);
      if (truncated) spdlog::warn("forecast of {}: the pace reads the first million charges only",
                                  job->options.account);
      sim::SetBilledRecently(billed, job.get());
    }
    if (st.ok()) st = sim::RunForecast(*job, &result);
    if (st.ok()) {
      sim::ToProto(result, r.mutable_forecast());
    } else {
      r = ErrorResponse(0, st.code() == Status::Code::kInvalidArgument ? v1::Error::BAD_REQUEST
                                                                        : v1::Error::UNAVAILABLE,
                        "forecast: " + st.message());
    }
    r.set_request_id(id);
    r.set_acknowledged_seq(seq);
    std::vector<Delivery> one;
    one.push_back({std::move(session), slot, std::move(r), {}, queued_at});
    responder_->Send(std::move(one));
    forecasts_in_flight_--;
  });
  return true;
}

void CommitPipeline::FillScrub(v1::Pong* pong) const {
  if (options_.scrub_bytes_per_sec_max == 0) {
    pong->set_scrub_state(v1::Pong::SCRUB_OFF);
    return;
  }
  using Phase = log::LogScrubber::Phase;
  const log::LogScrubber::State s = scrubber_.state();
  switch (s.phase) {
    case Phase::kIdle:
    case Phase::kRunning: pong->set_scrub_state(v1::Pong::SCRUB_RUNNING); break;
    case Phase::kClean: pong->set_scrub_state(v1::Pong::SCRUB_CLEAN); break;
    case Phase::kDamaged: pong->set_scrub_state(v1::Pong::SCRUB_DAMAGED); break;
    case Phase::kStopped: pong->set_scrub_state(v1::Pong::SCRUB_STOPPED); break;
  }
  pong->set_scrub_through_seq(s.through_seq);
  pong->set_scrub_checked_seq(s.checked_seq);
  pong->set_scrub_damage(s.damage);
}

}  // namespace billsim::server
