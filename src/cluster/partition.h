// Partitions of a cluster (issue 15): which partition an account belongs
// to, and the JetStream names a partition goes by.
//
// An account belongs to partition XXH64(account_id, seed 0) mod P, where
// account_id is its UTF-8 bytes and P the cluster's partition count, fixed
// when the cluster is created (cluster_config.h). The hash is xxHash's
// XXH64, a published, stable function: every process, on any machine and
// any later version, puts an account in the same partition.
#ifndef BILLSIM_CLUSTER_PARTITION_H_
#define BILLSIM_CLUSTER_PARTITION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "billsim/v1/events.pb.h"
#include "ledger/event_account.h"  // EventAccountId: an event's partition is its account's

namespace billsim::cluster {

// The most partitions a cluster may have (a stream each).
inline constexpr uint32_t kMaxPartitions = 1024;

// REQUIRES: 0 < partitions <= kMaxPartitions.
uint32_t PartitionOf(std::string_view account_id, uint32_t partitions);

// Partition p's stream ("BILLSIM_P<p>") and the subject its batches are
// published on ("billsim.p<p>.batch"); refusals a shard of it reports go on
// "billsim.p<p>.refused".
std::string StreamName(uint32_t partition);
std::string BatchSubject(uint32_t partition);
std::string RefusedSubject(uint32_t partition);
// What a shard of partition p says and answers (shard.h), plain NATS:
//   "billsim.p<p>.applied"  one notice per stream message it applied
//   "billsim.p<p>.status"   requests: the notice of one stream sequence
//   "billsim.p<p>.query"    requests: live-state queries
// Replicas answer requests in the queue group kShardQueueGroup (one each).
std::string AppliedSubject(uint32_t partition);
std::string StatusSubject(uint32_t partition);
std::string QuerySubject(uint32_t partition);
inline constexpr const char* kAppliedWildcard = "billsim.*.applied";
inline constexpr const char* kShardQueueGroup = "billsim-shards";

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_PARTITION_H_
