// The Journal (journal/journal.h): the one way into the log, for `log
// append` and the server alike.
#include "journal/journal.h"

#include <gtest/gtest.h>

#include "journal/unknown_fields.h"
#include "log/batch_codec.h"
#include "log/log_reader.h"
#include "log_events.h"
#include "test_support.h"
#include "wire_events.h"

namespace billsim {
namespace {

using test_support::TempDir;

v1::Event Open(uint64_t id, const std::string& account) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(1'000'000);
  auto* m = e.mutable_account_opened();
  m->set_account_id(account);
  m->set_currency("USD");
  m->set_funding_order(v1::FUNDING_ORDER_CREDIT_FIRST);
  return e;
}

v1::Event Deposit(uint64_t id, const std::string& account, int64_t amount) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(2'000'000);
  auto* m = e.mutable_cash_deposited();
  m->set_account_id(account);
  m->set_amount_micros(amount);
  return e;
}

TEST(JournalTest, AcceptedEventsReachTheLogAndAReopenedJournalKnowsThem) {
  TempDir dir;
  {
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &j).ok());
    EXPECT_TRUE(j->Apply(Open(1, "acct-1"), nullptr));
    EXPECT_TRUE(j->Apply(Deposit(2, "acct-1", 5'000'000), nullptr));
    EXPECT_EQ(j->pending(), 2u);
    log::SeqRange range;
    ASSERT_TRUE(j->Append(&range).ok());
    EXPECT_EQ(range.first, 1u);
    EXPECT_EQ(range.last, 2u);
    EXPECT_EQ(j->pending(), 0u);
    ASSERT_TRUE(j->Close().ok());
  }
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &j).ok());
  EXPECT_EQ(j->last_seq(), 2u);
  EXPECT_EQ(j->ledger().Balance("acct-1")->cash_balance(), 5'000'000);
}

TEST(JournalTest, ARefusalIsWordedOnceAndChangesNothing) {
  TempDir dir;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &j).ok());
  ASSERT_TRUE(j->Apply(Open(1, "acct-1"), nullptr));
  Refusal dup;
  EXPECT_FALSE(j->Apply(Open(1, "acct-1"), &dup));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.event_id, 1u);
  EXPECT_EQ(dup.field, "event_id");
  EXPECT_EQ(dup.reason, "event 1: event_id: already applied; ignored (R10)");
  Refusal bad;
  EXPECT_FALSE(j->Apply(Deposit(2, "nobody", 1), &bad));
  EXPECT_FALSE(bad.duplicate);
  EXPECT_EQ(bad.event_id, 2u);
  EXPECT_FALSE(bad.field.empty());
  EXPECT_NE(bad.reason.find("nobody"), std::string::npos) << bad.reason;
  EXPECT_EQ(j->pending(), 1u);  // only the first
}

TEST(JournalTest, AColumnarBatchIsJudgedRowByRowLikeSingleEvents) {
  TempDir dir;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &j).ok());
  log::BatchBuilder builder;
  builder.Add(Open(1, "acct-1"));
  builder.Add(Deposit(2, "acct-1", 7));
  builder.Add(Deposit(3, "acct-2", 7));  // unknown account: refused
  builder.Add(Open(1, "acct-1"));        // duplicate
  std::string bytes;
  builder.Finish(&bytes);
  log::BatchDecoder decoder;
  ASSERT_TRUE(decoder.Parse(bytes, builder.count()).ok());
  std::vector<Refusal> refusals;
  EXPECT_EQ(j->ApplyBatch(decoder, &refusals), 2u);
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].event_id, 3u);
  EXPECT_TRUE(refusals[1].duplicate);
  log::SeqRange range;
  ASSERT_TRUE(j->Append(&range).ok());
  EXPECT_EQ(range.last, 2u);
}

