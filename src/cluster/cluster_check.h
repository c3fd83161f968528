// The consistency check of `billsim stress --nats URL` (stress.h), the
// cluster's counterpart of the single node's: what the shards hold live
// equals an offline single-node replay of the partitions' streams, every
// acknowledged event id was applied, and none twice.
//
// Each partition's stream is read from its first message to its last (as
// the check starts) and applied to a ledger of its own (a partition's
// events are one single-node history); then every account's balance is
// asked of a shard of its partition (NATS request-reply, answered once the
// shard has applied the stream to that last message) and compared with
// the replay's. A ClockAdvanced for every account is in every stream and
// counts once.
#ifndef BILLSIM_CLUSTER_CLUSTER_CHECK_H_
#define BILLSIM_CLUSTER_CLUSTER_CHECK_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stress/stress.h"
#include "util/status.h"

namespace billsim::cluster {

Status CheckCluster(const std::string& nats_url, const std::vector<std::string>& accounts,
                    const std::vector<std::pair<uint64_t, uint64_t>>& acked_runs,
                    stress::StressReport* report);

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_CLUSTER_CHECK_H_
