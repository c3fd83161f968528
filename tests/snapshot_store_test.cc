// The snapshot store writes and reads a snapshot a field at a time (a book
// of millions of campaigns is never held as one message): the file is the
// one a whole v1::Snapshot would give, and a body whose checksum holds but
// whose fields are damaged, out of order or inconsistent is skipped, never
// trusted, and leaves the ledger as it was.
#include <xxhash.h>

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include "test_support.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/log_dir.h"
#include "log/log_writer.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"
#include "stress/stress_workload.h"
#include "util/varint.h"

namespace billsim {
namespace {

using test_support::CaptureLog;
using test_support::ReadBytes;
using test_support::TempDir;
using test_support::WriteBytes;

void Put(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

// Header (magic, version, reserved, length, XXH3-64) and body, as the store
// frames a snapshot.
std::string Framed(const std::string& body) {
  std::string f;
  Put(&f, 0x4e535342, 4);
  Put(&f, 1, 2);
  Put(&f, 0, 2);
  Put(&f, body.size(), 8);
  Put(&f, XXH3_64bits(body.data(), body.size()), 8);
  return f + body;
}

std::string Field(int number, const std::string& value) {
  std::string f;
  AppendVarint(&f, static_cast<uint64_t>(number) << 3 | 2);
  AppendVarint(&f, value.size());
  return f + value;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  // A book with every kind of entity (accounts, grants, campaigns,
  // disputes, timers), replayed, and its snapshot written at the end.
  void SetUp() override {
    log::LogOptions options;
    options.fsync.mode = log::FsyncPolicy::Mode::kNever;
    std::unique_ptr<log::LogWriter> w;
    ASSERT_TRUE(log::LogWriter::Open(dir_.path(), options, &w).ok());
    stress::StressWorkload workload(7, 20, 80, 100000);
    std::vector<v1::Event> setup = workload.Setup();
    log::SeqRange r;
    for (size_t i = 0; i < setup.size(); i += 100) {
      log::BatchBuilder b;
      for (size_t k = i; k < std::min(setup.size(), i + 100); ++k) b.Add(setup[k]);
      ASSERT_TRUE(w->Append(b, &r).ok());
    }
    for (int i = 0; i < 100; ++i) {
      log::BatchBuilder b;
      for (int k = 0; k < 1000; ++k) workload.Next(&b);
      ASSERT_TRUE(w->Append(b, &r).ok());
    }
    ASSERT_TRUE(w->Close().ok());
    ReplayStats stats;
    ReplayOptions ro;
    ro.use_snapshots = false;
    ASSERT_TRUE(Replay(dir_.path(), ro, &ledger_, &stats).ok());
    last_seq_ = stats.last_seq;
    ASSERT_GT(ledger_.grants().size(), 0u);
    ASSERT_GT(ledger_.disputes().size(), 0u);
    ASSERT_TRUE(ChainAt(dir_.path(), last_seq_, &chain_).ok());
    ASSERT_TRUE(WriteSnapshot(dir_.path(), ledger_, last_seq_, chain_, &path_).ok());
  }

  // The snapshot's first fields (1-4) and its state's bytes.
  std::string Head(const std::string& digest) const {
    v1::Snapshot head;
    head.set_format_version(1);
    head.set_last_seq(last_seq_);
    head.set_chain(chain_.data(), chain_.size());
    head.set_state_digest(digest);
    return head.SerializeAsString();
  }
  std::string State() const {
    std::string s;
    ledger_.SerializeState([&s](std::string_view piece) { s.append(piece); });
    return s;
  }

  // Loads the newest snapshot into a fresh ledger: its sequence (0 if it
  // was skipped) and what the store warned.
  uint64_t Load(Ledger* into, std::string* warned, int64_t max_time_us = INT64_MAX) {
    CaptureLog capture;
    uint64_t seq = 0;
    EXPECT_TRUE(LoadNewestSnapshot(dir_.path(), last_seq_, max_time_us, into, &seq).ok());
    *warned = capture.text();
    return seq;
  }

  // A body whose checksum holds is skipped with `reason`, and the ledger
  // loaded into is left as it was.
  void ExpectSkipped(const std::string& body, const std::string& reason) {
    WriteBytes(path_, Framed(body));
    Ledger fresh;
    const std::string before = fresh.Digest();
    std::string warned;
    EXPECT_EQ(Load(&fresh, &warned), 0u) << reason;
    EXPECT_NE(warned.find(reason), std::string::npos) << warned;
    EXPECT_EQ(fresh.Digest(), before) << reason;
    EXPECT_EQ(fresh.accounts().size(), 0u) << reason;
  }

  TempDir dir_;
  Ledger ledger_;
  uint64_t last_seq_ = 0;
  log::Chain chain_;
  std::string path_;
};

TEST_F(SnapshotStoreTest, TheFileIsTheWholeMessagesSerialization) {
  v1::Snapshot whole;
  whole.set_format_version(1);
  whole.set_last_seq(last_seq_);
  whole.set_chain(chain_.data(), chain_.size());
  whole.set_state_digest(ledger_.Digest());
  ledger_.SaveState(whole.mutable_state());
  std::string body;
  {
    google::protobuf::io::StringOutputStream stream(&body);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    ASSERT_TRUE(whole.SerializeToCodedStream(&coded));
  }
  EXPECT_EQ(ReadBytes(path_), Framed(body));
}

TEST_F(SnapshotStoreTest, ItLoadsToTheSameDigest) {
  Ledger loaded;
  std::string warned;
  EXPECT_EQ(Load(&loaded, &warned), last_seq_) << warned;
  EXPECT_EQ(loaded.Digest(), ledger_.Digest());
  EXPECT_TRUE(loaded.CheckInvariants().ok());
}

TEST_F(SnapshotStoreTest, AWrongRecordedDigestLeavesTheLedgerAsItWas) {
  ExpectSkipped(Head("00000000000000000000000000000000") + Field(5, State()),
                "restored state digest differs");
}

TEST_F(SnapshotStoreTest, AnEntityAfterTheStatesLastFieldsIsOutOfOrder) {
  // The state ends with its options (fields 15, 16): an account after
  // them is out of number order.
  ASSERT_GT(ledger_.options().min_budget_micros, 0);
  v1::LedgerState::Account a;
  a.set_id("a-late");
  ExpectSkipped(Head(ledger_.Digest()) + Field(5, State() + Field(10, a.SerializeAsString())),
                "state at byte");
  ExpectSkipped(Head(ledger_.Digest()) + Field(5, State() + Field(10, a.SerializeAsString())),
                "field 10 after field 16");
}

TEST_F(SnapshotStoreTest, AStateLongerThanTheFileIsRefused) {
  std::string body = Head(ledger_.Digest());
  AppendVarint(&body, 5 << 3 | 2);
  AppendVarint(&body, State().size() + 10);
  ExpectSkipped(body + State(), "runs past the end");
}

TEST_F(SnapshotStoreTest, AnEntityThatDoesNotParseIsRefused) {
  v1::LedgerState head_only;
  head_only.set_clock_us(ledger_.clock_us());
  ExpectSkipped(Head(ledger_.Digest()) +
                    Field(5, head_only.SerializeAsString() + Field(10, "\xff\xff\xff")),
                "an account does not parse");
}

TEST_F(SnapshotStoreTest, AnUnknownStateFieldIsRefused) {
  ExpectSkipped(Head(ledger_.Digest()) + Field(5, State() + Field(40, "x")),
                "unknown state field 40");
}

TEST_F(SnapshotStoreTest, AnEntityNamingOneNotYetRestoredIsRefused) {
  // A dispute before the campaigns (field order kept: the state's own
  // fields, then a dispute field and nothing else) names a campaign that
  // does not exist.
  v1::LedgerState head_only;
  head_only.set_clock_us(ledger_.clock_us());
  v1::LedgerState::Dispute d;
  d.set_id("d-orphan");
  d.set_campaign(3);
  ExpectSkipped(Head(ledger_.Digest()) +
                    Field(5, head_only.SerializeAsString() + Field(13, d.SerializeAsString())),
                "dispute d-orphan names an account or campaign out of range");
}

TEST_F(SnapshotStoreTest, ALaterZeroReplacesAnEarlierValueAsParsingWould) {
  // refund_grant_validity_us (16) again, as 0 after the state's own value:
  // parsing the whole state would keep the 0, which is out of range.
  std::string state = State();
  AppendVarint(&state, 16 << 3);
  AppendVarint(&state, 0);
  ExpectSkipped(Head(ledger_.Digest()) + Field(5, state), "options or clock has a value out of range");
}

TEST_F(SnapshotStoreTest, AStateAfterTheTargetTimeIsSkippedNotRestored) {
  Ledger loaded;
  std::string warned;
  EXPECT_EQ(Load(&loaded, &warned, ledger_.clock_us() - 1), 0u);
  EXPECT_EQ(loaded.accounts().size(), 0u);
  EXPECT_EQ(warned.find("skipping"), std::string::npos) << warned;  // NotFound: quiet
}

}  // namespace
}  // namespace billsim
