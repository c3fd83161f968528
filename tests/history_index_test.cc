// HistoryIndex: its pages, concatenated, are exactly what a replay from
// sequence 1 gives (audit::AccountHistory), for every account of a
// generated log, with blocks small enough that every page crosses several;
// across checkpoints and reopening; paged by cursor, since, to_us and
// through_seq; as-of balances; and what happens to it when its files or
// the log change under it.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "bench/workload.h"
#include "history/history_index.h"
#include "log/batch_codec.h"
#include "log/log_lock.h"
#include "log/log_repair.h"
#include "log/log_writer.h"
#include "test_support.h"

namespace billsim::history {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMinUs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxUs = std::numeric_limits<int64_t>::max();
constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();

using test_support::TempDir;

// The workload's set-up and `stream` of its events, as v1::Events.
std::vector<v1::Event> WorkloadEvents(uint64_t seed, uint64_t stream) {
  WorkloadOptions o;
  o.seed = seed;
  o.accounts = 6;
  o.campaigns = 24;
  o.mean_gap_us = 60'000'000;  // days pass: expiries and day renewals fire
  Workload w(o);
  std::vector<v1::Event> events = w.Setup();
  for (uint64_t i = 0; i < stream; ++i) {
    Workload::Delivery d;
    v1::Event other;
    if (!w.Next(&d, &other)) {
      events.push_back(std::move(other));
      continue;
    }
    v1::Event& e = events.emplace_back();
    e.set_event_id(d.event_id);
    e.set_time_us(d.time_us);
    auto* m = e.mutable_delivery_reported();
    m->set_account_id(w.account_ids()[w.campaign_account()[d.campaign]]);
    m->set_campaign_id(w.campaign_ids()[d.campaign]);
    m->set_kind(d.kind);
    m->set_count(d.count);
    m->set_platform_fault(d.platform_fault);
  }
  return events;
}

void WriteLog(const std::string& dir, const std::vector<v1::Event>& events, uint32_t batch) {
  log::LogOptions options;
  options.fsync.mode = log::FsyncPolicy::Mode::kNever;
  std::unique_ptr<log::LogWriter> writer;
  ASSERT_TRUE(log::LogWriter::Open(dir, options, &writer).ok());
  log::BatchBuilder b;
  log::SeqRange range;
  for (const v1::Event& e : events) {
    b.Add(e);
    if (b.count() == batch) {
      ASSERT_TRUE(writer->Append(b, &range).ok());
      b.Clear();
    }
  }
  if (b.count() > 0) {
    ASSERT_TRUE(writer->Append(b, &range).ok());
  }
  ASSERT_TRUE(writer->Close().ok());
}

// One line per entry: its log sequence and every field.
std::string Key(uint64_t log_seq, const v1::LedgerEntry& e) {
  return std::to_string(log_seq) + " " + e.ShortDebugString();
}

std::vector<std::string> Replayed(const std::string& dir, const std::string& account) {
  std::vector<audit::AuditEntry> entries;
  Status st = audit::AccountHistory(dir, account, kMinUs, kMaxUs, &entries);
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::vector<std::string> keys;
  for (const auto& a : entries) keys.push_back(Key(a.log_seq, a.entry));
  return keys;
}

// Every page of `q` (by cursor), concatenated; checks each page's contract.
std::vector<std::string> Paged(const HistoryIndex& index, PageQuery q) {
  std::vector<std::string> keys;
  for (int pages = 0; pages < 100'000; ++pages) {
    Page page;
    Status st = index.ReadPage(q, &page);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) break;
    EXPECT_LE(page.items.size(), q.limit);
    for (const auto& item : page.items) keys.push_back(Key(item.log_seq, item.entry));
    EXPECT_EQ(page.next_cursor, page.items.empty() ? q.cursor : page.items.back().entry.seq());
    if (!page.truncated) break;
    EXPECT_EQ(page.items.size(), q.limit);
    q.cursor = page.next_cursor;
  }
  return keys;
}

std::vector<std::string> AllPaged(const HistoryIndex& index, const std::string& account,
                                  uint32_t limit) {
  PageQuery q;
  q.account = account;
  q.limit = limit;
  q.through_seq = index.covered_seq();
  return Paged(index, q);
}

class HistoryIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = WorkloadEvents(7, 6000);
    WriteLog(dir_, events_, 97);  // batches that end anywhere in a page
    for (const char* a : {"acct-0", "acct-1", "acct-2", "acct-3", "acct-4", "acct-5"}) {
      accounts_.push_back(a);
      expected_.push_back(Replayed(dir_, a));
      ASSERT_GT(expected_.back().size(), 100u) << a;
    }
  }

  // Small blocks and a small budget: pages cross many written blocks and
  // the open blocks are written out by the budget as well as by size.
  HistoryIndex::Options Small(bool read_only = false) const {
    HistoryIndex::Options o;
    o.read_only = read_only;
    o.open_bytes_max = 3000;
    o.block_bytes = 600;
    return o;
  }

  std::unique_ptr<HistoryIndex> OpenIndex(const HistoryIndex::Options& o) {
    std::unique_ptr<HistoryIndex> index;
    Status st = HistoryIndex::Open(dir_, o, &index);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return index;
  }

  void ExpectEveryAccount(const HistoryIndex& index, uint32_t limit) {
    for (size_t i = 0; i < accounts_.size(); ++i) {
      EXPECT_EQ(AllPaged(index, accounts_[i], limit), expected_[i]) << accounts_[i];
    }
  }

  TempDir tmp_;
  std::string dir_ = tmp_.sub("log");
  std::string history_ = tmp_.sub("log/history");
  std::vector<v1::Event> events_;
  std::vector<std::string> accounts_;
  std::vector<std::vector<std::string>> expected_;
};

