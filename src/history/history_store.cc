#include "history/history_store.h"

#include <cstring>
#include <filesystem>

#include "replay/snapshot_store.h"
#include "replay/state_stream.h"
#include "util/endian.h"

namespace billsim::history {

namespace {

constexpr uint32_t kCheckpointMagic = 0x49485342;  // "BSHI"
constexpr uint16_t kCheckpointVersion = 1;

void Put(std::string* s, uint64_t v, int bytes) { AppendLittleEndian(v, bytes, s); }

void PutBytes(std::string* s, std::string_view b, int len_bytes) {
  Put(s, b.size(), len_bytes);
  s->append(b);
}

void PutRecord(std::string* s, const BlockRecord& r) {
  for (uint64_t v : {r.first_seq, r.last_seq, r.first_log_seq, r.last_log_seq,
                     static_cast<uint64_t>(r.min_time_us), static_cast<uint64_t>(r.max_time_us),
                     r.offset}) {
    Put(s, v, 8);
  }
  Put(s, r.size, 4);
  Put(s, r.count, 4);
}

void PutBase(std::string* s, const EntryBase& b) {
  for (uint64_t v : {b.log_seq, b.seq, static_cast<uint64_t>(b.time_us), b.event_id,
                     static_cast<uint64_t>(b.cash), static_cast<uint64_t>(b.credit),
                     static_cast<uint64_t>(b.frozen), static_cast<uint64_t>(b.valid)}) {
    Put(s, v, 8);
  }
}

// Reads a checkpoint body, bytes [begin, end) of a source, a field at a
// time (never the whole file: the state alone is 155 MB at 10^6
// campaigns). Any read past its end, or failed, leaves ok() false.
class Reader {
 public:
  Reader(ByteSource* source, uint64_t begin, uint64_t end)
      : source_(source), at_(begin), end_(end) {}
  uint64_t Get(int bytes) {
    const uint8_t* p = Take(static_cast<uint64_t>(bytes));
    return p == nullptr ? 0 : LoadLittleEndian(p, bytes);
  }
  int64_t GetSigned() { return static_cast<int64_t>(Get(8)); }
  // A length of `len_bytes`, then that many bytes: valid until the next
  // read of the source.
  std::string_view Bytes(int len_bytes) {
    const uint64_t n = Get(len_bytes);
    const uint8_t* p = Take(n);
    return p == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(p), n);
  }
  // Moves past `n` bytes another reader reads; returns where they start.
  uint64_t Skip(uint64_t n) {
    const uint64_t at = at_;
    if (!ok_ || end_ - at_ < n) {
      ok_ = false;
    } else {
      at_ += n;
    }
    return at;
  }
  BlockRecord Record() {
    BlockRecord r;
    r.first_seq = Get(8);
    r.last_seq = Get(8);
    r.first_log_seq = Get(8);
    r.last_log_seq = Get(8);
    r.min_time_us = GetSigned();
    r.max_time_us = GetSigned();
    r.offset = Get(8);
    r.size = static_cast<uint32_t>(Get(4));
    r.count = static_cast<uint32_t>(Get(4));
    return r;
  }
  EntryBase Base() {
    EntryBase b;
    b.log_seq = Get(8);
    b.seq = Get(8);
    b.time_us = GetSigned();
    b.event_id = Get(8);
    b.cash = GetSigned();
    b.credit = GetSigned();
    b.frozen = GetSigned();
    b.valid = GetSigned();
    return b;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == end_; }

 private:
  // The next n bytes, or null (and ok() false) if they are not all there.
  const uint8_t* Take(uint64_t n) {
    if (!ok_ || end_ - at_ < n) {
      ok_ = false;
      return nullptr;
    }
    const uint8_t* p = nullptr;
    size_t got = 0;
    if (!source_->Read(at_, static_cast<size_t>(n), &p, &got).ok() || got != n) {
      ok_ = false;
      return nullptr;
    }
    at_ += n;
    return p;
  }

