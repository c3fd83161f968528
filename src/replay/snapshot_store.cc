#include "replay/snapshot_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "log/file.h"
#include "log/log_dir.h"
#include "log/segment_reader.h"
#include "replay/state_stream.h"
#include "util/assert.h"
#include "util/varint.h"

namespace billsim {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kSnapshotMagic = 0x4e535342;  // "BSSN"
constexpr uint16_t kSnapshotVersion = 1;

using log::SnapshotPath;

// Loads and checks one snapshot file; OK only if every check passes. Two
// passes over the file (the checksum, then the fields), holding one field
// at a time: the ledger restored is the only copy of a large book.
Status TryLoad(const std::string& log_dir, uint64_t seq, uint64_t max_seq,
               int64_t max_time_us, Ledger* ledger, log::Env* env) {
  const std::string path = SnapshotPath(log_dir, seq);
  log::ReadFile file;
  Status st = log::OpenStreamedFile(path, kSnapshotMagic, kSnapshotVersion, "billsim snapshot",
                                    &file, env);
  if (!st.ok()) return st;
  // The body: v1::Snapshot's fields 1-4, then its state (field 5).
  FileBytes bytes(&file);
  FieldReader body(&bytes, log::kStreamedHeader, file.size(), "body");
  auto corrupt = [&path](const std::string& what) { return Status::Corruption(path + ": " + what); };
  std::string head_bytes;
  FieldReader::Field f;
  for (;;) {
    if (body.done()) return corrupt("body does not parse (no state)");
    st = body.Next(&f);
    if (!st.ok()) return corrupt(st.message());
    if (f.number == v1::Snapshot::kStateFieldNumber && f.delimited) break;
    if (f.number > v1::Snapshot::kStateFieldNumber || f.payload > kSmallFieldMax) {
      return corrupt("body does not parse");
    }
    std::string_view whole, value;
    st = body.Read(f, &whole, &value);
    if (!st.ok()) return corrupt(st.message());
    head_bytes.append(whole);
  }
  v1::Snapshot head;
  if (!head.ParseFromString(head_bytes)) return corrupt("body does not parse");
  if (head.last_seq() != seq) return corrupt("sequence mismatch");
  if (head.last_seq() > max_seq) return Status::NotFound(path + ": after the replay target");
  log::Chain chain;
  st = ChainAt(log_dir, seq, &chain, env);
  if (!st.ok()) return corrupt(st.message());
  if (head.chain().size() != chain.size() ||
      std::memcmp(head.chain().data(), chain.data(), chain.size()) != 0) {
    return corrupt("does not belong to this log (chain differs)");
  }
  FieldReader state = body.Sub(f, "state");
  if (!body.done()) return corrupt("body does not parse (after the state)");
  Ledger::Restorer restorer(ledger->options());
  v1::LedgerState fields;
  st = RestoreStateFields(&state, max_time_us, &restorer, &fields);
  if (st.code() == Status::Code::kNotFound) return Status::NotFound(path + ": " + st.message());
  if (st.ok()) st = restorer.Finish(fields);
  if (!st.ok()) return corrupt(st.message());
  if (restorer.Digest() != head.state_digest()) {
    return corrupt("restored state digest differs from the recorded one");
  }
  restorer.CommitTo(ledger);
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
  uint64_t state_size = 0;
  head.set_state_digest(ledger.Digest(&state_size));
  std::string first;  // the body up to the state's bytes
  if (!head.AppendToString(&first)) return Status::IOError("snapshot: cannot serialize");
  AppendVarint(&first, v1::Snapshot::kStateFieldNumber << 3 | 2);
  AppendVarint(&first, state_size);
  Status st = log::CreateDir(SnapshotDir(log_dir), env);
  if (!st.ok()) return st;
  *path = SnapshotPath(log_dir, last_seq);
  // The checksum leads the file: one pass to compute it, one to write.
  return log::WriteFileAtomicStreamed(
      *path, kSnapshotMagic, kSnapshotVersion,
      [&](const log::PieceSink& sink) {
        sink(first);
        uint64_t n = 0;
        ledger.SerializeState([&](std::string_view piece) {
          n += piece.size();
          sink(piece);
        });
        BILLSIM_ASSERT(n == state_size);  // the length `first` framed it with
      },
      env);
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
