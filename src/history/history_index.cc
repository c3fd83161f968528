// HistoryIndex's implementation. Threads: the writer (CatchUp, Checkpoint,
// and the FilingSink the replay calls) owns the ledger, the data file and
// the open blocks' contents; readers (ReadPage, BalanceAsOf) read the
// tables under mu_ (shared) and the written blocks, which never change,
// without it. The writer takes mu_ exclusively around each batch it applies
// and around each publication of written blocks, never around file I/O.
#include "history/history_index.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "absl/container/flat_hash_map.h"
#include "history/history_block.h"
#include "history/history_store.h"
#include "ledger/ledger.h"
#include "log/file.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"
#include "util/string_pool.h"

namespace billsim::history {

namespace {

// covered_seq is published (with the accounts' clocks) at the end of each
// CatchUp and every this many events during a long one, so that readers
// of a rebuilding index see it advance.
constexpr uint64_t kPublishEvents = 1u << 18;
// Written blocks are gathered into writes of about this size.
constexpr size_t kWriteChunkBytes = 1u << 20;
// A filtered page reads unfiltered chunks of this many entries, and
// examines at most kMaxFilterScan entries.
constexpr uint32_t kFilterChunk = 4'096;
constexpr uint64_t kMaxFilterScan = 100'000;

// An item read from a block, before its ids are named.
struct ReadItem {
  HistoryItem item;
  uint32_t campaign, grant, dispute;
};

// One block a reader will read: on disk (mem == nullptr) or, in a
// read-only index, in memory.
struct Source {
  BlockRecord record;
  uint32_t account;
  std::shared_ptr<const std::string> mem;
};

class Index;

// Files each account entry under its account (the ledger calls it, on the
// writer thread, inside a batch: mu_ is held exclusively).
class FilingSink final : public SeqEntrySink {
 public:
  explicit FilingSink(Index* index) : index_(index) {}
  void Add(const Entry& entry) override;

 private:
  Index* index_;
};

class Index final : public HistoryIndex {
 public:
  Index(const std::string& log_dir, const Options& options)
      : log_dir_(log_dir),
        options_(options),
        env_(log::EnvOrDefault(options.env)),
        store_(log_dir, options.read_only, env_),
        sink_(this) {}

  Status Start();
  uint64_t covered_seq() const override { return covered_seq_.load(std::memory_order_acquire); }
  uint64_t open_block_bytes() const override;
  Status CatchUp(uint64_t to_seq) override;
  Status Checkpoint() override;
  Status ReadPage(const PageQuery& query, Page* page) const override;
  Status ReadPageOnce(const PageQuery& query, Page* page) const;  // no filter
  Status BalanceAsOf(const std::string& account, int64_t as_of_us, uint64_t through_seq,
                     BalanceAt* out) const override;

  void File(const Entry& e, uint64_t log_seq);  // FilingSink

 private:
  Status Load();
  void Reset();
  void SyncTables();
  Status AfterBatch(const log::BatchHeader& h, uint64_t to_seq);
  Status WriteBlocks(bool all);
  void Publish(uint64_t seq);
  Status ReadSources(const std::vector<Source>& sources,
                     const std::function<bool(const StoredEntry&)>& each) const;
  Status PlanPage(const PageQuery& q, uint64_t through, uint32_t* account,
                  std::vector<Source>* sources, bool* open_too, std::string* open) const;
  void NameIds(std::vector<ReadItem>* items, uint32_t account, Page* page) const;

  const std::string log_dir_;
  const Options options_;
  log::Env* const env_;

  mutable std::shared_mutex mu_;  // see the file comment

  // Writer only.
  std::unique_ptr<Ledger> ledger_ = std::make_unique<Ledger>();
  BlockStore store_;
  FilingSink sink_;
  std::unique_lock<std::shared_mutex> batch_lock_{mu_, std::defer_lock};
  uint64_t applied_seq_ = 0;     // the ledger holds events up to here
  CheckpointChain chain_;        // the batch holding applied_seq_
  uint64_t open_bytes_ = 0;      // all open blocks' heap bytes (HeldBytes)
  std::vector<uint32_t> full_;   // accounts whose open block reached block_bytes
  Status broken_;                // a failed write or replay: no more writing
  uint64_t checkpointed_seq_ = UINT64_MAX;  // what CHECKPOINT holds, if known

