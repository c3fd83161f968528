// Stages (LogWriter::BeginStage, issue 16's `log append --atomic` of any
// size): batches written to a staged segment join the log in one rename,
// whole, or not at all: on an abort, a close, a failed rename, or a crash
// at any point before the rename is durable (fault_env.h), the log is
// exactly what it was before the stage, and no reader ever sees part of it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fault_env.h"
#include "log_events.h"
#include "log/batch_codec.h"
#include "log/log_dir.h"
#include "log/log_writer.h"
#include "test_support.h"

namespace billsim::log {
namespace {

namespace fs = std::filesystem;
using test_support::Batches;
using test_support::CaptureLog;
using test_support::FaultEnv;
using test_support::TempDir;

constexpr int64_t kT0 = 1'768'435'200'000'000;  // 2026-01-15T00:00:00Z

// Appends a batch of deliveries with ids first..first+n-1; their ids join *ids.
Status AppendIds(LogWriter* writer, uint64_t first, uint64_t n, Batches* ids) {
  BatchBuilder builder;
  std::vector<uint64_t> batch;
  for (uint64_t id = first; id < first + n; ++id) {
    builder.AddDelivery(id, kT0 + static_cast<int64_t>(id), "a1", "c" + std::to_string(id % 3),
                        v1::DeliveryReported::CLICK, 1, false);
    batch.push_back(id);
  }
  SeqRange range;
  Status st = writer->Append(builder, &range);
  if (st.ok()) ids->push_back(batch);
  return st;
}

std::vector<std::string> Staged(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(kStagedSuffix)) names.push_back(name);
  }
  return names;
}

Batches Read(const std::string& dir, Env* env = nullptr) {
  Batches found;
  const Status st = test_support::ReadLogEventIds(dir, env, &found);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return found;
}

LogOptions Options(Env* env = nullptr, uint64_t segment_bytes = 4096) {
  LogOptions options;
  options.env = env;
  options.segment_bytes = segment_bytes;
  options.fsync.mode = FsyncPolicy::Mode::kAlways;
  return options;
}

TEST(LogStageTest, ACommittedStageJoinsTheLogWholeInOneSegment) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  std::unique_ptr<LogWriter> writer;
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  Batches before;
  ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &before).ok());

  ASSERT_TRUE(writer->BeginStage().ok());
  Batches staged;
  // Far past the 4 KiB segment size: a stage never rolls.
  for (uint64_t b = 0; b < 10; ++b) ASSERT_TRUE(AppendIds(writer.get(), 6 + 20 * b, 20, &staged).ok());
  EXPECT_EQ(writer->next_seq(), 206u);
  EXPECT_EQ(writer->durable_seq(), 5u);  // nothing of a stage is durable before its commit
  // A reader meanwhile sees the log as it was, and nothing of the stage.
  EXPECT_EQ(Read(dir), before);
  EXPECT_EQ(Staged(dir).size(), 2u);  // its segment and its index
  std::vector<uint64_t> segments;
  ASSERT_TRUE(ListSegments(dir, &segments).ok());
  EXPECT_EQ(segments, std::vector<uint64_t>{1});

  SeqRange range;
  ASSERT_TRUE(writer->CommitStage(&range).ok());
  EXPECT_EQ(range.first, 6u);
  EXPECT_EQ(range.last, 205u);
  EXPECT_EQ(writer->durable_seq(), 205u);
  Batches all = before;
  all.insert(all.end(), staged.begin(), staged.end());
  EXPECT_EQ(Read(dir), all);  // chain verified across the stage
  EXPECT_TRUE(Staged(dir).empty());
  ASSERT_TRUE(ListSegments(dir, &segments).ok());
  EXPECT_EQ(segments, (std::vector<uint64_t>{1, 6}));

  // The log goes on after it, in a segment of its own, and reopens whole.
  ASSERT_TRUE(AppendIds(writer.get(), 206, 3, &all).ok());
  writer.reset();
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  EXPECT_EQ(writer->next_seq(), 209u);
  EXPECT_EQ(Read(dir), all);
}

