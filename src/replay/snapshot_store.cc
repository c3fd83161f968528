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
#include "util/assert.h"
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

uint64_t Get(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

constexpr size_t kChunk = 4 << 20;  // bytes read or written at a time

// A Protocol Buffers message's fields read one at a time from [begin, end)
// of a file, through the file's one buffer: a body of any size costs the
// largest single field, not the body. Fields must come in number order (as
// a deterministic serialization writes them); only varint and
// length-delimited fields exist in a snapshot.
class FieldReader {
 public:
  struct Field {
    uint32_t number = 0;
    uint64_t start = 0;    // of its tag
    uint64_t header = 0;   // tag (and length) bytes
    uint64_t payload = 0;  // value bytes (a varint's own, or the length's)
    bool delimited = false;
  };

  FieldReader(log::ReadFile* file, uint64_t begin, uint64_t end, std::string what)
      : file_(file), at_(begin), end_(end), what_(std::move(what)) {}

  bool done() const { return at_ == end_; }

  // The next field's framing, without reading its value.
  Status Next(Field* f) {
    f->start = at_;
    uint64_t tag = 0;
    size_t n = 0;
    Status st = Varint(at_, &tag, &n);
    if (!st.ok()) return st;
    f->number = static_cast<uint32_t>(tag >> 3);
    const int wire = static_cast<int>(tag & 7);
    if (f->number == 0 || tag >> 32 != 0 || (wire != 0 && wire != 2)) {
      return Bad("a field of wire type " + std::to_string(wire) + " or number 0");
    }
    if (f->number < last_number_) {
      return Bad("field " + std::to_string(f->number) + " after field " +
                 std::to_string(last_number_));
    }
    last_number_ = f->number;
    uint64_t value = 0;
    size_t m = 0;
    st = Varint(at_ + n, &value, &m);
    if (!st.ok()) return st;
    f->delimited = wire == 2;
    f->header = f->delimited ? n + m : n;
    f->payload = f->delimited ? value : m;
    if (f->payload > end_ - at_ - f->header) {
      return Bad("field " + std::to_string(f->number) + " runs past the end");
    }
    return Status::Ok();
  }

  // The whole field (framing and value) and its value; valid until the
  // next read of this file.
  Status Read(const Field& f, std::string_view* whole, std::string_view* value) {
    const uint8_t* data = nullptr;
    size_t got = 0;
    const uint64_t size = f.header + f.payload;
    Status st = file_->Read(f.start, static_cast<size_t>(size), &data, &got);
    if (!st.ok()) return st;
    if (got != size) return Bad("the file is shorter than it says");
    *whole = std::string_view(reinterpret_cast<const char*>(data), got);
    *value = whole->substr(f.header);
    at_ = f.start + size;
    return Status::Ok();
  }

  // Moves past a length-delimited field whose value is read by another
  // reader (Sub).
  FieldReader Sub(const Field& f, std::string what) {
    at_ = f.start + f.header + f.payload;
    return FieldReader(file_, f.start + f.header, at_, std::move(what));
  }

 private:
  Status Varint(uint64_t at, uint64_t* v, size_t* n) {
    const uint8_t* data = nullptr;
    size_t got = 0;
    Status st = file_->Read(at, static_cast<size_t>(std::min<uint64_t>(10, end_ - at)), &data, &got);
    if (!st.ok()) return st;
    *v = 0;
    for (size_t i = 0; i < got; ++i) {
      *v |= static_cast<uint64_t>(data[i] & 0x7f) << (7 * i);
      if ((data[i] & 0x80) == 0) {
        *n = i + 1;
        return Status::Ok();
      }
    }
    return Bad("a varint runs past the end");
  }
  Status Bad(const std::string& what) const {
    return Status::Corruption(what_ + " at byte " + std::to_string(at_) + ": " + what);
  }

  log::ReadFile* file_;
  uint64_t at_;
  uint64_t end_;
  std::string what_;
  uint32_t last_number_ = 0;
};

// The snapshot's state (v1::LedgerState), entity by entity into a
// restorer; its other fields are collected into `fields`.
Status RestoreStream(FieldReader* in, int64_t max_time_us, Ledger::Restorer* restorer,
                     v1::LedgerState* fields) {
  std::string other;  // the other fields' bytes, parsed as one message
  bool other_parsed = false;
  // The fields before the entities, parsed once the first entity comes
  // (and at the end): a state after the target is skipped before any work.
  auto parse_other = [&]() -> Status {
    if (other_parsed) return Status::Ok();
    other_parsed = true;
    if (!fields->ParseFromString(other)) return Status::Corruption("state fields do not parse");
    if (fields->clock_us() > max_time_us) return Status::NotFound("after the replay target");
    return Status::Ok();
  };
  v1::LedgerState::Account account;
  v1::LedgerState::Grant grant;
  v1::LedgerState::Campaign campaign;
  v1::LedgerState::Dispute dispute;
  v1::LedgerState::Timer timer;
  auto parse = [](google::protobuf::MessageLite* m, std::string_view v, const char* what) {
    return m->ParseFromArray(v.data(), static_cast<int>(v.size()))
               ? Status::Ok()
               : Status::Corruption(std::string(what) + " does not parse");
  };
  while (!in->done()) {
    FieldReader::Field f;
    Status st = in->Next(&f);
    std::string_view whole, value;
    if (st.ok()) st = in->Read(f, &whole, &value);
    if (!st.ok()) return st;
    using S = v1::LedgerState;
    const bool entity = f.number >= S::kAccountsFieldNumber && f.number <= S::kTimersFieldNumber;
    if (entity && (!f.delimited || f.payload > INT32_MAX)) {
      return Status::Corruption("field " + std::to_string(f.number) + " is malformed");
    }
    if (entity && !other_parsed && !(st = parse_other()).ok()) return st;
    switch (f.number) {
      case S::kAccountsFieldNumber:
        if ((st = parse(&account, value, "an account")).ok()) st = restorer->AddAccount(account);
        break;
      case S::kGrantsFieldNumber:
        if ((st = parse(&grant, value, "a grant")).ok()) st = restorer->AddGrant(grant);
        break;
      case S::kCampaignsFieldNumber:
        if ((st = parse(&campaign, value, "a campaign")).ok()) st = restorer->AddCampaign(campaign);
        break;
      case S::kDisputesFieldNumber:
        if ((st = parse(&dispute, value, "a dispute")).ok()) st = restorer->AddDispute(dispute);
        break;
      case S::kTimersFieldNumber:
        if ((st = parse(&timer, value, "a timer")).ok()) st = restorer->AddTimer(timer);
        break;
      default:
        if (f.number > S::kRefundGrantValidityUsFieldNumber) {
          return Status::Corruption("unknown state field " + std::to_string(f.number));
        }
        if (other_parsed) {  // a field after the entities (the tail)
          S tail;
          if (!tail.ParseFromArray(whole.data(), static_cast<int>(whole.size()))) {
            return Status::Corruption("state fields do not parse");
          }
          fields->MergeFrom(tail);
        } else {
          other.append(whole);
        }
    }
    if (!st.ok()) return st;
  }
  return parse_other();
}

// Loads and checks one snapshot file; OK only if every check passes. Two
// passes over the file (the checksum, then the fields), holding one field
// at a time: the ledger restored is the only copy of a large book.
Status TryLoad(const std::string& log_dir, uint64_t seq, uint64_t max_seq,
               int64_t max_time_us, Ledger* ledger, log::Env* env) {
  const std::string path = SnapshotPath(log_dir, seq);
  log::ReadFile file;
  Status st = file.Open(path, env);
  if (!st.ok()) return st;
  const uint8_t* data = nullptr;
  size_t got = 0;
  st = file.Read(0, kSnapshotHeader, &data, &got);
  if (!st.ok()) return st;
  if (got < kSnapshotHeader || Get(data, 4) != kSnapshotMagic ||
      Get(data + 4, 2) != kSnapshotVersion) {
    return Status::Corruption(path + ": not a billsim snapshot");
  }
  const uint64_t len = Get(data + 8, 8);
  const uint64_t checksum = Get(data + 16, 8);
  if (len != file.size() - kSnapshotHeader) {
    return Status::Corruption(path + ": checksum mismatch or truncated");
  }
  {
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(),
                                                                   &XXH3_freeState);
    BILLSIM_ASSERT(hash != nullptr);
    XXH3_64bits_reset(hash.get());
    for (uint64_t at = kSnapshotHeader; at < file.size(); at += got) {
      st = file.Read(at, static_cast<size_t>(std::min<uint64_t>(kChunk, file.size() - at)), &data,
                     &got);
      if (!st.ok()) return st;
      if (got == 0) return Status::Corruption(path + ": checksum mismatch or truncated");
      XXH3_64bits_update(hash.get(), data, got);
    }
    if (XXH3_64bits_digest(hash.get()) != checksum) {
      return Status::Corruption(path + ": checksum mismatch or truncated");
    }
  }
  // The body: v1::Snapshot's fields 1-4, then its state (field 5).
  FieldReader body(&file, kSnapshotHeader, file.size(), "body");
  auto corrupt = [&path](const std::string& what) { return Status::Corruption(path + ": " + what); };
  std::string head_bytes;
  FieldReader::Field f;
  for (;;) {
    if (body.done()) return corrupt("body does not parse (no state)");
    st = body.Next(&f);
    if (!st.ok()) return corrupt(st.message());
    if (f.number == v1::Snapshot::kStateFieldNumber && f.delimited) break;
    if (f.number > v1::Snapshot::kStateFieldNumber) return corrupt("body does not parse");
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
  st = RestoreStream(&state, max_time_us, &restorer, &fields);
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
  // The checksum leads the file: one pass to compute it, one to write.
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash(XXH3_createState(),
                                                                 &XXH3_freeState);
  BILLSIM_ASSERT(hash != nullptr);
  XXH3_64bits_reset(hash.get());
  XXH3_64bits_update(hash.get(), first.data(), first.size());
  ledger.SerializeState([&hash](std::string_view piece) {
    XXH3_64bits_update(hash.get(), piece.data(), piece.size());
  });
  std::string header;
  Put(&header, kSnapshotMagic, 4);
  Put(&header, kSnapshotVersion, 2);
  Put(&header, 0, 2);
  Put(&header, first.size() + state_size, 8);
  Put(&header, XXH3_64bits_digest(hash.get()), 8);
  Status st = log::CreateDir(SnapshotDir(log_dir), env);
  if (!st.ok()) return st;
  *path = SnapshotPath(log_dir, last_seq);
  return log::WriteFileAtomic(
      *path,
      [&](log::AppendFile* file) {
        std::string buffer = header + first;
        uint64_t written = 0;
        Status wst;
        ledger.SerializeState([&](std::string_view piece) {
          buffer.append(piece);
          written += piece.size();
          if (buffer.size() >= kChunk && wst.ok()) {
            wst = file->Append(buffer);
            buffer.clear();
          }
        });
        if (wst.ok()) wst = file->Append(buffer);
        // The same state both times (the ledger is const): a difference
        // would be a bug in SerializeState, caught before the rename.
        BILLSIM_ASSERT(written == state_size);
        return wst;
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