  // Shared with readers, under mu_.
  std::vector<AccountData> accounts_;  // by the ledger's account index
  absl::flat_hash_map<std::string, uint32_t> by_id_;
  StringList campaign_ids_, grant_ids_, dispute_ids_;  // copies of the ledger's, for readers
  std::atomic<uint64_t> covered_seq_{0};
};

// The heap bytes an open block holds (its capacity, not its size: a
// string grown by doubling holds up to twice what it uses, and the bound
// on open blocks is a bound on memory). A short one is inside the string.
size_t HeldBytes(const std::string& bytes) {
  static const size_t inline_capacity = std::string().capacity();
  return bytes.capacity() > inline_capacity ? bytes.capacity() : 0;
}

// Room for one more entry of the usual size (EncodeEntry's one append)
// in an open block. It grows by doubling, as a string does, but while the
// block is short of `block_bytes`, to no more than a full block and one
// entry need: without that cap a block written at a little over 8 KiB
// held 16.
void ReserveEntry(std::string* bytes, size_t block_bytes) {
  constexpr size_t kEntryRoom = 296;  // EncodeEntry's buffer
  const size_t capacity = bytes->capacity();
  if (capacity - bytes->size() >= kEntryRoom || bytes->size() >= block_bytes ||
      2 * capacity < block_bytes + kEntryRoom) {
    return;  // room enough, or the string's own doubling stays under the cap
  }
  bytes->reserve(block_bytes + kEntryRoom);
}

void FilingSink::Add(const Entry& entry) {
  if (entry.account != kNoIndex) index_->File(entry, seq);
}

// --- writing ---------------------------------------------------------------------

void Index::File(const Entry& e, uint64_t log_seq) {
  // Accounts and ids are created in index order, so the tables catch up
  // by appending what the ledger has made since.
  if (e.account >= accounts_.size() || (e.campaign != kNoIndex && e.campaign >= campaign_ids_.size()) ||
      (e.grant != kNoIndex && e.grant >= grant_ids_.size()) ||
      (e.dispute != kNoIndex && e.dispute >= dispute_ids_.size())) {
    SyncTables();
  }
  AccountData& a = accounts_[e.account];
  OpenBlock& open = a.open;
  const size_t held = HeldBytes(open.bytes);
  ReserveEntry(&open.bytes, options_.block_bytes);
  EncodeEntry(e, log_seq, &open.base, &open.bytes);
  open_bytes_ += HeldBytes(open.bytes) - held;
  BlockRecord& m = open.meta;
  if (m.count == 0) {
    m.first_seq = e.seq;
    m.first_log_seq = log_seq;
    m.min_time_us = e.time_us;
  }
  // R6: an account's entries carry its clock, which never goes back; the
  // searches by time rely on it.
  BILLSIM_ASSERT(m.count == 0 || (e.time_us >= m.max_time_us && e.seq > m.last_seq));
  m.last_seq = e.seq;
  m.last_log_seq = log_seq;
  m.max_time_us = e.time_us;
  m.count++;
  if (!a.queued && open.bytes.size() >= options_.block_bytes) {
    a.queued = true;
    full_.push_back(e.account);
  }
}

// REQUIRES: mu_ held exclusively (inside a batch).
void Index::SyncTables() {
  const auto& accounts = ledger_->accounts();
  for (size_t i = accounts_.size(); i < accounts.size(); ++i) {
    const std::string_view id = ledger_->account_id(static_cast<uint32_t>(i));
    accounts_.emplace_back().id = id;
    by_id_.emplace(id, static_cast<uint32_t>(i));
  }
  for (size_t i = campaign_ids_.size(); i < ledger_->campaigns().size(); ++i) {
    campaign_ids_.push_back(ledger_->campaign_id(i));
  }
  for (size_t i = grant_ids_.size(); i < ledger_->grants().size(); ++i) {
    grant_ids_.push_back(ledger_->grant_id(i));
  }
  for (size_t i = dispute_ids_.size(); i < ledger_->disputes().size(); ++i) {
    dispute_ids_.push_back(ledger_->disputes()[i].id);
  }
}

Status Index::CatchUp(uint64_t to_seq) {
  if (!broken_.ok()) return broken_;
  if (to_seq <= applied_seq_) return Status::Ok();
  ReplayOptions options;
  options.to_seq = to_seq;
  options.use_snapshots = false;
  options.check_skipped = false;
  options.sink = &sink_;
  options.env = env_;
  options.resume_after_seq = applied_seq_;
  options.batch_start = [this](const log::BatchHeader&) { batch_lock_.lock(); };
  options.batch_end = [this, to_seq](const log::BatchHeader& h) {
    return AfterBatch(h, to_seq);
  };
  ReplayStats stats;
  Status st = Replay(log_dir_, options, ledger_.get(), &stats);
  if (batch_lock_.owns_lock()) batch_lock_.unlock();
  if (!st.ok()) {
    // The ledger may hold part of a batch the index does not: it cannot go
    // on. What is covered stays readable.
    broken_ = st;
    return st;
  }
  applied_seq_ = stats.last_seq;
  Publish(applied_seq_);
  return Status::Ok();
}

// After each batch: name new accounts (one opened without entries still
// has a history: an empty one), write full blocks, publish now and then.
Status Index::AfterBatch(const log::BatchHeader& h, uint64_t to_seq) {
  SyncTables();
  batch_lock_.unlock();
  const uint64_t before = applied_seq_;
  applied_seq_ = std::min(h.last_seq(), to_seq);
  chain_ = CheckpointChain{h.last_seq(), h.chain};
  Status st;
  if (open_bytes_ > options_.open_bytes_max) {
    st = WriteBlocks(true);
  } else if (!full_.empty()) {
    st = WriteBlocks(false);
  }
  if (!st.ok()) {
    broken_ = st;
    return st;
  }
  if (applied_seq_ / kPublishEvents != before / kPublishEvents) Publish(applied_seq_);
  return Status::Ok();
}

// Writes the full open blocks (or all of them), then makes them visible.
// The open blocks are only changed by this thread, so they are read here
// without the lock; readers keep seeing them as open until the swap.
Status Index::WriteBlocks(bool all) {
  std::vector<uint32_t> which;
  if (all) {
    for (uint32_t i = 0; i < accounts_.size(); ++i) {
      if (accounts_[i].open.meta.count > 0) which.push_back(i);
    }
  } else {
    which.swap(full_);
  }
  std::vector<BlockRecord> records(which.size());
  std::vector<std::shared_ptr<const std::string>> mem(which.size());
  Status st;
  for (size_t i = 0; st.ok() && i < which.size(); ++i) {
    const AccountData& a = accounts_[which[i]];
    st = store_.AddBlock(a.open.bytes, a.open.meta, which[i], &records[i], &mem[i]);
    if (st.ok() && store_.buffered() >= kWriteChunkBytes) st = store_.Flush();
  }
  if (st.ok()) st = store_.Flush();
  if (!st.ok()) return st;
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (size_t i = 0; i < which.size(); ++i) {
    AccountData& a = accounts_[which[i]];
    a.blocks.push_back(records[i]);
    if (mem[i]) store_.Remember(records[i].offset, std::move(mem[i]));
    open_bytes_ -= HeldBytes(a.open.bytes);
    // Moved out, so that its bytes are freed at the end of this iteration
    // (memory follows open_bytes_): assigning an empty block to it would
    // keep the string's buffer, and every account would hold the largest
    // block it ever had.
    const OpenBlock written = std::move(a.open);
    a.open = OpenBlock{};
    a.queued = false;
  }
  if (all) full_.clear();
  return Status::Ok();
}

// Counted afresh, not open_bytes_: what the blocks hold, whatever the
// writer believes.
uint64_t Index::open_block_bytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  uint64_t held = 0;
  for (const AccountData& a : accounts_) held += HeldBytes(a.open.bytes);
  return held;
}

void Index::Publish(uint64_t seq) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  SyncTables();
  const auto& accounts = ledger_->accounts();
  for (size_t i = 0; i < accounts_.size(); ++i) accounts_[i].clock_us = accounts[i].clock_us;
  covered_seq_.store(seq, std::memory_order_release);
}

