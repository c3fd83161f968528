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
#ifndef BILLSIM_CLUSTER_PUBLISHER_H_
#define BILLSIM_CLUSTER_PUBLISHER_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "billsim/v1/events.pb.h"
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

class Publisher {
 public:
  // REQUIRES: nats outlives the publisher; 0 < partitions; batch_events > 0.
  // A publish that fails (a node down, a stream electing its leader) is
  // retried with the same Nats-Msg-Id for up to `retry_ms`, so a batch is
  // stored once whether the first attempt's acknowledgement was lost or
  // the attempt itself.
  Publisher(NatsClient* nats, uint32_t partitions, uint32_t batch_events,
            int64_t retry_ms = 60000);

  // Routes one event; publishes its partition's batch when full. An event
  // naming no account (other than a ClockAdvanced for all), or a dispute
  // this publisher has not seen filed, is InvalidArgument naming its id
  // and field, and nothing of it is queued.
  Status Add(const v1::Event& event);
  // Publishes every partition's pending batch and waits for the acks.
  Status Flush();

  const PublishStats& stats() const { return stats_; }

 private:
  Status Route(const v1::Event& event, std::string* account) const;
  Status Queue(uint32_t partition, const v1::Event& event);
  Status Publish(uint32_t partition, const v1::Event* events, size_t n);

  NatsClient* nats_;
  uint32_t partitions_;
  uint32_t batch_events_;
  int64_t retry_ms_;
  std::vector<std::vector<v1::Event>> pending_;   // by partition
  std::unordered_map<std::string, std::string> dispute_account_;
  PublishStats stats_;
};

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_PUBLISHER_H_
