// SegmentReader: reads the batches of one segment file in order, checking
// each (header checksum, sequence, payload bounds, payload checksum, and
// optionally the hash chain), and classifies the first fault it meets:
//
//   kTail:    a write that never completed: the bytes left at the end of the
//             file are fewer than a header, or a header that checks out
//             whose payload runs past the end of the file, or nothing but
//             zero bytes (space the file system allocated for a write that
//             never landed). That is all a crash mid-append can leave, and
//             only at the tail of the log's last segment may recovery cut it.
//   kCorrupt: anything else: a whole header that fails its checks, a wrong
//             sequence, a complete batch (whole header, whole payload in the
//             file) whose payload checksum or chain fails, even when it is
//             the file's last batch. Those bytes were written whole, perhaps
//             acknowledged: never cut, never repaired here; the caller
//             refuses, naming segment, offset and sequence.
//
// Never reads past the file or trusts a length it has not checked.
#ifndef BILLSIM_LOG_SEGMENT_READER_H_
#define BILLSIM_LOG_SEGMENT_READER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "log/file.h"
#include "log/format.h"
#include "util/status.h"

namespace billsim::log {

struct BatchView {
  BatchHeader header;
  std::string_view payload;  // valid until the next Next()
  uint64_t offset = 0;       // of the header in the segment
};

class SegmentReader {
 public:
  enum class Next { kBatch, kEnd, kTail, kCorrupt };

  struct Options {
    bool verify_payload = true;  // XXH3 of each payload
    bool verify_chain = false;   // recompute SHA-256 chain (log verify)
    Env* env = nullptr;          // nullptr: Env::Default()
  };

  // Reads `path` from `offset`, expecting the batch there to start at
  // `expected_seq`, chained to `prev_chain` (used when verify_chain).
  Status Open(const std::string& path, uint64_t offset, uint64_t expected_seq,
              const Chain& prev_chain, Options options);

  // kBatch fills *batch. kTail/kCorrupt fill fault() with what and where.
  Next Read(BatchView* batch);

  uint64_t offset() const { return offset_; }          // of the next batch
  uint64_t expected_seq() const { return expected_seq_; }
  const Chain& chain() const { return chain_; }        // after the last batch
  const std::string& fault() const { return fault_; }
  uint64_t fault_offset() const { return fault_offset_; }
  uint64_t file_size() const { return file_.size(); }
  const std::string& path() const { return file_.path(); }

 private:
  Next Fault(Next kind, const std::string& what);
  // Are the bytes from `from` to the end of the file all zero?
  bool ZerosToEnd(uint64_t from);

  ReadFile file_;
  Options options_;
  uint64_t offset_ = 0;
  uint64_t expected_seq_ = 0;
  Chain chain_{};
  std::string fault_;
  uint64_t fault_offset_ = 0;
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_SEGMENT_READER_H_
