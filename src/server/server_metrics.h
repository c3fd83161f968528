// ServerMetrics: the figures the server's threads count as they work, for
// GET /metrics (http/metrics.h renders them). Every field is an atomic
// written with relaxed order (a figure may lag another by a group; none
// is used to decide anything), except the refusals by field, which take a
// mutex (refusals are the exception, and their fields a bounded set: the
// event fields of the schema).
#ifndef BILLSIM_SERVER_SERVER_METRICS_H_
#define BILLSIM_SERVER_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"

namespace billsim::server {

// Counts of observations in fixed buckets (upper bounds, ascending; the
// last bucket is +Inf), with their sum. Thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<uint64_t> bounds)
      : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
  }
  void Observe(uint64_t value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  const std::vector<uint64_t>& bounds() const { return bounds_; }
  // Observations in bucket i alone (not cumulative); i == bounds().size():
  // above the last bound.
  uint64_t bucket(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<uint64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> sum_{0}, count_{0};
};

struct ServerMetrics {
  // Latencies in microseconds: 100 us .. 10 s.
  static std::vector<uint64_t> LatencyBoundsUs() {
    return {100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000,
            500'000, 1'000'000, 2'500'000, 10'000'000};
  }

  // Events in append requests taken by the committer, by the payload they
  // carry (v1::Event::PayloadCase; 0: none).
  static constexpr size_t kKinds = 15;  // metrics.cc checks it against the proto
  std::array<std::atomic<uint64_t>, kKinds> received_by_kind{};
  // Of those, refused by the ledger (the event is bad) and refused as
  // already applied (R10); the rest were applied.
  std::array<std::atomic<uint64_t>, kKinds> refused_by_kind{};
  std::array<std::atomic<uint64_t>, kKinds> duplicate_by_kind{};

  // From an append's arrival at the committer's queue to its answer (after
  // its group is durable under the policy).
  Histogram ack_latency_us{LatencyBoundsUs()};
  // Events per group the committer appends in one go (group commit).
  Histogram group_events{{1, 10, 100, 1'000, 10'000, 100'000, 1'000'000}};
  // One fdatasync of the log (--fsync always), by the syncer thread.
  Histogram fsync_us{LatencyBoundsUs()};
  std::atomic<uint64_t> log_bytes_written{0};  // since the server started

  // Refusals other than duplicates, by the field the ledger named (at most
  // kMaxFields fields; the rest count as "(other)").
  static constexpr size_t kMaxFields = 256;
  void Refused(const std::string& field) {
    std::lock_guard lock(mu_);
    const std::string key = field.empty() ? "(none)" : field;
    auto it = refused_by_field_.find(key);
    if (it == refused_by_field_.end() && refused_by_field_.size() >= kMaxFields) {
      it = refused_by_field_.try_emplace("(other)", 0).first;
    } else if (it == refused_by_field_.end()) {
      it = refused_by_field_.try_emplace(key, 0).first;
    }
    it->second++;
  }
  std::map<std::string, uint64_t> refused_by_field() const {
    std::lock_guard lock(mu_);
    return refused_by_field_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> refused_by_field_;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_SERVER_METRICS_H_
