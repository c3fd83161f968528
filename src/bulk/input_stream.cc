#include "bulk/input_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace billsim::bulk {

namespace {

constexpr size_t kRawBufferBytes = size_t{256} << 10;

// The file descriptor under every stream, with the bytes already peeked at
// (the magic) given back first. A read of a pipe or terminal first waits
// for it or for `cancel` (an eventfd, InputStream::Cancel), whichever is
// first: a reader stopped from another thread does not wait for input that
// may never come. A regular file is read at once.
class Source {
 public:
  Source(std::string name, int fd, bool owned, int cancel)
      : name_(std::move(name)), fd_(fd), owned_(owned), cancel_(cancel) {
    struct stat st;
    waits_ = ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode);
  }
  ~Source() {
    if (owned_) ::close(fd_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  Status Read(char* buf, size_t n, size_t* got) {
    *got = 0;
    if (peeked_at_ < peeked_.size()) {
      const size_t k = std::min(n, peeked_.size() - peeked_at_);
      std::memcpy(buf, peeked_.data() + peeked_at_, k);
      peeked_at_ += k;
      *got = k;
      return Status::Ok();
    }
    return ReadFd(buf, n, got);
  }

  // Reads up to n bytes ahead (fewer only at the end) without consuming them.
  Status Peek(size_t n, std::string* out) {
    while (peeked_.size() < n) {
      char buf[16];
      size_t got = 0;
      Status st = ReadFd(buf, n - peeked_.size(), &got);
      if (!st.ok()) return st;
      if (got == 0) break;
      peeked_.append(buf, got);
    }
    *out = peeked_;
    return Status::Ok();
  }

  uint64_t bytes() const { return bytes_; }

 private:
  // One read(2) of fd_, once Wait says it has something to say.
  Status ReadFd(char* buf, size_t n, size_t* got) {
    Status st = Wait();
    if (!st.ok()) return st;
    for (;;) {
      const ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        *got = static_cast<size_t>(r);
        bytes_ += *got;
        return Status::Ok();
      }
      if (errno != EINTR) return Status::IOError(name_ + ": read: " + std::strerror(errno));
    }
  }

  // Until fd_ has something to say (bytes, the end, an error) or the
  // stream is cancelled.
  Status Wait() const {
    if (!waits_) return Status::Ok();
    for (;;) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {cancel_, POLLIN, 0}};
      const int r = ::poll(p, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::IOError(name_ + ": poll: " + std::strerror(errno));
      if (p[1].revents != 0) return Status::IOError(name_ + ": read: cancelled");
      if (p[0].revents != 0) return Status::Ok();
    }
  }

  std::string name_;
  int fd_;
  bool owned_;
  int cancel_;   // InputStream::cancel_fd_, not owned
  bool waits_;   // not a regular file: Wait before reading
  std::string peeked_;
  size_t peeked_at_ = 0;
  uint64_t bytes_ = 0;
};

class PlainStream : public InputStream {
 public:
  explicit PlainStream(std::unique_ptr<Source> src) : src_(std::move(src)) {}
  Status Read(char* buf, size_t n, size_t* got) override {
    Status st = src_->Read(buf, n, got);
    raw_bytes_ = src_->bytes();
    return st;
  }

 private:
  std::unique_ptr<Source> src_;
};

// gzip (RFC 1952), members one after another as `cat a.gz b.gz` makes them.
class GzipStream : public InputStream {
 public:
  explicit GzipStream(std::unique_ptr<Source> src) : src_(std::move(src)), in_(kRawBufferBytes) {
    std::memset(&z_, 0, sizeof z_);
  }
  ~GzipStream() override {
    if (init_) inflateEnd(&z_);
  }
  Status Init() {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) return Status::IOError(name_ + ": zlib: cannot start");
    init_ = true;
    return Status::Ok();
  }
  Status Read(char* buf, size_t n, size_t* got) override {
    *got = 0;
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(n, UINT32_MAX));
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0) {
        size_t k = 0;
        Status st = src_->Read(in_.data(), in_.size(), &k);
        raw_bytes_ = src_->bytes();
        if (!st.ok()) return st;
        if (k == 0) {
          if (!in_member_) break;  // the end, between members
          return Status::Corruption(name_ + ": gzip stream ends inside a member (truncated)");
        }
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(k);
      }
      in_member_ = true;
      const int r = inflate(&z_, Z_NO_FLUSH);
      if (r == Z_STREAM_END) {
        in_member_ = false;
        if (inflateReset(&z_) != Z_OK) return Status::IOError(name_ + ": zlib: cannot reset");
        continue;
      }
      if (r != Z_OK && r != Z_BUF_ERROR) {
        return Status::Corruption(name_ + ": gzip: " + (z_.msg ? z_.msg : "damaged data") +
                                  " (after " + std::to_string(z_.total_in) + " bytes)");
      }
      if (r == Z_BUF_ERROR && z_.avail_in > 0) {
        return Status::Corruption(name_ + ": gzip: no progress (damaged data)");
      }
    }
    *got = n - z_.avail_out;
    return Status::Ok();
  }

 private:
  std::unique_ptr<Source> src_;
  std::vector<char> in_;
  z_stream z_;
  bool init_ = false;
  bool in_member_ = false;
};

