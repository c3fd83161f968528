// Entry: one line of the ledger's history. Every change the ledger makes to
// an account (money in or out, a hold, a decision, a refusal) is one entry,
// emitted in order to an EntrySink. The history projection is the sequence
// of entries; balances are the running sum of their deltas.
#ifndef BILLSIM_LEDGER_ENTRY_H_
#define BILLSIM_LEDGER_ENTRY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "billsim/v1/projections.pb.h"

namespace billsim {

inline constexpr uint32_t kNoIndex = UINT32_MAX;

// An entry's reason in words. Most reasons are fixed texts, held by
// pointer: the entries of a day's turn, an expiry or a charge (a replay
// makes millions) copy nothing and allocate nothing. Others are made for
// the entry and held by it. Reads as a std::string_view.
class Note {
 public:
  Note() = default;
  // A fixed text: a string literal, which outlives every entry that points
  // at it. (A buffer that changes, a char array not const, does not
  // compile; one that is const but not static would dangle: never pass
  // one.)
  template <size_t N>
  constexpr Note(const char (&literal)[N])  // NOLINT: implicit, as a string
      : fixed_(literal), fixed_size_(N - 1) {}
  template <size_t N>
  Note(char (&buffer)[N]) = delete;
  // A text made for the entry.
  Note(std::string text) : owned_(std::move(text)) {}  // NOLINT: implicit
  explicit Note(std::string_view text) : owned_(text) {}

  std::string_view view() const {
    return fixed_ != nullptr ? std::string_view(fixed_, fixed_size_) : std::string_view(owned_);
  }
  operator std::string_view() const { return view(); }  // NOLINT: implicit
  const char* data() const { return view().data(); }
  size_t size() const { return view().size(); }
  bool empty() const { return size() == 0; }
  size_t find(std::string_view s) const { return view().find(s); }
  friend bool operator==(const Note& a, const Note& b) { return a.view() == b.view(); }
  // The string literal it points at; nullptr for a text made for the entry.
  const char* literal() const { return fixed_; }

 private:
  std::string owned_;
  const char* fixed_ = nullptr;  // a string literal's
  size_t fixed_size_ = 0;
};

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
  Note note;          // the reason in words
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