Status Index::Checkpoint() {
  if (options_.read_only) {
    return Status::InvalidArgument("history index of " + log_dir_ + ": opened read-only");
  }
  if (!broken_.ok()) return broken_;
  BILLSIM_ASSERT(applied_seq_ == covered_seq());
  if (applied_seq_ == checkpointed_seq_) return Status::Ok();  // nothing new to keep
  CheckpointData data;
  data.covered_seq = applied_seq_;
  data.chain = chain_;
  data.ledger = ledger_.get();
  data.accounts = &accounts_;  // read without the lock: only this thread changes them
  Status st = store_.WriteCheckpoint(data);
  if (!st.ok()) {
    broken_ = st;
    return st;
  }
  checkpointed_seq_ = applied_seq_;
  return st;
}

// --- opening ----------------------------------------------------------------------

Status Index::Start() {
  if (!options_.rebuild) {
    Status st = Load();
    if (st.ok()) return st;
    if (st.code() == Status::Code::kNotFound) {
      spdlog::info("history index of {}: {}; building it from the log", log_dir_, st.message());
    } else {
      spdlog::warn("history index of {}: {}; rebuilding it from the log", log_dir_,
                   st.message());
    }
  }
  Reset();
  return store_.StartEmpty();
}

Status Index::Load() {
  CheckpointData data;
  data.ledger = ledger_.get();
  data.accounts = &accounts_;
  Status st = store_.Load(&data);
  if (!st.ok()) return st;
  applied_seq_ = data.covered_seq;
  chain_ = data.chain;
  for (uint32_t i = 0; i < accounts_.size(); ++i) {
    by_id_.emplace(accounts_[i].id, i);
    open_bytes_ += HeldBytes(accounts_[i].open.bytes);
    accounts_[i].clock_us = ledger_->accounts()[i].clock_us;
  }
  SyncTables();
  covered_seq_.store(applied_seq_, std::memory_order_release);
  checkpointed_seq_ = applied_seq_;
  return Status::Ok();
}

