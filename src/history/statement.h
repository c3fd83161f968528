// Statement: an account's ledger entries in a time window, read from the
// history index and listed or summed by the account's local day (wire.proto
// StatementQuery): the TikTok sandbox's transactions and its integrated
// report are these sums, so they are billsim's own entries, never a second
// computation.
//
//   ENTRIES        a row per entry of the kinds asked for;
//   DAYS           a row per local day: cash and grants in, spent from
//                  each, expired and refunded;
//   CAMPAIGN_DAYS  a row per campaign and local day: spend (COST amounts)
//                  and delivery by kind (the units of COST and NOT_BILLED
//                  entries, by their delivery kind).
//
// Rows come in date order (then campaigns in the order first seen); a page
// of them (offset, limit) is returned with their total. Cost: O(entries
// of the account in the window), read a page at a time, at most
// kMaxStatementEntries; past it the statement is truncated.
#ifndef BILLSIM_HISTORY_STATEMENT_H_
#define BILLSIM_HISTORY_STATEMENT_H_

#include <cstdint>
#include <string>

#include "billsim/v1/wire.pb.h"
#include "history/history_index.h"
#include "util/status.h"

namespace billsim::history {

inline constexpr uint64_t kMaxStatementEntries = 1'000'000;
inline constexpr uint32_t kDefaultStatementRows = 1'000;
inline constexpr uint32_t kMaxStatementRows = 10'000;

// "2026-01-15": the local date of `time_us` in a zone `utc_offset_minutes`
// east of UTC.
std::string LocalDate(int64_t time_us, int32_t utc_offset_minutes);

// NotFound if the index covers no entry of the account (through_seq);
// InvalidArgument for a window that ends before it starts.
Status BuildStatement(const HistoryIndex& index, const v1::StatementQuery& query,
                      uint64_t through_seq, v1::Statement* out);

}  // namespace billsim::history

#endif  // BILLSIM_HISTORY_STATEMENT_H_
