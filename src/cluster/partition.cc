#include "cluster/partition.h"

#include <xxhash.h>

#include "util/assert.h"

namespace billsim::cluster {

uint32_t PartitionOf(std::string_view account_id, uint32_t partitions) {
  BILLSIM_ASSERT(partitions > 0 && partitions <= kMaxPartitions);
  return static_cast<uint32_t>(XXH64(account_id.data(), account_id.size(), 0) % partitions);
}

std::string StreamName(uint32_t partition) { return "BILLSIM_P" + std::to_string(partition); }
std::string BatchSubject(uint32_t partition) {
  return "billsim.p" + std::to_string(partition) + ".batch";
}
std::string RefusedSubject(uint32_t partition) {
  return "billsim.p" + std::to_string(partition) + ".refused";
}
std::string AppliedSubject(uint32_t partition) {
  return "billsim.p" + std::to_string(partition) + ".applied";
}
std::string StatusSubject(uint32_t partition) {
  return "billsim.p" + std::to_string(partition) + ".status";
}
std::string QuerySubject(uint32_t partition) {
  return "billsim.p" + std::to_string(partition) + ".query";
}

}  // namespace billsim::cluster
