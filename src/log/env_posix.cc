// Env::Default(): the POSIX file system (open/writev/fdatasync/pread).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "log/env.h"

namespace billsim::log {

namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(path + ": " + what + ": " + std::strerror(errno));
}

// A descriptor of its own (a dup), closed on destruction.
class PosixSyncableFile final : public SyncableFile {
 public:
  PosixSyncableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixSyncableFile() override { ::close(fd_); }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    return Status::Ok();
  }

 private:
  const int fd_;
  const std::string path_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~PosixWritableFile() override { (void)Close(); }

  Status Append(std::string_view a, std::string_view b) override {
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

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    const int r = ::close(fd_);
    fd_ = -1;
    if (r != 0) return Errno("close", path_);
    return Status::Ok();
  }

  Status NewSyncHandle(std::unique_ptr<SyncableFile>* out) override {
    const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Errno("dup", path_);
    *out = std::make_unique<PosixSyncableFile>(fd, path_);
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }

 private:
  int fd_;
  uint64_t size_;
  const std::string path_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, uint8_t* scratch, size_t* got) override {
    size_t filled = 0;
    while (filled < n) {
      const ssize_t r = ::pread(fd_, scratch + filled, n - filled,
                                static_cast<off_t>(offset + filled));
      if (r < 0) {
        if (errno == EINTR) continue;
        *got = filled;
        return Errno("read", path_);
      }
      if (r == 0) break;
      filled += static_cast<size_t>(r);
    }
    *got = filled;
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }

 private:
  const int fd_;
  const uint64_t size_;
  const std::string path_;
};

class PosixEnv final : public Env {
 public:
  Status NewAppendableFile(const std::string& path,
                           std::unique_ptr<WritableFile>* out) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open for append", path);
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
      Status s = Errno("stat", path);
      ::close(fd);
      return s;
    }
    *out = std::make_unique<PosixWritableFile>(fd, static_cast<uint64_t>(st.st_size), path);
    return Status::Ok();
  }

  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* out) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open for reading", path);
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
      Status s = Errno("stat", path);
      ::close(fd);
      return s;
    }
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = std::make_unique<PosixRandomAccessFile>(fd, static_cast<uint64_t>(st.st_size), path);
    return Status::Ok();
  }

  bool FileExists(const std::string& path) override {
    std::error_code ec;
    return fs::exists(path, ec);
  }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      names->push_back(entry.path().filename().string());
    }
    if (ec) return Status::IOError(dir + ": cannot list: " + ec.message());
    return Status::Ok();
  }

  Status CreateDir(const std::string& dir) override {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError(dir + ": cannot create directory: " + ec.message());
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("remove", path);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename to " + to, from);
    return Status::Ok();
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open for truncation", path);
    const bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0 && ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (!ok) return Errno("truncate", path);
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open directory", dir);
    const int r = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (r != 0) return Errno("fsync directory", dir);
    return Status::Ok();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never deleted: used until exit
  return env;
}

}  // namespace billsim::log
