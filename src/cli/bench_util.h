// What the benchmarks (bench_commands.cc, bench_ledger.cc) share: a steady
// clock read in seconds, the process's memory (the peak and the current
// resident set) and one line of progress on a terminal. A benchmark prints
// what it measured; it asserts nothing about speed.
#ifndef BILLSIM_CLI_BENCH_UTIL_H_
#define BILLSIM_CLI_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace billsim::cli {

using BenchClock = std::chrono::steady_clock;

double Seconds(BenchClock::duration d);

// The process's peak resident set so far (/proc/self/status VmHWM, else
// getrusage), in bytes: since the last ResetPeakRss if there was one.
uint64_t PeakRssBytes();
// The process's resident set now (/proc/self/statm), in bytes; 0 if it
// cannot be read.
uint64_t CurrentRssBytes();
// Starts the high-water mark of the resident set over from the current
// resident set (Linux 4.0+: /proc/self/clear_refs), so that PeakRssBytes
// then tells the peak of what follows alone; false if the system does not
// allow it (then the peak stays the process's).
bool ResetPeakRss();

// The benchmark's working folder: `given` (created if missing), or, when
// empty, a new temporary one under /tmp named after `name`. False (and
// logged) when it cannot be made.
bool BenchWorkDir(const std::string& given, const std::string& name, std::string* root);

// OK if `value` of option --`option` is within [min, max]; else
// InvalidArgument naming the option, the range and the value.
Status CheckRange(const char* option, uint64_t value, uint64_t min, uint64_t max);

// The middle value (the upper one of an even count); 0 for none.
double Median(std::vector<double> values);

// Shows one line of progress on stderr when `on` (a terminal); silent
// otherwise, so that a pipe or a log file gets only results.
class Progress {
 public:
  explicit Progress(bool on) : on_(on) {}
  void Show(const std::string& phase, uint64_t done, uint64_t total);
  // For work of unknown size (a stream): how much is done so far; End
  // finishes the line.
  void Count(const std::string& phase, uint64_t done, const char* unit);
  void End();

 private:
  bool on_;
  bool shown_ = false;
  BenchClock::time_point last_{};
};

}  // namespace billsim::cli

#endif  // BILLSIM_CLI_BENCH_UTIL_H_
