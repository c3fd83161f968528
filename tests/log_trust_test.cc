// Issue #9, section 1, the log's findings, each pinned by a test that fails
// on the code before the fix: two writers fork the log; acknowledged data
// vanishes quietly (a deleted last segment behind a snapshot, a bit flip in
// the last complete batch cut as a "torn tail", a payload flip in a sealed
// segment passed over by a replay from a snapshot); nonexistent log
// directories read as empty, good logs. The server's side of these is in
// server_test.cc, the command line's in log_trust_cli_test.sh.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/event_stream.h"
#include "log/format.h"
#include "log/log_dir.h"
#include "log/log_lock.h"
#include "log/log_reader.h"
#include "log/log_repair.h"
#include "log/log_writer.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"

namespace billsim::log {
namespace {

namespace fs = std::filesystem;
using test_support::CaptureLog;
using test_support::TempDir;

using test_support::ReadBytes;
using test_support::WriteBytes;

using test_support::Contains;

// Every file of the log directory (segments, indexes, snapshots) by name.
std::vector<std::pair<std::string, std::string>> Files(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == "LOCK") continue;
    out.emplace_back(fs::relative(e.path(), dir).string(), ReadBytes(e.path().string()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct BatchAt {
  uint64_t segment = 0;  // first sequence of its segment
  uint64_t offset = 0;
  uint64_t first = 0, last = 0;
};

// A log of `batches` batches of ClockAdvanced events (the ledger accepts
// them, so replay and snapshots work) over several small segments.
std::vector<BatchAt> BuildLog(const std::string& dir, int batches,
                              uint64_t segment_bytes = 2 << 10) {
  LogOptions options;
  options.segment_bytes = segment_bytes;
  options.fsync.mode = FsyncPolicy::Mode::kNever;
  std::unique_ptr<LogWriter> w;
  EXPECT_TRUE(LogWriter::Open(dir, options, &w).ok());
  int64_t t = 1'000'000;
  for (int i = 0; i < batches; ++i) {
    BatchBuilder b;
    const uint64_t first = w->next_seq();
    for (int k = 0; k < 20; ++k) {
      v1::Event e;
      e.set_event_id(first + k);
      e.set_time_us(t += 1000);
      e.mutable_clock_advanced();
      b.Add(e);
    }
    SeqRange r;
    EXPECT_TRUE(w->Append(b, &r).ok());
  }
  EXPECT_TRUE(w->Close().ok());
  std::vector<BatchAt> out;
  LogReader reader;
  EXPECT_TRUE(reader.Open(dir, LogReader::Options{}).ok());
  for (;;) {
    BatchView v;
    bool done = false;
    EXPECT_TRUE(reader.Next(&v, &done).ok());
    if (done) break;
    uint64_t seg = 0;
    ParseSegmentName(fs::path(reader.segment_path()).filename().string(), &seg);
    out.push_back({seg, v.offset, v.header.first_seq, v.header.last_seq()});
  }
  return out;
}

// A snapshot at the end of the log, as `billsim snapshot` writes it.
void SnapshotAtEnd(const std::string& dir) {
  Ledger ledger;
  ReplayStats stats;
  ReplayOptions options;
  options.use_snapshots = false;
  ASSERT_TRUE(Replay(dir, options, &ledger, &stats).ok());
  LogState state;
  ASSERT_TRUE(RecoverLog(dir, /*repair=*/false, &state).ok());
  std::string path;
  ASSERT_TRUE(WriteSnapshot(dir, ledger, stats.last_seq, state.chain, &path).ok());
}

Status ReadToEnd(const std::string& dir, uint64_t* last_seq) {
  LogReader reader;
  Status st = reader.Open(dir, LogReader::Options{/*verify_chain=*/true});
  *last_seq = 0;
  while (st.ok()) {
    BatchView v;
    bool done = false;
    st = reader.Next(&v, &done);
    if (!st.ok() || done) break;
    *last_seq = v.header.last_seq();
  }
  if (st.ok() && !reader.tail_fault().empty()) st = Status::Corruption(reader.tail_fault());
  return st;
}

Status OpenWriter(const std::string& dir, std::unique_ptr<LogWriter>* w,
                  LogState* state = nullptr) {
  LogOptions options;
  options.segment_bytes = 2 << 10;
  options.fsync.mode = FsyncPolicy::Mode::kNever;
  return LogWriter::Open(dir, options, w, state);
}

// Finding: "Two writers fork the log ... There is no lock."
TEST(LogTrustTest, TwoWritersOnOneLogTheSecondFailsAtOnceAndChangesNothing) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  BuildLog(dir, 4);
  std::unique_ptr<LogWriter> first;
  ASSERT_TRUE(OpenWriter(dir, &first).ok());
  const auto before = Files(dir);
  std::unique_ptr<LogWriter> second;
  const Status st = OpenWriter(dir, &second);
  ASSERT_FALSE(st.ok()) << "a second writer opened a log another writer holds";
  EXPECT_TRUE(Contains(st.message(), dir)) << st.message();
  EXPECT_TRUE(Contains(st.message(), "pid " + std::to_string(::getpid()))) << st.message();
  EXPECT_EQ(Files(dir), before) << "the refused writer changed the log";
  // Readers never need the lock: the log reads whole beside its writer.
  uint64_t last = 0;
  EXPECT_TRUE(ReadToEnd(dir, &last).ok());
  EXPECT_EQ(last, 80u);
  Ledger ledger;
  ReplayStats stats;
  EXPECT_TRUE(Replay(dir, ReplayOptions{}, &ledger, &stats).ok());
  // The first writer goes on; once it is closed, another may open.
  BatchBuilder b;
  b.AddDelivery(81, 9'000'000'000, "a", "c", v1::DeliveryReported::CLICK, 1, false);
  SeqRange r;
  ASSERT_TRUE(first->Append(b, &r).ok());
  ASSERT_TRUE(first->Close().ok());
  first.reset();
  ASSERT_TRUE(OpenWriter(dir, &second).ok());
  EXPECT_EQ(second->next_seq(), 82u);
}

// Finding: "Deleting the last segment and its index: log verify says good,
// replay and serve start from the earlier segments ... though that
// snapshot proves the lost events existed; new appends then reuse their
// sequence numbers."
TEST(LogTrustTest, DeletingTheLastSegmentBehindASnapshotIsReportedNotReplayedAround) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  const auto batches = BuildLog(dir, 12);
  ASSERT_GE(batches.back().segment, 2u);
  SnapshotAtEnd(dir);
  const uint64_t last_segment = batches.back().segment;
  fs::remove(SegmentPath(dir, last_segment));
  fs::remove(IndexPath(dir, last_segment));
  const auto before = Files(dir);
  const std::string snapshot = "snapshot-" + std::string(20 - 3, '0') + "240.bin";

  uint64_t last = 0;
  const Status verify = ReadToEnd(dir, &last);  // what `log verify` reads
  ASSERT_FALSE(verify.ok()) << "a log missing its last segment verified";
  EXPECT_EQ(verify.code(), Status::Code::kCorruption);
  EXPECT_TRUE(Contains(verify.message(), snapshot)) << verify.message();
  EXPECT_TRUE(Contains(verify.message(), std::to_string(last_segment) + "..240"))
      << verify.message();

  Ledger ledger;
  ReplayStats stats;
  const Status replay = Replay(dir, ReplayOptions{}, &ledger, &stats);
  ASSERT_FALSE(replay.ok()) << "replay started from the earlier segments";
  EXPECT_TRUE(Contains(replay.message(), snapshot)) << replay.message();

  std::unique_ptr<LogWriter> w;
  const Status open = OpenWriter(dir, &w);
  ASSERT_FALSE(open.ok()) << "a writer opened it, to reuse the lost sequences";
  EXPECT_TRUE(Contains(open.message(), snapshot)) << open.message();
  EXPECT_EQ(Files(dir), before);
}

// The same with the index left behind: the index proves the segment.
TEST(LogTrustTest, AnIndexWhoseSegmentIsMissingIsReported) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  const auto batches = BuildLog(dir, 12);
  const uint64_t last_segment = batches.back().segment;
  fs::remove(SegmentPath(dir, last_segment));
  uint64_t last = 0;
  const Status verify = ReadToEnd(dir, &last);
  ASSERT_FALSE(verify.ok());
  EXPECT_TRUE(Contains(verify.message(), IndexName(last_segment))) << verify.message();
  std::unique_ptr<LogWriter> w;
  EXPECT_FALSE(OpenWriter(dir, &w).ok());
}

// Finding: "A bit flip inside the last complete, acknowledged batch is cut
// as a 'torn tail' (2,000 acknowledged events gone, audit check then
// passes)."
TEST(LogTrustTest, ABitFlipInTheLastCompleteBatchIsRefusedNotCut) {
  TempDir tmp;
  const std::string pristine = tmp.sub("pristine");
  const auto batches = BuildLog(pristine, 6, 1 << 20);
  ASSERT_EQ(batches.back().segment, 1u);
  const BatchAt& b = batches.back();
  const std::string seg_name = SegmentName(1);
  // A payload byte, and a header byte, of the log's very last batch.
  for (uint64_t at : {b.offset + kHeaderSize + 3, b.offset + 20}) {
    SCOPED_TRACE("byte " + std::to_string(at));
    const std::string dir = tmp.sub("case");
    fs::remove_all(dir);
    fs::copy(pristine, dir, fs::copy_options::recursive);
    std::string bytes = ReadBytes(SegmentPath(dir, 1));
    bytes[at] ^= 0x04;
    WriteBytes(SegmentPath(dir, 1), bytes);
    const auto before = Files(dir);
    std::unique_ptr<LogWriter> w;
    LogState state;
    CaptureLog capture;
    const Status st = OpenWriter(dir, &w, &state);
    ASSERT_FALSE(st.ok()) << "recovery cut a complete batch: " << state.cut_reason;
    EXPECT_EQ(st.code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(st.message(), seg_name)) << st.message();
    EXPECT_TRUE(Contains(st.message(), "offset " + std::to_string(b.offset))) << st.message();
    EXPECT_TRUE(Contains(st.message(), std::to_string(b.first))) << st.message();
    EXPECT_EQ(Files(dir), before) << "a refused log was changed";
    uint64_t last = 0;
    EXPECT_FALSE(ReadToEnd(dir, &last).ok());
    Ledger ledger;
    ReplayStats stats;
    ReplayOptions options;
    options.use_snapshots = false;
    EXPECT_FALSE(Replay(dir, options, &ledger, &stats).ok());
  }
}

// A genuinely torn write is still cut: the last batch cut short anywhere,
// or followed by zeros the file system allocated but never wrote.
TEST(LogTrustTest, ATornWriteAtTheTailIsStillCut) {
  TempDir tmp;
  const std::string pristine = tmp.sub("pristine");
  const auto batches = BuildLog(pristine, 6, 1 << 20);
  const BatchAt& b = batches.back();
  const uint64_t size = fs::file_size(SegmentPath(pristine, 1));
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    const std::string dir = tmp.sub("case");
    fs::remove_all(dir);
    fs::copy(pristine, dir, fs::copy_options::recursive);
    const std::string path = SegmentPath(dir, 1);
    if (variant == 0) fs::resize_file(path, b.offset + 50);           // header cut short
    if (variant == 1) fs::resize_file(path, size - 1);                // payload cut short
    if (variant == 2) fs::resize_file(path, size + 300);              // zeros after it all
    std::unique_ptr<LogWriter> w;
    LogState state;
    CaptureLog capture;
    const Status st = OpenWriter(dir, &w, &state);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(state.cut_tail);
    EXPECT_EQ(state.next_seq - 1, variant == 2 ? b.last : b.first - 1);
    EXPECT_TRUE(Contains(capture.text(), "cutting a torn tail")) << capture.text();
  }
}

// Finding: "A payload bit flip in a sealed middle segment: log verify names
// it, but serve starts with no warning and replay exits 0 (they start from
// a snapshot)."
TEST(LogTrustTest, APayloadFlipInASealedSegmentFailsReplayAlsoFromASnapshot) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  const auto batches = BuildLog(dir, 30);
  SnapshotAtEnd(dir);
  // The second batch of the second segment.
  const uint64_t second = [&] {
    for (const auto& b : batches)
      if (b.segment != 1) return b.segment;
    return uint64_t{0};
  }();
  ASSERT_GT(second, 1u);
  ASSERT_NE(second, batches.back().segment) << "want a sealed middle segment";
  const BatchAt* victim = nullptr;
  for (const auto& b : batches)
    if (b.segment == second && b.offset > 0) {
      victim = &b;
      break;
    }
  ASSERT_NE(victim, nullptr);
  std::string bytes = ReadBytes(SegmentPath(dir, second));
  bytes[victim->offset + kHeaderSize + 5] ^= 0x01;
  WriteBytes(SegmentPath(dir, second), bytes);

