// Publisher: events into a cluster's partition streams (issue 15).
//
// Each event goes to the partition of the account it names
// (partition.h); a ClockAdvanced for every account goes to every
// partition; dispute evidence and decisions go where their DisputeFiled
// went (the publisher remembers, so they must come through the same
// publisher). A partition's events gather into one columnar EventBatch
// (the log's encoding, log/batch_codec.h) of at most `batch_events`
// events and kMaxMessageBytes bytes, published with
//   Nats-Msg-Id:     "b-<XXH3-128 of the payload>-<event count>"
//   Billsim-Events:  the event count
// The id follows from the bytes alone, so a batch published again (a
// retry after a lost acknowledgement, the same file twice) is a duplicate
// that JetStream drops within its window (cluster_config.h); past it, the
// shard's ledger refuses the repeated event ids (R10). Durable means
// JetStream acknowledged the publish (with R3, after its quorum).
//
// Partitions publish side by side: each is served by one of up to
// kMaxSenders sender threads, which publishes that partition's batches
// one at a time, each only after the one before it is acknowledged (a
// batch retried after a failure can never land behind a later one, so
// every stream holds its batches in the order they were made). At most
// kQueuedPerSender encoded batches wait per sender: the caller blocks
// beyond that, so memory stays bounded.
#ifndef BILLSIM_CLUSTER_PUBLISHER_H_
#define BILLSIM_CLUSTER_PUBLISHER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "cluster/cluster_config.h"
#include "cluster/nats_client.h"
#include "util/status.h"

namespace billsim::cluster {

struct PublishStats {
  uint64_t events = 0;      // events handed to Add (a broadcast counts once)
  uint64_t batches = 0;     // batches acknowledged as new
  uint64_t duplicates = 0;  // batches JetStream had already
  uint64_t bytes = 0;       // payload bytes of the batches published
  uint64_t retries = 0;     // publish attempts repeated after a failure
};

// One encoded batch to partition `partition`'s stream, with the
// Nats-Msg-Id and Billsim-Events headers described above (or `msg_id`, if
// given, as its Nats-Msg-Id), retried with the same id for up to
// `retry_ms` (0: one attempt; never when the message is too large). Runs
// in the caller's thread.
struct PublishResult {
  uint64_t stream_seq = 0;  // where the stream holds it (the first copy's, if a duplicate)
  bool duplicate = false;   // JetStream had it already
  uint64_t retries = 0;
};
Status PublishBatch(NatsClient* nats, uint32_t partition, const std::string& payload,
                    uint32_t events, int64_t retry_ms, PublishResult* result,
                    const char* msg_id = nullptr);

// Payload bytes a batch may take: the streams' message limit less room for
// the headers.
inline constexpr uint32_t kMaxBatchPayloadBytes = kMaxMessageBytes - 1024;

class Publisher {
 public:
  // REQUIRES: nats outlives the publisher; 0 < partitions; batch_events > 0.
  // A publish that fails (a node down, a stream electing its leader) is
  // retried with the same Nats-Msg-Id for up to `retry_ms`, so a batch is
  // stored once whether the first attempt's acknowledgement was lost or
  // the attempt itself.
  Publisher(NatsClient* nats, uint32_t partitions, uint32_t batch_events,
            int64_t retry_ms = 60000);
  ~Publisher();  // stops the senders (what they had not sent is dropped)
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  static constexpr uint32_t kMaxSenders = 8;
  static constexpr size_t kQueuedPerSender = 4;

  // Routes one event; publishes its partition's batch when full. An event
  // naming no account (other than a ClockAdvanced for all), or a dispute
  // this publisher has not seen filed, is InvalidArgument naming its id
  // and field, and nothing of it is queued.
  Status Add(const v1::Event& event);
  // Publishes every partition's pending batch and waits for the acks of
  // everything handed over so far. After a failure (a publish still failing
  // after retry_ms), returns it, and so does every later call.
  Status Flush();

  // After Flush: what was acknowledged.
  PublishStats stats() const;

 private:
  struct Outgoing {
    uint32_t partition;
    uint32_t events;
    std::string payload;
  };
  struct Sender {
    std::deque<Outgoing> queue;
    bool busy = false;  // publishing the front one
    std::thread thread;
  };

  Status Route(const v1::Event& event, std::string* account) const;
  Status Queue(uint32_t partition, const v1::Event& event);
  // Encodes events into batches within kMaxMessageBytes and hands them to
  // the partition's sender (blocking while its queue is full).
  Status Encode(uint32_t partition, const v1::Event* events, size_t n);
  void SenderLoop(Sender* sender);
  // One batch, retried with the same message id until acknowledged or
  // retry_ms has passed. Runs on a sender thread.
  Status Send(const Outgoing& out, bool* duplicate, uint64_t* retries);

  NatsClient* nats_;
  uint32_t partitions_;
  uint32_t batch_events_;
  int64_t retry_ms_;
  std::vector<std::vector<v1::Event>> pending_;   // by partition, not yet encoded
  std::unordered_map<std::string, std::string> dispute_account_;
  uint64_t events_ = 0;

  mutable std::mutex mu_;
  std::condition_variable changed_;  // a queue moved, or stop/failure
  std::vector<Sender> senders_;      // partition p is served by p % size
  bool stopping_ = false;
  Status failure_;                   // the first publish that failed for good
  PublishStats stats_;               // guarded by mu_ (but events)
};

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_PUBLISHER_H_
