// Snapshots: the ledger's full state at a log sequence, so replay reads only
// the tail after it. Files live in DIR/snapshots, named by sequence
// ("snapshot-00000000000000000042.bin"), written atomically (temporary file,
// fsync, rename, fsync the directory).
//
// File: magic "BSSN" (4) | version (2) | reserved (2) | length (8) |
// XXH3-64 of the body (8) | body: one v1::Snapshot. A snapshot is trusted
// only if its checksum holds, it parses, its state restores and gives the
// digest recorded in it, and its chain equals the log's chain at its
// sequence (it belongs to this log). Anything else is skipped with a
// warning, never trusted.
#ifndef BILLSIM_REPLAY_SNAPSHOT_STORE_H_
#define BILLSIM_REPLAY_SNAPSHOT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "log/env.h"
#include "log/format.h"
#include "util/status.h"

namespace billsim {

std::string SnapshotDir(const std::string& log_dir);

// Writes the state of `ledger`, which has applied the log up to `last_seq`
// (the end of a batch, whose chain value is `chain`). Every `env` here:
// nullptr is log::Env::Default().
Status WriteSnapshot(const std::string& log_dir, const Ledger& ledger,
                     uint64_t last_seq, const log::Chain& chain, std::string* path,
                     log::Env* env = nullptr);

// Sequences of the snapshot files present, ascending (not yet validated).
Status ListSnapshots(const std::string& log_dir, std::vector<uint64_t>* seqs,
                     log::Env* env = nullptr);

// Restores the newest valid snapshot with sequence <= max_seq and clock <=
// max_time_us into `ledger` (fresh); *seq = its sequence, or 0 if none.
Status LoadNewestSnapshot(const std::string& log_dir, uint64_t max_seq,
                          int64_t max_time_us, Ledger* ledger, uint64_t* seq,
                          log::Env* env = nullptr);

// The chain value of the log after the batch that ends at `seq`; NotFound
// if no batch ends there.
Status ChainAt(const std::string& log_dir, uint64_t seq, log::Chain* chain,
               log::Env* env = nullptr);

}  // namespace billsim

#endif  // BILLSIM_REPLAY_SNAPSHOT_STORE_H_