  ByteSource* source_;
  uint64_t at_;
  uint64_t end_;
  bool ok_ = true;
};

// The checkpoint's body, in pieces: its head, the state streamed from the
// ledger (never built as a message, nor held whole: at 10^6 campaigns it
// is 155 MB), then the accounts' tables, one piece an account.
void EmitBody(const CheckpointData& data, uint64_t data_size, std::string_view digest,
              uint64_t state_size, const log::PieceSink& sink) {
  std::string s;
  Put(&s, data.covered_seq, 8);
  Put(&s, data.chain.last_seq, 8);
  s.append(reinterpret_cast<const char*>(data.chain.chain.data()), data.chain.chain.size());
  Put(&s, data_size, 8);
  PutBytes(&s, digest, 4);
  Put(&s, state_size, 8);
  sink(s);
  uint64_t n = 0;
  data.ledger->SerializeState([&](std::string_view piece) {
    n += piece.size();
    sink(piece);
  });
  BILLSIM_ASSERT(n == state_size);  // the length framing it
  s.clear();
  Put(&s, data.accounts->size(), 4);
  sink(s);
  for (const AccountData& a : *data.accounts) {
    s.clear();
    Put(&s, a.blocks.size(), 4);
    for (const BlockRecord& r : a.blocks) PutRecord(&s, r);
    PutRecord(&s, a.open.meta);
    PutBase(&s, a.open.base);
    PutBytes(&s, a.open.bytes, 8);
    sink(s);
  }
}

// The accounts' tables; ids come from the restored ledger.
Status ParseAccounts(Reader* r, uint64_t data_size, CheckpointData* data) {
  const uint64_t n = r->Get(4);
  const auto& ledger_accounts = data->ledger->accounts();
  if (!r->ok() || n > ledger_accounts.size()) {
    return Status::Corruption("account table does not match the ledger state");
  }
  data->accounts->resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    AccountData& a = (*data->accounts)[i];
    a.id = data->ledger->account_id(static_cast<uint32_t>(i));
    const uint64_t blocks = r->Get(4);
    for (uint64_t b = 0; r->ok() && b < blocks; ++b) {
      a.blocks.push_back(r->Record());
      const BlockRecord& rec = a.blocks.back();
      if (rec.offset > data_size || rec.size > data_size - rec.offset ||
          rec.size < kBlockHeaderSize) {
        return Status::Corruption("a block record points outside blocks.dat");
      }
    }
    a.open.meta = r->Record();
    a.open.base = r->Base();
    a.open.bytes = std::string(r->Bytes(8));
  }
  if (!r->done()) return Status::Corruption("truncated or has trailing bytes");
  return Status::Ok();
}

}  // namespace

BlockStore::BlockStore(const std::string& log_dir, bool read_only, log::Env* env)
    : log_dir_(log_dir),
      dir_((std::filesystem::path(log_dir) / "history").string()),
      data_path_(dir_ + "/blocks.dat"),
      checkpoint_path_(dir_ + "/CHECKPOINT"),
      read_only_(read_only),
      env_(env) {}

Status BlockStore::StartEmpty() {
  end_ = 0;
  buffer_.clear();
  memory_.clear();
  if (read_only_) return Status::Ok();
  (void)data_.Close();
  Status st = log::CreateDir(dir_, env_);
  if (!st.ok()) return st;
  // The checkpoint first: without it, no leftover of blocks.dat is trusted.
  for (const std::string& path : {checkpoint_path_, data_path_}) {
    if (env_->FileExists(path)) {
      st = env_->RemoveFile(path);
      if (!st.ok()) return st;
    }
  }
  st = OpenData(0);
  if (!st.ok()) return st;
  return log::SyncDir(dir_, env_);
}