TEST_F(HistoryIndexTest, PagesConcatenatedEqualTheReplayForEveryAccount) {
  auto index = OpenIndex(Small());
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  EXPECT_EQ(index->covered_seq(), events_.size());
  for (uint32_t limit : {1u, 37u, 100'000u}) ExpectEveryAccount(*index, limit);
  // Many blocks were written, not just open ones.
  EXPECT_GT(fs::file_size(fs::path(history_) / "blocks.dat"), 20'000u);
}

// The bound on open blocks is on the memory they hold, not on the bytes
// they use: a string grown by doubling holds up to twice its size. Checked
// after every batch, from the blocks' capacities, at two budgets that bind
// (under 5000 bytes, this log's batches fill one each time, and all blocks
// are written after every batch).
TEST_F(HistoryIndexTest, OpenBlocksHoldAtMostTheirBudgetAfterEveryBatch) {
  for (uint64_t budget : {uint64_t{5000}, uint64_t{9000}}) {
    SCOPED_TRACE("open_bytes_max " + std::to_string(budget));
    fs::remove_all(history_);
    HistoryIndex::Options o = Small();
    o.open_bytes_max = budget;
    auto index = OpenIndex(o);
    uint64_t most = 0;
    for (uint64_t to = 97; index->covered_seq() < events_.size(); to += 97) {
      ASSERT_TRUE(index->CatchUp(to).ok());
      const uint64_t held = index->open_block_bytes();
      EXPECT_LE(held, budget) << "after sequence " << to;
      most = std::max(most, held);
    }
    EXPECT_GT(most, budget / 2) << "most " << most;  // the budget, not the blocks' size, bound it
    ExpectEveryAccount(*index, 37);
  }
}

TEST_F(HistoryIndexTest, CheckpointAndReopenContinueWhereTheyStopped) {
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(2500).ok());  // inside a batch
    EXPECT_EQ(index->covered_seq(), 2500u);
    ASSERT_TRUE(index->Checkpoint().ok());
    ASSERT_TRUE(index->CatchUp(4001).ok());  // not checkpointed: lost
  }
  test_support::CaptureLog capture;
  auto index = OpenIndex(Small());
  EXPECT_EQ(index->covered_seq(), 2500u);
  EXPECT_EQ(capture.text().find("rebuild"), std::string::npos) << capture.text();
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  ExpectEveryAccount(*index, 50);
  ASSERT_TRUE(index->Checkpoint().ok());
  index.reset();
  index = OpenIndex(Small());
  EXPECT_EQ(index->covered_seq(), events_.size());
  ExpectEveryAccount(*index, 50);
}

TEST_F(HistoryIndexTest, SinceToAndThroughBoundThePage) {
  auto index = OpenIndex(Small());
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  std::vector<audit::AuditEntry> all;
  ASSERT_TRUE(audit::AccountHistory(dir_, "acct-2", kMinUs, kMaxUs, &all).ok());
  const uint64_t since = 1800, through = 4700;
  const int64_t from_us = all[all.size() / 5].entry.time_us();
  const int64_t to_us = all[all.size() * 3 / 4].entry.time_us();
  std::vector<std::string> want;
  for (const auto& a : all) {
    if (a.log_seq > since && a.log_seq <= through && a.entry.time_us() >= from_us &&
        a.entry.time_us() <= to_us) {
      want.push_back(Key(a.log_seq, a.entry));
    }
  }
  ASSERT_GT(want.size(), 20u);
  PageQuery q;
  q.account = "acct-2";
  q.since_seq = since;
  q.through_seq = through;
  q.from_us = from_us;
  q.to_us = to_us;
  q.limit = 7;
  EXPECT_EQ(Paged(*index, q), want);
}

TEST_F(HistoryIndexTest, BalanceAsOfIsTheLastEntryStampedByThen) {
  auto index = OpenIndex(Small());
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  std::vector<audit::AuditEntry> all;
  ASSERT_TRUE(audit::AccountHistory(dir_, "acct-4", kMinUs, kMaxUs, &all).ok());
  for (size_t i : {size_t{0}, all.size() / 3, all.size() / 2, all.size() - 1}) {
    const int64_t as_of = all[i].entry.time_us();
    const audit::AuditEntry* last = nullptr;
    for (const auto& a : all) {
      if (a.entry.time_us() <= as_of) last = &a;
    }
    BalanceAt b;
    ASSERT_TRUE(index->BalanceAsOf("acct-4", as_of, kAll, &b).ok());
    EXPECT_EQ(b.entry_seq, last->entry.seq());
    EXPECT_EQ(b.log_seq, last->log_seq);
    EXPECT_EQ(b.cash, last->entry.cash_balance());
    EXPECT_EQ(b.credit, last->entry.grant_balance());
    EXPECT_EQ(b.frozen, last->entry.frozen_balance());
    EXPECT_EQ(b.valid, last->entry.valid_balance());
  }
  BalanceAt before;
  ASSERT_TRUE(index->BalanceAsOf("acct-4", all[0].entry.time_us() - 1, kAll, &before).ok());
  EXPECT_EQ(before.entry_seq, 0u);
  EXPECT_GE(before.account_clock_us, all.back().entry.time_us());
  BalanceAt none;
  EXPECT_EQ(index->BalanceAsOf("nobody", 0, kAll, &none).code(), Status::Code::kNotFound);
  Page page;
  PageQuery q;
  q.account = "nobody";
  EXPECT_EQ(index->ReadPage(q, &page).code(), Status::Code::kNotFound);
}

TEST_F(HistoryIndexTest, AFlippedByteIsReportedNotServedAndAuditRebuilds) {
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  const std::string data = (fs::path(history_) / "blocks.dat").string();
  std::string bytes = test_support::ReadBytes(data);
  bytes[bytes.size() / 2] ^= 0x10;
  test_support::WriteBytes(data, bytes);
  auto index = OpenIndex(Small());
  int corrupt = 0;
  for (const std::string& a : accounts_) {
    PageQuery q;
    q.account = a;
    q.through_seq = index->covered_seq();
    Page page;
    Status st = index->ReadPage(q, &page);
    if (st.ok()) continue;
    corrupt++;
    EXPECT_EQ(st.code(), Status::Code::kCorruption);
    EXPECT_NE(st.message().find(data), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("offset"), std::string::npos) << st.message();
  }
  EXPECT_EQ(corrupt, 1);
  index.reset();
  // `audit history` rebuilds the index and answers right.
  test_support::CaptureLog capture;
  for (size_t i = 0; i < accounts_.size(); ++i) {
    std::vector<audit::AuditEntry> got;
    audit::HistoryPaged paged;
    ASSERT_TRUE(audit::IndexedAccountHistory(dir_, accounts_[i], kMinUs, kMaxUs, {}, &got,
                                             &paged)
                    .ok());
    std::vector<std::string> keys;
    for (const auto& a : got) keys.push_back(Key(a.log_seq, a.entry));
    EXPECT_EQ(keys, expected_[i]);
  }
  EXPECT_NE(capture.text().find("rebuilding the history index"), std::string::npos);
}

TEST_F(HistoryIndexTest, ADeletedOrDamagedCheckpointIsRebuilt) {
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  const std::string checkpoint = (fs::path(history_) / "CHECKPOINT").string();
  std::string bytes = test_support::ReadBytes(checkpoint);
  bytes[bytes.size() - 3] ^= 1;
  test_support::WriteBytes(checkpoint, bytes);
  {
    test_support::CaptureLog capture;
    auto index = OpenIndex(Small());
    EXPECT_EQ(index->covered_seq(), 0u);
    EXPECT_NE(capture.text().find("checksum"), std::string::npos) << capture.text();
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ExpectEveryAccount(*index, 64);
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  fs::remove_all(history_);
  auto index = OpenIndex(Small());
  EXPECT_EQ(index->covered_seq(), 0u);
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  ExpectEveryAccount(*index, 64);
}

// A checkpoint whose checksum holds but whose body does not: cut short at
// points in every part of it (head, digest, state, account tables) or with
// a byte more, each with a header recomputed to match. The body is read a
// field at a time from the file, so every length in it must be checked
// against what is left; each one is refused, named, and rebuilt from the log.
TEST_F(HistoryIndexTest, ACheckpointWithAValidChecksumButABadBodyIsRebuilt) {
  uint64_t covered = 0;
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
    covered = index->covered_seq();
    ASSERT_GT(covered, 0u);
  }
  const std::string checkpoint = (fs::path(history_) / "CHECKPOINT").string();
  const std::string good = test_support::ReadBytes(checkpoint);
  constexpr size_t kHeader = 24;
  ASSERT_GT(good.size(), kHeader + 200);
  const size_t body = good.size() - kHeader;
  std::vector<std::string> bodies;
  for (size_t keep : {size_t{0}, size_t{7}, size_t{20}, size_t{56}, size_t{60}, size_t{70},
                      body / 4, body / 2, body - 200, body - 1}) {
    bodies.push_back(good.substr(kHeader, keep));
  }
  bodies.push_back(good.substr(kHeader) + '\0');
  for (const std::string& b : bodies) {
    SCOPED_TRACE("body of " + std::to_string(b.size()) + " bytes of " + std::to_string(body));
    std::string file = good.substr(0, 8);
    for (uint64_t v : {uint64_t{b.size()}, uint64_t{XXH3_64bits(b.data(), b.size())}}) {
      for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>(v >> (8 * i)));
    }
    file += b;
    test_support::WriteBytes(checkpoint, file);
    test_support::CaptureLog capture;
    auto index = OpenIndex(Small());
    EXPECT_EQ(index->covered_seq(), 0u);
    EXPECT_NE(capture.text().find(checkpoint), std::string::npos) << capture.text();
    EXPECT_EQ(capture.text().find("checksum"), std::string::npos) << capture.text();
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ExpectEveryAccount(*index, 64);
  }
  // And the checkpoint as written loads whole (blocks.dat, rebuilt from the
  // same log, is the same).
  test_support::WriteBytes(checkpoint, good);
  auto index = OpenIndex(Small());
  EXPECT_EQ(index->covered_seq(), covered);
  ExpectEveryAccount(*index, 64);
}

