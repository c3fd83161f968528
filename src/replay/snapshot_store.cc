#include "replay/snapshot_store.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "log/file.h"
#include "log/log_dir.h"
#include "log/segment_reader.h"

namespace billsim {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kSnapshotMagic = 0x4e535342;  // "BSSN"
constexpr uint16_t kSnapshotVersion = 1;
constexpr size_t kSnapshotHeader = 24;

using log::SnapshotPath;

void Put(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t Get(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
  return v;
}

// Loads and checks one snapshot file; OK only if every check passes.
Status TryLoad(const std::string& log_dir, uint64_t seq, uint64_t max_seq,
               int64_t max_time_us, Ledger* ledger, log::Env* env) {
  const std::string path = SnapshotPath(log_dir, seq);
  std::string data;
  Status st = log::ReadWholeFile(path, &data, env);
  if (!st.ok()) return st;
  if (data.size() < kSnapshotHeader || Get(data, 0, 4) != kSnapshotMagic ||
      Get(data, 4, 2) != kSnapshotVersion) {
    return Status::Corruption(path + ": not a billsim snapshot");
  }
  const uint64_t len = Get(data, 8, 8);
  if (len != data.size() - kSnapshotHeader ||
      XXH3_64bits(data.data() + kSnapshotHeader, len) != Get(data, 16, 8)) {
    return Status::Corruption(path + ": checksum mismatch or truncated");
  }
  v1::Snapshot snap;
  if (!snap.ParseFromArray(data.data() + kSnapshotHeader, static_cast<int>(len))) {
    return Status::Corruption(path + ": body does not parse");
  }
  if (snap.last_seq() != seq) return Status::Corruption(path + ": sequence mismatch");
  if (snap.last_seq() > max_seq || snap.state().clock_us() > max_time_us) {
    return Status::NotFound(path + ": after the replay target");
  }
  log::Chain chain;
  st = ChainAt(log_dir, seq, &chain, env);
  if (!st.ok()) return Status::Corruption(path + ": " + st.message());
  if (snap.chain().size() != chain.size() ||
      std::memcmp(snap.chain().data(), chain.data(), chain.size()) != 0) {
    return Status::Corruption(path + ": does not belong to this log (chain differs)");
  }
  st = ledger->RestoreState(snap.state());
  if (!st.ok()) return Status::Corruption(path + ": " + st.message());
  if (ledger->Digest() != snap.state_digest()) {
    return Status::Corruption(path + ": restored state digest differs from the recorded one");
  }
  return Status::Ok();
}

}  // namespace

std::string SnapshotDir(const std::string& log_dir) { return log::SnapshotDir(log_dir); }

Status WriteSnapshot(const std::string& log_dir, const Ledger& ledger, uint64_t last_seq,
                     const log::Chain& chain, std::string* path, log::Env* env) {
  v1::Snapshot snap;
  snap.set_format_version(kSnapshotVersion);
  snap.set_last_seq(last_seq);
  snap.set_chain(chain.data(), chain.size());
  snap.set_state_digest(ledger.Digest());
  ledger.SaveState(snap.mutable_state());
  std::string body;
  if (!snap.SerializeToString(&body)) return Status::IOError("snapshot: cannot serialize");
  std::string data;
  Put(&data, kSnapshotMagic, 4);
  Put(&data, kSnapshotVersion, 2);
  Put(&data, 0, 2);
  Put(&data, body.size(), 8);
  Put(&data, XXH3_64bits(body.data(), body.size()), 8);
  data += body;
  Status st = log::CreateDir(SnapshotDir(log_dir), env);
  if (!st.ok()) return st;
  *path = SnapshotPath(log_dir, last_seq);
  return log::WriteFileAtomic(*path, data, env);
}

Status ListSnapshots(const std::string& log_dir, std::vector<uint64_t>* seqs,
                     log::Env* env) {
  return log::ListSnapshotSeqs(log_dir, seqs, env);
}

Status LoadNewestSnapshot(const std::string& log_dir, uint64_t max_seq,
                          int64_t max_time_us, Ledger* ledger, uint64_t* seq,
                          log::Env* env) {
  *seq = 0;
  std::vector<uint64_t> seqs;
  Status st = ListSnapshots(log_dir, &seqs, env);
  if (!st.ok()) return st;
  for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
    if (*it > max_seq) continue;
    st = TryLoad(log_dir, *it, max_seq, max_time_us, ledger, env);
    if (st.ok()) {
      *seq = *it;
      return Status::Ok();
    }
    if (st.code() != Status::Code::kNotFound) {
      spdlog::warn("skipping snapshot: {}", st.message());
    }
  }
  return Status::Ok();
}

Status ChainAt(const std::string& log_dir, uint64_t seq, log::Chain* chain,
               log::Env* env) {
  std::vector<uint64_t> segments;
  Status st = log::ListSegments(log_dir, &segments, env);
  if (!st.ok()) return st;
  auto it = std::upper_bound(segments.begin(), segments.end(), seq);
  if (it == segments.begin()) return Status::NotFound("no batch ends at sequence " + std::to_string(seq));
  const uint64_t first = *std::prev(it);
  std::vector<log::IndexEntry> index;
  bool clean = false;
  st = log::ReadIndex(log::IndexPath(log_dir, first), &index, &clean, env);
  if (!st.ok()) return st;
  // The batch that ends at `seq` starts at the index entry before the one
  // that starts at seq + 1 (or is the segment's last).
  for (size_t i = 0; i < index.size(); ++i) {
    const bool ends_here =
        (i + 1 < index.size() && index[i + 1].first_seq == seq + 1) || i + 1 == index.size();
    if (!ends_here || index[i].first_seq > seq) continue;
    log::SegmentReader reader;
    log::SegmentReader::Options options;
    options.env = env;
    st = reader.Open(log::SegmentPath(log_dir, first), index[i].offset, index[i].first_seq,
                     log::Chain{}, options);
    if (!st.ok()) return st;
    log::BatchView batch;
    if (reader.Read(&batch) != log::SegmentReader::Next::kBatch ||
        batch.header.last_seq() != seq) {
      continue;
    }
    *chain = batch.header.chain;
    return Status::Ok();
  }
  return Status::NotFound("no batch ends at sequence " + std::to_string(seq));
}

}  // namespace billsim
