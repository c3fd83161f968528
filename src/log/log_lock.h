// LogLock: the one-writer rule of a log directory, enforced.
//
// Two processes appending to one log would fork it: each continues the
// chain from what it recovered, both reuse the same sequence numbers, and
// the log no longer opens. So every writer (LogWriter::Open, and so `serve`,
// `log append`, `snapshot`; `log repair`) first takes an exclusive lock on
// DIR/LOCK, as LevelDB does, and holds it for as long as it may write. A
// second opener fails at once, naming the directory and the holder's pid,
// before it reads or changes anything. Readers (`log verify`, `log dump`,
// `replay`, `audit`) never take it: the writer only appends, and a reader
// sees a prefix of what it wrote.
//
// The lock is flock(2) on an open file description: the kernel drops it
// when the holder exits however it exits (SIGKILL included), so a stale
// LOCK file is harmless and is never deleted. flock, unlike fcntl locks,
// also excludes a second opener in the same process (two servers in one
// test). The descriptor is close-on-exec, so a child process never inherits
// the lock. The file holds the holder's pid as text, for the message only.
#ifndef BILLSIM_LOG_LOG_LOCK_H_
#define BILLSIM_LOG_LOG_LOCK_H_

#include <memory>
#include <string>

#include "util/status.h"

namespace billsim::log {

inline constexpr const char* kLockFileName = "LOCK";

class LogLock {
 public:
  // Takes the lock of the log in `dir` (which must exist), creating
  // DIR/LOCK if missing. IOError if another holder has it ("... is locked
  // by pid N ...") or the file cannot be opened.
  static Status Acquire(const std::string& dir, std::unique_ptr<LogLock>* out);

  ~LogLock();  // releases the lock
  LogLock(const LogLock&) = delete;
  LogLock& operator=(const LogLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  LogLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_LOCK_H_