// A field the schema does not define would reach the log unjudged
// (Protobuf keeps it, and writes it back): refused, whether the event
// comes alone or in a columnar batch, and nothing is pending.
TEST(JournalTest, AnEventWithAFieldTheSchemaDoesNotDefineIsRefused) {
  TempDir dir;
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &j).ok());
  ASSERT_TRUE(j->Apply(Open(1, "acct-1"), nullptr));
  v1::Event odd = Deposit(2, "acct-1", 5);
  odd.mutable_cash_deposited()->GetReflection()->MutableUnknownFields(
      odd.mutable_cash_deposited())->AddVarint(100, 7);
  Refusal refusal;
  EXPECT_FALSE(j->Apply(odd, &refusal));
  EXPECT_FALSE(refusal.duplicate);
  EXPECT_EQ(refusal.event_id, 2u);
  EXPECT_EQ(refusal.field, "cash_deposited.#100");
  EXPECT_EQ(refusal.reason.rfind("event 2: cash_deposited.#100: a field number", 0), 0u)
      << refusal.reason;
  EXPECT_EQ(j->pending(), 1u);
  EXPECT_EQ(j->ledger().Balance("acct-1")->cash_balance(), 0);

  // In a columnar batch, as a client's bytes: one on the envelope.
  log::BatchBuilder builder;
  builder.Add(Deposit(3, "acct-1", 7));
  std::string bytes;
  builder.Finish(&bytes);
  v1::EventBatch batch;
  ASSERT_TRUE(batch.ParseFromString(bytes));
  batch.mutable_others(0)->GetReflection()->MutableUnknownFields(
      batch.mutable_others(0))->AddVarint(99, 1);
  *batch.add_others() = Deposit(4, "acct-1", 11);
  batch.add_other_position(1);
  bytes = batch.SerializeAsString();
  log::BatchDecoder decoder;
  ASSERT_TRUE(decoder.Parse(bytes, 2).ok());
  std::vector<Refusal> refusals;
  EXPECT_EQ(j->ApplyBatch(decoder, &refusals), 1u);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].event_id, 3u);
  EXPECT_EQ(refusals[0].field, "#99");
  EXPECT_EQ(j->ledger().Balance("acct-1")->cash_balance(), 11);

  // The log holds the two accepted events, and no unknown field.
  log::SeqRange range;
  ASSERT_TRUE(j->Append(&range).ok());
  EXPECT_EQ(range.last, 2u);
  std::vector<test_support::WrittenBatch> written;
  ASSERT_TRUE(test_support::ReadLogBatches(dir.path(), &written).ok());
  ASSERT_EQ(written.size(), 1u);
  v1::EventBatch logged;
  ASSERT_TRUE(logged.ParseFromString(written[0].payload));
  ASSERT_EQ(logged.others_size(), 2);
  EXPECT_EQ(logged.others(1).event_id(), 4u);
  std::string path;
  EXPECT_FALSE(FindUnknownField(logged, &path)) << path;
}

TEST(JournalTest, ASecondJournalOnTheSameLogIsRefusedWhileTheFirstHoldsIt) {
  TempDir dir;
  std::unique_ptr<Journal> first, second;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &first).ok());
  Status st = Journal::Open(dir.path(), JournalOptions{}, &second);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("LOCK"), std::string::npos) << st.message();
}


// A columnar batch of deliveries alone goes to the log as the bytes it came
// in, not re-encoded (the server's fast path), only when those bytes say
// nothing its accepted rows would not: every row accepted, every
// dictionary entry named by a row, nothing the decoder does not know, and
// enough rows to be worth a batch of its own. Every other batch is
// re-encoded from its accepted events, as before.
class WholePayloadTest : public ::testing::Test {
 protected:
  static constexpr int64_t kT0 = wire_events::kT0;
  static constexpr uint32_t kRows = Journal::kWholeFrom;

  void SetUp() override {
    ASSERT_TRUE(Journal::Open(dir_.path(), JournalOptions{}, &j_).ok());
    wire_events::Events ev(1);
    ev.Setup(kT0, "acct-1", "camp-1", 1'000'000);
    ev.Campaign(kT0 + 4, "acct-1", "camp-2");
    ev.Enable(kT0 + 5, "acct-1", "camp-2");
    for (const v1::Event& e : ev.all()) ASSERT_TRUE(j_->Apply(e, nullptr));
    log::SeqRange range;
    ASSERT_TRUE(j_->Append(&range).ok());
    setup_seq_ = range.last;
  }

