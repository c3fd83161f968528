// The cluster gateway (gateway.h). Threads:
//   router    takes appends in arrival order, splits them by partition into
//             the partitions' queues (and places disputes, asking the shards
//             when it must);
//   senders   up to kMaxSenders, each owning some partitions: gathers a
//             partition's queued events into one message, publishes it,
//             and files it as waiting for its notice;
//   NATS's    the applied notices (OnApplied) complete waiting messages;
//   poller    asks the shards' status for messages whose notice is late,
//             and gives up on them after applied_wait_ms;
//   queries   a small pool forwarding queries to the shards.
// mu_ guards everything shared between them.
#include "cluster/gateway.h"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cluster/cluster_config.h"
#include "cluster/nats_client.h"
#include "cluster/partition.h"
#include "cluster/publisher.h"
#include "log/batch_codec.h"
#include "server/bounded_queue.h"
#include "server/server_metrics.h"
#include "util/thread_name.h"

namespace billsim::cluster {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t RandomId() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd() ^
         static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}
using server::Push;
using server::Work;

constexpr uint32_t kMaxSenders = 8;
constexpr size_t kEarlyNoticesMax = 16384;   // notices kept for a sender not yet filed
constexpr size_t kEarlyNoticeBytes = 64u << 20;
constexpr size_t kDisputesRemembered = 1'000'000;
constexpr auto kStatusAfter = std::chrono::milliseconds(1000);  // a notice this late: ask

// One append request on its way.
struct AppendState {
  std::shared_ptr<server::Peer> session;
  uint64_t slot = 0;
  uint64_t request_id = 0;
  Clock::time_point queued_at;
  uint64_t weight = 0;           // held in the input queue until answered
  uint32_t events = 0;           // in the request
  uint64_t copies_left = 0;      // routed copies not yet resolved (a broadcast: one a partition)
  // By request position: the refusal and the partition that gave it (a
  // broadcast refused by several partitions: the lowest one's, so the
  // answer does not depend on which notice came first).
  std::map<uint32_t, std::pair<uint32_t, v1::Rejection>> rejections;
  v1::Error::Code error_code = v1::Error::CODE_UNSPECIFIED;
  std::string error;
};

// A request's events for one partition, queued for its sender.
struct Chunk {
  std::shared_ptr<AppendState> request;
  std::vector<uint32_t> positions;
  std::vector<v1::Event> events;
  size_t taken = 0;  // events already in a message
};

// A published message waiting for its notice.
struct Message {
  uint32_t partition = 0;
  uint64_t seq = 0;
  // Per event of the message: its request and position there, and its id.
  std::vector<std::shared_ptr<AppendState>> requests;
  std::vector<uint32_t> positions;
  std::vector<uint64_t> ids;
  Clock::time_point published_at;
  // A shard said it applied the message but no longer has its notice
  // (it restarted); another replica may still have it.
  bool forgotten = false;
  Clock::time_point asked_at;
};

struct PeerState {
  uint32_t appends = 0;           // in flight
  std::deque<Work> held_queries;  // waiting for them
};

class Gateway final : public server::Backend {
 public:
  Gateway(const GatewayOptions& g, const server::ServerOptions& o, server::Responder* responder)
      : g_(g), o_(o), responder_(responder), in_(o.max_queued_events) {}
  ~Gateway() override { Join(); }

  Status Open() override {
    Status st = NatsClient::Connect(g_.nats_url, 5000, &nats_);
    ClusterConfig config;
    if (st.ok()) st = LoadCluster(nats_.get(), &config);
    if (!st.ok()) return st;
    partitions_ = config.partitions;
    queues_.resize(partitions_);
    acked_.assign(partitions_, 0);
    publishing_.assign(partitions_, false);
    failing_.assign(partitions_, false);
    filed_.assign(partitions_, 0);
    const natsStatus s = natsConnection_Subscribe(&applied_sub_, nats_->connection(),
                                                  kAppliedWildcard, &Gateway::OnApplied, this);
    if (s != NATS_OK) return nats_->Error(std::string("subscribing to ") + kAppliedWildcard, s);
    spdlog::debug("gateway to a cluster of {} partitions ({} replicas) at {}", config.partitions,
                 config.replicas, g_.nats_url);
    return Status::Ok();
  }

