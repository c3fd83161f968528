// Env: the log's window on the file system, after LevelDB's Env. Every file
// operation of the log and the snapshot store (segments, indexes,
// snapshots, the directory) goes through one, so that a test can put a
// simulated disk underneath: tests/fault_env.h drops what was never synced
// on a simulated crash and injects write, sync and rename failures.
//
// Env::Default() is the POSIX one and lives for the whole program. Wherever
// the log's API takes an `Env*`, nullptr means Env::Default().
//
// Every Status names the path and the system's reason. An Env and the
// files it opens may be used from several threads, each file object by one
// thread at a time (a SyncableFile exists so that another thread can sync).
#ifndef BILLSIM_LOG_ENV_H_
#define BILLSIM_LOG_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace billsim::log {

// Makes the bytes appended to a file so far durable (fdatasync). It may
// outlive the WritableFile it came from and be used from another thread
// while that file is still appended to: a segment roll closes a file while
// the server's syncer thread still syncs it.
class SyncableFile {
 public:
  virtual ~SyncableFile() = default;
  virtual Status Sync() = 0;
};

// A file opened for appending: every write goes to its end.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `a`, then all of `b`. On error a prefix of them may have
  // reached the file: the caller must treat the file's end as unknown.
  virtual Status Append(std::string_view a, std::string_view b) = 0;
  // Makes everything appended durable (fdatasync). On error nothing is
  // known about what is durable, not even after a later success
  // ("fsyncgate"): the caller must stop writing this file.
  virtual Status Sync() = 0;
  // Closes the file without syncing it. Idempotent.
  virtual Status Close() = 0;
  // A handle that syncs this file from another thread (see SyncableFile).
  virtual Status NewSyncHandle(std::unique_ptr<SyncableFile>* out) = 0;
  // The file's size: what it held when opened plus what was appended.
  virtual uint64_t size() const = 0;
};

// A file read at arbitrary offsets.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `scratch`; *got is less than `n`
  // only where the file ends.
  virtual Status Read(uint64_t offset, size_t n, uint8_t* scratch, size_t* got) = 0;
  // The file's size when it was opened.
  virtual uint64_t size() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The POSIX file system. Never deleted.
  static Env* Default();

  // Opens `path` for appending, creating it if missing (a new file's name
  // is durable only after SyncDir of its directory).
  virtual Status NewAppendableFile(const std::string& path,
                                   std::unique_ptr<WritableFile>* out) = 0;
  virtual Status NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* out) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // The names (not paths) of the entries of `dir`, in no particular order.
  virtual Status GetChildren(const std::string& dir, std::vector<std::string>* names) = 0;
  // Creates `dir` and its missing parents; OK if it exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Replaces `to` with `from` atomically; durable after SyncDir of the
  // directory.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Cuts `path` to `size` bytes and makes that durable (fsync).
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // Makes the entries of `dir` (files created, renamed, removed) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
};

inline Env* EnvOrDefault(Env* env) { return env != nullptr ? env : Env::Default(); }

}  // namespace billsim::log

#endif  // BILLSIM_LOG_ENV_H_
