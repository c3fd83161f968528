#include "replay/snapshot_store.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "log/file.h"
#include "log/log_dir.h"
#include "log/segment_reader.h"
#include "util/varint.h"

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
  auto snap = std::make_unique<v1::Snapshot>();
  if (!snap->ParseFromArray(data.data() + kSnapshotHeader, static_cast<int>(len))) {
    return Status::Corruption(path + ": body does not parse");
  }
  std::string().swap(data);  // only one copy of a large book at a time
  if (snap->last_seq() != seq) return Status::Corruption(path + ": sequence mismatch");
  if (snap->last_seq() > max_seq || snap->state().clock_us() > max_time_us) {
    return Status::NotFound(path + ": after the replay target");
  }
  log::Chain chain;
  st = ChainAt(log_dir, seq, &chain, env);
  if (!st.ok()) return Status::Corruption(path + ": " + st.message());
  if (snap->chain().size() != chain.size() ||
      std::memcmp(snap->chain().data(), chain.data(), chain.size()) != 0) {
    return Status::Corruption(path + ": does not belong to this log (chain differs)");
  }
  st = ledger->RestoreState(snap->state());
  if (!st.ok()) return Status::Corruption(path + ": " + st.message());
  const std::string recorded = snap->state_digest();
  snap.reset();
  if (ledger->Digest() != recorded) {
    return Status::Corruption(path + ": restored state digest differs from the recorded one");
  }
  return Status::Ok();
}

}  // namespace

std::string SnapshotDir(const std::string& log_dir) { return log::SnapshotDir(log_dir); }

Status WriteSnapshot(const std::string& log_dir, const Ledger& ledger, uint64_t last_seq,
                     const log::Chain& chain, std::string* path, log::Env* env) {
  // A v1::Snapshot, written without building one (a book of millions of
  // campaigns would be held twice more): its first fields, then the state
  // (field 5) streamed from the ledger, after the header that frames it.
  v1::Snapshot head;
  head.set_format_version(kSnapshotVersion);
  head.set_last_seq(last_seq);
  head.set_chain(chain.data(), chain.size());
  head.set_state_digest(ledger.Digest());
  uint64_t state_size = 0;
  ledger.SerializeState([&state_size](std::string_view piece) { state_size += piece.size(); });
  std::string data(kSnapshotHeader, '\0');
  if (!head.AppendToString(&data)) return Status::IOError("snapshot: cannot serialize");
  AppendVarint(&data, v1::Snapshot::kStateFieldNumber << 3 | 2);
  AppendVarint(&data, state_size);
  data.reserve(data.size() + state_size);
  ledger.SerializeState([&data](std::string_view piece) { data.append(piece); });
  const size_t body_size = data.size() - kSnapshotHeader;
  std::string header;
  Put(&header, kSnapshotMagic, 4);
  Put(&header, kSnapshotVersion, 2);
  Put(&header, 0, 2);
  Put(&header, body_size, 8);
  Put(&header, XXH3_64bits(data.data() + kSnapshotHeader, body_size), 8);
  data.replace(0, kSnapshotHeader, header);
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
