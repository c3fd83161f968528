#include "cli/bench_util.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <cinttypes>
#include <cstdio>
#include <string>

namespace billsim::cli {

Status CheckRange(const char* option, uint64_t value, uint64_t min, uint64_t max) {
  if (value >= min && value <= max) return Status::Ok();
  return Status::InvalidArgument("--" + std::string(option) + " must be " +
                                 std::to_string(min) + ".." + std::to_string(max) + " (got " +
                                 std::to_string(value) + ")");
}

double Seconds(BenchClock::duration d) { return std::chrono::duration<double>(d).count(); }

uint64_t PeakRssBytes() {
  // VmHWM, the address space's own mark, which ResetPeakRss starts over;
  // getrusage also keeps the mark at each thread's exit, which it does not.
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    unsigned long long kb = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f) != nullptr) {
      found = std::sscanf(line, "VmHWM: %llu kB", &kb) == 1;
    }
    std::fclose(f);
    if (found) return static_cast<uint64_t>(kb) * 1024;
  }
  struct rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux: kilobytes
}

uint64_t CurrentRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size_pages = 0, resident_pages = 0;
  const int got = std::fscanf(f, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<uint64_t>(resident_pages) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

bool ResetPeakRss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr) return false;
  const bool written = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && written;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void Progress::Show(const std::string& phase, uint64_t done, uint64_t total) {
  if (!on_) return;
  const auto now = BenchClock::now();
  if (done != total && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  std::fprintf(stderr, "\r%-28s %5.1f%%  %" PRIu64 "/%" PRIu64 " events   ", phase.c_str(),
               total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
               done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

bool BenchWorkDir(const std::string& given, const std::string& name, std::string* root) {
  if (!given.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(given, ec);
    if (ec) {
      spdlog::error("{}: cannot create: {}", given, ec.message());
      return false;
    }
    *root = given;
    return true;
  }
  std::string tmpl = "/tmp/billsim-" + name + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    spdlog::error("cannot create a temporary folder in /tmp");
    return false;
  }
  *root = tmpl;
  return true;
}

void Progress::Count(const std::string& phase, uint64_t done, const char* unit) {
  if (!on_) return;
  const auto now = BenchClock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  shown_ = true;
  std::fprintf(stderr, "\r%-28s %" PRIu64 " %s   ", phase.c_str(), done, unit);
}

void Progress::End() {
  if (on_ && shown_) std::fprintf(stderr, "\n");
  shown_ = false;
}

}  // namespace billsim::cli
