// The audit check: replays the log from sequence 1 and checks the rules
// after every entry and every event, independently of the ledger's own
// bookkeeping where it can (from the entries alone), and that replay is
// deterministic (two replays, one digest).
#ifndef BILLSIM_AUDIT_CHECKER_H_
#define BILLSIM_AUDIT_CHECKER_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "billsim/v1/projections.pb.h"
#include "ledger/ledger.h"
#include "util/status.h"

namespace billsim::audit {

// What the entry stream does not say by itself. During a replay the live
// ledger answers (LedgerFacts); tests fill TableFacts.
class Facts {
 public:
  struct DisputeFacts {
    std::string campaign;
    int64_t window_start_us = 0;
    int64_t window_end_us = 0;
    int64_t verifiable = 0;  // R9: charged in error, not yet adjusted, when investigated
  };
  virtual ~Facts() = default;
  // False if the grant is unknown.
  virtual bool GrantExpiry(const std::string& grant, int64_t* expires_at_us) const = 0;
  virtual bool Dispute(const std::string& dispute, DisputeFacts* out) const = 0;
  // What the campaign has been charged for fault-marked delivery so far.
  virtual int64_t FaultBilled(const std::string& campaign) const = 0;
};

class LedgerFacts : public Facts {
 public:
  explicit LedgerFacts(const Ledger* ledger) : ledger_(ledger) {}
  bool GrantExpiry(const std::string& grant, int64_t* expires_at_us) const override;
  bool Dispute(const std::string& dispute, DisputeFacts* out) const override;
  int64_t FaultBilled(const std::string& campaign) const override;

 private:
  const Ledger* ledger_;
};

struct TableFacts : public Facts {
  std::map<std::string, int64_t> grant_expiry;
  std::map<std::string, DisputeFacts> disputes;
  std::map<std::string, int64_t> fault_billed;
  bool GrantExpiry(const std::string& grant, int64_t* expires_at_us) const override;
  bool Dispute(const std::string& dispute, DisputeFacts* out) const override;
  int64_t FaultBilled(const std::string& campaign) const override;
};

// The first violation found: where and what.
struct Violation {
  uint64_t log_seq = 0;    // the event being applied
  uint64_t entry_seq = 0;  // 0: not about one entry
  std::string account;     // empty: not about one account
  std::string check;       // the check's name
  std::string what;
};

// Checks each entry as it comes (streaming: memory grows with accounts,
// grants, disputes and fault-marked charges, not with the log):
//  - entries: ledger sequence dense from the first seen, log sequence never
//    going back;
//  - conservation (R12) from the entries alone: per account, the running
//    sums of the deltas by kind (deposits, grants, refunds in; costs,
//    expiries out) and by source equal the entry's balances after, the
//    frozen deltas sum to its frozen balance, valid + frozen = cash + grant;
//    only those kinds move money, each in its direction;
//  - no negative balance (R5): cash, grant and frozen after every entry;
//    valid after the last entry of each event for the account (an expiry's
//    PROMOTION_EXPIRED entry can leave valid below zero until the
//    FREEZE_REDUCED entries of the same event shrink the holds, R6);
//  - grant expiry (R6): at most one PROMOTION_EXPIRED per grant, stamped
//    exactly its expires_at_us; no charge or refund to a grant at or after
//    its expiry;
//  - refunds (R9): per dispute, the sum of its REFUND entries is at most its
//    verifiable amount and at most the fault-marked COST entries of its
//    campaign in its window; per campaign, refunds are at most what it was
//    charged for fault-marked delivery (from the entries and from Facts).
class EntryChecker {
 public:
  enum CheckId { kEntries, kConservation, kNonNegative, kExpiry, kRefunds, kNumChecks };
  static const char* Name(CheckId id);

  // Per account, the totals of its entries.
  struct Totals {
    int64_t deposited = 0, granted = 0, adjusted = 0, spent = 0, expired = 0;
    int64_t cash = 0, credit = 0, frozen = 0;
  };

  explicit EntryChecker(const Facts* facts) : facts_(facts) {}

  // Checks one entry; false once a violation was found (later entries are
  // then ignored). An entry of another log sequence ends the event before.
  bool Add(uint64_t log_seq, const v1::LedgerEntry& e);
  // The event whose entries came last is complete: the checks that hold
  // only between events. Call after the last entry of the stream too.
  bool EndEvent();

  bool ok() const { return !violation_.has_value(); }
  const std::optional<Violation>& violation() const { return violation_; }
  uint64_t count(CheckId id) const { return counts_[id]; }
  const std::map<std::string, Totals>& totals() const { return totals_; }

 private:
  bool Fail(CheckId id, uint64_t log_seq, const v1::LedgerEntry& e, std::string what);
  bool CheckMoney(uint64_t log_seq, const v1::LedgerEntry& e);
  bool CheckExpiry(uint64_t log_seq, const v1::LedgerEntry& e);
  bool CheckRefund(uint64_t log_seq, const v1::LedgerEntry& e);

  struct FaultCost {
    int64_t time_us;
    int64_t amount;
  };

  const Facts* facts_;
  std::optional<Violation> violation_;
  std::array<uint64_t, kNumChecks> counts_{};
  uint64_t last_entry_seq_ = 0;
  uint64_t last_log_seq_ = 0;
  std::map<std::string, Totals> totals_;
  // Accounts whose latest entry in this event left valid below zero.
  std::map<std::string, Violation> negative_valid_;
  std::map<std::string, uint64_t> expired_at_seq_;        // grant -> log seq
  std::map<std::string, std::vector<FaultCost>> fault_costs_;  // by campaign
  std::map<std::string, int64_t> fault_total_;             // by campaign
  std::map<std::string, int64_t> refunded_;                // by dispute
  std::map<std::string, int64_t> campaign_refunded_;       // by campaign
};

// What `billsim audit check` found.
struct CheckReport {
  enum class State { kOk, kFailed, kNotRun };
  struct Check {
    std::string name;
    uint64_t count = 0;
    std::string unit;  // "events", "entries", ...
    State state = State::kNotRun;
  };
  std::vector<Check> checks;
  std::optional<Violation> violation;
  uint64_t last_seq = 0;
  std::string digest;       // when the replays agree
  std::string tail_fault;   // a torn tail ended the log
  // Events holding a field number the schema does not define (the
  // violation names the first, unless another check's comes before it).
  uint64_t unknown_field_events = 0;
  bool ok() const { return !violation.has_value(); }
};

// Replays the log in `dir` from sequence 1, event by event, with the
// ledger's CheckInvariants after every event and an EntryChecker on every
// entry; then compares the account totals with the entries' and replays
// twice more (Replay from sequence 1; Replay from the newest snapshot, if
// any) to compare digests. Stops at the first violation. Non-OK only when
// the log cannot be read.
Status CheckLog(const std::string& dir, CheckReport* out);

// A table (one line per check: name, count, OK / FAILED / not run) and the
// violation, or one JSON object.
void WriteCheckReport(const CheckReport& report, bool json, std::ostream& out);

}  // namespace billsim::audit

#endif  // BILLSIM_AUDIT_CHECKER_H_
