// Durability by fault injection (issue 9, section 3): the log's writer on a
// simulated disk (fault_env.h) that forgets, on a simulated crash, whatever
// was not synced. A SIGKILL (log_crash_test.cc) keeps the page cache, so it
// cannot tell a writer that syncs before it acknowledges from one that does
// not; this test can.
//
// The crash test acknowledges a batch only when LogWriter::Append with
// --fsync always returned OK, crashes at a random point (between two
// appends, or in the middle of one: HaltAfter), drops or tears every
// unsynced byte, reopens (recovery) and checks that the log holds every
// acknowledged batch exactly once, in order, with its events, with dense
// sequences and an intact hash chain, and nothing but them and perhaps the
// one batch that was being written when the power went (an unacknowledged
// write may or may not survive a crash).
//
// It fails if the writer acknowledges before it syncs. Tried: with
// LogWriter::Sync's `Status st = segment_.Sync();` replaced by
// `Status st = Status::Ok();`, both crash tests fail on their first seed
// ("acknowledged 6 batches [...], log holds 0 batches [ ]: acknowledged
// batch lost"); with Roll's `SyncDir` removed, both fail too (every segment
// is created by a roll, and a file whose name was never made durable
// vanishes in a crash with every acknowledged batch in it).
//
// The seed comes from BILLSIM_FAULT_SEED when set, else it is random; it is
// printed, and named in every failure.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fault_env.h"
#include "log_events.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/log_dir.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "replay/snapshot_store.h"
#include "test_support.h"
#include "wire_events.h"

namespace billsim::log {
namespace {

using test_support::CaptureLog;
using test_support::FaultEnv;
using test_support::TempDir;
using test_support::Batches;

using wire_events::kT0;

// A batch of deliveries with the given event ids.
void Build(const std::vector<uint64_t>& ids, BatchBuilder* builder) {
  builder->Clear();
  for (uint64_t id : ids) {
    builder->AddDelivery(id, kT0 + static_cast<int64_t>(id), "a1",
                         "c" + std::to_string(id % 3), v1::DeliveryReported::CLICK,
                         static_cast<int64_t>(1 + id % 5), false);
  }
}

std::vector<uint64_t> NewIds(uint64_t* next_id, size_t n) {
  std::vector<uint64_t> ids(n);
  for (auto& id : ids) id = (*next_id)++;
  return ids;
}

std::string Describe(const Batches& batches) {
  std::string s = std::to_string(batches.size()) + " batches [";
  for (const auto& b : batches) {
    s += b.empty() ? " ()" : " (" + std::to_string(b.front()) + ".." + std::to_string(b.back()) + ")";
  }
  return s + " ]";
}

// After a crash and a reopen, the log must hold exactly `acked`, or `acked`
// then `in_flight` (written when the power went, never acknowledged: it
// may have reached the disk). A surviving in-flight batch is now part of
// the log and joins `acked`.
::testing::AssertionResult HoldsAcknowledged(const std::string& dir, Env* env, Batches* acked,
                                             std::vector<uint64_t>* in_flight) {
  Batches found;
  Status st = test_support::ReadLogEventIds(dir, env, &found);
  if (!st.ok()) return ::testing::AssertionFailure() << "log does not verify: " << st.ToString();
  Batches with = *acked;
  if (!in_flight->empty()) with.push_back(*in_flight);
  if (found == with && !in_flight->empty()) {
    *acked = with;
  } else if (found != *acked) {
    return ::testing::AssertionFailure()
           << "acknowledged " << Describe(*acked)
           << (in_flight->empty() ? "" : " (+1 in flight)") << ", log holds "
           << Describe(found)
           << (found.size() < acked->size() ? ": acknowledged batch lost" : "");
  }
  in_flight->clear();
  return ::testing::AssertionSuccess();
}

LogOptions FaultOptions(FaultEnv* env, uint64_t segment_bytes = kDefaultSegmentBytes) {
  LogOptions options;
  options.env = env;
  options.fsync.mode = FsyncPolicy::Mode::kAlways;
  options.segment_bytes = segment_bytes;
  return options;
}

// One seed: several rounds of appends, each ended by a crash.
void CrashRounds(uint64_t seed, uint64_t segment_bytes) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (BILLSIM_FAULT_SEED), segment_bytes " +
               std::to_string(segment_bytes));
  std::mt19937_64 rng(seed);
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  FaultEnv env(seed);
  const LogOptions options = FaultOptions(&env, segment_bytes);
  Batches acked;
  std::vector<uint64_t> in_flight;
  uint64_t next_id = 1;
  BatchBuilder builder;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::unique_ptr<LogWriter> writer;
    if (rng() % 4 == 0) {
      // The power goes during recovery itself (cutting, rebuilding indexes).
      env.HaltAfter(1 + static_cast<int>(rng() % 6));
      (void)LogWriter::Open(dir, options, &writer);
      ASSERT_TRUE(env.Crash(rng() % 2 == 0).ok());
      writer.reset();
      env.Restart();
    }
    Status st = LogWriter::Open(dir, options, &writer);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(HoldsAcknowledged(dir, &env, &acked, &in_flight));
    uint64_t acked_events = 0;
    for (const auto& b : acked) acked_events += b.size();
    ASSERT_EQ(writer->next_seq(), acked_events + 1);

