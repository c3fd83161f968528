// Shard: one replica of one partition (issue 15). It consumes the
// partition's stream in stream order, applies every event with the same
// ledger as a single node (through a Journal, so refusals are worded the
// same), and keeps its own hash-chained billsim log in its state folder as
// the audit copy: each local batch holds the accepted events of one stream
// message and records that message's stream sequence
// (EventBatch.stream_sequence). After a restart it replays its log and
// resumes after the last stream sequence the log holds, so nothing is
// applied twice and nothing skipped; two replicas of a partition apply the
// same messages in the same order and reach the same state digest.
//
// A message it cannot use (no event count, a payload that does not decode,
// an account of another partition) is refused whole; each refusal (of a
// message or of an event) is logged and published on the partition's
// refused subject (partition.h) as one JSON object: {"partition",
// "stream_sequence", "event_id", "field", "reason"}. A message whose events
// were all refused writes no local batch: after a restart it is read again
// and its refusals reported again (the ledger refuses them alike).
#ifndef BILLSIM_CLUSTER_SHARD_H_
#define BILLSIM_CLUSTER_SHARD_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "log/log_writer.h"
#include "util/status.h"

namespace billsim::cluster {

struct ShardOptions {
  std::string nats_url;
  uint32_t partition = 0;
  std::string state_dir;       // its billsim log (created if missing)
  log::FsyncPolicy fsync;      // of that log
  // Stop once no message came for this long (0: run until `stop`).
  int64_t until_idle_ms = 0;
  const std::atomic<bool>* stop = nullptr;  // set by a signal handler
  uint32_t fetch_batch = 64;   // messages per pull request
};

struct ShardStats {
  uint64_t resumed_after = 0;      // the stream sequence it started after
  uint64_t last_stream_seq = 0;    // the last one it read
  uint64_t messages = 0;
  uint64_t events_applied = 0;
  uint64_t events_refused = 0;     // by the ledger, duplicates included
  uint64_t messages_refused = 0;   // whole messages it could not use
  uint64_t last_log_seq = 0;       // its log's last sequence at the end
  // At the end, of the state its log rebuilds (refusals seen live are not
  // in the log, so not in it): replicas of a partition agree on it.
  std::string state_digest;
};

Status RunShard(const ShardOptions& options, ShardStats* stats);

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_SHARD_H_
