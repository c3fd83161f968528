#include "cluster/publisher.h"

#include <xxhash.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cluster/cluster_config.h"
#include "cluster/partition.h"
#include "log/batch_codec.h"
#include "util/assert.h"
#include "util/thread_name.h"

namespace billsim::cluster {

namespace {
// JetStream's "message size exceeds maximum allowed".
constexpr int kMessageTooLarge = 10054;
}  // namespace

Publisher::Publisher(NatsClient* nats, uint32_t partitions, uint32_t batch_events,
                     int64_t retry_ms)
    : nats_(nats),
      partitions_(partitions),
      batch_events_(batch_events),
      retry_ms_(retry_ms),
      pending_(partitions),
      senders_(std::min(partitions, kMaxSenders)) {
  BILLSIM_ASSERT(partitions > 0 && partitions <= kMaxPartitions && batch_events > 0);
  for (Sender& s : senders_) s.thread = std::thread([this, &s] {
    SetThreadName("bs-publisher");
    SenderLoop(&s);
  });
}

Publisher::~Publisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (Sender& s : senders_) s.thread.join();
}

PublishStats Publisher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PublishStats s = stats_;
  s.events = events_;
  return s;
}

Status Publisher::Route(const v1::Event& e, std::string* account) const {
  using P = v1::Event::PayloadCase;
  auto of_dispute = [&](const std::string& id, const char* field) {
    auto it = dispute_account_.find(id);
    if (it == dispute_account_.end()) {
      return Status::InvalidArgument(
          "event " + std::to_string(e.event_id()) + ": " + field + " \"" + id +
          "\": no DisputeFiled for it went through this publisher, so its partition is unknown");
    }
    *account = it->second;
    return Status::Ok();
  };
  switch (e.payload_case()) {
    case P::kDisputeEvidenceAdded:
      return of_dispute(e.dispute_evidence_added().dispute_id(), "dispute_evidence_added.dispute_id");
    case P::kDisputeDecided:
      return of_dispute(e.dispute_decided().dispute_id(), "dispute_decided.dispute_id");
    case P::kClockAdvanced:  // empty: every account's clock, every partition
      *account = e.clock_advanced().account_id();
      return Status::Ok();
    case P::PAYLOAD_NOT_SET:
      return Status::InvalidArgument("event " + std::to_string(e.event_id()) +
                                     ": payload: none set");
    default:
      *account = std::string(EventAccountId(e));
  }
  if (account->empty()) {
    return Status::InvalidArgument("event " + std::to_string(e.event_id()) +
                                   ": account_id: empty, so its partition is unknown");
  }
  return Status::Ok();
}

Status Publisher::Add(const v1::Event& event) {
  std::string account;
  Status st = Route(event, &account);
  if (!st.ok()) return st;
  events_++;
  if (account.empty()) {  // a ClockAdvanced for every account: every partition
    for (uint32_t p = 0; p < partitions_; ++p) {
      st = Queue(p, event);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }
  // The first filing names the dispute's account (a second DisputeFiled of
  // the same id is refused by the ledger; it must not move the routing).
  if (event.has_dispute_filed()) dispute_account_.emplace(event.dispute_filed().dispute_id(), account);
  return Queue(PartitionOf(account, partitions_), event);
}

Status Publisher::Queue(uint32_t partition, const v1::Event& event) {
  std::vector<v1::Event>& q = pending_[partition];
  q.push_back(event);
  if (q.size() < batch_events_) return Status::Ok();
  const Status st = Encode(partition, q.data(), q.size());
  q.clear();
  return st;
}

Status Publisher::Flush() {
  for (uint32_t p = 0; p < partitions_; ++p) {
    std::vector<v1::Event>& q = pending_[p];
    if (q.empty()) continue;
    const Status st = Encode(p, q.data(), q.size());
    q.clear();
    if (!st.ok()) return st;
  }
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] {
    if (!failure_.ok()) return true;
    for (const Sender& s : senders_) {
      if (s.busy || !s.queue.empty()) return false;
    }
    return true;
  });
  return failure_;
}