  // The payload of `n` click rows, ids from `first_id`, times one second
  // apart from `t0`, on the two campaigns in turn, after what the caller
  // put in `b` (if given).
  std::string Clicks(uint64_t first_id, uint32_t n, log::BatchBuilder* b = nullptr,
                     int64_t t0 = kT0 + 10'000'000) {
    log::BatchBuilder own;
    if (b == nullptr) b = &own;
    for (uint32_t i = 0; i < n; ++i) {
      b->AddDelivery(first_id + i, t0 + int64_t{i} * 1'000'000, "acct-1",
                     i % 2 == 0 ? "camp-1" : "camp-2", v1::DeliveryReported::CLICK, 1, false);
    }
    std::string bytes;
    b->Finish(&bytes);
    return bytes;
  }

  // Applies `bytes` (holding `n` events) with its payload given.
  uint32_t ApplyWhole(std::string bytes, uint32_t n, std::vector<Refusal>* refusals) {
    log::BatchDecoder decoder;
    EXPECT_TRUE(decoder.Parse(bytes, n).ok());
    return j_->ApplyBatch(decoder, refusals, {}, &bytes);
  }

  using Written = test_support::WrittenBatch;
  // The log's batches after the set-up.
  std::vector<Written> Batches() {
    std::vector<Written> all;
    EXPECT_TRUE(test_support::ReadLogBatches(dir_.path(), &all).ok());
    std::vector<Written> out;
    for (Written& w : all) {
      if (w.header.first_seq > setup_seq_) out.push_back(std::move(w));
    }
    return out;
  }

  // Appends what is pending, then reads back the log's batches after the
  // set-up.
  std::vector<Written> AppendAndRead() {
    log::SeqRange range;
    EXPECT_TRUE(j_->Append(&range).ok());
    return Batches();
  }

  int64_t Cash() { return j_->ledger().Balance("acct-1")->cash_balance(); }

  // The cash is `cash`, and replay reads the log back to the same.
  void ExpectCashBeforeAndAfterReopen(int64_t cash) {
    EXPECT_EQ(Cash(), cash);
    ASSERT_TRUE(j_->Close().ok());
    j_.reset();
    ASSERT_TRUE(Journal::Open(dir_.path(), JournalOptions{}, &j_).ok());
    EXPECT_EQ(Cash(), cash);
  }

  TempDir dir_;
  std::unique_ptr<Journal> j_;
  uint64_t setup_seq_ = 0;
};

TEST_F(WholePayloadTest, AllAcceptedAndAllNamedGoesToTheLogAsItCame) {
  const std::string bytes = Clicks(100, kRows);
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(bytes, kRows, &refusals), kRows);
  EXPECT_TRUE(refusals.empty());
  EXPECT_EQ(j_->kept_whole(), 1u);
  EXPECT_EQ(j_->pending(), kRows);
  log::SeqRange range;
  ASSERT_TRUE(j_->Append(&range).ok());
  EXPECT_EQ(range.first, setup_seq_ + 1);
  EXPECT_EQ(range.last, setup_seq_ + kRows);
  EXPECT_EQ(j_->pending(), 0u);
  const std::vector<Written> written = Batches();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].payload, bytes);  // the very bytes
  EXPECT_EQ(written[0].header.count, kRows);
  EXPECT_EQ(written[0].header.first_time_us, kT0 + 10'000'000);
  EXPECT_EQ(written[0].header.last_time_us, kT0 + 10'000'000 + int64_t{kRows - 1} * 1'000'000);
  // Replay reads it back to the same state.
  ASSERT_NO_FATAL_FAILURE(
      ExpectCashBeforeAndAfterReopen((1'000'000 - int64_t{kRows}) * wire_events::kUnit));
  EXPECT_EQ(j_->last_seq(), setup_seq_ + kRows);
}

