// WhatIf: two ledgers fed side by side, the actual events and the same
// events with a ChangeSet applied (issue 13), and the difference between
// the two at the end: per account and per campaign, every figure that
// differs (spent by source, expired, refunded, billed and not-billed units
// and amounts by reason, final balances), and the first ledger entry where
// the two histories part.
//
// Pure: no I/O and no clock. The log's what-if (whatif_log.h) and a
// scenario's what-if blocks both drive one. Not thread-safe.
#ifndef BILLSIM_SIM_WHATIF_H_
#define BILLSIM_SIM_WHATIF_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "report/format.h"
#include "sim/change_set.h"
#include "util/status.h"

namespace billsim::sim {

// One figure that differs.
struct WhatIfRow {
  std::string entity;   // "account", "grant" or "campaign"
  std::string id;
  std::string account;  // the account (of the grant or campaign)
  std::string field;    // e.g. "spent_credit", "not_billed.OVER_BUDGET.units"
  bool money = false;   // micros (printed as units in a table)
  bool text = false;    // a word (status): actual_text / what_if_text
  int64_t actual = 0;
  int64_t what_if = 0;
  std::string actual_text;
  std::string what_if_text;
};

// Where the histories part: the first position at which the two ledgers'
// entries differ (either may be missing: the other history is longer).
struct Parting {
  bool found = false;
  uint64_t seq = 0;        // the log sequence of the event that caused it
  bool inserted = false;   // caused by an event the what-if inserted
  bool has_actual = false;
  bool has_what_if = false;
  v1::LedgerEntry actual;
  v1::LedgerEntry what_if;
};

struct WhatIfResult {
  std::vector<std::string> changes;  // as given
  uint64_t first_seq = 0;   // the first event replayed (after any snapshot)
  uint64_t last_seq = 0;
  uint64_t events = 0;      // of the stream, replayed
  uint64_t inserted = 0;
  uint64_t dropped = 0;
  uint64_t rewritten = 0;
  uint64_t refused = 0;     // events the what-if's ledger refused
  std::vector<std::string> refusals;  // the first few: "event N: field: reason"
  Parting parting;
  std::vector<WhatIfRow> rows;
  std::string actual_digest;
  std::string what_if_digest;
};

class WhatIf {
 public:
  // `strict`: the actual ledger must accept every event (a log's events all
  // were); a refusal there is Corruption. A scenario's events may be refused.
  WhatIf(const ChangeSet& changes, uint64_t from_seq, int64_t from_us, bool strict,
         const LedgerOptions& options = {});
  WhatIf(const WhatIf&) = delete;
  WhatIf& operator=(const WhatIf&) = delete;

  Ledger& actual() { return actual_; }
  Ledger& what_if() { return what_if_; }
  Counterfactual& counterfactual() { return cf_; }

  // One event of the stream, at sequence `seq`: the insertions due before
  // it, then the event to both ledgers (rewritten or dropped for the
  // what-if). *created (may be null): the what-if campaign this event
  // created, or kNoIndex.
  Status Apply(uint64_t seq, const v1::Event& event, uint32_t* created = nullptr);

  // The two sides apart, for a caller that runs them on two threads
  // (whatif_log.h) and has a fast path for deliveries. The actual side:
  // BeforeActual, then the event to actual() with actual_sink() (the
  // result to CheckActual) or ApplyActual. The what-if side: BeforeWhatIf
  // (the insertions due), then (unless dropped) the event to what_if() with
  // what_if_sink() (the result to NoteWhatIf) or ApplyWhatIf. Each side
  // touches only its own ledger, sink and counters; After, with both
  // sides idle, compares what they made. Call Defer first: the sides then
  // compare only in After, each keeping its own tally.
  void Defer();
  void BeforeActual(uint64_t seq);
  Status BeforeWhatIf(uint64_t seq, int64_t time_us);
  Status ApplyActual(uint64_t seq, const v1::Event& event);
  Status ApplyWhatIf(uint64_t seq, const v1::Event& event, uint32_t* created);
  Status CheckActual(const Ledger::Result& r, uint64_t seq);
  void NoteWhatIf(const Ledger::Result& r, uint64_t seq);
  void After();
  EntrySink* actual_sink() { return &actual_sink_; }
  EntrySink* what_if_sink() { return &what_if_sink_; }

  // After the stream: the remaining insertions, then the difference (only
  // the rows of `account` if not empty).
  Status Finish(const std::string& account, WhatIfResult* out);

 private:
  // Keeps what the difference needs from a ledger's entries: spent by
  // source per account and per campaign, and (until the histories part)
  // the entries themselves.
  class Tally : public EntrySink {
   public:
    void Add(const Entry& e) override;
    void Count(const Entry& e, int64_t sign);  // into the spent tallies
    struct Spent {
      int64_t cash = 0;
      int64_t credit = 0;
    };
    // The what-if's tally compares its entries with the actual's pending
    // ones as they come (`against`), copying none while they match.
    Tally* against = nullptr;
    WhatIf* owner = nullptr;
    std::vector<Spent> by_account;
    std::vector<Spent> by_campaign;
    struct Pending {
      Entry entry;
      uint64_t seq;
      bool inserted;
    };
    // Entries not yet compared: [head, size). Reused: in the usual case
    // both sides' entries of an event match and it empties at once.
    std::vector<Pending> pending;
    size_t head = 0;
    bool empty() const { return head == pending.size(); }
    const Pending& front() const { return pending[head]; }
    void clear() {
      pending.clear();
      head = 0;
    }
    bool keep = true;
    uint64_t seq = 0;
    bool inserted = false;
  };
  Status ApplyInserted(const std::vector<v1::Event>& events, uint64_t seq);
  void Part(const Tally::Pending* a, const Tally::Pending* w);
  void Part(const Tally::Pending* a, const Entry& w, uint64_t seq, bool inserted);
  void Diff(const std::string& account, WhatIfResult* out) const;

  Ledger actual_;
  Ledger what_if_;
  Counterfactual cf_;
  bool strict_;
  bool deferred_ = false;
  Tally actual_sink_;
  Tally what_if_sink_;
  uint64_t seq_ = 0;
  uint64_t first_seq_ = 0;
  uint64_t events_ = 0;
  uint64_t refused_ = 0;
  std::vector<std::string> refusals_;
  Parting parting_;
  Status error_;
  std::vector<v1::Event> due_;  // reused
};

// The difference for people (table), spreadsheets (csv: one row per figure
// that differs) or programs (json: one object).
void WriteWhatIf(const WhatIfResult& result, Format format, std::ostream& out);

}  // namespace billsim::sim

#endif  // BILLSIM_SIM_WHATIF_H_
