#include "stress/stress.h"

#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "ledger/id_set.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/log_reader.h"
#include "net/client.h"
#include "replay/replayer.h"
#include "report/json.h"
#include "stress/stress_workload.h"
#include "util/assert.h"
#include "util/thread_name.h"

namespace billsim::stress {

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// A token bucket one batch deep: each batch reserves its slot of time.
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate) {}
  // Reserves the next slot for `events`; returns when it may be sent (now
  // or earlier for an unlimited rate).
  Clock::time_point Reserve(uint32_t events) {
    if (rate_ <= 0) return Clock::time_point{};
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    if (next_ < now) next_ = now;
    const Clock::time_point start = next_;
    next_ += std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(events) / rate_));
    return start;
  }

 private:
  double rate_;
  std::mutex mu_;
  Clock::time_point next_{};
};

// What one connection measured.
struct WorkerResult {
  // Acknowledged ids as runs [first, last]: ids are dense within a batch,
  // so this stays small however long the run (no reallocation stalls).
  std::vector<std::pair<uint64_t, uint64_t>> acked_runs;
  std::vector<int64_t> latencies_us;
  std::map<std::string, uint64_t> rejected;
  uint64_t acked_before = 0;
  uint64_t batches = 0;
  uint64_t resent = 0;
  uint64_t reconnects = 0;
  uint64_t errors = 0;
  std::string first_error;

  void Error(const std::string& what) {
    if (errors++ == 0) first_error = what;
  }
};

// Live counters for the progress line.
struct Counters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<int64_t> last_latency_us{0};
};

// Makes `request` an append of the builder's events, as one columnar batch
// (the fast path: the server decodes columns, not one message per event).
void SetBatch(const log::BatchBuilder& builder, v1::Request* request) {
  v1::AppendRequest* append = request->mutable_append();
  builder.Finish(append->mutable_batch());
  append->set_batch_events(builder.count());
}

// The set-up, as batches made on a thread of its own while earlier ones
// are in flight: the client holds at most kAhead made batches, not the
// whole set-up (2.5 million events at 10^6 campaigns), and making them
// overlaps the server's work instead of preceding it.
class SetupFeed {
 public:
  SetupFeed(StressWorkload* workload, uint32_t batch)
      : thread_([this, workload, batch] {
          SetThreadName("stress-setup");
          Make(workload, batch);
        }) {}
  ~SetupFeed() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SetupFeed(const SetupFeed&) = delete;
  SetupFeed& operator=(const SetupFeed&) = delete;

  // The next batch as an append request and its events' ids; false at the end.
  bool Next(v1::Request* request, std::vector<uint64_t>* ids) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !made_.empty() || done_; });
    if (made_.empty()) return false;
    Made m = std::move(made_.front());
    made_.pop_front();
    lock.unlock();
    cv_.notify_all();
    v1::AppendRequest* append = request->mutable_append();
    *append->mutable_batch() = std::move(m.payload);
    append->set_batch_events(static_cast<uint32_t>(m.ids.size()));
    *ids = std::move(m.ids);
    return true;
  }

 private:
  static constexpr size_t kAhead = 4;
  struct Made {
    std::string payload;
    std::vector<uint64_t> ids;
  };

  void Make(StressWorkload* workload, uint32_t batch) {
    log::BatchBuilder builder;
    Made m;
    auto hand_over = [&] {
      builder.Finish(&m.payload);
      builder.Clear();
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return made_.size() < kAhead || stopped_; });
      made_.push_back(std::move(m));
      m = Made{};
      lock.unlock();
      cv_.notify_all();
    };
    workload->Setup([&](v1::Event& e) {
      if (stopped_.load(std::memory_order_relaxed)) return;  // the reader left
      builder.Add(e);
      m.ids.push_back(e.event_id());
      if (builder.count() == batch) hand_over();
    });
    if (builder.count() > 0) hand_over();
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Made> made_;         // under mu_
  bool done_ = false;             // under mu_
  std::atomic<bool> stopped_{false};  // written under mu_
  std::thread thread_;            // last: starts once the rest is built
};