void Index::Reset() {
  ledger_ = std::make_unique<Ledger>();
  accounts_.clear();
  by_id_.clear();
  campaign_ids_.clear();
  grant_ids_.clear();
  dispute_ids_.clear();
  applied_seq_ = 0;
  chain_ = CheckpointChain{};
  open_bytes_ = 0;
  full_.clear();
  covered_seq_.store(0, std::memory_order_release);
  checkpointed_seq_ = UINT64_MAX;
}

// --- reading ----------------------------------------------------------------------

Status Index::ReadSources(const std::vector<Source>& sources,
                          const std::function<bool(const StoredEntry&)>& each) const {
  std::string scratch;
  std::unique_ptr<log::RandomAccessFile> file;
  for (const Source& s : sources) {
    std::string_view payload;
    Status st = store_.ReadBlock(s.record, s.account, s.mem, &file, &scratch, &payload);
    if (!st.ok()) return st;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(payload.data());
    const uint8_t* end = p + payload.size();
    EntryBase base;
    StoredEntry e;
    for (uint32_t i = 0; i < s.record.count; ++i) {
      if (!DecodeEntry(&p, end, &base, &e)) return store_.Damaged(s.record, "entry does not decode");
      if (!each(e)) return Status::Ok();
    }
  }
  return Status::Ok();
}