  for (bool use_snapshots : {true, false}) {
    SCOPED_TRACE(use_snapshots ? "from the snapshot" : "from sequence 1");
    Ledger ledger;
    ReplayStats stats;
    ReplayOptions options;
    options.use_snapshots = use_snapshots;
    const Status st = Replay(dir, options, &ledger, &stats);
    ASSERT_FALSE(st.ok()) << "replay passed over damage (from snapshot at "
                          << stats.snapshot_seq << ")";
    EXPECT_EQ(st.code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(st.message(), SegmentName(second))) << st.message();
    EXPECT_TRUE(Contains(st.message(), "offset " + std::to_string(victim->offset)))
        << st.message();
    EXPECT_TRUE(Contains(st.message(), std::to_string(victim->first) + ".." +
                                           std::to_string(victim->last)))
        << st.message();
  }
}

// Finding: "log verify --log /nonexistent and replay --log /nonexistent
// exit 0 ('good', empty report)."
TEST(LogTrustTest, NonexistentLogDirectoriesAreErrorsForReaders) {
  TempDir tmp;
  const std::string dir = tmp.sub("no-such-log");
  LogReader reader;
  Status st = reader.Open(dir, LogReader::Options{true});
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), dir)) << st.message();
  Ledger ledger;
  ReplayStats stats;
  st = Replay(dir, ReplayOptions{}, &ledger, &stats);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), dir)) << st.message();
  st = ForEachEvent(dir, 1, [](uint64_t, const v1::Event&) { return true; }, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), dir)) << st.message();
  EXPECT_FALSE(fs::exists(dir)) << "a reader created the directory";
  // A writer still creates a new log.
  std::unique_ptr<LogWriter> w;
  ASSERT_TRUE(OpenWriter(dir, &w).ok());
  EXPECT_EQ(w->next_seq(), 1u);
}

}  // namespace
}  // namespace billsim::log