TEST(LogStageTest, AnAbortedStageLeavesTheLogAsItWas) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  std::unique_ptr<LogWriter> writer;
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  Batches log;
  ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &log).ok());
  const Chain chain = writer->chain();

  ASSERT_TRUE(writer->BeginStage().ok());
  Batches dropped;
  for (uint64_t b = 0; b < 3; ++b) ASSERT_TRUE(AppendIds(writer.get(), 6 + 10 * b, 10, &dropped).ok());
  writer->AbortStage();
  EXPECT_FALSE(writer->staging());
  EXPECT_EQ(writer->next_seq(), 6u);
  EXPECT_EQ(writer->chain(), chain);
  EXPECT_TRUE(Staged(dir).empty());

  // The next batch takes the sequences the stage had: dense, chained.
  ASSERT_TRUE(AppendIds(writer.get(), 100, 4, &log).ok());
  EXPECT_EQ(writer->next_seq(), 10u);
  EXPECT_EQ(Read(dir), log);
  // An empty stage commits nothing.
  ASSERT_TRUE(writer->BeginStage().ok());
  SeqRange range;
  ASSERT_TRUE(writer->CommitStage(&range).ok());
  EXPECT_GT(range.first, range.last);
  EXPECT_TRUE(Staged(dir).empty());
  EXPECT_EQ(Read(dir), log);
}

TEST(LogStageTest, AWriterClosedWhileStagingDropsTheStage) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  std::unique_ptr<LogWriter> writer;
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  Batches log, dropped;
  ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &log).ok());
  ASSERT_TRUE(writer->BeginStage().ok());
  ASSERT_TRUE(AppendIds(writer.get(), 6, 10, &dropped).ok());
  writer.reset();
  EXPECT_TRUE(Staged(dir).empty());
  EXPECT_EQ(Read(dir), log);
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  EXPECT_EQ(writer->next_seq(), 6u);
}

// What a SIGKILL leaves: the staged files, complete or not. Readers never
// list them; the next writer removes them and says so.
TEST(LogStageTest, AStageAKilledWriterLeftIsNeverReadAndIsRemovedByTheNextWriter) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  const std::string aside = tmp.sub("aside");
  fs::create_directories(aside);
  std::unique_ptr<LogWriter> writer;
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  Batches log, dropped;
  ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &log).ok());
  ASSERT_TRUE(writer->BeginStage().ok());
  for (uint64_t b = 0; b < 4; ++b) ASSERT_TRUE(AppendIds(writer.get(), 6 + 10 * b, 10, &dropped).ok());
  const std::vector<std::string> staged = Staged(dir);
  ASSERT_EQ(staged.size(), 2u);
  for (const std::string& name : staged) fs::copy_file(fs::path(dir) / name, fs::path(aside) / name);
  writer.reset();
  for (const std::string& name : staged) fs::copy_file(fs::path(aside) / name, fs::path(dir) / name);

  EXPECT_EQ(Read(dir), log);  // a reader: the log without the stage
  LogState state;
  ASSERT_TRUE(RecoverLog(dir, /*repair=*/false, &state).ok());  // `log verify`: no damage
  EXPECT_EQ(state.next_seq, 6u);
  EXPECT_EQ(Staged(dir).size(), 2u);  // a reader removes nothing

  CaptureLog capture;
  ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
  EXPECT_NE(capture.text().find("never committed"), std::string::npos) << capture.text();
  EXPECT_TRUE(Staged(dir).empty());
  EXPECT_EQ(writer->next_seq(), 6u);
  ASSERT_TRUE(AppendIds(writer.get(), 50, 2, &log).ok());
  EXPECT_EQ(Read(dir), log);
}

TEST(LogStageTest, AFailedSegmentRenameLeavesNothingOfTheStage) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  FaultEnv env(1);
  std::unique_ptr<LogWriter> writer;
  ASSERT_TRUE(LogWriter::Open(dir, Options(&env), &writer).ok());
  Batches log, dropped;
  ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &log).ok());
  ASSERT_TRUE(writer->BeginStage().ok());
  ASSERT_TRUE(AppendIds(writer.get(), 6, 10, &dropped).ok());
  env.FailRename(1);
  SeqRange range;
  EXPECT_FALSE(writer->CommitStage(&range).ok());
  EXPECT_FALSE(AppendIds(writer.get(), 16, 1, &dropped).ok());  // failed for good
  writer.reset();
  EXPECT_TRUE(Staged(dir).empty());
  ASSERT_TRUE(LogWriter::Open(dir, Options(&env), &writer).ok());
  EXPECT_EQ(writer->next_seq(), 6u);
  EXPECT_EQ(Read(dir, &env), log);
}