  void Start() override {
    router_ = std::thread([this] {
      SetThreadName("bs-router");
      RouterLoop();
    });
    const uint32_t n = std::min(partitions_, kMaxSenders);
    for (uint32_t k = 0; k < n; ++k) senders_.emplace_back([this, k, n] {
      SetThreadName("bs-gw-sender");
      SenderLoop(k, n);
    });
    poller_ = std::thread([this] {
      SetThreadName("bs-poller");
      PollerLoop();
    });
  }

  Push Submit(Work& work) override {
    const v1::Request& request = work.parsed.request;
    work.queued_at = Clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) return Push::kClosed;
    if (request.has_append()) {
      const uint64_t weight = std::max<uint64_t>(1, work.parsed.events());
      server::Peer* peer = work.session.get();
      const Push push = in_.TryPush(work, weight);
      if (push == Push::kOk) {
        peers_[peer].appends++;
        outstanding_++;
      }
      return push;
    }
    if (queries_in_flight_ >= o_.max_queued_queries) return Push::kFull;
    queries_in_flight_++;
    outstanding_++;
    auto it = peers_.find(work.session.get());
    if (it != peers_.end() && it->second.appends > 0) {
      it->second.held_queries.push_back(std::move(work));
      return Push::kOk;
    }
    lock.unlock();
    Dispatch(std::move(work));
    return Push::kOk;
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    in_.Close();
    MaybeDone();
  }

  void Join() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (joined_) return;
      joined_ = true;
      closing_ = true;
      stopping_ = true;
    }
    in_.Close();
    cv_.notify_all();
    if (router_.joinable()) router_.join();
    for (std::thread& t : senders_) t.join();
    if (poller_.joinable()) poller_.join();
    queries_.join();
    if (applied_sub_ != nullptr) {  // a notice in hand is finished before we go
      if (natsSubscription_Drain(applied_sub_) == NATS_OK) {
        natsSubscription_WaitForDrainCompletion(applied_sub_, 5000);
      }
      natsSubscription_Destroy(applied_sub_);
      applied_sub_ = nullptr;
    }
    nats_.reset();
  }

  Status failure() const override { return Status::Ok(); }
  uint64_t recovered_seq() const override { return 0; }
  uint64_t acked_seq() const override { return 0; }
  void FillMetrics(http::MetricsSnapshot* m) const override {
    m->queued_events = in_.held();
    m->server = &metrics_;
  }

 private:
  // --- appends: routing -------------------------------------------------------------

  void RouterLoop() {
    Work work;
    while (in_.PopOne(&work)) Route(std::move(work));
  }

  // The request's events, by position.
  static Status Events(const server::Parsed& parsed, std::vector<v1::Event>* events) {
    if (!parsed.batch) {
      events->assign(parsed.request.append().events().begin(),
                     parsed.request.append().events().end());
      return Status::Ok();
    }
    events->clear();
    events->reserve(parsed.request.append().batch_events());
    return parsed.batch->ForEachEvent([&](const v1::Event& e) {
      events->push_back(e);
      return Status::Ok();
    });
  }

  void Route(Work work) {
    auto state = std::make_shared<AppendState>();
    state->session = std::move(work.session);
    state->slot = work.slot;
    state->request_id = work.parsed.request.request_id();
    state->queued_at = work.queued_at;
    state->weight = std::max<uint64_t>(1, work.parsed.events());
    if (work.parsed.request.append().stamp()) {
      state->error_code = v1::Error::BAD_REQUEST;
      state->error = "stamped appends (the server assigns event ids) are not served by a cluster "
                     "gateway: send events with their own ids";
      Respond(state);
      return;
    }
    std::vector<v1::Event> events;
    Events(work.parsed, &events);
    state->events = static_cast<uint32_t>(events.size());
    for (const v1::Event& e : events) {
      const size_t kind = static_cast<size_t>(e.payload_case());
      metrics_.received_by_kind[kind < server::ServerMetrics::kKinds ? kind : 0].fetch_add(
          1, std::memory_order_relaxed);
    }
    std::vector<Chunk> chunks(partitions_);
    for (uint32_t i = 0; i < events.size(); ++i) {
      const int64_t p = PartitionFor(events[i]);
      for (uint32_t q = 0; q < partitions_; ++q) {
        if (p >= 0 && static_cast<uint32_t>(p) != q) continue;
        chunks[q].positions.push_back(i);
        chunks[q].events.push_back(p >= 0 ? std::move(events[i]) : events[i]);
        state->copies_left++;
      }
    }
    if (state->copies_left == 0) {
      Respond(state);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (uint32_t q = 0; q < partitions_; ++q) {
        if (chunks[q].events.empty()) continue;
        chunks[q].request = state;
        queues_[q].push_back(std::move(chunks[q]));
      }
    }
    cv_.notify_all();
  }

  // The event's partition, or -1 for every partition (a ClockAdvanced for
  // every account). What names no account goes where its ledger refuses it
  // as a single node would.
  int64_t PartitionFor(const v1::Event& e) {
    using P = v1::Event::PayloadCase;
    std::string dispute;
    switch (e.payload_case()) {
      case P::kClockAdvanced:
        if (e.clock_advanced().account_id().empty()) return -1;
        break;
      case P::kDisputeFiled: {
        const std::string& account = e.dispute_filed().account_id();
        if (!account.empty()) {
          if (disputes_.size() >= kDisputesRemembered) disputes_.clear();  // asked for again
          disputes_.emplace(e.dispute_filed().dispute_id(), account);
        }
        break;
      }
      case P::kDisputeEvidenceAdded:
        dispute = e.dispute_evidence_added().dispute_id();
        break;
      case P::kDisputeDecided:
        dispute = e.dispute_decided().dispute_id();
        break;
      default:
        break;
    }
    if (!dispute.empty()) {
      auto it = disputes_.find(dispute);
      if (it == disputes_.end()) {
        std::string account = AskDisputeAccount(dispute);
        if (account.empty()) return PartitionOf(dispute, partitions_);  // refused there: unknown
        it = disputes_.emplace(dispute, std::move(account)).first;
      }
      return PartitionOf(it->second, partitions_);
    }
    return PartitionOf(EventAccountId(e), partitions_);
  }

  // The account of a dispute filed before this gateway started (or before
  // it forgot): the shard that holds it says.
  std::string AskDisputeAccount(const std::string& dispute) {
    v1::Request request;
    request.mutable_dispute()->set_dispute_id(dispute);
    for (uint32_t p = 0; p < partitions_; ++p) {
      v1::Response response;
      if (AskShard(p, request, &response).ok() && response.has_dispute()) {
        return response.dispute().account_id();
      }
    }
    return {};
  }

  // --- appends: publishing -----------------------------------------------------------

  // Sender k of n serves partitions k, k + n, k + 2n, ... in turn.
  void SenderLoop(uint32_t k, uint32_t n) {
    std::vector<uint32_t> owned;
    for (uint32_t p = k; p < partitions_; p += n) owned.push_back(p);
    size_t next = 0;  // round robin over them
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      size_t ready = 0;
      cv_.wait(lock, [&] {
        if (stopping_) return true;
        for (size_t i = 0; i < owned.size(); ++i) {
          ready = (next + i) % owned.size();
          if (!queues_[owned[ready]].empty()) return true;
        }
        return false;
      });
      if (stopping_) return;
      const uint32_t p = owned[ready];
      next = ready + 1;
      auto message = std::make_unique<Message>();
      message->partition = p;
      std::vector<v1::Event> events;
      Take(p, message.get(), &events);
      lock.unlock();
      Publish(std::move(message), std::move(events));
      lock.lock();
    }
  }

  // Moves queued events of partition p into one message: at most
  // message_events events and about kMaxBatchPayloadBytes bytes, no
  // (non-zero) event id twice, so the shard's refusals name their events.
  void Take(uint32_t p, Message* m, std::vector<v1::Event>* events) {
    std::deque<Chunk>& q = queues_[p];
    std::unordered_set<uint64_t> ids;
    size_t bytes = 0;
    bool full = false;
    while (!q.empty() && !full) {
      Chunk& c = q.front();
      while (c.taken < c.events.size()) {
        v1::Event& e = c.events[c.taken];
        const size_t size = e.ByteSizeLong() + 16;
        if (!events->empty() && (events->size() >= g_.message_events ||
                                 bytes + size > kMaxBatchPayloadBytes ||
                                 (e.event_id() != 0 && ids.count(e.event_id()) > 0))) {
          full = true;
          break;
        }
        bytes += size;
        if (e.event_id() != 0) ids.insert(e.event_id());
        m->requests.push_back(c.request);
        m->positions.push_back(c.positions[c.taken]);
        m->ids.push_back(e.event_id());
        events->push_back(std::move(e));
        c.taken++;
      }
      if (c.taken == c.events.size()) q.pop_front();
    }
  }

  // Publishes one message: with an id of its own (this gateway's instance
  // and a count), so that only a retry of this publish is a duplicate to
  // JetStream; a client's resend is a new message the shards judge again,
  // as a single node would. After a publish failed for good, the
  // partition's next ones get one attempt each until one succeeds, so a
  // NATS outage answers the queue at once instead of 30 s a message.
  void Publish(std::unique_ptr<Message> m, std::vector<v1::Event> events) {
    const uint32_t p = m->partition;
    log::BatchBuilder builder;
    for (const v1::Event& e : events) builder.Add(e);
    std::string payload;
    builder.Finish(&payload);
    if (payload.size() > kMaxBatchPayloadBytes) {  // one event that large (Take bounds the rest)
      Finish(*m, nullptr, v1::Error::BAD_REQUEST,
             "event " + std::to_string(m->ids.front()) + ": " + std::to_string(payload.size()) +
                 " bytes encoded, more than a cluster message may hold (" +
                 std::to_string(kMaxBatchPayloadBytes) + ")");
      return;
    }
    char id[64];
    std::snprintf(id, sizeof id, "g-%016llx-%llu", static_cast<unsigned long long>(instance_),
                  static_cast<unsigned long long>(++published_));
    bool failing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failing = failing_[p];
      publishing_[p] = true;
    }
    PublishResult result;
    const Status st = PublishBatch(nats_.get(), p, payload, static_cast<uint32_t>(events.size()),
                                   failing ? 0 : g_.publish_retry_ms, &result, id);
    std::unique_lock<std::mutex> lock(mu_);
    publishing_[p] = false;
    failing_[p] = !st.ok();
    if (!st.ok()) {
      lock.unlock();
      spdlog::error("{}", st.message());
      Finish(*m, nullptr, v1::Error::UNAVAILABLE,
             "partition " + std::to_string(p) + ": not stored: " + st.message());
      return;
    }
    m->seq = result.stream_seq;
    m->published_at = m->asked_at = Clock::now();
    filed_[p] = std::max(filed_[p], m->seq);
    const auto key = std::make_pair(p, m->seq);
    auto early = early_.find(key);
    if (early != early_.end()) {
      v1::Response notice = std::move(early->second);
      early_bytes_ -= notice.ByteSizeLong();
      early_.erase(early);
      lock.unlock();
      Finish(*m, &notice, v1::Error::CODE_UNSPECIFIED, {});
      return;
    }
    waiting_[key].push_back(std::move(m));
  }

  // --- appends: notices ------------------------------------------------------------

  static void OnApplied(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<Gateway*>(closure);
    uint32_t p = 0;
    const std::string subject = natsMsg_GetSubject(msg);
    const char* digits = subject.c_str() + std::string("billsim.p").size();
    const bool named = subject.size() > 10 &&
                       std::from_chars(digits, subject.c_str() + subject.size(), p).ec == std::errc{};
    v1::Response notice;
    if (named && p < self->partitions_ &&
        notice.ParseFromArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg))) {
      self->OnNotice(p, std::move(notice));
    }
    natsMsg_Destroy(msg);
  }

  void OnNotice(uint32_t p, v1::Response notice) {
    const auto key = std::make_pair(p, notice.request_id());
    std::unique_lock<std::mutex> lock(mu_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) {
      // Kept only if it may be for the publish this gateway is awaiting the
      // acknowledgement of (filed next, at a higher sequence than any
      // filed); another replica's second notice, or another publisher's,
      // is dropped. The oldest go first past the count or byte bound.
      if (!publishing_[p] || key.second <= filed_[p]) return;
      const size_t bytes = notice.ByteSizeLong();
      if (!early_.emplace(key, std::move(notice)).second) return;
      early_order_.push_back(key);
      early_bytes_ += bytes;
      while (early_order_.size() > kEarlyNoticesMax || early_bytes_ > kEarlyNoticeBytes) {
        auto old = early_.find(early_order_.front());
        if (old != early_.end()) {
          early_bytes_ -= old->second.ByteSizeLong();
          early_.erase(old);
        }
        early_order_.pop_front();
      }
      return;
    }
    std::vector<std::unique_ptr<Message>> done = std::move(it->second);
    waiting_.erase(it);
    lock.unlock();
    for (auto& m : done) Finish(*m, &notice, v1::Error::CODE_UNSPECIFIED, {});
  }

  // Each round: the messages waiting past applied_wait_ms are answered
  // UNAVAILABLE; for the oldest late one of each partition, the shards are
  // asked (one request a partition a round).
  void PollerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(250));
      if (stopping_) return;
      const auto now = Clock::now();
      std::vector<std::pair<uint32_t, uint64_t>> ask, expired;
      int64_t last_partition = -1;
      for (auto& [key, list] : waiting_) {
        const Message& m = *list.front();
        if (now - m.published_at >= std::chrono::milliseconds(g_.applied_wait_ms)) {
          expired.push_back(key);
        } else if (key.first != last_partition && now - m.asked_at >= kStatusAfter) {
          for (auto& each : list) each->asked_at = now;
          ask.push_back(key);
        }
        last_partition = key.first;
      }
      for (const auto& key : expired) {
        auto it = waiting_.find(key);  // a notice may have come meanwhile
        if (it == waiting_.end()) continue;
        std::vector<std::unique_ptr<Message>> done = std::move(it->second);
        waiting_.erase(it);
        lock.unlock();
        for (auto& m : done) {
          const std::string where = "partition " + std::to_string(key.first) +
                                    ": stored at stream sequence " + std::to_string(key.second);
          Finish(*m, nullptr, v1::Error::UNAVAILABLE,
                 m->forgotten
                     ? where + " and applied, but no running shard remembers its refusals (they "
                               "restarted); resend: what was applied is refused as duplicate"
                     : where + ", but no shard reported applying it within " +
                           std::to_string(g_.applied_wait_ms) +
                           " ms; it will be applied when one runs (a resend is refused as "
                           "duplicate)");
        }
        lock.lock();
      }
      lock.unlock();
      for (const auto& key : ask) AskStatus(key.first, key.second);
      lock.lock();
    }
  }

  // A notice that did not come: the shards' memory of it.
  void AskStatus(uint32_t p, uint64_t seq) {
    const std::string subject = StatusSubject(p);
    const std::string text = std::to_string(seq);
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, nats_->connection(), subject.c_str(), text.data(),
                               static_cast<int>(text.size()), 1000) != NATS_OK) {
      return;  // no shard running, or slow: asked again later
    }
    const char* status = nullptr;
    natsMsgHeader_Get(reply, "Billsim-Status", &status);
    const std::string said = status != nullptr ? status : "";
    v1::Response notice;
    const bool parsed =
        said.empty() && notice.ParseFromArray(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    if (parsed) {
      OnNotice(p, std::move(notice));
    } else if (said == "forgotten") {
      // That replica restarted; another may still have the notice: asked
      // again next round, until applied_wait_ms.
      std::lock_guard<std::mutex> lock(mu_);
      auto it = waiting_.find({p, seq});
      if (it != waiting_.end()) {
        for (auto& m : it->second) m->forgotten = true;
      }
    }
  }

  // A message's outcome, onto its requests: the notice's refusals (each to
  // the first of its id's events not yet given one), or an error for all.
  void Finish(const Message& m, const v1::Response* notice, v1::Error::Code code,
              const std::string& error) {
    if (notice != nullptr && notice->has_error()) {
      code = notice->error().code();
      if (code == v1::Error::CODE_UNSPECIFIED) code = v1::Error::UNAVAILABLE;
    }
    const std::string& why = notice != nullptr && notice->has_error() ? notice->error().message()
                                                                      : error;
    std::vector<std::shared_ptr<AppendState>> done;
    std::unique_lock<std::mutex> lock(mu_);
    if (notice != nullptr && !notice->has_error()) {
      acked_[m.partition] = std::max(acked_[m.partition], m.seq);
      std::unordered_map<uint64_t, std::deque<size_t>> by_id;
      for (size_t i = 0; i < m.ids.size(); ++i) by_id[m.ids[i]].push_back(i);
      auto reject = [&](size_t i, const v1::Rejection& r) {
        AppendState& s = *m.requests[i];
        auto [it, added] = s.rejections.try_emplace(m.positions[i], m.partition, r);
        if (!added && m.partition < it->second.first) it->second = {m.partition, r};
      };
      for (const v1::Rejection& r : notice->append().rejections()) {
        auto it = by_id.find(r.event_id());
        if (it == by_id.end() || it->second.empty()) continue;
        const size_t i = it->second.front();
        it->second.pop_front();
        reject(i, r);
      }
    }
    for (size_t i = 0; i < m.requests.size(); ++i) {
      AppendState& s = *m.requests[i];
      if (code != v1::Error::CODE_UNSPECIFIED && s.error_code == v1::Error::CODE_UNSPECIFIED) {
        s.error_code = code;
        s.error = why;
      }
      if (--s.copies_left == 0) done.push_back(m.requests[i]);
    }
    lock.unlock();
    for (auto& s : done) Respond(s);
  }

  void Respond(const std::shared_ptr<AppendState>& s) {
    v1::Response r;
    if (s->error_code != v1::Error::CODE_UNSPECIFIED) {
      r = server::ErrorResponse(s->request_id, s->error_code, s->error);
    } else {
      r.set_request_id(s->request_id);
      v1::AppendAck* ack = r.mutable_append();
      for (auto& [position, refusal] : s->rejections) {
        *ack->add_rejections() = std::move(refusal.second);
      }
      ack->set_accepted(s->events - static_cast<uint32_t>(s->rejections.size()));
    }
    metrics_.ack_latency_us.Observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s->queued_at)
            .count()));
    // Room first, then the answer: the session resumes as it takes the
    // answer, and must find the room there.
    server::Peer* peer = s->session.get();
    in_.Release(s->weight);
    std::vector<Work> released;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = peers_.find(peer);
      if (it != peers_.end() && --it->second.appends == 0) {
        for (Work& w : it->second.held_queries) released.push_back(std::move(w));
        peers_.erase(it);
      }
    }
    std::vector<server::Delivery> out;
    out.push_back({std::move(s->session), s->slot, std::move(r), {}, s->queued_at});
    responder_->Send(std::move(out));
    for (Work& w : released) Dispatch(std::move(w));
    {
      std::lock_guard<std::mutex> lock(mu_);
      outstanding_--;
    }
    MaybeDone();
  }

  // --- queries ---------------------------------------------------------------------

  void Dispatch(Work work) {
    boost::asio::post(queries_, [this, w = std::make_shared<Work>(std::move(work))] {
      v1::Response r = Answer(w->parsed.request);
      r.set_request_id(w->parsed.request.request_id());
      {
        std::lock_guard<std::mutex> lock(mu_);
        queries_in_flight_--;  // room first, then the answer (see Respond)
      }
      std::vector<server::Delivery> out;
      out.push_back({std::move(w->session), w->slot, std::move(r), {}, w->queued_at});
      responder_->Send(std::move(out));
      {
        std::lock_guard<std::mutex> lock(mu_);
        outstanding_--;
      }
      MaybeDone();
    });
  }

  v1::Response Answer(const v1::Request& request) {
    v1::Response response;
    switch (request.body_case()) {
      case v1::Request::kBalance:
        Ask(PartitionOf(request.balance().account_id(), partitions_), request, &response);
        return response;
      case v1::Request::kCampaigns:
        Ask(PartitionOf(request.campaigns().account_id(), partitions_), request, &response);
        return response;
      case v1::Request::kSpend:
      case v1::Request::kDispute:
        return AskEvery(request);
      case v1::Request::kPing:
        return Ping(request);
      default: {
        const auto* field = v1::Request::descriptor()->FindFieldByNumber(request.body_case());
        return server::ErrorResponse(
            0, v1::Error::BAD_REQUEST,
            std::string(field != nullptr ? field->name() : "this request") +
                ": not served by a cluster gateway (billsim serve --nats): balance, spend, "
                "dispute, campaigns and ping are; a shard's log answers the rest");
      }
    }
  }

  // Every partition; the answer of the one that knows the id, else NOT_FOUND.
  v1::Response AskEvery(const v1::Request& request) {
    v1::Response response;
    for (uint32_t p = 0; p < partitions_; ++p) {
      if (!Ask(p, request, &response)) return response;
      if (!response.has_error()) return response;
      if (response.error().code() != v1::Error::NOT_FOUND) return response;
    }
    return response;
  }

  v1::Response Ping(const v1::Request& request) {
    v1::Response total;
    v1::Pong* pong = total.mutable_pong();
    pong->set_fsync("cluster of " + std::to_string(partitions_) + " partitions");
    for (uint32_t p = 0; p < partitions_; ++p) {
      v1::Response response;
      if (!Ask(p, request, &response) || !response.has_pong()) return response;
      pong->set_events_applied(pong->events_applied() + response.pong().events_applied());
    }
    return total;
  }

  // The answer of one of partition p's shards (an Error response if none
  // answers); false if it is one.
  // A replica still catching up answers UNAVAILABLE: asked again (the
  // queue group may pick the other), up to three times.
  bool Ask(uint32_t p, const v1::Request& request, v1::Response* response) {
    for (int attempt = 0;; ++attempt) {
      const Status st = AskShard(p, request, response);
      if (!st.ok()) *response = server::ErrorResponse(0, v1::Error::UNAVAILABLE, st.message());
      const bool unavailable =
          response->has_error() && response->error().code() == v1::Error::UNAVAILABLE;
      if (!unavailable || attempt == 2) return st.ok() && !response->has_error();
    }
  }

  Status AskShard(uint32_t p, const v1::Request& request, v1::Response* response) {
    const std::string subject = QuerySubject(p);
    const std::string bytes = request.SerializeAsString();
    uint64_t after;
    {
      std::lock_guard<std::mutex> lock(mu_);
      after = acked_[p];
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, bytes.data(),
                                  static_cast<int>(bytes.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Billsim-After", std::to_string(after).c_str());
    natsMsg* reply = nullptr;
    if (s == NATS_OK) {
      s = natsConnection_RequestMsg(&reply, nats_->connection(), msg, g_.query_timeout_ms);
    }
    natsMsg_Destroy(msg);
    if (s == NATS_NO_RESPONDERS) {
      return Status::IOError("partition " + std::to_string(p) + ": no shard is running");
    }
    if (s != NATS_OK) return nats_->Error("asking a shard of partition " + std::to_string(p), s);
    const bool parsed = response->ParseFromArray(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    if (!parsed) return Status::Corruption("partition " + std::to_string(p) + ": a shard's answer does not decode");
    return Status::Ok();
  }

  void MaybeDone() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closing_ || outstanding_ > 0 || done_called_) return;
      done_called_ = true;
    }
    if (on_done) on_done();
  }

  const GatewayOptions g_;
  const server::ServerOptions& o_;
  server::Responder* responder_;
  server::WeightedQueue<Work> in_;  // appends, to the router; weight held until answered
  std::unique_ptr<NatsClient> nats_;
  natsSubscription* applied_sub_ = nullptr;
  uint32_t partitions_ = 0;
  std::unordered_map<std::string, std::string> disputes_;  // router: dispute -> account
  const uint64_t instance_ = RandomId();      // in every message id it publishes
  std::atomic<uint64_t> published_{0};        // messages published, for their ids
  server::ServerMetrics metrics_;

  std::mutex mu_;
  std::condition_variable cv_;  // queues_ grew, or stopping
  std::vector<std::deque<Chunk>> queues_;  // by partition
  // By (partition, stream sequence): one message, or more if JetStream
  // ever answered two publishes with one sequence.
  std::map<std::pair<uint32_t, uint64_t>, std::vector<std::unique_ptr<Message>>> waiting_;
  std::map<std::pair<uint32_t, uint64_t>, v1::Response> early_;
  std::deque<std::pair<uint32_t, uint64_t>> early_order_;
  size_t early_bytes_ = 0;
  std::vector<bool> publishing_;  // by partition: a publish awaits its acknowledgement
  std::vector<bool> failing_;     // by partition: the last publish failed for good
  std::vector<uint64_t> filed_;   // by partition: the highest sequence filed
  std::vector<uint64_t> acked_;  // by partition: the last stream sequence answered
  std::unordered_map<server::Peer*, PeerState> peers_;
  uint32_t queries_in_flight_ = 0;
  uint64_t outstanding_ = 0;  // requests taken, not answered
  bool closing_ = false, stopping_ = false, joined_ = false, done_called_ = false;

  std::thread router_;
  std::vector<std::thread> senders_;
  std::thread poller_;
  boost::asio::thread_pool queries_{4};
};

}  // namespace

std::unique_ptr<server::Backend> MakeGateway(const GatewayOptions& gateway,
                                             const server::ServerOptions& options,
                                             server::Responder* responder) {
  return std::make_unique<Gateway>(gateway, options, responder);
}

}  // namespace billsim::cluster
