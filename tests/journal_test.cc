// The Journal (journal/journal.h): the one way into the log, for `log
// append` and the server alike.
#include "journal/journal.h"

#include <gtest/gtest.h>

#include "log/batch_codec.h"
#include "test_support.h"

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

TEST(JournalTest, ASecondJournalOnTheSameLogIsRefusedWhileTheFirstHoldsIt) {
  TempDir dir;
  std::unique_ptr<Journal> first, second;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &first).ok());
  Status st = Journal::Open(dir.path(), JournalOptions{}, &second);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("LOCK"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace billsim
