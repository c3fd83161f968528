// Audit: answers about an account or a dispute read straight from the log.
// The ledger keeps no history, so each answer replays the log from sequence
// 1 with a sink that keeps the entries it needs, each with the log sequence
// of the event that caused it.
#ifndef BILLSIM_AUDIT_AUDIT_H_
#define BILLSIM_AUDIT_AUDIT_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/projections.pb.h"
#include "ledger/ledger.h"
#include "replay/replayer.h"
#include "report/format.h"
#include "util/status.h"

namespace billsim::audit {

// One ledger entry and the log sequence of its cause event. `entry.seq` is
// the ledger's own entry sequence; log_seq 0 marks an entry that no log
// event caused (the clock advance of an as-of query: event id 0).
struct AuditEntry {
  uint64_t log_seq = 0;
  v1::LedgerEntry entry;
};

// A sink that converts the entries `keep` accepts to AuditEntry, in order.
// `keep` sees the raw entry; null keeps every entry.
class CollectingSink : public SeqEntrySink {
 public:
  CollectingSink(const Ledger* ledger, std::function<bool(const Entry&)> keep)
      : ledger_(ledger), keep_(std::move(keep)) {}
  void Add(const Entry& entry) override;
  std::vector<AuditEntry> entries;

 private:
  const Ledger* ledger_;
  std::function<bool(const Entry&)> keep_;
};

// --- history ------------------------------------------------------------------

// Every entry of `account`, in order, with time in [from_us, to_us] (both
// inclusive). NotFound naming the account if the log never opens it; other
// codes are replay failures.
Status AccountHistory(const std::string& dir, const std::string& account,
                      int64_t from_us, int64_t to_us, std::vector<AuditEntry>* out);

// AccountHistory's entries (the same, in the same order, the same
// NotFound), answered from the history index of the log (LOGDIR/history/,
// history/history_index.h) instead of a replay: the index is opened
// read-write under the log's lock when no writer holds it (caught up to the
// log's end and checkpointed), else read-only beside the writer (caught up
// in memory). A page at a time: entries of events after since_seq, of
// entry seq after cursor, at most limit (0: all of them).
struct HistoryPaging {
  uint64_t since_seq = 0;
  uint64_t cursor = 0;
  uint32_t limit = 0;
};
struct HistoryPaged {
  bool truncated = false;    // more entries match past the limit
  uint64_t next_cursor = 0;  // the cursor of the next page
};
Status IndexedAccountHistory(const std::string& dir, const std::string& account,
                             int64_t from_us, int64_t to_us, const HistoryPaging& paging,
                             std::vector<AuditEntry>* out, HistoryPaged* paged);

// Table, CSV or JSON (one {"log_seq":N,"entry":{...}} per line). Table and
// CSV have WriteHistory's columns after a first column, log_seq.
void WriteAuditHistory(const std::vector<AuditEntry>& entries, Format format,
                       std::ostream& out);

// --- balance as of a time -------------------------------------------------------

struct BalanceAsOf {
  int64_t as_of_us = 0;
  uint64_t last_seq = 0;            // the last log event applied
  v1::AccountBalance balance;       // at as_of_us, expiries due by then fired
  std::vector<AuditEntry> entries;  // the account's entries up to then
};

// Replays the events stamped at or before `as_of_us`, then advances the
// clock to it. NotFound naming the account if it is not open by then.
Status AccountBalanceAt(const std::string& dir, const std::string& account,
                        int64_t as_of_us, BalanceAsOf* out);

// kTable or kJson (one object: as_of_us, last_seq, balance, entries).
void WriteBalanceAsOf(const BalanceAsOf& b, Format format, std::ostream& out);

// --- dispute evidence -------------------------------------------------------------

struct SpendRow {  // one COST entry
  uint64_t log_seq = 0;
  int64_t time_us = 0;
  uint64_t event_id = 0;
  v1::FundsType funds = v1::FUNDS_TYPE_UNSPECIFIED;
  std::string grant_id;
  int64_t amount_micros = 0;  // positive: what was charged
  int64_t units = 0;
  bool fault_marked = false;  // the COST note names a platform fault
};

struct DeliveryRecord {  // one DeliveryReported event of the log
  uint64_t log_seq = 0;
  int64_t time_us = 0;  // as stamped in the log
  uint64_t event_id = 0;
  v1::DeliveryReported::Kind kind = v1::DeliveryReported::KIND_UNSPECIFIED;
  int64_t count = 0;
  bool platform_fault = false;
};

struct Evidence {
  v1::DisputeView dispute;  // at the end of the log
  std::vector<SpendRow> spend;            // COST entries in the window
  std::vector<DeliveryRecord> delivery;   // delivery events in the window
};

// The evidence for `dispute`: the COST entries of its campaign made in
// [window_start, window_end) and the campaign's delivery events stamped in
// that window. NotFound naming the dispute if the log has none such.
Status CollectEvidence(const std::string& dir, const std::string& dispute, Evidence* out);
// The same from the log's events 1..through_seq only (a log a server is
// appending to: it reads nothing past what was acknowledged), without the
// checksum scan of what a snapshot skips (the server scrubs it).
Status CollectEvidence(const std::string& dir, const std::string& dispute, uint64_t through_seq,
                       Evidence* out);

// CSV with a header row. Times are ISO 8601 UTC.
void WriteSpendReport(const Evidence& e, std::ostream& out);
void WriteDeliveryData(const Evidence& e, std::ostream& out);

}  // namespace billsim::audit

#endif  // BILLSIM_AUDIT_AUDIT_H_
