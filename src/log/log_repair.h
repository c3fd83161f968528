// RepairLog: the operator's explicit cut of a damaged log.
//
// Recovery never repairs damage (log_writer.h): a log with a bad batch, a
// missing segment or a snapshot past its end is refused until someone
// decides what is lost. `billsim log repair --log DIR --truncate-after SEQ`
// is that decision: it keeps sequences 1..SEQ and discards everything after,
// namely the rest of the segment holding SEQ, every later segment and
// index, and every snapshot after SEQ.
//
// It takes the log's lock (log_lock.h), so it never runs beside a writer.
// It refuses unless the part kept verifies (every checksum and the SHA-256
// chain from sequence 1) and SEQ ends a batch (batches are cut whole). Before
// changing anything it appends a record to DIR/REPAIRS (append-only, synced):
// the time, the pid, SEQ, the old head (the last readable batch: sequence
// and chain, and the damage that stopped the reading), the new head, and
// one line per thing discarded (file, byte range, sequence range by its
// headers). A repair cut short by a crash is completed by running it again.
// Afterwards the log recovers and verifies, ending at SEQ.
#ifndef BILLSIM_LOG_LOG_REPAIR_H_
#define BILLSIM_LOG_LOG_REPAIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "log/format.h"
#include "util/status.h"

namespace billsim::log {

inline constexpr const char* kRepairsFileName = "REPAIRS";

struct RepairReport {
  uint64_t old_last_seq = 0;   // the last batch readable before the repair
  Chain old_chain{};
  std::string old_fault;       // what stopped the reading ("" if none)
  uint64_t new_last_seq = 0;   // == truncate_after
  Chain new_chain{};
  std::vector<std::string> discarded;  // one line per file or byte range
  std::string record;          // the text appended to DIR/REPAIRS ("" if none)
};

// Keeps sequences 1..truncate_after of the log in `dir` and discards the
// rest, as above. Nothing to discard: OK with report->discarded empty and
// nothing written.
Status RepairLog(const std::string& dir, uint64_t truncate_after, RepairReport* report);

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_REPAIR_H_
