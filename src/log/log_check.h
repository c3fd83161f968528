// Checks of a log that go beyond reading its segments in order: the
// evidence outside the segments that the log once held more than they do
// now, and a checksum scan of a prefix of the log that a reader starting
// later (replay from a snapshot, the server) would otherwise never read.
//
// Why: a log whose last segment was deleted, or cut at a batch boundary,
// reads as a shorter, good log; a bit flip in a sealed segment behind a
// snapshot is never read by a replay that starts from the snapshot. Both
// contradict what was made durable, and neither may pass in silence.
#ifndef BILLSIM_LOG_LOG_CHECK_H_
#define BILLSIM_LOG_LOG_CHECK_H_

#include <cstdint>
#include <functional>
#include <string>

#include "log/env.h"
#include "util/status.h"

namespace billsim::log {

// Corruption if anything in `dir` proves the log held events after
// `last_seq`, where its segments end:
//   - a snapshot named for a sequence after last_seq (snapshots are written
//     only after replaying the durable log through their sequence);
//   - an index file whose segment is missing and that lists a batch (a
//     segment and its index are created together, and the directory synced,
//     before the first batch goes in).
// The message names the file, the sequences missing and `log repair`.
Status CheckNothingBeyond(const std::string& dir, uint64_t last_seq,
                          Env* env = nullptr);

// Reads the log in `dir` from sequence 1 through the batch that holds
// `through_seq`, checking every header and payload checksum, that
// sequences are dense and that segments follow on (LogReader's checks, no
// decoding). Corruption names segment, offset and sequence; a log that ends
// before through_seq is Corruption too. `pace`, if set, is called after each
// batch with the bytes read and the last sequence checked so far, and may
// sleep (to bound the scan's I/O); returning false stops the scan with OK
// and *checked_seq short of through_seq.
// *checked_seq: the last sequence checked.
Status CheckBatches(const std::string& dir, uint64_t through_seq,
                    const std::function<bool(uint64_t bytes, uint64_t checked_seq)>& pace, uint64_t* checked_seq);

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_CHECK_H_