// The index's rename failing after the segment's: the stage is in the log
// (as after any failed append, the outcome is the log's to tell), its
// index is rebuilt, and nothing staged is left.
TEST(LogStageTest, AFailedIndexRenameLeavesTheWholeStageAndARebuiltIndex) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  FaultEnv env(2);
  std::unique_ptr<LogWriter> writer;
  ASSERT_TRUE(LogWriter::Open(dir, Options(&env), &writer).ok());
  Batches log;
  ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &log).ok());
  ASSERT_TRUE(writer->BeginStage().ok());
  ASSERT_TRUE(AppendIds(writer.get(), 6, 10, &log).ok());
  ASSERT_TRUE(AppendIds(writer.get(), 16, 10, &log).ok());
  env.FailRename(2);
  SeqRange range;
  EXPECT_FALSE(writer->CommitStage(&range).ok());
  writer.reset();
  CaptureLog capture;
  ASSERT_TRUE(LogWriter::Open(dir, Options(&env), &writer).ok());
  EXPECT_NE(capture.text().find("rebuilding index"), std::string::npos) << capture.text();
  EXPECT_TRUE(Staged(dir).empty());
  EXPECT_EQ(writer->next_seq(), 26u);
  EXPECT_EQ(Read(dir, &env), log);
}

uint64_t BaseSeed() {
  if (const char* s = std::getenv("BILLSIM_FAULT_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// The power goes at every mutating operation of a stage and its commit in
// turn (file creations, writes, syncs, renames, the directory sync), with
// unsynced bytes dropped or torn: after recovery the log holds what it held
// before the stage, or that and the whole stage; never a part of it. Once
// CommitStage returned OK, the whole stage.
TEST(LogStageTest, ACrashAnywhereInAStageLeavesAllOfItOrNone) {
  const uint64_t seed = BaseSeed();
  std::printf("log stage crash test: BILLSIM_FAULT_SEED=%llu\n",
              static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (BILLSIM_FAULT_SEED)");
  std::mt19937_64 rng(seed);
  int none = 0, all = 0;
  for (int halt = 1; halt <= 40; ++halt) {
    SCOPED_TRACE("halt after " + std::to_string(halt) + " operations");
    TempDir tmp;
    const std::string dir = tmp.sub("log");
    FaultEnv env(seed + halt);
    std::unique_ptr<LogWriter> writer;
    ASSERT_TRUE(LogWriter::Open(dir, Options(&env, 2048), &writer).ok());
    Batches before;
    ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &before).ok());
    ASSERT_TRUE(AppendIds(writer.get(), 6, 5, &before).ok());

    env.HaltAfter(halt);
    Batches staged;
    const int batches = 2 + static_cast<int>(rng() % 6);
    bool committed = false;
    Status st = writer->BeginStage();
    for (int b = 0; st.ok() && b < batches; ++b) {
      st = AppendIds(writer.get(), 11 + 20 * static_cast<uint64_t>(b), 20, &staged);
    }
    if (st.ok()) {
      SeqRange range;
      st = writer->CommitStage(&range);
      committed = st.ok();
    }
    ASSERT_TRUE(env.Crash(/*tear=*/rng() % 2 == 0).ok());
    writer.reset();
    env.Restart();

    ASSERT_TRUE(LogWriter::Open(dir, Options(&env, 2048), &writer).ok());
    EXPECT_TRUE(Staged(dir).empty());
    const Batches found = Read(dir, &env);
    Batches whole = before;
    whole.insert(whole.end(), staged.begin(), staged.end());
    if (found == before && !committed) {
      ++none;
      EXPECT_EQ(writer->next_seq(), 11u);
    } else {
      ASSERT_EQ(found, whole) << "the log holds part of a stage, or lost a committed one ("
                              << (committed ? "committed" : "not committed") << ", "
                              << staged.size() << " batches staged)";
      ASSERT_EQ(static_cast<int>(staged.size()), batches);
      ++all;
    }
  }
  // Both ends were reached: halts before the commit's directory sync, and
  // the last ones after it.
  EXPECT_GT(none, 0);
  EXPECT_GT(all, 0);
}

}  // namespace
}  // namespace billsim::log
