// Timeline: an account's balance series for a chart (GET
// /api/v1/accounts/{id}/timeline), read from the history index. Every
// entry that moved money is a point (a deposit, a grant, a hold and its
// return, an expiry, a refund), except charges, which are many: of those
// only the last of each of `points` equal slices of the time range is kept,
// so the chart's shape survives and its size is bounded. The first point is
// the balances at from_us.
//
// Cost: O(entries of the account in the range), read a page at a time, at
// most kMaxEntriesRead; the answer holds at most kMaxPoints points. Either
// bound reached, it is truncated: to_us is its last point's time.
#ifndef BILLSIM_HISTORY_TIMELINE_H_
#define BILLSIM_HISTORY_TIMELINE_H_

#include <cstdint>

#include "billsim/v1/wire.pb.h"
#include "history/history_index.h"
#include "util/status.h"

namespace billsim::history {

inline constexpr uint32_t kDefaultTimelinePoints = 500;
inline constexpr uint32_t kMaxTimelineSlices = 10'000;
inline constexpr uint32_t kMaxPoints = 20'000;
// At most this many entries are read for one timeline (about a second).
inline constexpr uint64_t kMaxEntriesRead = 1'000'000;

// NotFound if the index covers no entry of the account (through_seq).
Status BuildTimeline(const HistoryIndex& index, const v1::TimelineQuery& query,
                     uint64_t through_seq, v1::Timeline* out);

}  // namespace billsim::history

#endif  // BILLSIM_HISTORY_TIMELINE_H_
