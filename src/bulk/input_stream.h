// InputStream: the bytes of one input, read in order, whatever it is: a
// file, standard input ("-"), or either of them compressed with gzip or
// zstd (recognised by their magic bytes, not by the name, so a pipe can
// carry a compressed dump too). Bulk readers (event_reader.h) read through
// it in bounded chunks: nothing here holds more than its buffers.
//
//   std::unique_ptr<InputStream> in;
//   Status st = InputStream::Open("events.jsonl.zst", &in);
//   size_t got;
//   while (st.ok() && (st = in->Read(buf, sizeof buf, &got)).ok() && got > 0) ...
//
// Errors name the input and what went wrong (a truncated or damaged
// compressed stream is Corruption, never a silent end).
#ifndef BILLSIM_BULK_INPUT_STREAM_H_
#define BILLSIM_BULK_INPUT_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>

#include "util/status.h"

namespace billsim::bulk {

enum class Compression { kNone, kGzip, kZstd };

class InputStream {
 public:
  // `path` "-" is standard input (not closed by the stream).
  static Status Open(const std::string& path, std::unique_ptr<InputStream>* out);
  virtual ~InputStream();

  // Reads up to n bytes into buf; *got == 0 only at the end of the input.
  virtual Status Read(char* buf, size_t n, size_t* got) = 0;

  // Ends a Read waiting on a pipe or terminal, and every later one, with
  // an error ("cancelled"): for a reader on another thread that is being
  // stopped (ChunkReader). Safe to call from any thread, any number of
  // times, while a Read runs. A regular file's reads do not wait, so they
  // finish as usual.
  void Cancel();

  // The name used in messages ("standard input" for "-").
  const std::string& name() const { return name_; }
  Compression compression() const { return compression_; }
  // Bytes read from the file or pipe so far (compressed, if it is).
  uint64_t raw_bytes() const { return raw_bytes_; }

 protected:
  std::string name_;
  Compression compression_ = Compression::kNone;
  uint64_t raw_bytes_ = 0;

 private:
  int cancel_fd_ = -1;  // an eventfd, set by Open; Cancel writes to it
};

// The name of `path` for messages: "standard input" for "-".
std::string InputName(const std::string& path);

// `path` without a trailing ".gz" or ".zst" (to find the format from what
// is left: "d.jsonl.gz" is JSON lines).
std::string WithoutCompressionSuffix(const std::string& path);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_INPUT_STREAM_H_
