// The server's bounded hand-offs between threads. Each has a stated bound,
// and a full queue is a decision, not growth:
//
//   WeightedQueue  many producers (the network thread), one consumer (the
//                  committer, or the query workers). Bounded by the total
//                  weight queued and not yet released (events for appends);
//                  TryPush on a full queue gives the item back (kFull) and
//                  the producer waits for room (the session stops reading).
//   SyncQueue      the committer hands written groups to the syncer; at
//                  most kMaxWaiting wait, then the committer blocks (the
//                  syncer is far behind: it should wait, not pile up).
//
// Thread-safe (one mutex each).
#ifndef BILLSIM_SERVER_BOUNDED_QUEUE_H_
#define BILLSIM_SERVER_BOUNDED_QUEUE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace billsim::server {

enum class Push { kOk, kFull, kClosed };

template <typename T>
class WeightedQueue {
 public:
  explicit WeightedQueue(uint64_t capacity) : capacity_(capacity) {}

  // On kFull or kClosed `item` is left with the caller. An empty queue takes
  // any weight, so one request above the capacity cannot stall forever.
  Push TryPush(T& item, uint64_t weight) {
    std::lock_guard lock(mu_);
    if (closed_) return Push::kClosed;
    if (held_ > 0 && held_ + weight > capacity_) return Push::kFull;
    held_ += weight;
    items_.push_back(std::move(item));
    cv_.notify_one();
    return Push::kOk;
  }
  // Takes everything queued; waits up to `wait` for something. False when
  // closed and drained.
  bool PopAll(std::vector<T>* out, std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return closed_ || !items_.empty(); });
    out->clear();
    std::move(items_.begin(), items_.end(), std::back_inserter(*out));
    items_.clear();
    return !(closed_ && out->empty());
  }
  // Takes the oldest item, waiting for one. False when closed and drained.
  bool PopOne(T* out) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    return true;
  }
  // Work taken and finished no longer counts against the capacity.
  void Release(uint64_t weight) {
    std::lock_guard lock(mu_);
    held_ -= std::min(held_, weight);
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  uint64_t held() const {
    std::lock_guard lock(mu_);
    return held_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  uint64_t held_ = 0;
  const uint64_t capacity_;
  bool closed_ = false;
};

template <typename T>
class SyncQueue {
 public:
  static constexpr size_t kMaxWaiting = 4;

  // Waits while kMaxWaiting items wait. REQUIRES: not closed.
  void Push(T&& item) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return items_.size() < kMaxWaiting; });
    items_.push_back(std::move(item));
    ready_.notify_one();
  }
  // Takes every waiting item; false when closed and drained.
  bool PopAll(std::vector<T>* out) {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    out->clear();
    for (auto& item : items_) out->push_back(std::move(item));
    items_.clear();
    room_.notify_all();
    return !out->empty();
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    ready_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_BOUNDED_QUEUE_H_
