#include "bulk/line_reader.h"

#include <cstring>

namespace billsim::bulk {

LineReader::LineReader(std::unique_ptr<InputStream> in)
    : in_(std::move(in)), buf_(std::make_unique_for_overwrite<char[]>(kBufferBytes + kPadding)) {
  std::memset(buf_.get(), ' ', kPadding);
}

Status LineReader::Fill() {
  if (begin_ > 0) {  // move the partial line to the front
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    scanned_ -= begin_;
    begin_ = 0;
  }
  // One read: a pipe's lines are handed out as they come, not once the
  // buffer is full.
  size_t got = 0;
  Status st = in_->Read(buf_.get() + end_, kBufferBytes - end_, &got);
  if (!st.ok()) return st;
  if (got == 0) eof_ = true;
  end_ += got;
  bytes_ += got;
  std::memset(buf_.get() + end_, ' ', kPadding);  // what follows the last line
  return Status::Ok();
}

Status LineReader::Next(std::string_view* line, uint64_t* number, bool* done) {
  for (;;) {
    const char* base = buf_.get();
    const void* nl = scanned_ < end_ ? std::memchr(base + scanned_, '\n', end_ - scanned_) : nullptr;
    size_t stop;  // the line is [begin_, stop)
    size_t next;  // where the one after it starts
    if (nl != nullptr) {
      stop = static_cast<size_t>(static_cast<const char*>(nl) - base);
      next = stop + 1;
    } else if (eof_) {
      if (begin_ == end_) {
        *done = true;
        return Status::Ok();
      }
      stop = next = end_;
    } else {
      scanned_ = end_;
      if (end_ - begin_ > kMaxLineBytes) break;
      Status st = Fill();
      if (!st.ok()) return st;
      continue;
    }
    if (stop - begin_ > kMaxLineBytes) break;
    size_t len = stop - begin_;
    if (len > 0 && base[begin_ + len - 1] == '\r') --len;
    *line = std::string_view(base + begin_, len);
    *number = ++number_;
    *done = false;
    consumed_ += next - begin_;
    begin_ = scanned_ = next;
    return Status::Ok();
  }
  return Status::InvalidArgument(in_->name() + ":" + std::to_string(number_ + 1) +
                                 ": line is longer than " + std::to_string(kMaxLineBytes) +
                                 " bytes");
}

}  // namespace billsim::bulk