// zstd (RFC 8878), frames one after another.
class ZstdStream : public InputStream {
 public:
  explicit ZstdStream(std::unique_ptr<Source> src)
      : src_(std::move(src)), in_(ZSTD_DStreamInSize()), ds_(ZSTD_createDStream()) {}
  ~ZstdStream() override { ZSTD_freeDStream(ds_); }
  Status Init() {
    if (ds_ == nullptr) return Status::IOError(name_ + ": zstd: cannot start");
    // A frame may ask for at most 2^27 bytes of window (128 MiB, zstd's
    // default limit): a dump cannot make the reader allocate more.
    ZSTD_DCtx_setParameter(ds_, ZSTD_d_windowLogMax, 27);
    return Status::Ok();
  }
  Status Read(char* buf, size_t n, size_t* got) override {
    *got = 0;
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos < out.size) {
      if (inb_.pos == inb_.size) {
        size_t k = 0;
        Status st = src_->Read(in_.data(), in_.size(), &k);
        raw_bytes_ = src_->bytes();
        if (!st.ok()) return st;
        if (k == 0) {
          if (frame_done_) break;
          return Status::Corruption(name_ + ": zstd stream ends inside a frame (truncated)");
        }
        inb_ = ZSTD_inBuffer{in_.data(), k, 0};
      }
      const size_t r = ZSTD_decompressStream(ds_, &out, &inb_);
      if (ZSTD_isError(r)) {
        return Status::Corruption(name_ + ": zstd: " + ZSTD_getErrorName(r));
      }
      frame_done_ = r == 0;
    }
    *got = out.pos;
    return Status::Ok();
  }

 private:
  std::unique_ptr<Source> src_;
  std::vector<char> in_;
  ZSTD_DStream* ds_;
  ZSTD_inBuffer inb_{nullptr, 0, 0};
  bool frame_done_ = true;
};

}  // namespace

InputStream::~InputStream() {
  if (cancel_fd_ >= 0) ::close(cancel_fd_);
}

void InputStream::Cancel() {
  if (cancel_fd_ < 0) return;
  const uint64_t one = 1;
  // The count only grows: once set, every later wait sees it. The eventfd
  // is non-blocking, so a full counter (2^64 - 2 cancels) fails the write
  // instead of blocking, and still reads as set.
  [[maybe_unused]] const ssize_t r = ::write(cancel_fd_, &one, sizeof one);
}

std::string InputName(const std::string& path) {
  return path == "-" ? std::string("standard input") : path;
}

std::string WithoutCompressionSuffix(const std::string& path) {
  for (const std::string_view ext : {".gz", ".zst"}) {
    if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0) {
      return path.substr(0, path.size() - ext.size());
    }
  }
  return path;
}

Status InputStream::Open(const std::string& path, std::unique_ptr<InputStream>* out) {
  const std::string name = InputName(path);
  int fd = 0;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(path + ": cannot open for reading: " + std::strerror(errno));
  }
  const int cancel = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel < 0) {
    const int err = errno;
    if (path != "-") ::close(fd);
    return Status::IOError(name + ": eventfd: " + std::strerror(err));
  }
  auto src = std::make_unique<Source>(name, fd, path != "-", cancel);
  // Whichever stream takes src owns `cancel` from here (InputStream's
  // destructor closes it, after src's, a member of the derived stream).
  auto adopt = [cancel](InputStream* s) { s->cancel_fd_ = cancel; };
  std::string magic;
  Status st = src->Peek(4, &magic);
  if (!st.ok()) {
    ::close(cancel);
    return st;
  }
  std::unique_ptr<InputStream> stream;
  if (magic.size() >= 2 && magic[0] == '\x1f' && magic[1] == '\x8b') {
    auto gz = std::make_unique<GzipStream>(std::move(src));
    adopt(gz.get());
    gz->name_ = name;
    st = gz->Init();
    gz->compression_ = Compression::kGzip;
    stream = std::move(gz);
  } else if (magic == std::string_view("\x28\xb5\x2f\xfd", 4)) {
    auto zs = std::make_unique<ZstdStream>(std::move(src));
    adopt(zs.get());
    zs->name_ = name;
    st = zs->Init();
    zs->compression_ = Compression::kZstd;
    stream = std::move(zs);
  } else {
    stream = std::make_unique<PlainStream>(std::move(src));
    adopt(stream.get());
  }
  if (!st.ok()) return st;
  stream->name_ = name;
  *out = std::move(stream);
  return Status::Ok();
}

}  // namespace billsim::bulk