namespace billsim::log {
namespace {

// `log repair --truncate-after SEQ`: a sealed segment damaged behind a
// snapshot; the operator keeps what precedes the damaged batch.
TEST(LogRepairTest, TruncateAfterDiscardsRecordsItAndLeavesALogThatVerifies) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  const auto batches = BuildLog(dir, 30);
  SnapshotAtEnd(dir);
  // Damage the payload of the third batch of the second segment.
  uint64_t second_segment = 0;
  for (const auto& b : batches)
    if (b.segment != 1) {
      second_segment = b.segment;
      break;
    }
  std::vector<BatchAt> second;
  for (const auto& b : batches)
    if (b.segment == second_segment) second.push_back(b);
  ASSERT_GE(second.size(), 3u);
  const BatchAt& bad = second[2];
  std::string bytes = ReadBytes(SegmentPath(dir, bad.segment));
  bytes[bad.offset + kHeaderSize + 2] ^= 0x08;
  WriteBytes(SegmentPath(dir, bad.segment), bytes);

  // A sequence inside a batch, or after the damage: refused, nothing changed.
  const auto before = Files(dir);
  RepairReport report;
  Status st = RepairLog(dir, bad.first, &report);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  st = RepairLog(dir, bad.last, &report);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "give at most " + std::to_string(bad.first - 1)))
      << st.message();
  // While a writer holds the lock: refused.
  {
    std::unique_ptr<LogLock> lock;
    ASSERT_TRUE(LogLock::Acquire(dir, &lock).ok());
    st = RepairLog(dir, bad.first - 1, &report);
    EXPECT_FALSE(st.ok());
    EXPECT_TRUE(Contains(st.message(), "locked by pid")) << st.message();
  }
  EXPECT_EQ(Files(dir), before);

  st = RepairLog(dir, bad.first - 1, &report);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(report.old_last_seq, bad.first - 1);
  EXPECT_TRUE(Contains(report.old_fault, "payload checksum mismatch")) << report.old_fault;
  // The damaged segment's tail, every later segment, the snapshot.
  EXPECT_TRUE(Contains(report.record, SegmentName(bad.segment) + " bytes " +
                                          std::to_string(bad.offset)))
      << report.record;
  EXPECT_TRUE(Contains(report.record, SegmentName(batches.back().segment) + " (whole segment"))
      << report.record;
  EXPECT_TRUE(Contains(report.record, "snapshot-")) << report.record;
  EXPECT_TRUE(Contains(report.record, "old head: sequence " + std::to_string(bad.first - 1)))
      << report.record;
  const std::string repairs = ReadBytes((fs::path(dir) / "REPAIRS").string());
  EXPECT_TRUE(Contains(repairs, report.record)) << repairs;
  EXPECT_TRUE(Contains(repairs, "done: the log ends at sequence " +
                                    std::to_string(bad.first - 1)))
      << repairs;
  uint64_t last = 0;
  ASSERT_TRUE(ReadToEnd(dir, &last).ok());
  EXPECT_EQ(last, bad.first - 1);
  Ledger ledger;
  ReplayStats stats;
  ASSERT_TRUE(Replay(dir, ReplayOptions{}, &ledger, &stats).ok());
  // The log goes on from there.
  std::unique_ptr<LogWriter> w;
  ASSERT_TRUE(OpenWriter(dir, &w).ok());
  EXPECT_EQ(w->next_seq(), bad.first);
  w.reset();
  // Nothing more to do.
  ASSERT_TRUE(RepairLog(dir, bad.first - 1, &report).ok());
  EXPECT_TRUE(report.discarded.empty());
}

// --allow-damage: replay from the snapshot with a warning.
TEST(LogRepairTest, AllowDamageReplaysFromTheSnapshotWithAWarning) {
  TempDir tmp;
  const std::string dir = tmp.sub("log");
  const auto batches = BuildLog(dir, 30);
  SnapshotAtEnd(dir);
  std::string bytes = ReadBytes(SegmentPath(dir, 1));
  bytes[kHeaderSize + 4] ^= 0x02;
  WriteBytes(SegmentPath(dir, 1), bytes);
  Ledger ledger;
  ReplayStats stats;
  ReplayOptions options;
  options.allow_damage = true;
  CaptureLog capture;
  const Status st = Replay(dir, options, &ledger, &stats);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(stats.snapshot_seq, batches.back().last);
  EXPECT_TRUE(Contains(stats.skipped_damage, SegmentName(1))) << stats.skipped_damage;
  EXPECT_TRUE(Contains(capture.text(), "damage in the part of the log behind the snapshot"))
      << capture.text();
}

}  // namespace
}  // namespace billsim::log