    const int batches = 1 + static_cast<int>(rng() % 25);
    // Three operations per append (segment, index, fdatasync), a few more
    // when a segment rolls: the halt falls anywhere in them, or never.
    if (rng() % 4 != 0) env.HaltAfter(1 + static_cast<int>(rng() % (3 * batches + 4)));
    for (int b = 0; b < batches; ++b) {
      std::vector<uint64_t> ids = NewIds(&next_id, 1 + rng() % 40);
      Build(ids, &builder);
      SeqRange range;
      st = writer->Append(builder, &range);
      if (!st.ok()) {  // the power went: not acknowledged
        in_flight = ids;
        break;
      }
      ASSERT_EQ(range.first, acked_events + 1);
      ASSERT_EQ(range.last, acked_events + ids.size());
      acked_events += ids.size();
      acked.push_back(ids);
    }
    // Sometimes the indexes' unsynced entries reach the disk while the
    // segment's bytes do not: an index naming a batch the crash took.
    ASSERT_TRUE(env.Crash(/*tear=*/rng() % 2 == 0, rng() % 4 == 0 ? ".idx" : "").ok());
    writer.reset();  // after the crash: its Close syncs nothing
    env.Restart();
  }
  std::unique_ptr<LogWriter> writer;
  Status st = LogWriter::Open(dir, options, &writer);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(HoldsAcknowledged(dir, &env, &acked, &in_flight));
}

TEST(LogFaultTest, EveryAcknowledgedBatchSurvivesSimulatedCrashes) {
  const uint64_t base = test_support::FaultSeed();
  std::printf("log fault crash test: BILLSIM_FAULT_SEED=%llu\n",
              static_cast<unsigned long long>(base));
  CaptureLog quiet;  // recovery warns on every cut and rebuild
  for (uint64_t i = 0; i < 100; ++i) {
    CrashRounds(base + i, kDefaultSegmentBytes);
    if (HasFatalFailure()) return;
  }
}

TEST(LogFaultTest, EveryAcknowledgedBatchSurvivesSimulatedCrashesAcrossSegmentRolls) {
  const uint64_t base = test_support::FaultSeed();
  std::printf("log fault crash test (rolls): BILLSIM_FAULT_SEED=%llu\n",
              static_cast<unsigned long long>(base));
  CaptureLog quiet;
  for (uint64_t i = 0; i < 100; ++i) {
    // 1 KiB segments: a new segment every few batches, so new files, their
    // directory syncs and empty last segments are crashed into too.
    CrashRounds(base + i, 1 << 10);
    if (HasFatalFailure()) return;
  }
}

// --- Injected failures: each leaves the writer failed for good ----------------------