// Connects and, with a token, says Hello (a server that checks access
// refuses anything else first).
Status ConnectAndHello(net::Client* client, const std::string& to, const std::string& token,
                       Millis timeout) {
  Status st = client->Connect(to, timeout);
  if (!st.ok() || token.empty()) return st;
  v1::HelloAck::Role role = v1::HelloAck::ROLE_UNSPECIFIED;
  return client->Hello(token, &role);
}

// Connects, retrying until `deadline` (if any). A refused token is not
// retried: it will not be accepted later.
Status ConnectRetrying(net::Client* client, const StressOptions& o, Clock::time_point deadline) {
  for (;;) {
    Status st = ConnectAndHello(client, o.connect, o.token, Millis(2000));
    if (st.ok() || st.code() == Status::Code::kPermissionDenied || Clock::now() >= deadline) {
      return st;
    }
    std::this_thread::sleep_for(Millis(100));
  }
}

// Sends the batches `next` gives, keeping up to `window` in flight on one
// connection; with retry_ms, reconnects after a failure and resends every
// batch not yet acknowledged, with the same event ids.
class Worker {
 public:
  // Fills the next request and the ids of its events, in order; false when
  // there is no more.
  using Source = std::function<bool(v1::Request*, std::vector<uint64_t>*)>;

  Worker(const StressOptions& o, Pacer* pacer, Counters* counters, bool measure)
      : o_(o), pacer_(pacer), counters_(counters), measure_(measure) {}

  void Run(const Source& next, uint32_t window, WorkerResult* out) {
    out_ = out;
    net::Client client;
    const auto no_deadline = Clock::now();
    Status st = ConnectRetrying(&client, o_,
                                o_.retry_ms > 0 ? Clock::now() + Millis(o_.retry_ms) : no_deadline);
    if (!st.ok()) {
      out_->Error("connect: " + st.ToString());
      return;
    }
    std::deque<InFlight> inflight;
    bool exhausted = false;
    for (;;) {
      while (st.ok() && !exhausted && inflight.size() < window) {
        InFlight b;
        if (!next(&b.request, &b.ids)) {
          exhausted = true;
          break;
        }
        const uint32_t n = static_cast<uint32_t>(b.ids.size());
        // Wait for the pacer's slot, taking acks meanwhile: an ack read
        // late would count the pacing as latency.
        const Clock::time_point start = pacer_->Reserve(n);
        while (st.ok() && Clock::now() < start) {
          if (inflight.empty()) {
            std::this_thread::sleep_until(start);
            break;
          }
          v1::Response response;
          bool got = false;
          st = client.TryReceive(&response, std::chrono::ceil<Millis>(start - Clock::now()), &got);
          if (st.ok() && got) st = Take(response, &inflight);
        }
        counters_->sent += n;
        if (!st.ok()) {
          inflight.push_back(std::move(b));  // sent after a reconnect, with the rest
          break;
        }
        b.request.set_request_id(client.NextRequestId());
        b.sent = Clock::now();
        st = client.Send(b.request);
        inflight.push_back(std::move(b));
      }
      if (st.ok() && inflight.empty()) return;
      if (st.ok()) {
        v1::Response response;
        st = client.Receive(&response, Millis(120'000));
        if (st.ok()) st = Take(response, &inflight);
        if (st.ok()) continue;
      }
      // The connection failed: give up, or reconnect and resend.
      if (o_.retry_ms <= 0) {
        out_->Error(st.ToString());
        return;
      }
      const Status failure = st;
      const auto deadline = Clock::now() + Millis(o_.retry_ms);
      for (;;) {
        client.Close();
        st = ConnectRetrying(&client, o_, deadline);
        if (!st.ok()) {
          out_->Error(failure.ToString() + "; reconnecting for " + std::to_string(o_.retry_ms) +
                      " ms failed: " + st.ToString());
          return;
        }
        out_->reconnects++;
        for (InFlight& b : inflight) {
          b.request.set_request_id(client.NextRequestId());
          b.sent = Clock::now();
          out_->resent++;
          st = client.Send(b.request);
          if (!st.ok()) break;
        }
        if (st.ok()) break;
        if (Clock::now() >= deadline) {
          out_->Error(failure.ToString() + "; resending failed: " + st.ToString());
          return;
        }
        std::this_thread::sleep_for(Millis(100));
      }
    }
  }

 private:
  struct InFlight {
    v1::Request request;
    std::vector<uint64_t> ids;  // of the request's events, in order
    Clock::time_point sent;
  };

  // The response to the oldest request in flight.
  Status Take(const v1::Response& response, std::deque<InFlight>* inflight) {
    BILLSIM_ASSERT(!inflight->empty());
    if (response.request_id() != inflight->front().request.request_id()) {
      return Status::Corruption("response to request " + std::to_string(response.request_id()) +
                                ", expected " +
                                std::to_string(inflight->front().request.request_id()));
    }
    if (response.has_error()) {
      return Status::IOError("server error " + v1::Error::Code_Name(response.error().code()) +
                             ": " + response.error().message());
    }
    if (!response.has_append()) {
      return Status::Corruption("response to an append without an AppendAck");
    }
    Acked(inflight->front(), response.append());
    inflight->pop_front();
    return Status::Ok();
  }

  void Acked(const InFlight& b, const v1::AppendAck& ack) {
    const int64_t us = Micros(Clock::now() - b.sent);
    if (measure_) out_->latencies_us.push_back(us);
    counters_->last_latency_us = us;
    out_->batches++;
    const std::vector<uint64_t>& events = b.ids;
    std::vector<uint64_t> refused;
    for (const v1::Rejection& r : ack.rejections()) {
      if (r.duplicate()) {
        out_->acked_before++;  // applied before (a resend, or an earlier run)
      } else {
        out_->rejected[r.field().empty() ? "(none)" : r.field()]++;
        refused.push_back(r.event_id());
      }
    }
    std::sort(refused.begin(), refused.end());
    uint64_t acked = 0;
    auto& runs = out_->acked_runs;
    for (uint64_t id : events) {
      if (std::binary_search(refused.begin(), refused.end(), id)) continue;
      if (!runs.empty() && runs.back().second + 1 == id) {
        runs.back().second = id;
      } else {
        runs.emplace_back(id, id);
      }
      ++acked;
    }
    counters_->acked += acked;
    if (ack.accepted() + static_cast<uint64_t>(ack.rejections_size()) !=
        static_cast<uint64_t>(events.size())) {
      out_->Error("ack of " + std::to_string(events.size()) + " events says " +
                  std::to_string(ack.accepted()) + " accepted and " +
                  std::to_string(ack.rejections_size()) + " rejected");
    }
  }

  const StressOptions& o_;
  Pacer* pacer_;
  Counters* counters_;
  bool measure_;
  WorkerResult* out_ = nullptr;
};

int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size()));
  if (i >= sorted.size()) i = sorted.size() - 1;
  return sorted[i];
}

