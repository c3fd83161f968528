// Stages (LogWriter::BeginStage, issue 16's `log append --atomic` of any
// size): batches written to a staged segment join the log in one rename,
// whole, or not at all: on an abort, a close, a failed rename, or a crash
// at any point before the rename is durable (fault_env.h), the log is
// exactly what it was before the stage, and no reader ever sees part of it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
#include "wire_events.h"

namespace billsim::log {
namespace {

namespace fs = std::filesystem;
using test_support::Batches;
using test_support::CaptureLog;
using test_support::FaultEnv;
using test_support::TempDir;

using wire_events::kT0;

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

// A log on a simulated disk (fault_env.h) holding events 1..5, and its
// writer with a stage open holding events 6..15.
class StagedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(LogWriter::Open(dir_, Options(&env_), &writer_).ok());
    ASSERT_TRUE(AppendIds(writer_.get(), 1, 5, &before_).ok());
    ASSERT_TRUE(writer_->BeginStage().ok());
    ASSERT_TRUE(AppendIds(writer_.get(), 6, 10, &staged_).ok());
  }
  // The writer closed (after a simulated crash if `crash`), the log opened
  // again: it must open, with nothing staged left.
  void Reopen(bool crash) {
    if (crash) {
      ASSERT_TRUE(env_.Crash(/*tear=*/false).ok());
    }
    writer_.reset();
    env_.Restart();
    ASSERT_TRUE(LogWriter::Open(dir_, Options(&env_), &writer_).ok());
    EXPECT_TRUE(Staged(dir_).empty());
  }
  Batches Whole() const {
    Batches whole = before_;
    whole.insert(whole.end(), staged_.begin(), staged_.end());
    return whole;
  }

  TempDir tmp_;
  const std::string dir_ = tmp_.sub("log");
  FaultEnv env_{1};
  std::unique_ptr<LogWriter> writer_;
  Batches before_, staged_;
};

TEST_F(StagedLogTest, AFailedSegmentRenameLeavesNothingOfTheStage) {
  env_.FailRename(1);
  SeqRange range;
  EXPECT_FALSE(writer_->CommitStage(&range).ok());
  EXPECT_TRUE(writer_->staging());
  Batches dropped;
  EXPECT_FALSE(AppendIds(writer_.get(), 16, 1, &dropped).ok());  // failed for good
  Reopen(/*crash=*/false);
  EXPECT_EQ(writer_->next_seq(), 6u);
  EXPECT_EQ(Read(dir_, &env_), before_);
}

// The index's rename failing after the segment's is durable: the stage is
// committed (the index is derived), the writer goes on, and the next open
// rebuilds the index and removes the staged one.
TEST_F(StagedLogTest, AFailedIndexRenameStillCommitsAndTheIndexIsRebuilt) {
  env_.FailRename(2);
  SeqRange range;
  {
    CaptureLog capture;
    ASSERT_TRUE(writer_->CommitStage(&range).ok());
    EXPECT_NE(capture.text().find("its index stays staged"), std::string::npos) << capture.text();
  }
  Batches all = Whole();
  ASSERT_TRUE(AppendIds(writer_.get(), 16, 2, &all).ok());
  EXPECT_EQ(Read(dir_, &env_), all);  // a reader walks the segment without its index
  CaptureLog capture;
  Reopen(/*crash=*/false);
  EXPECT_NE(capture.text().find("rebuilding index"), std::string::npos) << capture.text();
  EXPECT_EQ(writer_->next_seq(), 18u);
  EXPECT_EQ(Read(dir_, &env_), all);
}

// A failed sync of the staged segment: the stage never reached the log.
TEST_F(StagedLogTest, AFailedSegmentSyncLeavesNothingOfTheStage) {
  env_.FailSync(1);
  SeqRange range;
  EXPECT_FALSE(writer_->CommitStage(&range).ok());
  EXPECT_TRUE(writer_->staging());  // not renamed: Close removes it
  Reopen(/*crash=*/false);
  EXPECT_EQ(Read(dir_, &env_), before_);
}

// A failed directory sync after the rename: the writer is failed and says
// the stage was renamed (staging() is false); the stage is in the log, or
// after a crash (the rename never durable) not at all: never a part.
TEST_F(StagedLogTest, AFailedDirectorySyncAtTheCommitLeavesTheWholeStage) {
  env_.FailSync(2);  // the segment's sync passes, the directory's fails
  SeqRange range;
  EXPECT_FALSE(writer_->CommitStage(&range).ok());
  EXPECT_FALSE(writer_->staging());
  Batches more;
  EXPECT_FALSE(AppendIds(writer_.get(), 16, 1, &more).ok());  // failed for good
  Reopen(/*crash=*/false);
  EXPECT_EQ(Read(dir_, &env_), Whole());
}

TEST_F(StagedLogTest, AFailedDirectorySyncAtTheCommitThenACrashLeavesNothing) {
  env_.FailSync(2);
  SeqRange range;
  EXPECT_FALSE(writer_->CommitStage(&range).ok());
  Reopen(/*crash=*/true);
  EXPECT_EQ(Read(dir_, &env_), before_);
}

// A stage never replaces a segment: an empty one named for its first
// sequence (a removal that failed) is removed; one holding bytes is refused.
TEST(LogStageTest, AStageNeverReplacesASegment) {
  for (const bool empty : {true, false}) {
    SCOPED_TRACE(empty ? "empty segment" : "segment with bytes");
    TempDir tmp;
    const std::string dir = tmp.sub("log");
    std::unique_ptr<LogWriter> writer;
    ASSERT_TRUE(LogWriter::Open(dir, Options(), &writer).ok());
    Batches log;
    ASSERT_TRUE(AppendIds(writer.get(), 1, 5, &log).ok());
    {
      std::ofstream f(SegmentPath(dir, 6), std::ios::binary);
      if (!empty) f << "not a batch";
    }
    const Status st = writer->BeginStage();
    if (empty) {
      ASSERT_TRUE(st.ok()) << st.ToString();
      ASSERT_TRUE(AppendIds(writer.get(), 6, 3, &log).ok());
      SeqRange range;
      ASSERT_TRUE(writer->CommitStage(&range).ok());
      EXPECT_EQ(Read(dir), log);
    } else {
      EXPECT_FALSE(st.ok());
      EXPECT_NE(st.ToString().find("11 bytes is named for sequence 6"), std::string::npos)
          << st.ToString();
      EXPECT_FALSE(writer->staging());
      EXPECT_EQ(fs::file_size(SegmentPath(dir, 6)), 11u);  // untouched
    }
  }
}

// The power goes at every mutating operation of a stage and its commit in
// turn (file creations, writes, syncs, renames, the directory sync), with
// unsynced bytes dropped or torn: after recovery the log holds what it held
// before the stage, or that and the whole stage; never a part of it. Once
// CommitStage returned OK, the whole stage.
TEST(LogStageTest, ACrashAnywhereInAStageLeavesAllOfItOrNone) {
  const uint64_t seed = test_support::FaultSeed();
  std::printf("log stage crash test: BILLSIM_FAULT_SEED=%llu\n",
              static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (BILLSIM_FAULT_SEED)");
  std::mt19937_64 rng(seed);
  int none = 0, all = 0;
  // At most 21 operations: the closing sync, 2 creations, 2 writes per
  // batch (7 at most), the commit's sync, rename and directory sync, and
  // the index rename. Halts past them find a committed stage.
  for (int halt = 1; halt <= 24; ++halt) {
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
