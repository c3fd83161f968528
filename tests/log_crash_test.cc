// Crash test of the log (issue section 5): a child process appends with
// --fsync always and is killed with SIGKILL at random moments; each time the
// reopened log must hold every batch that was reported durable, no partial
// batch, and pass a full verify (checksums, hash chain, dense sequences).
//
// The child is tests/log_crash_child.cc, found through LOG_CRASH_CHILD. The
// seed comes from BILLSIM_CRASH_SEED when set, else it is random; it is
// printed, and named in every failure.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "test_support.h"
#include "log/batch_codec.h"
#include "log/format.h"
#include "log/log_dir.h"
#include "log/log_reader.h"
#include "log/log_writer.h"

#ifndef LOG_CRASH_CHILD
#error "LOG_CRASH_CHILD must name the log_crash_child program (tests/CMakeLists.txt)"
#endif

extern char** environ;

namespace billsim::log {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSegmentBytes = 256 << 10;
constexpr int kKills = 60;
constexpr uint64_t kFreshLogAfterBytes = 12 << 20;  // bounds the test's time

using TempDir = test_support::TempDir;

using test_support::CaptureLog;

struct ChildRun {
  std::vector<std::string> lines;
  bool killed = false;     // ended by our SIGKILL
  std::string status;      // how it ended, for messages
  std::string stderr_text;
};

enum class KillMode { kAtOnce, kDuringStartup, kAfterOpened, kAfterDurableLine };

// Runs the child on `dir` and kills it as `mode` says.
ChildRun RunAndKill(const std::string& dir, const std::string& stderr_path,
                    uint64_t child_seed, KillMode mode, int delay_us, int lines_before_kill) {
  ChildRun run;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    run.status = "pipe failed";
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const std::string program = LOG_CRASH_CHILD;
  const std::string seed = std::to_string(child_seed);
  const std::string segment = std::to_string(kSegmentBytes);
  std::vector<char*> argv = {const_cast<char*>(program.c_str()),
                             const_cast<char*>(dir.c_str()),
                             const_cast<char*>(seed.c_str()),
                             const_cast<char*>(segment.c_str()), nullptr};
  pid_t pid = -1;
  const auto start = Clock::now();
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    run.status = "posix_spawn " + program + ": " + std::strerror(rc);
    return run;
  }

  std::string buffer;
  bool eof = false;
  auto take_lines = [&]() {
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      run.lines.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  };
  auto durable_lines = [&]() {
    int n = 0;
    for (const auto& l : run.lines) n += l.rfind("durable ", 0) == 0;
    return n;
  };
  auto read_some = [&](int timeout_ms) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) {
      eof = n == 0;
      return;
    }
    buffer.append(buf, static_cast<size_t>(n));
    take_lines();
  };

  // The moment to kill: a delay after the start, or after the child's
  // recovery finished ("opened"), or right after its k-th durable line.
  auto deadline = start + (mode == KillMode::kDuringStartup
                               ? std::chrono::microseconds(delay_us)
                               : std::chrono::microseconds(3'000'000));
  bool opened = false;
  if (mode != KillMode::kAtOnce) {
    while (!eof && Clock::now() < deadline) {
      if (mode == KillMode::kAfterDurableLine && durable_lines() >= lines_before_kill) break;
      if (mode == KillMode::kAfterOpened && !opened && !run.lines.empty()) {
        opened = true;
        deadline = Clock::now() + std::chrono::microseconds(delay_us);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      // Short polls: the kill lands close to its moment.
      read_some(static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1)));
    }
  }
  ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  // Everything the child wrote before it died was reported.
  while (!eof) {
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(buf, static_cast<size_t>(n));
    take_lines();
  }
  ::close(fds[0]);
  // A partial last line (cannot happen with write(2) of short lines) is dropped.
  run.killed = WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
  run.status = WIFSIGNALED(wstatus) ? "killed by signal " + std::to_string(WTERMSIG(wstatus))
                                    : "exited with " + std::to_string(WEXITSTATUS(wstatus));
  std::ifstream err(stderr_path);
  std::stringstream ss;
  ss << err.rdbuf();
  run.stderr_text = ss.str();
  return run;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

struct ReadResult {
  Status status;
  std::string tail_fault;
  uint64_t last_seq = 0;
  uint64_t batches = 0;
  std::map<uint64_t, std::string> chain_at;  // last seq of each batch -> chain hex
};

