#include "log/read_ahead.h"

#include "util/assert.h"
#include "util/thread_name.h"

namespace billsim::log {

ReadAheadStream::~ReadAheadStream() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

Status ReadAheadStream::Open(const std::string& dir, LogReader::Options options,
                             uint64_t from_seq, uint32_t first_created) {
  BILLSIM_ASSERT(!worker_.joinable());
  BILLSIM_ASSERT(from_seq >= 1);
  from_seq_ = from_seq;
  next_created_ = first_created;
  Status st = stream_.Open(dir, options);
  if (st.ok() && from_seq > 1) st = stream_.Seek(from_seq);
  if (!st.ok()) return st;
  worker_ = std::thread([this] {
    SetThreadName("bs-read-ahead");
    Work();
  });
  return Status::Ok();
}

void ReadAheadStream::Work() {
  for (;;) {
    uint64_t slot = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Slots taken_ .. filled_-1 are with the consumer (the one it reads
      // and those waiting for it); the next one must be free.
      changed_.wait(lock, [&] { return stop_ || filled_ - taken_ < kSlots; });
      if (stop_) return;
      slot = filled_ % kSlots;
    }
    // The slot is ours until filled_ moves past it: read without the lock.
    Slot& s = slots_[slot];
    bool done = false;
    Status st = stream_.NextInto(&s.decoder, &done);
    if (st.ok() && !done) {
      s.header = stream_.batch().header;
      s.payload_bytes = stream_.batch().payload.size();
      AssignStableIds(&s);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!st.ok() || done) {
        error_ = st;
        worker_tail_fault_ = stream_.tail_fault();
        finished_ = true;
      } else {
        filled_++;
      }
    }
    changed_.notify_all();
    if (!st.ok() || done) return;
  }
}

void ReadAheadStream::AssignStableIds(Slot* slot) {
  const BatchDecoder& d = slot->decoder;
  const uint32_t n = d.dictionary_size();
  const uint32_t others = d.other_events();
  // Every key first (the pairs the batch's creations name, then the
  // dictionary's), so that the lookups overlap their loads: a large book's
  // pairs are all cache misses. Creations first, so that a pair a creation
  // names takes the creation's number even when a row of the same batch
  // names it too.
  keys_.clear();
  key_ends_.clear();
  auto add = [this](std::string_view account, std::string_view campaign) {
    PairKey(account, campaign, &key_);
    keys_.append(key_);
    key_ends_.push_back(keys_.size());
  };
  created_at_.clear();
  numbers_.clear();
  for (uint32_t i = 0; i < others; ++i) {
    const v1::Event& e = d.other_event(i);
    if (!e.has_campaign_created()) continue;
    // Before from_seq: a batch straddling it holds events the consumer
    // already has (a snapshot's); it skips them, so they are not counted.
    if (slot->header.first_seq + d.other_position(i) < from_seq_) continue;
    add(e.campaign_created().account_id(), e.campaign_created().campaign_id());
    created_at_.push_back(i);
    // (Past kFirstOther - 1 creations, which no book reaches, a new pair
    // takes the next other number instead.)
    numbers_.push_back(next_created_ < kFirstOther ? next_created_ : Interner::kNotFound);
    if (next_created_ < kFirstOther) next_created_++;
  }
  const size_t created = created_at_.size();
  for (uint32_t i = 0; i < n; ++i) add(d.account(i), d.campaign(i));
  key_views_.clear();
  for (size_t i = 0; i < key_ends_.size(); ++i) {
    const size_t begin = i == 0 ? 0 : key_ends_[i - 1];
    key_views_.push_back(std::string_view(keys_).substr(begin, key_ends_[i] - begin));
  }
  ids_.resize(key_views_.size());
  pairs_.InternAll(key_views_.data(), created, numbers_.data(), ids_.data());
  pairs_.InternAll(key_views_.data() + created, n, ids_.data() + created);
  slot->stable_ids.assign(ids_.begin() + static_cast<ptrdiff_t>(created), ids_.end());
  slot->created_ids.assign(others, kNoPair);
  for (size_t k = 0; k < created; ++k) slot->created_ids[created_at_[k]] = ids_[k];
}

Status ReadAheadStream::Next(bool* done) {
  BILLSIM_ASSERT(worker_.joinable());
  *done = false;
  std::unique_lock<std::mutex> lock(mu_);
  if (holding_) {
    taken_++;  // the slot read last goes back to the worker
    holding_ = false;
    changed_.notify_all();
  }
  changed_.wait(lock, [&] { return filled_ > taken_ || finished_; });
  if (filled_ > taken_) {
    current_ = taken_ % kSlots;
    holding_ = true;
    return Status::Ok();
  }
  // Every good batch has been handed out; now the reason it ended.
  if (!error_.ok()) return error_;
  tail_fault_ = worker_tail_fault_;
  *done = true;
  return Status::Ok();
}

}  // namespace billsim::log
