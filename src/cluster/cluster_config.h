// A cluster's shape, recorded once in JetStream so that every process
// agrees on it: the key "config" of the key-value bucket "billsim_cluster",
// a JSON object {"format":1,"partitions":P,"replicas":R,"hash":"xxh64-seed0"}.
// InitCluster writes it and creates each partition's stream
// (partition.h: file storage, R replicas, a de-duplication window of
// kDuplicateWindowS); LoadCluster reads it back.
#ifndef BILLSIM_CLUSTER_CLUSTER_CONFIG_H_
#define BILLSIM_CLUSTER_CLUSTER_CONFIG_H_

#include <cstdint>

#include "cluster/nats_client.h"
#include "util/status.h"

namespace billsim::cluster {

struct ClusterConfig {
  uint32_t partitions = 0;  // 1..kMaxPartitions
  uint32_t replicas = 1;    // 1 or 3: of each stream (and the bucket)
};

// JetStream's window for recognising a repeated Nats-Msg-Id: a publish
// retried within it is a duplicate; R10 (event ids) catches a repeat later.
inline constexpr int64_t kDuplicateWindowS = 600;
// The most bytes a published batch may hold (nats-server's default
// max_payload is 1 MiB).
inline constexpr uint32_t kMaxMessageBytes = 512 * 1024;

// Creates the cluster: the bucket, its config and the P streams. Running
// it again with the same shape changes nothing; with another shape it is
// refused (InvalidArgument naming both), since partitions cannot change
// under existing data.
Status InitCluster(NatsClient* nats, const ClusterConfig& config);
// NotFound when no cluster was initialised there.
Status LoadCluster(NatsClient* nats, ClusterConfig* config);

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_CLUSTER_CONFIG_H_
