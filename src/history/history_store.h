// BlockStore: the files of the history index, LOGDIR/history/:
//
//   blocks.dat   written blocks (history_block.h), appended, never changed
//   CHECKPOINT   what the index covered when last made durable, written
//                atomically (temporary file, fsync, rename, fsync dir)
//
// CHECKPOINT: magic "BSHI" (4) | version (2) | reserved (2) | body length
// (8) | XXH3-64 of the body (8) | body:
//   covered_seq (8) | chain: last_seq (8), chain (32) | blocks.dat size (8) |
//   ledger digest (4 + n) | v1::LedgerState (8 + n) | accounts (4) |
//   per account: blocks (4), block records (64 each), open block: record,
//   delta base (64), bytes (8 + n).
// It is trusted only if its checksum holds, it parses, the log's batch
// ending at chain.last_seq (the batch holding covered_seq) has the recorded
// chain (so the log still holds, unchanged, everything it covers: a log
// repaired shorter, or another log, fails), blocks.dat is at least as long
// as recorded (bytes past it are a crash's leftovers and are cut), and the
// ledger state restores to the recorded digest. Anything else: rebuild.
//
// Threads: the writer calls everything but ReadBlock/InMemory/Damaged,
// which readers call. The in-memory blocks of a read-only index are
// guarded by the index's lock (Remember: exclusive; InMemory: shared).
#ifndef BILLSIM_HISTORY_HISTORY_STORE_H_
#define BILLSIM_HISTORY_HISTORY_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "history/history_block.h"
#include "ledger/ledger.h"
#include "log/env.h"
#include "log/file.h"
#include "log/format.h"
#include "util/status.h"

namespace billsim::history {

// What the index keeps in memory for each written block: 64 bytes.
struct BlockRecord {
  uint64_t first_seq = 0, last_seq = 0;          // entry seqs
  uint64_t first_log_seq = 0, last_log_seq = 0;  // their events' log seqs
  int64_t min_time_us = 0, max_time_us = 0;      // first and last entry's
  uint64_t offset = 0;  // in blocks.dat
  uint32_t size = 0;    // header and payload
  uint32_t count = 0;   // entries
};

// An account's entries not yet written: encoded, with the record they will
// get (offset and size unset) and the base the next entry is encoded on.
struct OpenBlock {
  std::string bytes;
  BlockRecord meta;
  EntryBase base;
};

struct AccountData {
  std::string id;
  std::vector<BlockRecord> blocks;  // in entry order
  OpenBlock open;
  int64_t clock_us = 0;  // the account's clock at covered_seq
  bool queued = false;   // its open block is waiting to be written
};

// The log batch that holds covered_seq: its last sequence and chain value.
struct CheckpointChain {
  uint64_t last_seq = 0;
  log::Chain chain{};
};

struct CheckpointData {
  uint64_t covered_seq = 0;
  CheckpointChain chain;
  Ledger* ledger = nullptr;                  // saved from / restored into
  std::vector<AccountData>* accounts = nullptr;
};

class BlockStore {
 public:
  // The offset of a source that is a copy of an open block (raw entries).
  static constexpr uint64_t kOpenBlock = UINT64_MAX;

  BlockStore(const std::string& log_dir, bool read_only, log::Env* env);

  // Forgets what history/ holds: read-write, empties it; read-only, keeps
  // everything in memory from now on.
  Status StartEmpty();
  // Loads a trusted checkpoint (see above) into *data (ledger fresh,
  // accounts empty). NotFound if there is none; any other failure says why
  // it is not trusted.
  Status Load(CheckpointData* data);
  // Makes blocks.dat durable, then writes CHECKPOINT. Writer only.
  Status WriteCheckpoint(const CheckpointData& data);

  // Adds a block of `payload` (`meta.count` entries of `account`); fills
  // *record. The bytes reach the file by Flush (read-only: *mem holds the
  // block, for Remember once it is published).
  Status AddBlock(std::string_view payload, const BlockRecord& meta, uint32_t account,
                  BlockRecord* record, std::shared_ptr<const std::string>* mem);
  Status Flush();
  size_t buffered() const { return buffer_.size(); }

  void Remember(uint64_t offset, std::shared_ptr<const std::string> block);
  std::shared_ptr<const std::string> InMemory(uint64_t offset) const;

  // Reads and checks a block (mem: the block itself, or for kOpenBlock the
  // open block's copy). *file is opened on first use and reused.
  Status ReadBlock(const BlockRecord& record, uint32_t account,
                   const std::shared_ptr<const std::string>& mem,
                   std::unique_ptr<log::RandomAccessFile>* file, std::string* scratch,
                   std::string_view* payload) const;
  Status Damaged(const BlockRecord& record, const std::string& what) const;

  const std::string& dir() const { return dir_; }

 private:
  Status CheckChain(const CheckpointData& data) const;
  Status OpenData(uint64_t size);

  const std::string log_dir_, dir_, data_path_, checkpoint_path_;
  const bool read_only_;
  log::Env* const env_;
  log::AppendFile data_;  // read-write only
  uint64_t end_ = 0;      // offset of the next block (written or buffered)
  std::string buffer_;    // blocks added, not yet appended
  std::map<uint64_t, std::shared_ptr<const std::string>> memory_;  // read-only
};

}  // namespace billsim::history

#endif  // BILLSIM_HISTORY_HISTORY_STORE_H_
