#include "net/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace billsim::net {

namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string Errno(const std::string& path, const char* what) {
  return path + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

Status ReadSecretFile(const std::string& path, size_t bytes_max, std::string* contents) {
  contents->clear();
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(Errno(path, "cannot open"));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return Status::IOError(Errno(path, "cannot stat"));
  if (!S_ISREG(st.st_mode)) return Status::IOError(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > bytes_max) {
    return Status::InvalidArgument(path + ": " + std::to_string(st.st_size) +
                                   " bytes, more than the " + std::to_string(bytes_max) +
                                   " a token file may hold");
  }
  // As ssh does for private keys: warn, since whoever can read the file can
  // use its tokens (and whoever can write it can add one).
  if ((st.st_mode & 077) != 0) {
    spdlog::warn("{}: holds access tokens but the group or others may access it (mode {:04o}); "
                 "chmod 600 it",
                 path, st.st_mode & 07777);
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(f.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(Errno(path, "cannot read"));
    if (n == 0) break;
    contents->append(buffer, static_cast<size_t>(n));
    // The file may have grown since fstat: the bound holds all the same.
    if (contents->size() > bytes_max) {
      return Status::InvalidArgument(path + ": more than the " + std::to_string(bytes_max) +
                                     " bytes a token file may hold");
    }
  }
  return Status::Ok();
}

}  // namespace billsim::net
