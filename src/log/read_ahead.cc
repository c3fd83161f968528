#include "log/read_ahead.h"

#include <malloc.h>

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
  pairs_.NumberCreations(first_created);
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
    if (s.decoder.others_kept() >= kOthersKeptMany &&
        s.decoder.other_events() < s.decoder.others_kept() / 4) {
      // The set-up is behind (its batches were whole messages): what the
      // slot kept of them is let go, and the pages go back to the system
      // (freed small blocks would stay in this thread's malloc arena).
      s.decoder.LetGo();
      malloc_trim(0);
    }
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
  // A batch straddling from_seq holds events before it, which the consumer
  // already has (a snapshot's) and skips: their creations are not counted.
  const uint64_t first_seq = slot->header.first_seq;
  const uint64_t skip = from_seq_ > first_seq ? from_seq_ - first_seq : 0;
  const uint32_t first_position = skip > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(skip);
  pairs_.Number(slot->decoder, first_position, &slot->stable_ids, &slot->created_ids);
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
