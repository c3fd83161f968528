#include "log/log_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace billsim::log {

namespace {

// The pid recorded by the holder, for the message; "unknown" if the holder
// has not written it yet (it writes right after locking).
std::string HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid += buf[i];
  return pid.empty() ? "unknown" : pid;
}

Status WritePid(int fd, const std::string& path) {
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return Status::IOError(path + ": cannot record the lock holder's pid: " +
                           std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Status LogLock::Acquire(const std::string& dir, std::unique_ptr<LogLock>* out) {
  const std::string path = (std::filesystem::path(dir) / kLockFileName).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::IOError(path + ": cannot open the log's lock file: " + std::strerror(errno));
  }
  int r = 0;
  do {
    r = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? HolderPid(fd) : "";
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::IOError("log " + dir + " is locked by pid " + holder + " (" + path +
                             "): another writer has it open; one writer per log");
    }
    return Status::IOError(path + ": cannot lock: " + std::strerror(err));
  }
  Status st = WritePid(fd, path);
  if (!st.ok()) {
    ::close(fd);  // releases the lock
    return st;
  }
  out->reset(new LogLock(fd, path));
  return Status::Ok();
}

LogLock::~LogLock() {
  // Closing the only descriptor of the open file description releases it.
  ::close(fd_);
}

}  // namespace billsim::log