using Runs = std::vector<std::pair<uint64_t, uint64_t>>;

void Merge(WorkerResult&& w, StressReport* r, Runs* acked_runs,
           std::vector<int64_t>* latencies) {
  acked_runs->insert(acked_runs->end(), w.acked_runs.begin(), w.acked_runs.end());
  latencies->insert(latencies->end(), w.latencies_us.begin(), w.latencies_us.end());
  for (const auto& [field, n] : w.rejected) r->rejected[field] += n;
  r->acked_before += w.acked_before;
  r->batches += w.batches;
  r->resent_batches += w.resent;
  r->reconnects += w.reconnects;
  if (w.errors > 0 && r->errors == 0) r->first_error = w.first_error;
  r->errors += w.errors;
}

// Collects the event ids of a log: how many, and how many seen twice.
class IdCollector : public log::BatchVisitor {
 public:
  bool OnDelivery(uint32_t, const log::DeliveryRow& row) override {
    Add(row.event_id);
    return true;
  }
  bool OnEvent(uint32_t, const v1::Event& event) override {
    Add(event.event_id());
    return true;
  }
  const IdSet& ids() const { return ids_; }
  uint64_t events() const { return events_; }
  uint64_t duplicated() const { return duplicated_; }

 private:
  void Add(uint64_t id) {
    events_++;
    if (ids_.Contains(id)) {
      duplicated_++;
    } else {
      ids_.Insert(id);
    }
  }
  IdSet ids_;  // runs: memory follows the gaps, not the log's length
  uint64_t events_ = 0;
  uint64_t duplicated_ = 0;
};