// Under the shared lock: the blocks that can hold the page's entries and,
// if it may be needed, a copy of the open block.
Status Index::PlanPage(const PageQuery& q, uint64_t through, uint32_t* account,
                       std::vector<Source>* sources, bool* open_too, std::string* open) const {
  auto it = by_id_.find(q.account);
  if (it == by_id_.end()) {
    return Status::NotFound("no account \"" + q.account + "\" in the log " + log_dir_ +
                            " through sequence " + std::to_string(covered_seq()));
  }
  *account = it->second;
  const AccountData& a = accounts_[*account];
  // Every bound is monotone over an account's blocks, so the blocks wholly
  // before the page form a prefix.
  auto start = std::partition_point(a.blocks.begin(), a.blocks.end(), [&](const BlockRecord& b) {
    return b.last_log_seq <= q.since_seq || b.last_seq <= q.cursor || b.max_time_us < q.from_us;
  });
  uint64_t entries = 0;
  const uint64_t wanted = uint64_t{q.limit} + 1;
  for (auto b = start; b != a.blocks.end(); ++b) {
    if (b->first_log_seq > through || b->min_time_us > q.to_us) return Status::Ok();
    sources->push_back(Source{*b, *account, store_.InMemory(b->offset)});
    entries += b == start ? 0 : b->count;  // the first may be mostly before the page
    if (entries >= wanted) return Status::Ok();
  }
  const BlockRecord& m = a.open.meta;
  if (m.count > 0 && m.first_log_seq <= through && m.min_time_us <= q.to_us) {
    *open_too = true;
    *open = a.open.bytes;
  }
  return Status::Ok();
}

// A filtered page: unfiltered chunks, the matches kept, until the page is
// full and one more match is seen, or the account's entries end, or
// kMaxFilterScan entries were examined (then the page is truncated at the
// last entry examined: the next page goes on from there).
Status Index::ReadPage(const PageQuery& q, Page* page) const {
  if (q.kind == 0 && q.campaign.empty()) return ReadPageOnce(q, page);
  *page = Page{};
  page->next_cursor = q.cursor;
  PageQuery inner = q;
  inner.kind = 0;
  inner.campaign.clear();
  inner.limit = kFilterChunk;
  uint64_t scanned = 0;
  for (;;) {
    Page chunk;
    Status st = ReadPageOnce(inner, &chunk);
    if (!st.ok()) return st;
    for (HistoryItem& item : chunk.items) {
      ++scanned;
      const v1::LedgerEntry& e = item.entry;
      if ((q.kind != 0 && e.kind() != q.kind) || (!q.campaign.empty() && e.campaign_id() != q.campaign)) {
        continue;
      }
      if (page->items.size() == q.limit) {
        page->truncated = true;
        return Status::Ok();
      }
      page->next_cursor = e.seq();
      page->items.push_back(std::move(item));
    }
    if (!chunk.truncated) return Status::Ok();
    inner.cursor = chunk.next_cursor;
    if (scanned >= kMaxFilterScan) {
      page->truncated = true;
      page->next_cursor = chunk.next_cursor;
      return Status::Ok();
    }
  }
}

Status Index::ReadPageOnce(const PageQuery& q, Page* page) const {
  *page = Page{};
  page->next_cursor = q.cursor;
  uint32_t account = kNoIndex;
  std::vector<Source> sources;
  bool open_too = false;
  std::string open;
  uint64_t through = 0;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    through = std::min(q.through_seq, covered_seq());
    Status st = PlanPage(q, through, &account, &sources, &open_too, &open);
    if (!st.ok()) return st;
    if (open_too) {
      sources.push_back(Source{accounts_[account].open.meta, account,
                               std::make_shared<const std::string>(std::move(open))});
      sources.back().record.offset = BlockStore::kOpenBlock;
    }
  }
  std::vector<ReadItem> items;
  Status st = ReadSources(sources, [&](const StoredEntry& e) {
    if (e.log_seq > through || e.time_us > q.to_us) return false;
    if (e.log_seq <= q.since_seq || e.seq <= q.cursor || e.time_us < q.from_us) return true;
    if (items.size() == q.limit) {
      page->truncated = true;
      return false;
    }
    ReadItem& r = items.emplace_back();
    r.item.log_seq = e.log_seq;
    r.campaign = e.campaign;
    r.grant = e.grant;
    r.dispute = e.dispute;
    v1::LedgerEntry& p = r.item.entry;
    p.set_seq(e.seq);
    p.set_event_id(e.event_id);
    p.set_time_us(e.time_us);
    p.set_kind(static_cast<v1::EntryKind>(e.kind));
    p.set_funds_type(static_cast<v1::FundsType>(e.funds));
    if (v1::DeliveryReported::Kind_IsValid(static_cast<int>(e.delivery_kind))) {
      p.set_delivery_kind(static_cast<v1::DeliveryReported::Kind>(e.delivery_kind));
    }
    p.set_balance_delta_micros(e.balance_delta);
    p.set_frozen_delta_micros(e.frozen_delta);
    p.set_units(e.units);
    p.set_not_billed_reason(static_cast<v1::NotBilledReason>(e.not_billed_reason));
    p.set_dispute_status(static_cast<v1::DisputeStatus>(e.dispute_status));
    p.set_note(std::string(e.note));
    p.set_field(std::string(e.field));
    p.set_cash_balance(e.cash);
    p.set_grant_balance(e.credit);
    p.set_frozen_balance(e.frozen);
    p.set_valid_balance(e.valid);
    return true;
  });
  if (!st.ok()) return st;
  NameIds(&items, account, page);
  if (!page->items.empty()) page->next_cursor = page->items.back().entry.seq();
  return Status::Ok();
}

