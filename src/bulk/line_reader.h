// LineReader: the lines of an InputStream, one at a time, in a buffer of
// fixed size: memory is the same for a file of ten lines or ten million. A
// line may end in "\n" or "\r\n" (neither is part of it); the last line
// needs no end. A line longer than kMaxLineBytes is an error naming it:
// nothing here grows with the input.
//
// Every line handed out is followed in memory by at least kPadding
// readable bytes (the buffer's tail, or the next lines), which is what
// simdjson asks of a document it parses in place.
#ifndef BILLSIM_BULK_LINE_READER_H_
#define BILLSIM_BULK_LINE_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "bulk/input_stream.h"
#include "util/status.h"

namespace billsim::bulk {

inline constexpr size_t kMaxLineBytes = size_t{1} << 20;  // 1 MiB

class LineReader {
 public:
  static constexpr size_t kPadding = 64;  // >= SIMDJSON_PADDING
  static constexpr size_t kBufferBytes = 4 * kMaxLineBytes;

  explicit LineReader(std::unique_ptr<InputStream> in);

  // The next line into *line (valid until the next call) and its 1-based
  // number into *number; *done at the end of the input.
  Status Next(std::string_view* line, uint64_t* number, bool* done);

  // How many bytes may be read from line.data() on: the line, and at least
  // kPadding more.
  size_t Readable(std::string_view line) const {
    return static_cast<size_t>(buf_.get() + kBufferBytes + kPadding - line.data());
  }

  const InputStream& input() const { return *in_; }
  // InputStream::Cancel: safe from another thread while Next runs.
  void Cancel() { in_->Cancel(); }
  uint64_t bytes() const { return bytes_; }  // uncompressed, read so far
  // Bytes of the lines handed out so far, ends included.
  uint64_t bytes_consumed() const { return consumed_; }

 private:
  Status Fill();

  std::unique_ptr<InputStream> in_;
  // kBufferBytes for lines, plus kPadding; not zeroed (a reader of a short
  // input does not pay for 4 MiB of memset): the kPadding bytes after the
  // data are set on every fill, so nothing uninitialised is ever read.
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0;       // the unread part of buf_: [begin_, end_)
  size_t end_ = 0;
  size_t scanned_ = 0;     // [begin_, scanned_) holds no '\n'
  bool eof_ = false;
  uint64_t number_ = 0;
  uint64_t bytes_ = 0;
  uint64_t consumed_ = 0;
};

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_LINE_READER_H_
