// The on-disk format of the billsim log, shared by writer and reader.
//
// A log is a directory. Its events live in segment files, each named by the
// sequence number of its first event, zero-padded to 20 digits
// ("00000000000000000001.seg"), and rolled at a configurable size. Beside
// each segment, an index file of the same name ending ".idx" maps the first
// sequence of every batch to its byte offset, so a reader can start at any
// sequence without scanning. Snapshots live in the subdirectory "snapshots".
// A segment and index whose names end ".staged" are a stage being written
// (LogWriter::BeginStage), not part of the log until renamed into place.
//
// A segment is batches back to back, nothing else. A batch:
//
//   offset  size  field
//   ------  ----  ---------------------------------------------------------
//        0     4  magic "BSLB"
//        4     2  format version (kFormatVersion)
//        6     2  header size (kHeaderSize)
//        8     8  first sequence number (dense over the log, from 1)
//       16     4  event count (> 0)
//       20     4  payload length in bytes (<= kMaxPayloadBytes)
//       24     8  time of the first event (us UTC)
//       32     8  time of the last event (us UTC)
//       40    32  chain: SHA-256(previous batch's chain | bytes 0..40 | payload);
//                 the first batch's previous chain is 32 zero bytes
//       72     8  XXH3-64 of the payload
//       80     8  reserved, zero
//       88     8  XXH3-64 of bytes 0..88 (the header checks itself first)
//       96     -  payload: one v1::EventBatch (proto/billsim/v1/log.proto)
//
// All integers are little-endian. A reader checks the header checksum before
// it trusts any length, then the payload checksum before it parses a byte,
// and never reads past the end of what it was given. The chain makes the
// log tamper-evident as a whole: changing any batch changes every chain
// value after it, and `log verify` recomputes them all.
//
// An index file is 24-byte entries: first sequence (8), segment offset (8),
// XXH3-64 of those 16 bytes (8). It is derived data: recovery rebuilds it
// from the segment when it disagrees.
#ifndef BILLSIM_LOG_FORMAT_H_
#define BILLSIM_LOG_FORMAT_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace billsim::log {

inline constexpr uint32_t kMagic = 0x424c5342;  // "BSLB" little-endian
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kHeaderSize = 96;
inline constexpr size_t kChainSize = 32;
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;  // 64 MiB
inline constexpr uint32_t kMaxBatchEvents = 1u << 20;
inline constexpr size_t kIndexEntrySize = 24;
inline constexpr uint64_t kDefaultSegmentBytes = 128ull << 20;

using Chain = std::array<uint8_t, kChainSize>;

struct BatchHeader {
  uint64_t first_seq = 0;
  uint32_t count = 0;
  uint32_t payload_len = 0;
  int64_t first_time_us = 0;
  int64_t last_time_us = 0;
  Chain chain{};
  uint64_t payload_xxh3 = 0;

  uint64_t last_seq() const { return first_seq + count - 1; }
};

// Fills `out` (kHeaderSize bytes) from `h`, computing the header checksum.
void EncodeHeader(const BatchHeader& h, uint8_t* out);

// Parses and checks the kHeaderSize bytes at `in`: checksum, magic, version,
// size, count and payload bounds. Corruption names what failed; the caller
// adds where.
Status DecodeHeader(const uint8_t* in, BatchHeader* h);

// chain = SHA-256(prev | header bytes 0..40 | payload).
Chain ComputeChain(const Chain& prev, const uint8_t* header,
                   std::string_view payload);

uint64_t PayloadChecksum(std::string_view payload);

std::string SegmentName(uint64_t first_seq);  // "000...1.seg"
std::string IndexName(uint64_t first_seq);    // "000...1.idx"
// The first sequence in a segment's file name (SegmentName) or an index's
// (IndexName); false if `name` is not one.
bool ParseSegmentName(std::string_view name, uint64_t* first_seq);
bool ParseIndexName(std::string_view name, uint64_t* first_seq);
// The sequence in a snapshot's file name ("snapshot-<20 digits>.bin",
// log_dir.h's SnapshotPath); false if `name` is not one.
bool ParseSnapshotName(std::string_view name, uint64_t* seq);

std::string ChainHex(const Chain& c);

}  // namespace billsim::log

#endif  // BILLSIM_LOG_FORMAT_H_