// Reads the whole log; checks dense sequences and that every event decodes
// with event id == sequence (what the child writes).
// With check_indexes, also that every index lists exactly its segment's
// batches (what `billsim log verify` checks besides).
ReadResult ReadAll(const std::string& dir, bool verify_chain, bool check_indexes = false) {
  ReadResult out;
  // A child killed before it created the directory left no log at all;
  // readers refuse a missing directory (issue #9), so that is checked here.
  if (!fs::exists(dir)) return out;
  std::map<std::string, std::vector<IndexEntry>> seen;
  LogReader reader;
  out.status = reader.Open(dir, LogReader::Options{verify_chain});
  BatchDecoder decoder;
  struct Check : BatchVisitor {
    uint64_t first = 0;
    std::string error;
    bool OnDelivery(uint32_t pos, const DeliveryRow& row) override {
      if (row.event_id != first + pos) {
        error = "event at sequence " + std::to_string(first + pos) + " has id " +
                std::to_string(row.event_id);
        return false;
      }
      return true;
    }
    bool OnEvent(uint32_t pos, const v1::Event&) override {
      error = "unexpected non-delivery event at " + std::to_string(first + pos);
      return false;
    }
  } check;
  uint64_t next = 1;
  while (out.status.ok()) {
    BatchView batch;
    bool done = false;
    out.status = reader.Next(&batch, &done);
    if (!out.status.ok() || done) break;
    if (batch.header.first_seq != next) {
      out.status = Status::Corruption("batch starts at " + std::to_string(batch.header.first_seq) +
                                      ", expected " + std::to_string(next));
      break;
    }
    out.status = decoder.Parse(batch.payload, batch.header.count);
    if (!out.status.ok()) break;
    check.first = batch.header.first_seq;
    decoder.Visit(&check);
    if (!check.error.empty()) {
      out.status = Status::Corruption(check.error);
      break;
    }
    seen[reader.segment_path()].push_back({batch.header.first_seq, batch.offset});
    next = batch.header.last_seq() + 1;
    out.chain_at[batch.header.last_seq()] = ChainHex(batch.header.chain);
    out.batches++;
  }
  out.last_seq = next - 1;
  out.tail_fault = reader.tail_fault();
  if (check_indexes && out.status.ok()) {
    for (uint64_t s : reader.segments()) {
      std::vector<IndexEntry> index;
      bool clean = false;
      out.status = ReadIndex(IndexPath(dir, s), &index, &clean);
      if (out.status.ok() && (!clean || index != seen[SegmentPath(dir, s)])) {
        out.status = Status::Corruption(IndexPath(dir, s) + ": index disagrees with its segment");
      }
      if (!out.status.ok()) break;
    }
  }
  return out;
}