Status BlockStore::OpenData(uint64_t size) {
  end_ = size;
  if (read_only_) return Status::Ok();
  Status st = data_.Open(data_path_, env_);
  if (st.ok() && data_.size() != size) {
    st = Status::Corruption(data_path_ + ": size " + std::to_string(data_.size()) +
                            " after opening, expected " + std::to_string(size));
  }
  return st;
}

Status BlockStore::Load(CheckpointData* data) {
  if (!env_->FileExists(checkpoint_path_)) {
    return Status::NotFound("no checkpoint " + checkpoint_path_);
  }
  // Two passes over the file, as a snapshot's load: the checksum, then the
  // body, a field at a time.
  log::ReadFile file;
  Status st = log::OpenStreamedFile(checkpoint_path_, kCheckpointMagic, kCheckpointVersion,
                                    "history checkpoint of this version", &file, env_);
  if (!st.ok()) return Status::Corruption(st.message());
  FileBytes bytes(&file);
  Reader r(&bytes, log::kStreamedHeader, file.size());
  data->covered_seq = r.Get(8);
  data->chain.last_seq = r.Get(8);
  for (auto& b : data->chain.chain) b = static_cast<uint8_t>(r.Get(1));
  const uint64_t data_size = r.Get(8);
  const std::string digest(r.Bytes(4));
  const uint64_t state_size = r.Get(8);
  const uint64_t state_begin = r.Skip(state_size);
  if (!r.ok()) return Status::Corruption(checkpoint_path_ + ": body does not parse");
  st = CheckChain(*data);
  if (!st.ok()) return st;
  {
    // Entity by entity (never the whole state as one message); the ledger
    // changes only once every check and the digest hold.
    FieldReader in(&bytes, state_begin, state_begin + state_size, "ledger state");
    Ledger::Restorer restorer(data->ledger->options());
    v1::LedgerState fields;
    st = RestoreStateFields(&in, INT64_MAX, &restorer, &fields);
    if (st.ok()) st = restorer.Finish(fields);
    if (!st.ok()) return Status::Corruption(checkpoint_path_ + ": ledger state: " + st.message());
    if (restorer.Digest() != digest) {
      return Status::Corruption(checkpoint_path_ + ": restored ledger digest differs");
    }
    restorer.CommitTo(data->ledger);
  }
  st = ParseAccounts(&r, data_size, data);
  if (!st.ok()) return Status::Corruption(checkpoint_path_ + ": " + st.message());
  // blocks.dat: at least what the checkpoint covers; a crash's leftovers
  // past it are cut (read-only: ignored, new blocks stay in memory).
  std::unique_ptr<log::RandomAccessFile> f;
  st = env_->NewRandomAccessFile(data_path_, &f);
  if (!st.ok()) return Status::Corruption(st.message());
  if (f->size() < data_size) {
    return Status::Corruption(data_path_ + ": " + std::to_string(f->size()) +
                              " bytes, the checkpoint covers " + std::to_string(data_size));
  }
  if (!read_only_ && f->size() > data_size) {
    st = log::TruncateFile(data_path_, data_size, env_);
    if (!st.ok()) return st;
  }
  return OpenData(data_size);
}

// The log must still hold, unchanged, the batch the checkpoint ends in:
// its chain value stands for every batch before it too.
Status BlockStore::CheckChain(const CheckpointData& data) const {
  if (data.covered_seq == 0) return Status::Ok();
  if (data.chain.last_seq < data.covered_seq) {
    return Status::Corruption(checkpoint_path_ + ": its chain does not cover its sequence");
  }
  log::Chain chain;
  Status st = ChainAt(log_dir_, data.chain.last_seq, &chain, env_);
  if (!st.ok()) {
    return Status::Corruption("the log no longer holds the batch ending at sequence " +
                              std::to_string(data.chain.last_seq) + " that the index covers (" +
                              st.message() + ")");
  }
  if (chain != data.chain.chain) {
    return Status::Corruption("the log's chain at sequence " +
                              std::to_string(data.chain.last_seq) +
                              " differs from the one the index was built from");
  }
  return Status::Ok();
}