TEST_F(WholePayloadTest, ARefusedRowIsNotWrittenAndTheRestAreReencoded) {
  log::BatchBuilder b;
  b.AddDelivery(3, kT0 + 9'000'000, "acct-1", "camp-1", v1::DeliveryReported::CLICK, 1,
                false);  // id 3 is the set-up's: a duplicate
  const std::string bytes = Clicks(100, kRows, &b);
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(bytes, kRows + 1, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 0u);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_TRUE(refusals[0].duplicate);
  log::SeqRange range;
  ASSERT_TRUE(j_->Append(&range).ok());
  EXPECT_EQ(range.last - range.first + 1, kRows);
  const std::vector<Written> written = Batches();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_NE(written[0].payload, bytes);
  EXPECT_EQ(written[0].header.count, kRows);
  EXPECT_EQ(written[0].header.first_time_us, kT0 + 10'000'000);  // the refused row's is not
  log::BatchDecoder decoder;
  ASSERT_TRUE(decoder.Parse(written[0].payload, kRows).ok());
  bool saw_refused = false;
  ASSERT_TRUE(decoder.ForEachEvent([&](const v1::Event& e) {
    if (e.event_id() == 3) saw_refused = true;
    return Status::Ok();
  }).ok());
  EXPECT_FALSE(saw_refused);
}

TEST_F(WholePayloadTest, ADictionaryEntryNoRowNamesIsNotWritten) {
  log::BatchBuilder b;
  b.Dictionary("acct-1", "no-row-names-this");
  const std::string bytes = Clicks(100, kRows, &b);
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(bytes, kRows, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 0u);
  const std::vector<Written> written = AppendAndRead();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_NE(written[0].payload, bytes);
  EXPECT_EQ(written[0].payload.find("no-row-names-this"), std::string::npos);
  log::BatchDecoder decoder;
  ASSERT_TRUE(decoder.Parse(written[0].payload, kRows).ok());
  EXPECT_EQ(decoder.dictionary_size(), 2u);
}

TEST_F(WholePayloadTest, AFieldNoDecoderKnowsIsNotWritten) {
  std::string bytes = Clicks(100, kRows);
  bytes += std::string("\xa0\x06\x07", 3);  // field 100, varint 7
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(bytes, kRows, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 0u);
  const std::vector<Written> written = AppendAndRead();
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].payload, Clicks(100, kRows));  // re-encoded: the field is gone
}