Status ReadLogIds(const std::string& dir, IdCollector* collector) {
  log::LogReader reader;
  Status st = reader.Open(dir, log::LogReader::Options{});
  if (!st.ok()) return st;
  log::BatchDecoder decoder;
  log::BatchView batch;
  for (;;) {
    bool done = false;
    st = reader.Next(&batch, &done);
    if (!st.ok() || done) return st;
    st = decoder.Parse(batch.payload, batch.header.count);
    if (!st.ok()) return st;
    decoder.Visit(collector);
  }
}

Status Check(const StressOptions& o, const std::vector<std::string>& accounts,
             const Runs& acked_runs, StressReport* r) {
  net::Client client;
  Status st = ConnectAndHello(&client, o.connect, o.token, Millis(5000));
  if (!st.ok()) return st;
  v1::Request request;
  v1::Response response;
  request.set_request_id(client.NextRequestId());
  request.mutable_ping();
  st = client.Call(request, &response);
  if (!st.ok()) return st;
  if (!response.has_pong()) return Status::Corruption("Ping was not answered with a Pong");
  r->durable_seq = response.pong().durable_seq();
  r->log_dir = response.pong().log_dir();

  // (1) Live balances against an offline replay of the log, up to what the
  // server has acknowledged (under --fsync never or interval that is past
  // what is synced, and readable all the same).
  Ledger ledger;
  ReplayStats stats;
  ReplayOptions ro;
  ro.use_snapshots = false;
  ro.to_seq = response.acknowledged_seq();
  st = Replay(r->log_dir, ro, &ledger, &stats);
  if (!st.ok()) return st;
  for (const std::string& account : accounts) {
    request.Clear();
    request.set_request_id(client.NextRequestId());
    request.mutable_balance()->set_account_id(account);
    st = client.Call(request, &response);
    if (!st.ok()) return st;
    const std::optional<v1::AccountBalance> offline = ledger.Balance(account);
    const bool equal = BalanceAgrees(response, offline);
    r->accounts_checked++;
    if (!equal) {
      if (r->balance_mismatches++ < 3) {
        spdlog::error("account {}: the server says {}, a replay of the log says {}", account,
                      response.has_balance() ? ToJson(response.balance())
                                             : ToJson(response),
                      offline ? ToJson(*offline) : std::string("nothing"));
      }
    }
  }

  // (2) Every acknowledged id in the log, none twice.
  IdCollector in_log;
  st = ReadLogIds(r->log_dir, &in_log);
  if (!st.ok()) return st;
  r->log_events = in_log.events();
  r->duplicated = in_log.duplicated();
  // An id acknowledged twice (a resend) counts once.
  IdSet acked;
  for (const auto& [first, last] : acked_runs) {
    for (uint64_t id = first; id <= last; ++id) {
      if (acked.Contains(id)) continue;
      acked.Insert(id);
      if (!in_log.ids().Contains(id) && r->lost++ < 3) {
        spdlog::error("event {} was acknowledged but is not in the log", id);
      }
    }
  }
  if (r->duplicated > 0) spdlog::error("{} event ids are in the log more than once", r->duplicated);
  r->checked = true;
  r->consistent = r->balance_mismatches == 0 && r->lost == 0 && r->duplicated == 0;
  return Status::Ok();
}

}  // namespace

bool BalanceAgrees(const v1::Response& live, const std::optional<v1::AccountBalance>& offline) {
  if (live.has_balance()) {
    return offline.has_value() &&
           google::protobuf::util::MessageDifferencer::Equals(live.balance(), *offline);
  }
  return !offline.has_value() && live.has_error() && live.error().code() == v1::Error::NOT_FOUND;
}

