#include "log/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/assert.h"

namespace billsim::log {

namespace {

constexpr size_t kReadChunk = 4 << 20;  // 4 MiB sequential reads

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(path + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

AppendFile::~AppendFile() { (void)Close(); }

Status AppendFile::Open(const std::string& path) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("open for append", path);
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return Errno("stat", path);
  size_ = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Status AppendFile::Append(std::string_view a, std::string_view b) {
  struct iovec iov[2] = {{const_cast<char*>(a.data()), a.size()},
                         {const_cast<char*>(b.data()), b.size()}};
  int n = b.empty() ? 1 : 2;
  size_t left = a.size() + b.size();
  struct iovec* v = iov;
  while (left > 0) {
    const ssize_t w = ::writev(fd_, v, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path_);
    }
    size_ += static_cast<uint64_t>(w);
    left -= static_cast<size_t>(w);
    size_t done = static_cast<size_t>(w);
    while (n > 0 && done >= v->iov_len) {
      done -= v->iov_len;
      ++v;
      --n;
    }
    if (n > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + done;
      v->iov_len -= done;
    }
  }
  return Status::Ok();
}

Status AppendFile::Sync() {
  if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
  return Status::Ok();
}

SyncHandle::~SyncHandle() {
  if (fd_ >= 0) ::close(fd_);
}

SyncHandle::SyncHandle(SyncHandle&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

SyncHandle& SyncHandle::operator=(SyncHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

Status SyncHandle::Sync() {
  if (fd_ < 0) return Status::Ok();
  if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
  return Status::Ok();
}

Status AppendFile::Duplicate(SyncHandle* out) const {
  BILLSIM_ASSERT(fd_ >= 0);
  const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Errno("dup", path_);
  SyncHandle h;
  h.fd_ = fd;
  h.path_ = path_;
  *out = std::move(h);
  return Status::Ok();
}

Status AppendFile::Close() {
  if (fd_ < 0) return Status::Ok();
  const int r = ::close(fd_);
  fd_ = -1;
  if (r != 0) return Errno("close", path_);
  return Status::Ok();
}

ReadFile::~ReadFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status ReadFile::Open(const std::string& path) {
  // A reader may be reopened on another file: nothing of the last one may
  // survive, least of all its buffered bytes.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
  buf_offset_ = 0;
  buf_len_ = 0;
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Errno("open for reading", path);
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return Errno("stat", path);
  size_ = static_cast<uint64_t>(st.st_size);
  (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  return Status::Ok();
}

Status ReadFile::Read(uint64_t offset, size_t n, const uint8_t** data,
                      size_t* got) {
  *got = 0;
  if (offset >= size_) return Status::Ok();
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
  if (offset < buf_offset_ || offset + n > buf_offset_ + buf_len_) {
    // A large sequential read, but never more than the file still holds
    // (an index file is a few bytes: no 4 MiB buffer for it).
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(std::max(n, kReadChunk), size_ - offset));
    if (buf_.size() < want) buf_.resize(want);
    size_t filled = 0;
    while (filled < want && offset + filled < size_) {
      const ssize_t r = ::pread(fd_, buf_.data() + filled, want - filled,
                                static_cast<off_t>(offset + filled));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Errno("read", path_);
      }
      if (r == 0) break;
      filled += static_cast<size_t>(r);
    }
    buf_offset_ = offset;
    buf_len_ = filled;
    n = std::min(n, filled);
  }
  *data = buf_.data() + (offset - buf_offset_);
  *got = n;
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open directory", dir);
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return Errno("fsync directory", dir);
  return Status::Ok();
}

Status TruncateFile(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open for truncation", path);
  const bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0 && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok) return Errno("truncate", path);
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  // Temporary file, fsync, rename over, fsync the directory: a reader sees
  // the old file or the whole new one, never a part.
  const std::string tmp = path + ".tmp";
  {
    AppendFile f;
    (void)::unlink(tmp.c_str());
    Status st = f.Open(tmp);
    if (st.ok()) st = f.Append(data);
    if (st.ok()) st = f.Sync();
    if (st.ok()) st = f.Close();
    if (!st.ok()) return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return SyncDir(std::filesystem::path(path).parent_path().string());
}

Status ReadWholeFile(const std::string& path, std::string* out) {
  ReadFile f;
  Status st = f.Open(path);
  if (!st.ok()) return st;
  out->resize(f.size());
  uint64_t at = 0;
  while (at < f.size()) {
    const uint8_t* data = nullptr;
    size_t got = 0;
    st = f.Read(at, static_cast<size_t>(std::min<uint64_t>(f.size() - at, 4 << 20)),
                &data, &got);
    if (!st.ok()) return st;
    if (got == 0) break;
    std::memcpy(out->data() + at, data, got);
    at += got;
  }
  out->resize(at);
  return Status::Ok();
}

Status CreateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(dir + ": cannot create directory: " + ec.message());
  return Status::Ok();
}

}  // namespace billsim::log
