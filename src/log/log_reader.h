// LogReader: streams the batches of a log in sequence order, from any
// sequence (found through the segment indexes), with large sequential reads
// and memory bounded by one batch. Every header and payload checksum is
// checked; with verify_chain (from sequence 1 only), the SHA-256 chain too.
//
// A torn write at the very tail of the last segment (segment_reader.h says
// what counts as torn) ends the stream (a crash left it; the next writer's
// Open cuts it) and is reported by tail_fault(). A fault anywhere else is
// Corruption naming segment, offset and sequence. At the end of the log the
// reader also checks that nothing in the directory proves the log held more
// (CheckNothingBeyond in log_check.h: a snapshot past the end, an index
// whose segment is gone): that is Corruption too, not the end.
#ifndef BILLSIM_LOG_LOG_READER_H_
#define BILLSIM_LOG_LOG_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/log_dir.h"
#include "log/segment_reader.h"
#include "util/status.h"

namespace billsim::log {

class LogReader {
 public:
  struct Options {
    bool verify_chain = false;
    Env* env = nullptr;  // nullptr: Env::Default()
  };

  Status Open(const std::string& dir, Options options);
  // Positions the reader at the batch that holds `seq` (>= 1). The first
  // batch returned may start before `seq`.
  Status Seek(uint64_t seq);
  // The next batch, or *done at the end of the log.
  Status Next(BatchView* batch, bool* done);

  const std::string& tail_fault() const { return tail_fault_; }
  const std::vector<uint64_t>& segments() const { return segments_; }
  // The segment and offset of the last batch returned.
  const std::string& segment_path() const { return reader_.path(); }

 private:
  Status OpenSegment(size_t i, uint64_t offset, uint64_t expected_seq);
  Status AtEnd(bool* done);

  std::string dir_;
  Options options_;
  std::vector<uint64_t> segments_;
  size_t current_ = 0;
  bool open_ = false;
  SegmentReader reader_;
  Chain chain_{};
  uint64_t expected_seq_ = 1;
  std::string tail_fault_;
  bool end_checked_ = false;
  Status end_status_;
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_READER_H_