Status RunStress(const StressOptions& o, StressReport* r) {
  *r = StressReport{};
  StressWorkload workload(o.seed, o.accounts, o.campaigns, o.events);
  Pacer pacer(o.rate);
  Counters counters;
  Runs acked_runs;
  std::vector<int64_t> latencies;

  // Set-up first, in order on one connection: the stream needs the
  // accounts and campaigns to exist. Pipelined (kSetupWindow batches in
  // flight): the server applies a connection's requests in the order they
  // came, and a reconnect resends the unacknowledged ones in order.
  {
    constexpr uint32_t kSetupWindow = 8;
    const Clock::time_point setup_t0 = Clock::now();
    r->setup_events = workload.setup_events();
    SetupFeed feed(&workload, o.batch);
    Worker::Source source = [&feed](v1::Request* request, std::vector<uint64_t>* ids) {
      return feed.Next(request, ids);
    };
    Pacer unlimited(0);
    Worker worker(o, &unlimited, &counters, false);
    WorkerResult result;
    worker.Run(source, kSetupWindow, &result);
    r->setup_seconds = Seconds(Clock::now() - setup_t0);
    r->setup_events_per_s =
        r->setup_seconds > 0 ? static_cast<double>(counters.acked) / r->setup_seconds : 0;
    const bool failed = result.errors > 0;
    Merge(std::move(result), r, &acked_runs, &latencies);
    if (failed) {
      r->events_sent = counters.sent;
      r->events_acked = counters.acked;
      return Status::IOError("set-up failed: " + r->first_error);
    }
  }
  const uint64_t acked_at_setup = counters.acked;

  // The stream: batches drawn in generation order under one mutex, each
  // into its connection's own builder, and serialized (about a quarter of
  // the client's work) outside it. A batch's events are the seed's; the
  // order in which connections send their batches is not (a dispute's
  // follow-up may reach the server before its filing and be refused: the
  // check counts what was acknowledged).
  std::mutex gen_mu;
  uint64_t generated = 0;  // under gen_mu
  Worker::Source source = [&](v1::Request* request, std::vector<uint64_t>* ids) {
    thread_local log::BatchBuilder builder;  // empty between calls
    {
      std::lock_guard<std::mutex> lock(gen_mu);
      if (generated >= o.events) return false;
      const uint64_t n = std::min<uint64_t>(o.batch, o.events - generated);
      ids->resize(n);
      for (uint64_t i = 0; i < n; ++i) (*ids)[i] = workload.Next(&builder);
      generated += n;
    }
    SetBatch(builder, request);
    builder.Clear();
    return true;
  };
  std::vector<WorkerResult> results(o.connections);
  std::atomic<bool> done{false};
  const auto t0 = Clock::now();
  std::thread progress;
  if (o.progress) {
    progress = std::thread([&] {
      SetThreadName("stress-progress");
      uint64_t last_acked = counters.acked;
      auto last = Clock::now();
      while (!done) {
        std::this_thread::sleep_for(Millis(250));
        const auto now = Clock::now();
        const uint64_t acked = counters.acked;
        const double rate = static_cast<double>(acked - last_acked) / Seconds(now - last);
        last_acked = acked;
        last = now;
        std::fprintf(stderr,
                     "\rsent %10" PRIu64 "  acked %10" PRIu64 "  %9.0f events/s  ack %8.1f ms   ",
                     static_cast<uint64_t>(counters.sent), acked, rate,
                     static_cast<double>(counters.last_latency_us) / 1000.0);
      }
      std::fprintf(stderr, "\n");
    });
  }
  {
    std::vector<std::thread> threads;
    for (uint32_t c = 0; c < o.connections; ++c) {
      threads.emplace_back([&, c] {
        SetThreadName("stress-conn");
        Worker worker(o, &pacer, &counters, true);
        worker.Run(source, std::max<uint32_t>(1, o.pipeline), &results[c]);
      });
    }
    for (std::thread& t : threads) t.join();
  }
  r->stream_seconds = Seconds(Clock::now() - t0);
  done = true;
  if (progress.joinable()) progress.join();
  for (WorkerResult& w : results) Merge(std::move(w), r, &acked_runs, &latencies);
  r->events_sent = counters.sent;
  r->events_acked = counters.acked;
  const uint64_t stream_acked = r->events_acked - acked_at_setup;
  r->acked_events_per_s =
      r->stream_seconds > 0 ? static_cast<double>(stream_acked) / r->stream_seconds : 0;
  std::sort(latencies.begin(), latencies.end());
  r->latency_p50_us = Percentile(latencies, 0.50);
  r->latency_p99_us = Percentile(latencies, 0.99);
  r->latency_p999_us = Percentile(latencies, 0.999);
  r->latency_max_us = latencies.empty() ? 0 : latencies.back();

  if (o.check) return o.check(workload.account_ids(), acked_runs, r);
  return Check(o, workload.account_ids(), acked_runs, r);
}

