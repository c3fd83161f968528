// LogScrubber: a background checksum scan of a log that a server is
// writing, so that damage in its sealed segments is found while it runs.
//
// The server starts from a snapshot and reads only the tail after it; its
// recovery checks every batch header but only the last segment's payloads.
// A bit flip in a payload of a sealed segment would pass unseen until the
// next full replay. The scrubber reads the log as it was at start (sequences
// 1..through_seq, which the writer never touches again) on its own thread,
// checking every header and payload checksum and that sequences are dense
// (CheckBatches in log_check.h), at most `bytes_per_sec_max`, at the lowest
// CPU priority, once. Its result is a value the server reports (Pong).
//
// Thread-safe: state() may be called from any thread. Stop() (or the
// destructor) ends the scan early and joins.
#ifndef BILLSIM_LOG_LOG_SCRUB_H_
#define BILLSIM_LOG_LOG_SCRUB_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace billsim::log {

class LogScrubber {
 public:
  enum class Phase { kIdle, kRunning, kClean, kDamaged, kStopped };
  struct State {
    Phase phase = Phase::kIdle;
    uint64_t through_seq = 0;  // what the scan covers: 1..through_seq
    uint64_t checked_seq = 0;  // checked so far
    std::string damage;        // the first fault: segment, offset, sequence
  };

  LogScrubber() = default;
  ~LogScrubber() { Stop(); }
  LogScrubber(const LogScrubber&) = delete;
  LogScrubber& operator=(const LogScrubber&) = delete;

  // Starts the scan of sequences 1..through_seq of the log in `dir`.
  // REQUIRES: not started before.
  void Start(const std::string& dir, uint64_t through_seq, uint64_t bytes_per_sec_max);
  void Stop();
  State state() const;

  static const char* PhaseName(Phase phase);

 private:
  void Run(std::string dir, uint64_t through_seq, uint64_t bytes_per_sec_max);

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  State state_;
  std::thread thread_;
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_SCRUB_H_
