// Export: a log's events, or the ledger entries they made, written as a
// stream of JSON lines or CSV, in log order. What it writes imports back
// (event_reader.h) into a log that replays to the same state digest:
//
//   events, jsonl   one v1::Event per line, in Protobuf's JSON mapping with
//                   the proto field names (ToJson's bytes; deliveries are
//                   written directly, in those same bytes);
//   events, csv     deliveries only, under kCsvHeader (csv_events.h); an
//                   event of another kind is not written and is counted in
//                   ExportStats::skipped (CSV carries delivery data);
//   entries, jsonl  {"log_seq":N,"entry":{LedgerEntry}} per line;
//   entries, csv    one row per entry, under kEntriesCsvHeader.
// Entries are not kept in a log: exporting them replays it from sequence 1
// (the ledger's memory, not the export's, is what grows with the book).
#ifndef BILLSIM_BULK_EXPORTER_H_
#define BILLSIM_BULK_EXPORTER_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include "util/status.h"

namespace billsim::bulk {

inline constexpr std::string_view kEntriesCsvHeader =
    "log_seq,seq,time_us,event_id,account_id,kind,campaign_id,funds,grant_id,dispute_id,"
    "balance_delta,frozen_delta,units,cash,grant,frozen,valid,note";

struct ExportOptions {
  bool csv = false;      // else JSON lines
  bool entries = false;  // else events
  uint64_t from_seq = 1;
  uint64_t to_seq = std::numeric_limits<uint64_t>::max();
  // Called now and then with the last sequence written (progress).
  std::function<void(uint64_t)> progress;
};

struct ExportStats {
  uint64_t events = 0;   // events read in the range
  uint64_t written = 0;  // records written (events, or entries)
  uint64_t skipped = 0;  // events CSV cannot carry
  uint64_t bytes = 0;
  uint64_t last_seq = 0;
  std::string tail_fault;  // a torn tail that ended the log (not exported)
};

// Writes to `out_path` ("-": standard output). The log must exist.
Status Export(const std::string& log_dir, const ExportOptions& options,
              const std::string& out_path, ExportStats* stats);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_EXPORTER_H_