std::string ReportJson(const StressOptions& o, const StressReport& r) {
  JsonObject rejected = JsonObject::object();
  uint64_t rejected_total = 0;
  for (const auto& [field, n] : r.rejected) {
    rejected[field] = n;
    rejected_total += n;
  }
  JsonObject j = {
      {"events_sent", r.events_sent},
      {"events_acked", r.events_acked},
      {"setup_events", r.setup_events},
      {"setup_events_per_s", std::llround(r.setup_events_per_s)},
      {"setup_seconds", RoundedTo(r.setup_seconds, 3)},
      {"acked_before", r.acked_before},
      {"acked_events_per_s", std::llround(r.acked_events_per_s)},
      {"seconds", RoundedTo(r.stream_seconds, 3)},
      {"connections", o.connections},
      {"batch", o.batch},
      {"batches", r.batches},
      {"resent_batches", r.resent_batches},
      {"reconnects", r.reconnects},
      {"ack_latency_us",
       {{"p50", r.latency_p50_us},
        {"p99", r.latency_p99_us},
        {"p999", r.latency_p999_us},
        {"max", r.latency_max_us}}},
      {"rejected_total", rejected_total},
      {"rejected", std::move(rejected)},
      {"errors", r.errors},
      {"checked", r.checked},
      {"accounts_checked", r.accounts_checked},
      {"balance_mismatches", r.balance_mismatches},
      {"log_events", r.log_events},
      {"durable_seq", r.durable_seq},
      {"lost", r.lost},
      {"duplicated", r.duplicated},
      {"consistent", r.consistent},
  };
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  j["log_dir"] = r.log_dir;
  return ToJsonLine(j);
}

std::string ReportText(const StressOptions& o, const StressReport& r) {
  char buf[512];
  std::string out;
  std::snprintf(buf, sizeof buf,
                "events sent        %" PRIu64 " (%" PRIu64 " set-up, %.0f events/s over %.2f s),"
                " acknowledged %" PRIu64 " (%" PRIu64 " of them before: duplicates)\n"
                "throughput         %.0f events/s acknowledged over %.2f s "
                "(%u connections, batches of %u)\n"
                "ack latency        p50 %" PRId64 " us  p99 %" PRId64 " us  p99.9 %" PRId64
                " us  max %" PRId64 " us  (%" PRIu64 " batches)\n",
                r.events_sent, r.setup_events, r.setup_events_per_s, r.setup_seconds,
                r.events_acked, r.acked_before, r.acked_events_per_s, r.stream_seconds, o.connections, o.batch,
                r.latency_p50_us, r.latency_p99_us, r.latency_p999_us, r.latency_max_us,
                r.batches);
  out += buf;
  if (r.reconnects > 0) {
    std::snprintf(buf, sizeof buf, "reconnects         %" PRIu64 " (%" PRIu64
                  " batches resent)\n", r.reconnects, r.resent_batches);
    out += buf;
  }
  if (r.rejected.empty()) {
    out += "rejected           none\n";
  } else {
    out += "rejected by field\n";
    for (const auto& [field, n] : r.rejected) {
      std::snprintf(buf, sizeof buf, "  %-40s %" PRIu64 "\n", field.c_str(), n);
      out += buf;
    }
  }
  std::snprintf(buf, sizeof buf, "errors             %" PRIu64 "%s%s\n", r.errors,
                r.first_error.empty() ? "" : ": ", r.first_error.c_str());
  out += buf;
  if (r.checked) {
    std::snprintf(buf, sizeof buf,
                  "check              %" PRIu64 " accounts: %" PRIu64
                  " balances differ from a replay of %s (to sequence %" PRIu64 ")\n"
                  "                   %" PRIu64 " events in the log, %" PRIu64
                  " acknowledged ids lost, %" PRIu64 " duplicated\n"
                  "%s\n",
                  r.accounts_checked, r.balance_mismatches, r.log_dir.c_str(), r.durable_seq,
                  r.log_events, r.lost, r.duplicated,
                  r.consistent ? "CONSISTENT" : "INCONSISTENT");
    out += buf;
  } else {
    out += "check              not made\n";
  }
  return out;
}

}  // namespace billsim::stress
