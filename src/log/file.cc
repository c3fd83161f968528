#include "log/file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include <xxhash.h>

#include "util/assert.h"
#include "util/endian.h"

namespace billsim::log {

namespace {

constexpr size_t kReadChunk = 4 << 20;  // 4 MiB sequential reads and writes

}  // namespace

AppendFile::~AppendFile() { (void)Close(); }

Status AppendFile::Open(const std::string& path, Env* env) {
  (void)Close();
  path_ = path;
  return EnvOrDefault(env)->NewAppendableFile(path, &file_);
}

Status AppendFile::Append(std::string_view a, std::string_view b) {
  BILLSIM_ASSERT(file_ != nullptr);
  return file_->Append(a, b);
}

Status AppendFile::Sync() {
  BILLSIM_ASSERT(file_ != nullptr);
  return file_->Sync();
}

Status AppendFile::Duplicate(SyncHandle* out) const {
  BILLSIM_ASSERT(file_ != nullptr);
  SyncHandle h;
  Status st = file_->NewSyncHandle(&h.file_);
  if (!st.ok()) return st;
  *out = std::move(h);
  return Status::Ok();
}

Status AppendFile::Close() {
  if (file_ == nullptr) return Status::Ok();
  Status st = file_->Close();
  file_.reset();
  return st;
}

ReadFile::~ReadFile() = default;

Status ReadFile::Open(const std::string& path, Env* env) {
  // A reader may be reopened on another file: nothing of the last one may
  // survive, least of all its buffered bytes.
  file_.reset();
  size_ = 0;
  buf_offset_ = 0;
  buf_len_ = 0;
  path_ = path;
  Status st = EnvOrDefault(env)->NewRandomAccessFile(path, &file_);
  if (!st.ok()) return st;
  size_ = file_->size();
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
    Status st = file_->Read(offset, want, buf_.data(), &filled);
    if (!st.ok()) {
      buf_len_ = 0;
      return st;
    }
    buf_offset_ = offset;
    buf_len_ = filled;
    n = std::min(n, filled);
  }
  *data = buf_.data() + (offset - buf_offset_);
  *got = n;
  return Status::Ok();
}

Status SyncDir(const std::string& dir, Env* env) {
  return EnvOrDefault(env)->SyncDir(dir);
}

Status TruncateFile(const std::string& path, uint64_t size, Env* env) {
  return EnvOrDefault(env)->TruncateFile(path, size);
}

Status WriteFileAtomic(const std::string& path, std::string_view data, Env* env) {
  return WriteFileAtomic(path, [data](AppendFile* f) { return f->Append(data); }, env);
}

Status WriteFileAtomic(const std::string& path, const std::function<Status(AppendFile*)>& write,
                       Env* env) {
  // Temporary file, fsync, rename over, fsync the directory: a reader sees
  // the old file or the whole new one, never a part.
  env = EnvOrDefault(env);
  const std::string tmp = path + ".tmp";
  {
    AppendFile f;
    (void)env->RemoveFile(tmp);
    Status st = f.Open(tmp, env);
    if (st.ok()) st = write(&f);
    if (st.ok()) st = f.Sync();
    if (st.ok()) st = f.Close();
    if (!st.ok()) return st;
  }
  Status st = env->RenameFile(tmp, path);
  if (!st.ok()) return st;
  return env->SyncDir(std::filesystem::path(path).parent_path().string());
}

Status WriteFileAtomicStreamed(const std::string& path, uint32_t magic, uint16_t version,
                               const std::function<void(const PieceSink&)>& body, Env* env) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(),
                                                                 &XXH3_freeState);
  BILLSIM_ASSERT(hash != nullptr);
  XXH3_64bits_reset(hash.get());
  uint64_t size = 0;
  body([&](std::string_view piece) {
    size += piece.size();
    XXH3_64bits_update(hash.get(), piece.data(), piece.size());
  });
  std::string head;
  const auto put = [&head](uint64_t v, int bytes) { AppendLittleEndian(v, bytes, &head); };
  put(magic, 4);
  put(version, 2);
  put(0, 2);
  put(size, 8);
  put(XXH3_64bits_digest(hash.get()), 8);
  BILLSIM_ASSERT(head.size() == kStreamedHeader);
  return WriteFileAtomic(
      path,
      [&](AppendFile* file) {
        std::string buffer = head;
        uint64_t written = 0;
        Status st;
        body([&](std::string_view piece) {
          written += piece.size();
          if (!st.ok()) return;  // counted only: the write failed
          buffer.append(piece);
          if (buffer.size() >= kReadChunk) {
            st = file->Append(buffer);
            buffer.clear();
          }
        });
        if (st.ok()) st = file->Append(buffer);
        // A body that differs the second time is a bug in its producer,
        // caught before the rename.
        BILLSIM_ASSERT(written == size);
        return st;
      },
      env);
}

Status OpenStreamedFile(const std::string& path, uint32_t magic, uint16_t version,
                        std::string_view what, ReadFile* file, Env* env) {
  Status st = file->Open(path, env);
  if (!st.ok()) return st;
  const uint8_t* data = nullptr;
  size_t got = 0;
  st = file->Read(0, kStreamedHeader, &data, &got);
  if (!st.ok()) return st;
  const auto get = [&data](size_t at, int bytes) { return LoadLittleEndian(data + at, bytes); };
  if (got < kStreamedHeader || get(0, 4) != magic || get(4, 2) != version) {
    return Status::Corruption(path + ": not a " + std::string(what));
  }
  const uint64_t size = get(8, 8);
  const uint64_t checksum = get(16, 8);
  const Status bad = Status::Corruption(path + ": checksum mismatch or truncated");
  if (size != file->size() - kStreamedHeader) return bad;
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(),
                                                                 &XXH3_freeState);
  BILLSIM_ASSERT(hash != nullptr);
  XXH3_64bits_reset(hash.get());
  for (uint64_t at = kStreamedHeader; at < file->size(); at += got) {
    st = file->Read(at, static_cast<size_t>(std::min<uint64_t>(kReadChunk, file->size() - at)),
                    &data, &got);
    if (!st.ok()) return st;
    if (got == 0) return bad;
    XXH3_64bits_update(hash.get(), data, got);
  }
  return XXH3_64bits_digest(hash.get()) == checksum ? Status::Ok() : bad;
}

Status ReadWholeFile(const std::string& path, std::string* out, Env* env) {
  ReadFile f;
  Status st = f.Open(path, env);
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

Status CreateDir(const std::string& dir, Env* env) {
  return EnvOrDefault(env)->CreateDir(dir);
}

}  // namespace billsim::log
