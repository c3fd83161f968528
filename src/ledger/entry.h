// Entry: one line of the ledger's history. Every change the ledger makes to
// an account (money in or out, a hold, a decision, a refusal) is one entry,
// emitted in order to an EntrySink. The history projection is the sequence
// of entries; balances are the running sum of their deltas.
#ifndef BILLSIM_LEDGER_ENTRY_H_
#define BILLSIM_LEDGER_ENTRY_H_

#include <cstdint>
#include <string>

#include "billsim/v1/projections.pb.h"

namespace billsim {

inline constexpr uint32_t kNoIndex = UINT32_MAX;

struct Entry {
  uint64_t seq = 0;        // dense from 1 over the ledger's whole life
  uint64_t event_id = 0;   // the cause
  int64_t time_us = 0;     // the ledger clock when made
  uint32_t account = kNoIndex;   // indexes into the ledger's tables
  uint32_t campaign = kNoIndex;
  uint32_t grant = kNoIndex;     // kNoIndex with funds CASH
  uint32_t dispute = kNoIndex;
  v1::EntryKind kind = v1::ENTRY_KIND_UNSPECIFIED;
  v1::FundsType funds = v1::FUNDS_TYPE_UNSPECIFIED;
  int64_t balance_delta = 0;  // change of cash + grant balance
  int64_t frozen_delta = 0;   // change of the frozen balance
  int64_t units = 0;
  v1::NotBilledReason not_billed_reason = v1::NOT_BILLED_REASON_UNSPECIFIED;
  v1::DisputeStatus dispute_status = v1::DISPUTE_STATUS_UNSPECIFIED;
  // COST and NOT_BILLED: the delivery's kind.
  v1::DeliveryReported::Kind delivery_kind = v1::DeliveryReported::KIND_UNSPECIFIED;
  std::string field;  // REJECTED: the offending field, e.g. "time_us"
  std::string note;   // the reason in words
  // The account's balances after this entry (zero when no account).
  int64_t cash_after = 0;
  int64_t credit_after = 0;
  int64_t frozen_after = 0;
  int64_t valid_after = 0;
};

// Receives entries as the ledger makes them. The ledger does not keep its
// history: a sink that wants it (audit, scenario runner) stores it, one that
// does not (fast replay) drops it, so memory does not grow with the log.
class EntrySink {
 public:
  virtual ~EntrySink() = default;
  virtual void Add(const Entry& entry) = 0;
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_ENTRY_H_
