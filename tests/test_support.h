// Scaffolding shared by the tests that touch the file system or the log
// output: a temporary directory removed at the end, a capture of spdlog's
// output, and a check that a log reads back whole.
#ifndef BILLSIM_TESTS_TEST_SUPPORT_H_
#define BILLSIM_TESTS_TEST_SUPPORT_H_

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "log/log_reader.h"

namespace billsim::test_support {

// A fresh directory under `root` (the system's temporary directory by
// default), removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& root = std::filesystem::temp_directory_path()) {
    std::string t = (root / "billsim-test-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) std::abort();
    path_ = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

// Sends spdlog's default logger to a string while alive (recovery warns on
// every cut and rebuild; tests read what it said).
class CaptureLog {
 public:
  CaptureLog() : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~CaptureLog() { spdlog::set_default_logger(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> old_;
};

// The log in `dir` passes `log verify`'s reading (checksums, the SHA-256
// chain, dense sequences from 1, no torn tail) and ends at
// `expected_last_seq`.
inline void ExpectLogVerifies(const std::string& dir, uint64_t expected_last_seq) {
  log::LogReader reader;
  ASSERT_TRUE(reader.Open(dir, log::LogReader::Options{/*verify_chain=*/true}).ok());
  uint64_t next = 1;
  for (;;) {
    log::BatchView batch;
    bool done = false;
    Status st = reader.Next(&batch, &done);
    ASSERT_TRUE(st.ok()) << st.ToString();
    if (done) break;
    EXPECT_EQ(batch.header.first_seq, next);
    next = batch.header.last_seq() + 1;
  }
  EXPECT_EQ(reader.tail_fault(), "");
  EXPECT_EQ(next - 1, expected_last_seq);
}

// A file's bytes, and a file made of `data` (replacing it): for tests that
// damage logs by hand.
inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The seed of a randomized fault test: BILLSIM_FAULT_SEED if set (to
// replay a failure the test printed), else a fresh one.
inline uint64_t FaultSeed() {
  if (const char* s = std::getenv("BILLSIM_FAULT_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

}  // namespace billsim::test_support

#endif  // BILLSIM_TESTS_TEST_SUPPORT_H_