uint64_t SeedFromEnvironment() {
  if (const char* s = std::getenv("BILLSIM_CRASH_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
}

TEST(LogCrashTest, SigkillDuringFsyncedAppendsLosesNothingReportedDurable) {
  const uint64_t seed = SeedFromEnvironment();
  std::printf("[ seed     ] BILLSIM_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("BILLSIM_CRASH_SEED=" + std::to_string(seed));
  ASSERT_TRUE(fs::exists(LOG_CRASH_CHILD)) << LOG_CRASH_CHILD;
  std::mt19937_64 rng(seed);
  TempDir tmp;
  const std::string stderr_path = (fs::path(tmp.path()) / "child.stderr").string();
  int generation = 0;
  std::string dir = (fs::path(tmp.path()) / "log0").string();

  // Every (last sequence, chain) the children reported durable, this log.
  std::map<uint64_t, std::string> reported;
  uint64_t log_end = 0;  // the recovered log never ends before this
  int cuts = 0, no_durable = 0, empty_logs = 0, appended_between = 0;
  const auto started = Clock::now();

  for (int kill = 0; kill < kKills; ++kill) {
    SCOPED_TRACE("kill " + std::to_string(kill) + " on " + dir);
    if (DirBytes(dir) > kFreshLogAfterBytes) {
      dir = (fs::path(tmp.path()) / ("log" + std::to_string(++generation))).string();
      reported.clear();
      log_end = 0;
    }
    const uint64_t r = rng() % 100;
    const KillMode mode = r < 10   ? KillMode::kAtOnce
                          : r < 25 ? KillMode::kDuringStartup
                          : r < 70 ? KillMode::kAfterOpened
                                   : KillMode::kAfterDurableLine;
    const int delay_us = static_cast<int>(rng() % (mode == KillMode::kDuringStartup ? 10'000 : 30'000));
    const int lines = 1 + static_cast<int>(rng() % 4);
    const ChildRun run = RunAndKill(dir, stderr_path, rng(), mode, delay_us, lines);
    ASSERT_TRUE(run.killed) << "the child was not killed by us: " << run.status << "\nstdout:\n"
                            << (run.lines.empty() ? "" : run.lines.back()) << "\nstderr:\n"
                            << run.stderr_text;
    uint64_t max_durable = 0;
    int durable_count = 0;
    for (const std::string& line : run.lines) {
      ASSERT_NE(line.rfind("error", 0), 0u) << line;
      if (line.rfind("durable ", 0) != 0) continue;
      std::istringstream in(line.substr(8));
      uint64_t seq = 0;
      std::string chain;
      in >> seq >> chain;
      ASSERT_GT(seq, max_durable) << line;
      ASSERT_EQ(chain.size(), 64u) << line;
      reported[seq] = chain;
      max_durable = seq;
      durable_count++;
    }
    if (durable_count == 0) no_durable++;

    // As the crash left it: a clean log or a torn tail, never damage before
    // the tail.
    ReadResult raw = ReadAll(dir, /*verify_chain=*/true);
    ASSERT_TRUE(raw.status.ok()) << "before recovery: " << raw.status.ToString();

    // Recovery.
    LogState state;
    {
      CaptureLog capture;
      std::unique_ptr<LogWriter> writer;
      LogOptions options;
      options.segment_bytes = kSegmentBytes;
      const Status st = LogWriter::Open(dir, options, &writer, &state);
      ASSERT_TRUE(st.ok()) << "reopen after the kill: " << st.ToString();
      if (state.cut_tail) {
        cuts++;
        EXPECT_FALSE(raw.tail_fault.empty())
            << "recovery cut a tail the reader did not see: " << state.cut_reason;
        EXPECT_NE(capture.text().find("torn tail"), std::string::npos) << capture.text();
      } else {
        EXPECT_TRUE(raw.tail_fault.empty()) << raw.tail_fault;
      }
      EXPECT_EQ(state.next_seq - 1, raw.last_seq)
          << "recovery kept a different prefix than the reader read";
      ASSERT_GE(state.next_seq - 1, log_end) << "the log lost batches it held before";
      if (!reported.empty()) {
        ASSERT_GE(state.next_seq - 1, reported.rbegin()->first)
            << "a batch reported durable is gone";
        ASSERT_EQ(writer->durable_seq(), state.next_seq - 1);
      }
      if (state.next_seq == 1) empty_logs++;
      // Sometimes append more in this process between crashes.
      if (rng() % 4 == 0) {
        BatchBuilder b;
        const uint64_t first = writer->next_seq();
        const uint32_t n = 1 + static_cast<uint32_t>(rng() % 500);
        for (uint32_t i = 0; i < n; ++i) {
          b.AddDelivery(first + i, 1'800'000'000'000'000 + i, "a", "c",
                        v1::DeliveryReported::CLICK, 1, false);
        }
        SeqRange range;
        ASSERT_TRUE(writer->Append(b, &range).ok());
        ASSERT_EQ(writer->durable_seq(), range.last);
        reported[range.last] = ChainHex(writer->chain());
        appended_between++;
      }
      ASSERT_TRUE(writer->Close().ok());
    }

    // After recovery: a full verify, dense, no partial batch, and every
    // batch reported durable there with the chain the child saw.
    const ReadResult after = ReadAll(dir, /*verify_chain=*/true, /*check_indexes=*/true);
    ASSERT_TRUE(after.status.ok()) << "verify after recovery: " << after.status.ToString();
    EXPECT_TRUE(after.tail_fault.empty()) << "tail fault after recovery: " << after.tail_fault;
    ASSERT_GE(after.last_seq, log_end);
    for (const auto& [seq, chain] : reported) {
      const auto it = after.chain_at.find(seq);
      ASSERT_NE(it, after.chain_at.end())
          << "no batch ends at reported durable sequence " << seq;
      ASSERT_EQ(it->second, chain) << "chain at reported durable sequence " << seq;
    }
    // Segment files end exactly at batch ends: nothing past the last batch.
    std::vector<uint64_t> segments;
    ASSERT_TRUE(ListSegments(dir, &segments).ok());
    for (uint64_t s : segments) {
      EXPECT_GT(fs::file_size(SegmentPath(dir, s)), 0u) << SegmentName(s) << " left empty";
    }
    log_end = after.last_seq;
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("[ figure   ] %d kills in %.1f s: %d torn tails cut, %d runs killed before any "
              "durable line, %d empty logs, %d appends between crashes, %d fresh logs\n",
              kKills, seconds, cuts, no_durable, empty_logs, appended_between, generation + 1);
  // Whether a kill lands inside a write (a torn tail) depends on the disk;
  // but some child must have got as far as a durable batch.
  EXPECT_LT(no_durable, kKills) << "no child ever reported a durable batch";
}

}  // namespace
}  // namespace billsim::log
