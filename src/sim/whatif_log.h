// The what-if of a log (`billsim whatif`): replays the log's events into a
// WhatIf (whatif.h), the actual ledger and the changed one side by side,
// from the newest snapshot at or before the start point (--from). It reads
// the log only: nothing is ever written to it.
//
// Deliveries take replay's columnar fast path on both sides (BatchApplier),
// so a what-if costs about two replays.
#ifndef BILLSIM_SIM_WHATIF_LOG_H_
#define BILLSIM_SIM_WHATIF_LOG_H_

#include <cstdint>
#include <functional>
#include <string>

#include "sim/whatif.h"

namespace billsim::sim {

struct WhatIfLogOptions {
  // The start point: changes act from the event at this sequence, or from
  // the first stamped at or after this time; the replay starts from the
  // newest snapshot before it. Neither: from sequence 1, no snapshot.
  uint64_t from_seq = 0;
  int64_t from_us = INT64_MAX;
  std::string account;  // only this account's rows (and its campaigns')
  // Called now and then with the last sequence applied (progress).
  std::function<void(uint64_t)> progress;
};

Status RunWhatIf(const std::string& dir, const ChangeSet& changes, const WhatIfLogOptions& options,
                 WhatIfResult* result);

}  // namespace billsim::sim

#endif  // BILLSIM_SIM_WHATIF_LOG_H_