// The ids of the read entries, from the tables (as Ledger::ToProto names
// them), under the shared lock again: the tables only grow.
void Index::NameIds(std::vector<ReadItem>* items, uint32_t account, Page* page) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const std::string& account_id = accounts_[account].id;
  page->items.reserve(items->size());
  for (ReadItem& r : *items) {
    v1::LedgerEntry& p = r.item.entry;
    p.set_account_id(account_id);
    if (r.campaign < campaign_ids_.size()) {
      const std::string_view id = campaign_ids_[r.campaign];
      p.set_campaign_id(id.data(), id.size());
    }
    if (r.grant < grant_ids_.size()) {
      const std::string_view id = grant_ids_[r.grant];
      p.set_grant_id(id.data(), id.size());
    }
    if (r.dispute < dispute_ids_.size()) {
      const std::string_view id = dispute_ids_[r.dispute];
      p.set_dispute_id(id.data(), id.size());
    }
    page->items.push_back(std::move(r.item));
  }
}

Status Index::BalanceAsOf(const std::string& account, int64_t as_of_us, uint64_t through_seq,
                          BalanceAt* out) const {
  *out = BalanceAt{};
  std::vector<Source> sources;
  uint64_t through = 0;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    through = std::min(through_seq, covered_seq());
    auto it = by_id_.find(account);
    if (it == by_id_.end()) {
      return Status::NotFound("no account \"" + account + "\" in the log " + log_dir_ +
                              " through sequence " + std::to_string(covered_seq()));
    }
    const AccountData& a = accounts_[it->second];
    out->account_clock_us = a.clock_us;
    auto starts_by = [&](const BlockRecord& b) {
      return b.min_time_us <= as_of_us && b.first_log_seq <= through;
    };
    // The answer is in the last block whose first entry qualifies.
    if (a.open.meta.count > 0 && starts_by(a.open.meta)) {
      sources.push_back(
          Source{a.open.meta, it->second, std::make_shared<const std::string>(a.open.bytes)});
      sources.back().record.offset = BlockStore::kOpenBlock;
    } else {
      auto end = std::partition_point(a.blocks.begin(), a.blocks.end(), starts_by);
      if (end == a.blocks.begin()) return Status::Ok();  // none: zero balances
      const BlockRecord& b = *std::prev(end);
      sources.push_back(Source{b, it->second, store_.InMemory(b.offset)});
    }
  }
  return ReadSources(sources, [&](const StoredEntry& e) {
    if (e.time_us > as_of_us || e.log_seq > through) return false;
    out->log_seq = e.log_seq;
    out->entry_seq = e.seq;
    out->cash = e.cash;
    out->credit = e.credit;
    out->frozen = e.frozen;
    out->valid = e.valid;
    return true;
  });
}

}  // namespace

Status HistoryIndex::Open(const std::string& log_dir, const Options& options,
                          std::unique_ptr<HistoryIndex>* out) {
  if (options.block_bytes == 0 || options.block_bytes > kBlockPayloadMax / 2) {
    return Status::InvalidArgument("history index: block_bytes must be in [1, " +
                                   std::to_string(kBlockPayloadMax / 2) + "]");
  }
  auto index = std::make_unique<Index>(log_dir, options);
  Status st = index->Start();
  if (!st.ok()) return st;
  *out = std::move(index);
  return Status::Ok();
}

}  // namespace billsim::history
