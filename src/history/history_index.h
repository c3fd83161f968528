// HistoryIndex: every account's ledger entries, indexed by account, so that
// a page of one account's history costs O(page), not O(log).
//
// It is a projection of the log like any other: its own Ledger replays the
// log's events (the same BatchApplier path as Replay) with a sink that
// files each entry under its account, with the log sequence of its event.
// So its entries, entry seqs included, are exactly what `audit history`
// gets from a replay from sequence 1. It lives in LOGDIR/history/ and is
// derived data: deleted or damaged, it is rebuilt from the log.
//
// One writer (CatchUp, Checkpoint) and any number of readers (ReadPage,
// BalanceAt) may run at once on different threads; readers see entries up
// to covered_seq() as it was when they started.
//
// Memory is bounded by Options (open blocks, read buffers), not by the log:
// entries are kept on disk in per-account blocks; in memory stay one small
// record per block and one open (unwritten) block per account, the open
// blocks together at most open_bytes_max.
#ifndef BILLSIM_HISTORY_HISTORY_INDEX_H_
#define BILLSIM_HISTORY_HISTORY_INDEX_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "billsim/v1/projections.pb.h"
#include "log/env.h"
#include "util/status.h"

namespace billsim::history {

struct HistoryItem {
  uint64_t log_seq = 0;  // the log sequence of the event that made it
  v1::LedgerEntry entry;
};

struct PageQuery {
  std::string account;
  uint64_t since_seq = 0;  // only entries of events with log seq > since_seq
  uint64_t cursor = 0;     // only entries with entry.seq > cursor
  int64_t from_us = std::numeric_limits<int64_t>::min();  // entry time_us,
  int64_t to_us = std::numeric_limits<int64_t>::max();    // both inclusive
  // Only entries of events with log seq <= through_seq (the acknowledged
  // sequence the answer reflects). REQUIRES: <= covered_seq().
  uint64_t through_seq = std::numeric_limits<uint64_t>::max();
  uint32_t limit = 10'000;
  // Filters: only entries of this kind (v1::EntryKind; 0: any), of this
  // campaign (empty: any). A filtered page examines at most 100,000
  // entries: it may then be short, even empty, yet truncated, its
  // next_cursor the last entry examined.
  int kind = 0;
  std::string campaign;
};

struct Page {
  std::vector<HistoryItem> items;  // in entry order
  bool truncated = false;          // more entries match past the limit
  uint64_t next_cursor = 0;        // last item's entry.seq, else the query's cursor
};

struct BalanceAt {
  uint64_t log_seq = 0;    // the last entry stamped <= as_of_us (0: none)
  uint64_t entry_seq = 0;
  int64_t cash = 0, credit = 0, frozen = 0, valid = 0;  // after it
  int64_t account_clock_us = 0;  // the account's clock at covered_seq()
};

class HistoryIndex {
 public:
  struct Options {
    log::Env* env = nullptr;  // nullptr: Env::Default()
    // Read-only: never writes LOGDIR/history/ (a server holds the log): a
    // missing or stale index is caught up in memory only.
    bool read_only = false;
    uint64_t open_bytes_max = 64ull << 20;  // all accounts' open blocks
    // An account's open block is written when it reaches this many bytes
    // (about 20 bytes an entry): the unit a page reads.
    uint32_t block_bytes = 8u << 10;
    // Ignore what LOGDIR/history/ holds and rebuild from the log (after a
    // read reported the index damaged).
    bool rebuild = false;
  };

  // Opens (or creates, or rebuilds if damaged) the index of the log in
  // `log_dir`. It covers the log up to its last checkpoint; CatchUp brings
  // it to the log's end.
  static Status Open(const std::string& log_dir, const Options& options,
                     std::unique_ptr<HistoryIndex>* out);
  virtual ~HistoryIndex() = default;

  // The last log sequence whose entries are in the index.
  virtual uint64_t covered_seq() const = 0;
  // The heap bytes the open blocks hold now (their capacity): at most
  // open_bytes_max after every batch CatchUp applies.
  virtual uint64_t open_block_bytes() const = 0;

  // Replays the log's events covered_seq()+1 .. to_seq (or to the log's
  // end, whichever is first) into the index. Writer thread only.
  virtual Status CatchUp(uint64_t to_seq) = 0;
  // Makes what is covered durable in LOGDIR/history/ (not read-only).
  virtual Status Checkpoint() = 0;

  // NotFound naming the account if no entry of it is covered.
  virtual Status ReadPage(const PageQuery& query, Page* page) const = 0;
  virtual Status BalanceAsOf(const std::string& account, int64_t as_of_us,
                             uint64_t through_seq, BalanceAt* out) const = 0;
};

}  // namespace billsim::history

#endif  // BILLSIM_HISTORY_HISTORY_INDEX_H_