class LogFailureTest : public ::testing::Test {
 protected:
  void Open(uint64_t segment_bytes = kDefaultSegmentBytes) {
    options_ = FaultOptions(&env_, segment_bytes);
    Status st = LogWriter::Open(dir(), options_, &writer_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // Appends a new batch of `n` events; its ids go to `acked_` if it was
  // acknowledged, else to `failed_`.
  Status Append(size_t n = 10) {
    std::vector<uint64_t> ids = NewIds(&next_id_, n);
    Build(ids, &builder_);
    SeqRange range;
    Status st = writer_->Append(builder_, &range);
    (st.ok() ? acked_ : failed_).push_back(ids);
    return st;
  }
  // Every later call reports the failure `first`.
  void ExpectFailedForGood(const Status& first) {
    ASSERT_FALSE(first.ok());
    Status st = Append();
    EXPECT_FALSE(st.ok()) << "a write after a failure was acknowledged";
    EXPECT_EQ(st.ToString(), first.ToString());
    Build(NewIds(&next_id_, 3), &builder_);
    SeqRange range;
    EXPECT_EQ(writer_->Write(builder_, &range).ToString(), first.ToString());
    EXPECT_EQ(writer_->Sync().ToString(), first.ToString());
    LogWriter::SyncTicket ticket;
    EXPECT_EQ(writer_->StartSync(&ticket).ToString(), first.ToString());
  }
  // Crash (or not), reopen on the plain disk: the log opens, verifies and
  // holds exactly the acknowledged batches, or (without a crash) perhaps
  // the first failed batch too: its outcome was unknown.
  void ExpectReopensWithAcknowledged(bool crash) {
    if (crash) {
      ASSERT_TRUE(env_.Crash(/*tear=*/false).ok());
    }
    writer_.reset();
    env_.Restart();
    LogOptions plain = options_;
    plain.env = nullptr;
    std::unique_ptr<LogWriter> w;
    Status st = LogWriter::Open(dir(), plain, &w);
    ASSERT_TRUE(st.ok()) << "the log does not reopen: " << st.ToString();
    std::vector<uint64_t> none;
    std::vector<uint64_t> maybe = crash || failed_.empty() ? none : failed_.front();
    Batches acked = acked_;
    ASSERT_TRUE(HoldsAcknowledged(dir(), nullptr, &acked, &maybe));
  }
  std::string dir() const { return tmp_.sub("log"); }

  TempDir tmp_;
  FaultEnv env_{42};
  LogOptions options_;
  std::unique_ptr<LogWriter> writer_;
  BatchBuilder builder_;
  uint64_t next_id_ = 1;
  Batches acked_, failed_;
  CaptureLog quiet_;
};

TEST_F(LogFailureTest, AWriteFailureFailsTheWriterForGoodAndItsTornBatchIsCut) {
  Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append().ok());
  env_.FailWrite(1, ".seg", /*partial=*/true);
  Status st = Append();
  EXPECT_NE(st.message().find("injected failure"), std::string::npos) << st.ToString();
  ExpectFailedForGood(st);
  ExpectReopensWithAcknowledged(/*crash=*/false);
}

TEST_F(LogFailureTest, ASyncFailureFailsTheWriterForGood) {
  Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append().ok());
  env_.FailSync(1);
  Status st = Append();
  EXPECT_NE(st.message().find("fdatasync: injected failure"), std::string::npos)
      << st.ToString();
  ExpectFailedForGood(st);
  ExpectReopensWithAcknowledged(/*crash=*/true);
}

// Issue 9: LogWriter::Write returned an index-write error without failing
// the writer, though the batch was already in the segment; a retry then
// wrote the same sequences again and the log no longer opened ("batch
// starts at sequence 31, expected 41").
TEST_F(LogFailureTest, AnIndexWriteFailureFailsTheWriterForGoodAndTheLogReopens) {
  Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append().ok());
  env_.FailIndexWrites(true);
  Status st = Append();
  EXPECT_NE(st.message().find("injected failure (index)"), std::string::npos)
      << st.ToString();
  env_.FailIndexWrites(false);  // the disk is fine again: a retry must still fail
  ExpectFailedForGood(st);
  ExpectReopensWithAcknowledged(/*crash=*/false);
}

TEST_F(LogFailureTest, AnIndexWriteFailureThenACrashLeavesExactlyTheAcknowledged) {
  Open();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Append().ok());
  env_.FailIndexWrites(true);
  Status st = Append();
  env_.FailIndexWrites(false);
  ExpectFailedForGood(st);
  ExpectReopensWithAcknowledged(/*crash=*/true);
}

