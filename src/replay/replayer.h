// Replay: rebuilds the ledger (every projection) from the log. The log is
// the only truth; this is the pure function from it to the state.
//
// Replay starts from the newest valid snapshot at or before the target (if
// allowed) and applies only the tail after it; but first it scans the part
// the snapshot skips (every header and payload checksum, dense sequences:
// log_check.h's CheckBatches), so that damage in a sealed segment behind a
// snapshot is not passed over in silence: Corruption naming segment, offset
// and sequence, unless allow_damage (then a warning, and stats say it).
// Every event in the log was accepted when it was appended, so a refusal on
// replay means the log and this ledger disagree: replay stops with
// Corruption naming the sequence.
#ifndef BILLSIM_REPLAY_REPLAYER_H_
#define BILLSIM_REPLAY_REPLAYER_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "ledger/ledger.h"
#include "log/env.h"
#include "log/format.h"
#include "util/status.h"

namespace billsim {

// An EntrySink that is told the log sequence of the event being applied.
class SeqEntrySink : public EntrySink {
 public:
  uint64_t seq = 0;
};

struct ReplayOptions {
  uint64_t to_seq = std::numeric_limits<uint64_t>::max();
  // Stop before the first event stamped after this, then advance the clock
  // to it (expiries up to then fire).
  int64_t as_of_us = std::numeric_limits<int64_t>::max();
  bool use_snapshots = true;
  bool verify_chain = false;     // needs a full replay from sequence 1
  // Scan what a snapshot skips (see above). The server turns it off and
  // scans in the background instead (log_scrub.h).
  bool check_skipped = true;
  // Damage found there is a warning, not an error (--allow-damage).
  bool allow_damage = false;
  SeqEntrySink* sink = nullptr;  // every entry, with its event's sequence
  // Called now and then with the last sequence applied (progress).
  std::function<void(uint64_t)> progress;
  log::Env* env = nullptr;  // nullptr: log::Env::Default()
  // The ledger already holds events 1..resume_after_seq, restored by the
  // caller from a checkpoint of its own (the history index): replay goes on
  // after it, without snapshots. 0: the ledger is fresh.
  uint64_t resume_after_seq = 0;
  // Called around the application of each batch, on the replaying thread:
  // a caller whose readers share the ledger's output (the history index)
  // holds its lock across one batch rather than per event. batch_end is
  // called even when the target ends the replay inside the batch, but not
  // after a refusal; a non-OK status from it ends the replay with it.
  std::function<void(const log::BatchHeader&)> batch_start;
  std::function<Status(const log::BatchHeader&)> batch_end;
};

struct ReplayStats {
  uint64_t snapshot_seq = 0;   // 0: replayed from the start
  uint64_t last_seq = 0;       // the last event applied
  uint64_t events = 0;         // applied by this replay (after the snapshot)
  uint64_t batches = 0;
  uint64_t bytes = 0;          // payload bytes read
  std::string tail_fault;      // a torn tail that ended the log, if any
  std::string skipped_damage;  // damage allowed in the part a snapshot skipped
  // Events applied that hold a field number the schema does not define (a
  // log written before the journal refused them, or by a build that
  // defines more): the ledger judged them without it. The first, as
  // "sequence N: event E: PATH".
  uint64_t unknown_field_events = 0;
  std::string first_unknown_field;
};

// The warning for a replay that applied such events (billsim replay, a
// writer's open), naming `dir`; empty if it applied none.
std::string UnknownFieldWarning(const std::string& dir, const ReplayStats& stats);

// REQUIRES: `ledger` is fresh, or holds exactly the events up to
// options.resume_after_seq.
Status Replay(const std::string& dir, const ReplayOptions& options,
              Ledger* ledger, ReplayStats* stats);

}  // namespace billsim

#endif  // BILLSIM_REPLAY_REPLAYER_H_