Status BlockStore::WriteCheckpoint(const CheckpointData& data) {
  BILLSIM_ASSERT(!read_only_ && buffer_.empty());
  Status st = data_.Sync();
  if (!st.ok()) return st;
  uint64_t state_size = 0;
  const std::string digest = data.ledger->Digest(&state_size);
  return log::WriteFileAtomicStreamed(
      checkpoint_path_, kCheckpointMagic, kCheckpointVersion,
      [&](const log::PieceSink& sink) { EmitBody(data, end_, digest, state_size, sink); },
      env_);
}

Status BlockStore::AddBlock(std::string_view payload, const BlockRecord& meta, uint32_t account,
                            BlockRecord* record, std::shared_ptr<const std::string>* mem) {
  if (payload.size() > kBlockPayloadMax) {
    return Status::InvalidArgument(data_path_ + ": a block of " + std::to_string(payload.size()) +
                                   " bytes is over the bound " + std::to_string(kBlockPayloadMax));
  }
  uint8_t header[kBlockHeaderSize];
  EncodeBlockHeader(payload, meta.count, account, header);
  *record = meta;
  record->offset = end_;
  record->size = static_cast<uint32_t>(kBlockHeaderSize + payload.size());
  end_ += record->size;
  if (read_only_) {
    auto block = std::make_shared<std::string>(reinterpret_cast<char*>(header), kBlockHeaderSize);
    block->append(payload);
    *mem = std::move(block);
    return Status::Ok();
  }
  buffer_.append(reinterpret_cast<char*>(header), kBlockHeaderSize);
  buffer_.append(payload);
  return Status::Ok();
}

Status BlockStore::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status st = data_.Append(buffer_);
  buffer_.clear();
  if (st.ok() && data_.size() != end_) {
    st = Status::IOError(data_path_ + ": size differs from what was written");
  }
  return st;
}

void BlockStore::Remember(uint64_t offset, std::shared_ptr<const std::string> block) {
  memory_.emplace(offset, std::move(block));
}

std::shared_ptr<const std::string> BlockStore::InMemory(uint64_t offset) const {
  if (memory_.empty()) return nullptr;
  auto it = memory_.find(offset);
  return it == memory_.end() ? nullptr : it->second;
}

Status BlockStore::ReadBlock(const BlockRecord& record, uint32_t account,
                             const std::shared_ptr<const std::string>& mem,
                             std::unique_ptr<log::RandomAccessFile>* file, std::string* scratch,
                             std::string_view* payload) const {
  if (record.offset == kOpenBlock) {
    *payload = *mem;
    return Status::Ok();
  }
  const uint8_t* bytes = nullptr;
  if (mem) {
    bytes = reinterpret_cast<const uint8_t*>(mem->data());
    if (mem->size() != record.size) return Damaged(record, "in-memory block size differs");
  } else {
    if (!*file) {
      Status st = env_->NewRandomAccessFile(data_path_, file);
      if (!st.ok()) return st;
    }
    scratch->resize(record.size);
    size_t got = 0;
    Status st = (*file)->Read(record.offset, record.size,
                              reinterpret_cast<uint8_t*>(scratch->data()), &got);
    if (!st.ok()) return st;
    if (got != record.size) return Damaged(record, "the file ends inside the block");
    bytes = reinterpret_cast<const uint8_t*>(scratch->data());
  }
  Status st = CheckBlock(bytes, record.size, record.count, account, payload);
  if (!st.ok()) return Damaged(record, st.message());
  return Status::Ok();
}

Status BlockStore::Damaged(const BlockRecord& record, const std::string& what) const {
  return Status::Corruption(data_path_ + ": block at offset " + std::to_string(record.offset) +
                            " (" + std::to_string(record.size) + " bytes): " + what +
                            "; the history index is damaged (delete " + dir_ +
                            " to rebuild it)");
}

}  // namespace billsim::history