TEST_F(HistoryIndexTest, ALogRepairedShorterThanTheIndexRebuildsIt) {
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  log::RepairReport report;
  const uint64_t keep = 97 * 30;  // a batch end
  Status st = log::RepairLog(dir_, keep, &report);
  ASSERT_TRUE(st.ok()) << st.ToString();
  test_support::CaptureLog capture;
  auto index = OpenIndex(Small());
  EXPECT_EQ(index->covered_seq(), 0u);
  EXPECT_NE(capture.text().find("no longer holds"), std::string::npos) << capture.text();
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  EXPECT_EQ(index->covered_seq(), keep);
  for (const std::string& a : accounts_) EXPECT_EQ(AllPaged(*index, a, 40), Replayed(dir_, a));
}

TEST_F(HistoryIndexTest, AnotherLogInTheSameDirectoryRebuildsIt) {
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  for (const auto& f : fs::directory_iterator(dir_)) {
    if (f.is_regular_file() && f.path().filename() != "LOCK") fs::remove(f.path());
  }
  WriteLog(dir_, WorkloadEvents(8, 6000), 97);
  test_support::CaptureLog capture;
  auto index = OpenIndex(Small());
  EXPECT_EQ(index->covered_seq(), 0u);
  EXPECT_NE(capture.text().find("differs"), std::string::npos) << capture.text();
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  for (const std::string& a : accounts_) EXPECT_EQ(AllPaged(*index, a, 40), Replayed(dir_, a));
}

