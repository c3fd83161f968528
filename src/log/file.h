// Small file wrappers for the log over an Env (log/env.h; nullptr is
// Env::Default(), the POSIX one): every call returns a Status that names the
// path and the system's reason.
#ifndef BILLSIM_LOG_FILE_H_
#define BILLSIM_LOG_FILE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log/env.h"
#include "util/status.h"

namespace billsim::log {

// A handle of a file, for fdatasync only. It outlives the AppendFile it
// came from: a file may be closed (a segment roll) while another thread
// still syncs it.
class SyncHandle {
 public:
  Status Sync() { return file_ ? file_->Sync() : Status::Ok(); }  // OK when empty
  bool empty() const { return file_ == nullptr; }

 private:
  friend class AppendFile;
  std::unique_ptr<SyncableFile> file_;
};

// A file opened for appending. Writes go to the end; Sync makes them
// durable (fdatasync).
class AppendFile {
 public:
  AppendFile() = default;
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  Status Open(const std::string& path, Env* env = nullptr);  // creates if missing
  // Writes all the pieces, in order, at the end of the file.
  Status Append(std::string_view a, std::string_view b = {});
  Status Sync();
  Status Close();
  // A handle that syncs this file from another thread.
  Status Duplicate(SyncHandle* out) const;
  uint64_t size() const { return file_ ? file_->size() : 0; }
  const std::string& path() const { return path_; }
  bool is_open() const { return file_ != nullptr; }

 private:
  std::unique_ptr<WritableFile> file_;
  std::string path_;
};

// A file read at arbitrary offsets through one reusable buffer: large
// sequential reads, memory bounded by the largest batch, not the file.
class ReadFile {
 public:
  ReadFile() = default;
  ~ReadFile();
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;

  // Opens `path`, closing any file opened before and forgetting its bytes.
  Status Open(const std::string& path, Env* env = nullptr);
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Makes bytes [offset, offset + n) readable at *data, or fewer where the
  // file ends: returns how many are available (0 past the end).
  Status Read(uint64_t offset, size_t n, const uint8_t** data, size_t* got);

 private:
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t size_ = 0;
  std::string path_;
  std::vector<uint8_t> buf_;
  uint64_t buf_offset_ = 0;
  size_t buf_len_ = 0;
};

Status SyncDir(const std::string& dir, Env* env = nullptr);
Status TruncateFile(const std::string& path, uint64_t size, Env* env = nullptr);  // and fsync
Status WriteFileAtomic(const std::string& path, std::string_view data, Env* env = nullptr);
// The same, with the bytes appended by `write` (for files too large to hold
// as one string): nothing of `path` changes unless `write` succeeds.
Status WriteFileAtomic(const std::string& path, const std::function<Status(AppendFile*)>& write,
                       Env* env = nullptr);
// A file of a header and a body that is never held whole (a snapshot, a
// history checkpoint: the state of a book of millions of campaigns).
// `body` hands the body's bytes, in order and in pieces, to the sink it is
// given; it is called twice and must give the same bytes both times: first
// to count and hash them, then to write them, in chunks of 4 MiB. The
// header, little-endian: `magic` (4 bytes), `version` (2), zero (2), the
// body's size (8) and its XXH3-64 (8). Written as WriteFileAtomic writes.
using PieceSink = std::function<void(std::string_view)>;
Status WriteFileAtomicStreamed(const std::string& path, uint32_t magic, uint16_t version,
                               const std::function<void(const PieceSink&)>& body,
                               Env* env = nullptr);
// The size of that header.
inline constexpr size_t kStreamedHeader = 24;
// Opens into *file a file WriteFileAtomicStreamed wrote and checks it
// whole, reading it in 4 MiB chunks, never holding it: its header names
// `magic` and `version`, and its body has the size and the XXH3 the header
// records. The body is then bytes [kStreamedHeader, file->size()) of *file.
// A file that cannot be opened or read gives the Env's error; otherwise
// Corruption, "<path>: not a <what>" or "<path>: checksum mismatch or
// truncated".
Status OpenStreamedFile(const std::string& path, uint32_t magic, uint16_t version,
                        std::string_view what, ReadFile* file, Env* env = nullptr);
Status ReadWholeFile(const std::string& path, std::string* out, Env* env = nullptr);
Status CreateDir(const std::string& dir, Env* env = nullptr);  // with parents; ok if it exists

}  // namespace billsim::log

#endif  // BILLSIM_LOG_FILE_H_
