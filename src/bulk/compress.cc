#include "bulk/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>

namespace billsim::bulk {

namespace {

Status Gzip(std::string_view in, int level, std::string* out) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::InvalidArgument("gzip: cannot start at level " + std::to_string(level));
  }
  char buf[1 << 16];
  size_t at = 0;
  int rc = Z_OK;
  for (bool last = false; !last;) {
    // avail_in is 32 bits: feed at most 1 GiB at a time.
    const size_t n = std::min<size_t>(in.size() - at, size_t{1} << 30);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + at));
    z.avail_in = static_cast<uInt>(n);
    at += n;
    last = at == in.size();
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      out->append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return rc == Z_STREAM_END ? Status::Ok()
                            : Status::IOError("gzip: deflate ended with code " + std::to_string(rc));
}

Status Zstd(std::string_view in, int level, std::string* out) {
  out->resize(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress(out->data(), out->size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) {
    out->clear();
    return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  out->resize(n);
  return Status::Ok();
}

}  // namespace

Status Compress(Compression compression, std::string_view in, int level, std::string* out) {
  out->clear();
  switch (compression) {
    case Compression::kNone:
      out->assign(in);
      return Status::Ok();
    case Compression::kGzip:
      return Gzip(in, level, out);
    case Compression::kZstd:
      return Zstd(in, level, out);
  }
  return Status::InvalidArgument("unknown compression");
}

}  // namespace billsim::bulk