TEST_F(HistoryIndexTest, ReadOnlyNeverWritesAndCatchesUpInMemory) {
  {
    auto index = OpenIndex(Small(/*read_only=*/true));
    ASSERT_TRUE(index->CatchUp(kAll).ok());
    ExpectEveryAccount(*index, 33);
    EXPECT_FALSE(index->Checkpoint().ok());
  }
  EXPECT_FALSE(fs::exists(history_));
  {
    auto index = OpenIndex(Small());
    ASSERT_TRUE(index->CatchUp(3000).ok());
    ASSERT_TRUE(index->Checkpoint().ok());
  }
  const auto size = fs::file_size(fs::path(history_) / "blocks.dat");
  auto index = OpenIndex(Small(true));
  EXPECT_EQ(index->covered_seq(), 3000u);
  ASSERT_TRUE(index->CatchUp(kAll).ok());
  ExpectEveryAccount(*index, 33);
  EXPECT_EQ(fs::file_size(fs::path(history_) / "blocks.dat"), size);
}

// Beside a writer that holds the log's lock (a server), `audit history`
// reads without writing history/; without one, it builds and keeps it.
TEST_F(HistoryIndexTest, AuditHistoryBesideALockedLogWritesNothing) {
  auto history = [&](const std::string& account, const audit::HistoryPaging& paging,
                     audit::HistoryPaged* paged) {
    std::vector<audit::AuditEntry> got;
    Status st = audit::IndexedAccountHistory(dir_, account, kMinUs, kMaxUs, paging, &got, paged);
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::vector<std::string> keys;
    for (const auto& a : got) keys.push_back(Key(a.log_seq, a.entry));
    return keys;
  };
  audit::HistoryPaged paged;
  {
    std::unique_ptr<log::LogLock> lock;
    ASSERT_TRUE(log::LogLock::Acquire(dir_, &lock).ok());
    EXPECT_EQ(history("acct-3", {}, &paged), expected_[3]);
    EXPECT_FALSE(fs::exists(history_));
  }
  EXPECT_EQ(history("acct-3", {}, &paged), expected_[3]);
  EXPECT_TRUE(fs::exists(fs::path(history_) / "CHECKPOINT"));
  // One page at a time, by cursor: the same entries.
  std::vector<std::string> pages;
  audit::HistoryPaging paging;
  paging.limit = 40;
  do {
    auto page = history("acct-3", paging, &paged);
    pages.insert(pages.end(), page.begin(), page.end());
    paging.cursor = paged.next_cursor;
  } while (paged.truncated);
  EXPECT_EQ(pages, expected_[3]);
  std::vector<audit::AuditEntry> none;
  EXPECT_EQ(audit::IndexedAccountHistory(dir_, "nobody", kMinUs, kMaxUs, {}, &none, &paged).code(),
            Status::Code::kNotFound);
}

// Readers page while the writer catches up; each page is the replay's
// entries up to the sequence the reader asked through. Small (TSan).
TEST_F(HistoryIndexTest, ReadersPageWhileTheWriterCatchesUp) {
  auto index = OpenIndex(Small());
  std::vector<std::vector<audit::AuditEntry>> all(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(audit::AccountHistory(dir_, accounts_[i], kMinUs, kMaxUs, &all[i]).ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> checked{0};
  auto reader = [&](int i) {
    while (!done.load()) {
      PageQuery q;
      q.account = accounts_[i];
      q.through_seq = index->covered_seq();
      q.limit = 25;
      Page page;
      Status st = index->ReadPage(q, &page);
      if (st.code() == Status::Code::kNotFound) continue;  // not opened yet
      ASSERT_TRUE(st.ok()) << st.ToString();
      size_t want = 0;
      while (want < all[i].size() && all[i][want].log_seq <= q.through_seq) want++;
      ASSERT_EQ(page.items.size(), std::min<size_t>(want, 25));
      for (size_t k = 0; k < page.items.size(); ++k) {
        ASSERT_EQ(Key(page.items[k].log_seq, page.items[k].entry),
                  Key(all[i][k].log_seq, all[i][k].entry));
      }
      EXPECT_EQ(page.truncated, want > 25);
      checked++;
    }
  };
  std::thread r0(reader, 0), r1(reader, 1);
  for (uint64_t to = 150; to < events_.size() + 150; to += 150) {
    ASSERT_TRUE(index->CatchUp(to).ok());
    if (to % 1500 == 0) {
      ASSERT_TRUE(index->Checkpoint().ok());
    }
  }
  done = true;
  r0.join();
  r1.join();
  EXPECT_GT(checked.load(), 0);
  ExpectEveryAccount(*index, 500);
}

}  // namespace
}  // namespace billsim::history
