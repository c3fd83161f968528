// The history index's on-disk units: entries, encoded compactly, grouped
// in per-account blocks, each framed with a checksum. Pure functions over
// bytes; no I/O, no state, safe on any thread.
//
// An entry is stored as varints, each numeric field relative to the same
// field of the entry before it in the block (the first entry of a block
// relative to zero), so that an entry of a busy account costs about 20
// bytes. Ids (campaign, grant, dispute) are stored as the ledger's table
// indexes + 1 (0: none); the index keeps the id strings of those tables.
// The account is the block's; the note and field are stored as text.
//
//   entry: varint  log_seq - prev.log_seq
//          varint  seq - prev.seq
//          zigzag  time_us - prev.time_us
//          zigzag  event_id - prev.event_id
//          varint  kind, funds | delivery_kind << 2, not_billed_reason,
//                  dispute_status  (blocks written before delivery kinds
//                  were recorded decode them as 0: unspecified)
//          varint  campaign + 1, grant + 1, dispute + 1
//          zigzag  balance_delta, frozen_delta, units
//          zigzag  cash, credit, frozen, valid (each - prev)
//          varint  note length, note bytes, field length, field bytes
//
// A block on disk (little-endian):
//
//   0       8            12       16        20         24
//   | xxh3  | payload_len | count  | account | reserved | payload ...
//
// xxh3 is XXH3-64 of every byte after it (header fields and payload), so a
// flipped bit anywhere in the block is found when the block is read.
#ifndef BILLSIM_HISTORY_HISTORY_BLOCK_H_
#define BILLSIM_HISTORY_HISTORY_BLOCK_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/entry.h"
#include "util/status.h"

namespace billsim::history {

inline constexpr size_t kBlockHeaderSize = 24;
// Funds types fit in two bits; the delivery kind is stored above them.
inline constexpr uint32_t kDeliveryKindShift = 2;
static_assert(v1::FundsType_MAX < (1 << kDeliveryKindShift));
// A block's payload is at most this: an account's block is written at
// Options.block_bytes, and one entry (its note is bounded by the event's
// size) cannot take it past this bound.
inline constexpr uint32_t kBlockPayloadMax = 64u << 20;

// The numeric fields of the entry before, for the deltas. Zero at the
// start of a block.
struct EntryBase {
  uint64_t log_seq = 0;
  uint64_t seq = 0;
  int64_t time_us = 0;
  uint64_t event_id = 0;
  int64_t cash = 0, credit = 0, frozen = 0, valid = 0;
};

// An entry as stored: the ledger's Entry with its cause's log sequence and
// without its account.
struct StoredEntry {
  uint64_t log_seq = 0;
  uint64_t seq = 0;
  int64_t time_us = 0;
  uint64_t event_id = 0;
  uint32_t kind = 0, funds = 0, not_billed_reason = 0, dispute_status = 0, delivery_kind = 0;
  uint32_t campaign = kNoIndex, grant = kNoIndex, dispute = kNoIndex;
  int64_t balance_delta = 0, frozen_delta = 0, units = 0;
  int64_t cash = 0, credit = 0, frozen = 0, valid = 0;
  std::string_view note, field;  // point into the block's bytes
};

// Appends `e` (caused by the event at `log_seq`) to `out`; moves *base on.
void EncodeEntry(const Entry& e, uint64_t log_seq, EntryBase* base, std::string* out);

// Decodes the entry at *p (not past `end`) and moves *p and *base on.
// False if the bytes do not hold a whole entry.
bool DecodeEntry(const uint8_t** p, const uint8_t* end, EntryBase* base, StoredEntry* out);

// The header of a block holding `payload` (`count` entries of `account`).
void EncodeBlockHeader(std::string_view payload, uint32_t count, uint32_t account,
                       uint8_t header[kBlockHeaderSize]);

// Checks a whole block read back (header and payload, `size` bytes) against
// what its record says; Corruption says what differs (the caller adds the
// file and offset). On success *payload is the entries' bytes.
Status CheckBlock(const uint8_t* block, size_t size, uint32_t count, uint32_t account,
                  std::string_view* payload);

}  // namespace billsim::history

#endif  // BILLSIM_HISTORY_HISTORY_BLOCK_H_
