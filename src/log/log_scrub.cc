#include "log/log_scrub.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "log/log_check.h"
#include "util/assert.h"
#include "util/status.h"
#include "util/thread_name.h"

namespace billsim::log {

const char* LogScrubber::PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kIdle: return "idle";
    case Phase::kRunning: return "running";
    case Phase::kClean: return "clean";
    case Phase::kDamaged: return "damaged";
    case Phase::kStopped: return "stopped";
  }
  return "unknown";
}

void LogScrubber::Start(const std::string& dir, uint64_t through_seq,
                        uint64_t bytes_per_sec_max) {
  BILLSIM_ASSERT(!thread_.joinable());
  BILLSIM_ASSERT(bytes_per_sec_max > 0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.phase = Phase::kRunning;
    state_.through_seq = through_seq;
  }
  thread_ = std::thread([this, dir, through_seq, bytes_per_sec_max] {
    SetThreadName("bs-scrub");
    Run(dir, through_seq, bytes_per_sec_max);
  });
}

void LogScrubber::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

LogScrubber::State LogScrubber::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void LogScrubber::Run(std::string dir, uint64_t through_seq, uint64_t bytes_per_sec_max) {
  // Lowest CPU priority for this thread only (Linux: a tid is a process
  // for setpriority); the I/O is bounded by the pace below.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  // After each batch: publish progress, then sleep until the bytes read so
  // far fit the rate; a stop request wakes the sleep and ends the scan.
  auto pace = [&](uint64_t bytes, uint64_t checked_seq) {
    const auto due_us = static_cast<int64_t>(static_cast<unsigned __int128>(bytes) * 1'000'000 /
                                             bytes_per_sec_max);
    std::unique_lock<std::mutex> lock(mu_);
    state_.checked_seq = checked_seq;
    return !stop_cv_.wait_until(lock, started + std::chrono::microseconds(due_us),
                                [this] { return stop_; });
  };
  uint64_t checked = 0;
  const Status st = CheckBatches(dir, through_seq, pace, &checked);
  std::lock_guard<std::mutex> lock(mu_);
  state_.checked_seq = checked;
  if (!st.ok()) {
    state_.phase = Phase::kDamaged;
    state_.damage = st.message();
    spdlog::error("log scrub: {}", st.message());
  } else if (checked < through_seq) {
    state_.phase = Phase::kStopped;
  } else {
    state_.phase = Phase::kClean;
    spdlog::info("log scrub: sequences 1..{} of {} check out", through_seq, dir);
  }
}

}  // namespace billsim::log