TEST_F(WholePayloadTest, WholeEventsAmongTheRowsGoAsTheyCame) {
  wire_events::Events ev(50);
  ev.Deposit(kT0 + 9'000'000, "acct-1", 5 * wire_events::kUnit);
  ev.Deposit(kT0 + 9'000'001, "acct-1", 6 * wire_events::kUnit);
  // The second's deposit carries a field no schema of this build defines
  // (field 100): it is refused (journal.h, Judge), so its batch is not
  // kept whole but re-encoded from the rest.
  v1::Event& odd = ev.all()[1];
  odd.mutable_cash_deposited()->GetReflection()->MutableUnknownFields(
      odd.mutable_cash_deposited())->AddVarint(100, 7);
  log::BatchBuilder plain;
  plain.Add(ev.all()[0]);
  const std::string plain_bytes = Clicks(100, kRows, &plain);
  log::BatchBuilder unknown;
  unknown.Add(ev.all()[1]);
  const std::string unknown_bytes =
      Clicks(100 + kRows, kRows, &unknown, kT0 + 2'000'000'000);
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(plain_bytes, kRows + 1, &refusals), kRows + 1);
  EXPECT_EQ(j_->kept_whole(), 1u);
  log::SeqRange range;
  ASSERT_TRUE(j_->Append(&range).ok());  // two appends: two batches
  EXPECT_TRUE(refusals.empty());
  EXPECT_EQ(ApplyWhole(unknown_bytes, kRows + 1, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 1u);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].event_id, odd.event_id());
  EXPECT_EQ(refusals[0].field, "cash_deposited.#100");
  ASSERT_TRUE(j_->Append(&range).ok());
  const std::vector<Written> written = Batches();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].payload, plain_bytes);
  EXPECT_EQ(written[0].header.first_time_us, kT0 + 9'000'000);  // the deposit's
  EXPECT_EQ(written[1].payload, Clicks(100 + kRows, kRows, nullptr, kT0 + 2'000'000'000));
  EXPECT_EQ(written[1].header.count, kRows);
  ExpectCashBeforeAndAfterReopen(Cash());  // replay reads back the same
}

TEST_F(WholePayloadTest, ADictionaryEntryTwiceGoesWholeWhenBothAreNamed) {
  // Rows name the same pair through two entries (a client's duplicate):
  // both named, so the bytes go as they came, and replay reads them the
  // same.
  log::BatchBuilder b;
  const uint32_t first = b.AppendDictionary("acct-1", "camp-1");
  const uint32_t again = b.AppendDictionary("acct-1", "camp-1");
  for (uint32_t i = 0; i < kRows; ++i) {
    b.AddDeliveryTo(i % 2 == 0 ? first : again, 100 + i, kT0 + 10'000'000 + int64_t{i},
                    v1::DeliveryReported::CLICK, 1, false);
  }
  std::string bytes;
  b.Finish(&bytes);
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(bytes, kRows, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 1u);
  log::SeqRange range;
  ASSERT_TRUE(j_->Append(&range).ok());
  ASSERT_NO_FATAL_FAILURE(
      ExpectCashBeforeAndAfterReopen((1'000'000 - int64_t{kRows}) * wire_events::kUnit));
}

TEST_F(WholePayloadTest, AnAbortedStageDropsThePayloadsKeptWhole) {
  ASSERT_TRUE(j_->BeginStage().ok());
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(Clicks(100, kRows), kRows, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 1u);
  j_->AbortStage();
  EXPECT_EQ(j_->pending(), 0u);  // nothing left to write after the stage
  ASSERT_TRUE(j_->BeginStage().ok());
  log::SeqRange range;
  ASSERT_TRUE(j_->CommitStage(&range).ok());
  EXPECT_TRUE(Batches().empty());
}

TEST_F(WholePayloadTest, SmallBatchesJoinThePendingBatchAndOrderIsKept) {
  // Below kWholeFrom rows: re-encoded into the pending batch; then a whole
  // payload, then one event: three log batches, in the order applied.
  std::vector<Refusal> refusals;
  EXPECT_EQ(ApplyWhole(Clicks(100, kRows - 1), kRows - 1, &refusals), kRows - 1);
  EXPECT_EQ(j_->kept_whole(), 0u);
  const std::string whole = Clicks(5000, kRows, nullptr, kT0 + 5'000'000'000);
  EXPECT_EQ(ApplyWhole(whole, kRows, &refusals), kRows);
  EXPECT_EQ(j_->kept_whole(), 1u);
  wire_events::Events ev(9000);
  ev.Deposit(kT0 + 20'000'000'000, "acct-1", 5 * wire_events::kUnit);
  ASSERT_TRUE(j_->Apply(ev.all()[0], nullptr));
  EXPECT_EQ(j_->pending(), 2 * kRows);
  log::SeqRange range;
  ASSERT_TRUE(j_->Append(&range).ok());
  EXPECT_EQ(range.first, setup_seq_ + 1);
  EXPECT_EQ(range.last, setup_seq_ + 2 * kRows);
  const std::vector<Written> written = Batches();
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[0].header.first_seq, setup_seq_ + 1);
  EXPECT_EQ(written[0].header.count, kRows - 1);
  EXPECT_EQ(written[1].header.first_seq, setup_seq_ + kRows);
  EXPECT_EQ(written[1].payload, whole);
  EXPECT_EQ(written[2].header.first_seq, setup_seq_ + 2 * kRows);
  EXPECT_EQ(written[2].header.count, 1u);
  const int64_t cash = Cash();
  ASSERT_TRUE(j_->Close().ok());
  j_.reset();
  ASSERT_TRUE(Journal::Open(dir_.path(), JournalOptions{}, &j_).ok());
  EXPECT_EQ(Cash(), cash);
  EXPECT_EQ(j_->last_seq(), setup_seq_ + 2 * kRows);
}

}  // namespace
}  // namespace billsim