Status Publisher::Encode(uint32_t partition, const v1::Event* events, size_t n) {
  log::BatchBuilder builder;
  for (size_t i = 0; i < n; ++i) builder.Add(events[i]);
  Outgoing out{partition, static_cast<uint32_t>(n), {}};
  builder.Finish(&out.payload);
  // The server bounds headers and payload together: room for ours.
  if (out.payload.size() > kMaxBatchPayloadBytes) {
    if (n == 1) {
      return Status::InvalidArgument("event " + std::to_string(events[0].event_id()) + ": " +
                                     std::to_string(out.payload.size()) +
                                     " bytes encoded, more than a message may hold (" +
                                     std::to_string(kMaxBatchPayloadBytes) + ")");
    }
    const Status st = Encode(partition, events, n / 2);  // halves: the bytes are what bounds
    if (!st.ok()) return st;
    return Encode(partition, events + n / 2, n - n / 2);
  }
  Sender& sender = senders_[partition % senders_.size()];
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return !failure_.ok() || sender.queue.size() < kQueuedPerSender; });
  if (!failure_.ok()) return failure_;
  sender.queue.push_back(std::move(out));
  lock.unlock();
  changed_.notify_all();
  return Status::Ok();
}

void Publisher::SenderLoop(Sender* sender) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !sender->queue.empty(); });
    if (stopping_) return;
    if (!failure_.ok()) {  // nothing more goes out after a failure
      sender->queue.clear();
      changed_.notify_all();
      continue;
    }
    sender->busy = true;
    const Outgoing& out = sender->queue.front();
    lock.unlock();
    bool duplicate = false;
    uint64_t retries = 0;
    const Status st = Send(out, &duplicate, &retries);
    lock.lock();
    sender->busy = false;
    stats_.retries += retries;
    if (st.ok()) {
      (duplicate ? stats_.duplicates : stats_.batches)++;
      stats_.bytes += out.payload.size();
    } else if (failure_.ok()) {
      failure_ = st;
    }
    sender->queue.pop_front();
    changed_.notify_all();
  }
}

Status Publisher::Send(const Outgoing& out, bool* duplicate, uint64_t* retries) {
  PublishResult result;
  const Status st = PublishBatch(nats_, out.partition, out.payload, out.events, retry_ms_, &result);
  *duplicate = result.duplicate;
  *retries = result.retries;
  return st;
}

Status PublishBatch(NatsClient* nats, uint32_t partition, const std::string& payload,
                    uint32_t events, int64_t retry_ms, PublishResult* result,
                    const char* msg_id) {
  *result = PublishResult{};
  char id[80];
  if (msg_id != nullptr) {
    std::snprintf(id, sizeof id, "%s", msg_id);
  } else {
    const XXH128_hash_t h = XXH3_128bits(payload.data(), payload.size());
    std::snprintf(id, sizeof id, "b-%016llx%016llx-%u", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64), events);
  }
  const std::string subject = BatchSubject(partition);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, payload.data(),
                                static_cast<int>(payload.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Billsim-Events", std::to_string(events).c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return nats->Error("building a message for " + subject, s);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id;
  jsPubAck* ack = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  for (int attempt = 0;; ++attempt) {
    jsErrCode code = static_cast<jsErrCode>(0);
    s = js_PublishMsg(&ack, nats->js(), msg, &po, &code);
    if (s == NATS_OK) break;
    if (ack != nullptr) jsPubAck_Destroy(ack);
    ack = nullptr;
    const Status error =
        nats->Error("publishing batch " + std::string(id) + " to " + subject, s, code);
    if (code == kMessageTooLarge) {  // will not succeed however often tried
      natsMsg_Destroy(msg);
      return error;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      natsMsg_Destroy(msg);
      return Status::IOError(error.message() + " (retried for " + std::to_string(retry_ms) +
                             " ms)");
    }
    if (attempt % 20 == 0) spdlog::warn("{}; retrying", error.message());
    ++result->retries;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * (attempt + 1), 500)));
  }
  natsMsg_Destroy(msg);
  result->duplicate = ack->Duplicate;
  result->stream_seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return Status::Ok();
}

}  // namespace billsim::cluster
