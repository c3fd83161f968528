#include "log/log_dir.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "log/file.h"
#include "log/format.h"
#include "util/endian.h"

namespace billsim::log {

namespace fs = std::filesystem;

Status ListSegments(const std::string& dir, std::vector<uint64_t>* firsts, Env* env) {
  firsts->clear();
  env = EnvOrDefault(env);
  if (!env->FileExists(dir)) {
    return Status::NotFound(dir + ": no such log directory");
  }
  std::vector<std::string> names;
  Status st = env->GetChildren(dir, &names);
  if (!st.ok()) return st;
  for (const std::string& name : names) {
    uint64_t first = 0;
    if (ParseSegmentName(name, &first)) firsts->push_back(first);
  }
  std::sort(firsts->begin(), firsts->end());
  return Status::Ok();
}

std::string SegmentPath(const std::string& dir, uint64_t first_seq) {
  return (fs::path(dir) / SegmentName(first_seq)).string();
}

std::string IndexPath(const std::string& dir, uint64_t first_seq) {
  return (fs::path(dir) / IndexName(first_seq)).string();
}

std::string StagedPath(const std::string& path) {
  return path + std::string(kStagedSuffix);
}

Status RemoveStagedFiles(const std::string& dir, Env* env) {
  env = EnvOrDefault(env);
  std::vector<std::string> names;
  Status st = env->GetChildren(dir, &names);
  if (!st.ok()) return st;
  for (const std::string& name : names) {
    if (!name.ends_with(kStagedSuffix)) continue;
    const std::string base = name.substr(0, name.size() - kStagedSuffix.size());
    uint64_t first = 0;
    if (!ParseSegmentName(base, &first) && !ParseIndexName(base, &first)) continue;
    const std::string path = (fs::path(dir) / name).string();
    spdlog::warn("log recovery: removing {}: a stage from sequence {} that never "
                 "committed (an --atomic append cut short); it was never part of the log",
                 path, first);
    st = env->RemoveFile(path);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

std::string EncodeIndexEntry(const IndexEntry& e) {
  uint8_t buf[kIndexEntrySize];
  StoreLittleEndian(e.first_seq, 8, buf);
  StoreLittleEndian(e.offset, 8, buf + 8);
  StoreLittleEndian(XXH3_64bits(buf, 16), 8, buf + 16);
  return std::string(reinterpret_cast<const char*>(buf), kIndexEntrySize);
}

Status ReadIndex(const std::string& path, std::vector<IndexEntry>* entries,
                 bool* clean, Env* env) {
  entries->clear();
  *clean = false;
  if (!EnvOrDefault(env)->FileExists(path)) return Status::Ok();
  std::string data;
  Status st = ReadWholeFile(path, &data, env);
  if (!st.ok()) return st;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t at = 0;
  for (; at + kIndexEntrySize <= data.size(); at += kIndexEntrySize) {
    if (XXH3_64bits(p + at, 16) != LoadLittleEndian(p + at + 16, 8)) return Status::Ok();
    entries->push_back({LoadLittleEndian(p + at, 8), LoadLittleEndian(p + at + 8, 8)});
  }
  *clean = at == data.size();
  return Status::Ok();
}

Status WriteIndex(const std::string& path, const std::vector<IndexEntry>& entries,
                  Env* env) {
  std::string data;
  data.reserve(entries.size() * kIndexEntrySize);
  for (const auto& e : entries) data += EncodeIndexEntry(e);
  return WriteFileAtomic(path, data, env);
}

std::string SnapshotDir(const std::string& dir) {
  return (fs::path(dir) / "snapshots").string();
}

std::string SnapshotPath(const std::string& dir, uint64_t seq) {
  char name[64];
  std::snprintf(name, sizeof name, "snapshot-%020" PRIu64 ".bin", seq);
  return (fs::path(SnapshotDir(dir)) / name).string();
}

Status ListSnapshotSeqs(const std::string& dir, std::vector<uint64_t>* seqs,
                        Env* env) {
  seqs->clear();
  env = EnvOrDefault(env);
  const std::string snapshots = SnapshotDir(dir);
  if (!env->FileExists(snapshots)) return Status::Ok();
  std::vector<std::string> names;
  Status st = env->GetChildren(snapshots, &names);
  if (!st.ok()) return st;
  for (const std::string& name : names) {
    uint64_t seq = 0;
    if (ParseSnapshotName(name, &seq)) seqs->push_back(seq);
  }
  std::sort(seqs->begin(), seqs->end());
  return Status::Ok();
}

}  // namespace billsim::log
