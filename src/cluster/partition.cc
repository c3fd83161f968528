#include "cluster/partition.h"

#include <xxhash.h>

#include "util/assert.h"

namespace billsim::cluster {

uint32_t PartitionOf(std::string_view account_id, uint32_t partitions) {
  BILLSIM_ASSERT(partitions > 0 && partitions <= kMaxPartitions);
  return static_cast<uint32_t>(XXH64(account_id.data(), account_id.size(), 0) % partitions);
}

std::string_view EventAccountId(const v1::Event& e) {
  using P = v1::Event::PayloadCase;
  switch (e.payload_case()) {
    case P::kAccountOpened: return e.account_opened().account_id();
    case P::kDeliveryReported: return e.delivery_reported().account_id();
    case P::kCashDeposited: return e.cash_deposited().account_id();
    case P::kCreditGranted: return e.credit_granted().account_id();
    case P::kCampaignCreated: return e.campaign_created().account_id();
    case P::kCampaignStatusChanged: return e.campaign_status_changed().account_id();
    case P::kAdReviewed: return e.ad_reviewed().account_id();
    case P::kCampaignUpdated: return e.campaign_updated().account_id();
    case P::kDisputeFiled: return e.dispute_filed().account_id();
    case P::kClockAdvanced: return e.clock_advanced().account_id();
    case P::kDisputeEvidenceAdded:
    case P::kDisputeDecided:
    case P::PAYLOAD_NOT_SET:
      return {};
  }
  return {};
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