// A roll syncs the segment it leaves; if that fails, what the old segment
// holds is unknown (fsyncgate), so nothing may be written after it.
TEST_F(LogFailureTest, ASyncFailureWhileRollingFailsTheWriterForGood) {
  Open(/*segment_bytes=*/1);  // every batch after the first rolls
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Append().ok());
  env_.FailSync(1);  // the roll's fdatasync of the segment it leaves
  Status st = Append();
  ExpectFailedForGood(st);
  ExpectReopensWithAcknowledged(/*crash=*/true);
}

// A roll makes the new segment's name durable (SyncDir); if that fails, a
// batch written to it could be acknowledged and then vanish with the file.
TEST_F(LogFailureTest, ADirectorySyncFailureWhileRollingFailsTheWriterForGood) {
  Open(/*segment_bytes=*/1);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Append().ok());
  env_.FailSync(2);  // the roll syncs the old segment, then the directory
  Status st = Append();
  EXPECT_NE(st.message().find("injected failure"), std::string::npos) << st.ToString();
  ExpectFailedForGood(st);
  ExpectReopensWithAcknowledged(/*crash=*/true);
}

// Recovery rebuilds an index the crash shortened through a temporary file
// and a rename; a failed rename fails the Open, naming the file, and
// changes nothing that the next Open needs.
TEST_F(LogFailureTest, ARenameFailureDuringRecoveryFailsTheOpenAndTheNextOpenSucceeds) {
  Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append().ok());
  ASSERT_TRUE(env_.Crash(/*tear=*/false).ok());  // the index was never synced
  writer_.reset();
  env_.Restart();
  env_.FailRename(1);
  Status st = LogWriter::Open(dir(), options_, &writer_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(".idx.tmp: rename"), std::string::npos) << st.ToString();
  st = LogWriter::Open(dir(), options_, &writer_);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectReopensWithAcknowledged(/*crash=*/true);
}

// The index is written after the segment and never synced on its own, so a
// crash can keep an index entry for a batch whose bytes it took: that
// entry proves nothing, recovery rebuilds the index and the log opens with
// exactly the acknowledged batches.
TEST_F(LogFailureTest, AnIndexEntryForABatchTheCrashTookIsNotDamage) {
  Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append().ok());
  env_.HaltAfter(3);  // segment write, index write, then the fdatasync
  ASSERT_FALSE(Append().ok());
  ASSERT_TRUE(env_.Crash(/*tear=*/false, /*written_back=*/".idx").ok());
  std::vector<IndexEntry> index;
  bool clean = false;
  ASSERT_TRUE(ReadIndex(IndexPath(dir(), 1), &index, &clean).ok());
  EXPECT_EQ(index.size(), 4u);  // one entry more than the segment holds
  ExpectReopensWithAcknowledged(/*crash=*/false);
}

// A snapshot whose rename fails is not there; a crash before its directory
// sync takes a renamed one away again, and the log is untouched.
TEST_F(LogFailureTest, ASnapshotIsThereOnlyOnceItsRenameIsDurable) {
  Open();
  ASSERT_TRUE(Append().ok());
  Ledger ledger;
  std::string path;
  env_.FailRename(1);
  Status st = WriteSnapshot(dir(), ledger, 10, writer_->chain(), &path, &env_);
  EXPECT_FALSE(st.ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(ListSnapshots(dir(), &seqs, &env_).ok());
  EXPECT_TRUE(seqs.empty());
  env_.FailSync(2);  // the temporary file's sync, then the directory's
  st = WriteSnapshot(dir(), ledger, 10, writer_->chain(), &path, &env_);
  EXPECT_FALSE(st.ok());
  ASSERT_TRUE(ListSnapshots(dir(), &seqs, &env_).ok());
  EXPECT_EQ(seqs.size(), 1u);  // renamed, but not durably
  ExpectReopensWithAcknowledged(/*crash=*/true);
  ASSERT_TRUE(ListSnapshots(dir(), &seqs).ok());
  EXPECT_TRUE(seqs.empty());
}

}  // namespace
}  // namespace billsim::log
