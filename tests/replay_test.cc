// Replay from a log (replay/replayer.h): it rebuilds exactly the ledger that
// wrote the log, also when it starts or stops inside a batch. Replay learns a
// campaign's index from its CampaignCreated (BatchApplier::Created) when the
// creation is in the part it replays, and looks the campaign up otherwise;
// both must name the same campaign. The server's committer keeps what it
// found of a pair across batches the same way (Journal::ApplyBatch with pair
// numbers), and must forget it when its ledger is restored.
#include <memory>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "log/batch_codec.h"
#include "log/pair_numbering.h"
#include "ledger_fixture.h"
#include "replay/replayer.h"
#include "test_support.h"

namespace billsim::testing {
namespace {

using test_support::TempDir;

class ReplayTest : public LedgerTest {
 protected:
  // Two batches. Campaigns of two accounts are created in each, and every
  // batch delivers to campaigns created before it and in it; c2 of a2 has
  // the id c2 that a1 never uses, and a delivery naming a1/c2 is refused
  // (so it is not in the log).
  void SetUp() override {
    ASSERT_TRUE(Journal::Open(dir_.path(), JournalOptions{}, &journal_).ok());
    now_ = kT0;
    Add(MakeOpenAccount("a1"));
    Add(MakeOpenAccount("a2", 60, v1::FUNDING_ORDER_CASH_FIRST));
    Add(MakeDeposit("a1", 500 * kUnit));
    Add(MakeDeposit("a2", 300 * kUnit));
    Add(MakeGrant("a1", "g1", 40 * kUnit, kT0 + 3 * kDay, {}));
    Campaign("a1", "c1");
    Campaign("a2", "c2");
    Deliver("a1", "c1", 3);
    Deliver("a2", "c2", 4);
    Campaign("a1", "c3");
    Deliver("a1", "c3", 5);
    Deliver("a1", "c1", 6);
    EXPECT_FALSE(journal_->Apply(MakeDelivery("a1", "c2", v1::DeliveryReported::CLICK, 1), nullptr));
    Flush();
    now_ = kT0 + 4 * kDay;  // g1 has expired
    Deliver("a2", "c2", 7);
    Deliver("a1", "c3", 2);
    Campaign("a2", "c4");
    Deliver("a2", "c4", 8);
    Deliver("a1", "c1", 1);
    Deliver("a2", "c4", 2);
    Flush();
    ASSERT_TRUE(journal_->Close().ok());
  }

  void Add(const v1::Event& e) {
    events_.push_back(e);
    ASSERT_TRUE(journal_->Apply(e, nullptr)) << e.DebugString();
  }
  void Campaign(const std::string& account, const std::string& campaign) {
    Add(MakeCampaign(account, campaign, v1::BILLING_EVENT_CPC, 2 * kUnit,
                     v1::BUDGET_MODE_TOTAL, 60 * kUnit));
    Add(MakeStatus(account, campaign, v1::CampaignStatusChanged::ENABLE));
  }
  void Deliver(const std::string& account, const std::string& campaign, int64_t clicks) {
    now_ += kMinute;
    Add(MakeDelivery(account, campaign, v1::DeliveryReported::CLICK, clicks));
  }
  void Flush() {
    log::SeqRange range;
    ASSERT_TRUE(journal_->Append(&range).ok());
  }

  // The digest of a ledger fed the first n events directly.
  std::string DigestOfFirst(size_t n) const {
    Ledger l;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(l.Apply(events_[i], nullptr).outcome, Ledger::Outcome::kApplied);
    }
    return l.Digest();
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  std::vector<v1::Event> events_;
};

TEST_F(ReplayTest, EveryStartAndStopInsideABatchGivesTheWritersLedger) {
  const uint64_t n = events_.size();
  ReplayOptions whole;
  whole.use_snapshots = false;
  Ledger full;
  ReplayStats stats;
  ASSERT_TRUE(Replay(dir_.path(), whole, &full, &stats).ok());
  EXPECT_EQ(stats.last_seq, n);
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(full.Digest(), DigestOfFirst(n));
  EXPECT_EQ(full.Balance("a2")->cash_balance(), 300 * kUnit - 21 * 2 * kUnit);
  for (uint64_t k = 1; k < n; ++k) {
    // Stopped after k (inside a batch, or at its end).
    ReplayOptions to;
    to.use_snapshots = false;
    to.to_seq = k;
    Ledger l;
    ASSERT_TRUE(Replay(dir_.path(), to, &l, &stats).ok());
    ASSERT_EQ(stats.last_seq, k);
    EXPECT_EQ(l.Digest(), DigestOfFirst(k)) << "to sequence " << k;
    // Then resumed after k on the same ledger: the campaigns created up to
    // k are looked up, the later ones learnt from their creation.
    ReplayOptions resume;
    resume.resume_after_seq = k;
    ASSERT_TRUE(Replay(dir_.path(), resume, &l, &stats).ok());
    EXPECT_EQ(stats.last_seq, n);
    EXPECT_EQ(l.Digest(), full.Digest()) << "resumed after sequence " << k;
  }
}

// Batches applied through a Journal with their pairs numbered by one
// PairNumbering, as the server's committer applies a connection's appends.
class NumberedBatchTest : public LedgerTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Journal::Open(dir_.path(), JournalOptions{}, &journal_).ok());
    now_ = kT0;
  }

  // Applies `events` as one columnar batch; returns the refused event ids.
  std::vector<uint64_t> ApplyNumbered(const std::vector<v1::Event>& events) {
    log::BatchBuilder builder;
    for (const v1::Event& e : events) builder.Add(e);
    std::string bytes;
    builder.Finish(&bytes);
    log::BatchDecoder decoder;
    EXPECT_TRUE(decoder.Parse(bytes, builder.count()).ok());
    std::vector<uint32_t> pairs, created;
    numbering_.Number(decoder, 0, &pairs, &created);
    std::vector<Refusal> refusals;
    journal_->ApplyBatch(decoder, &refusals, Journal::PairIds{&pairs, &created});
    std::vector<uint64_t> ids;
    for (const Refusal& r : refusals) ids.push_back(r.event_id);
    return ids;
  }
  std::vector<v1::Event> Campaign(const std::string& account, const std::string& campaign) {
    return {MakeCampaign(account, campaign, v1::BILLING_EVENT_CPC, 2 * kUnit,
                         v1::BUDGET_MODE_TOTAL, 60 * kUnit),
            MakeStatus(account, campaign, v1::CampaignStatusChanged::ENABLE)};
  }
  int64_t BilledUnits(const std::string& campaign) const {
    const auto c = journal_->ledger().Spend(campaign);
    EXPECT_TRUE(c.has_value()) << campaign;
    return c ? c->billed_units() : -1;
  }

  // Two batches: the first opens two accounts and creates c1 (a1) and c2
  // (a2), the second delivers to them by number, and to a1/c1 under a2
  // and to c9, which do not exist.
  void DeliverAcrossTwoBatches() {
    std::vector<v1::Event> first = {MakeOpenAccount("a1"), MakeOpenAccount("a2"),
                                    MakeDeposit("a1", 500 * kUnit), MakeDeposit("a2", 500 * kUnit)};
    for (const auto& c : {Campaign("a1", "c1"), Campaign("a2", "c2")}) {
      first.insert(first.end(), c.begin(), c.end());
    }
    first.push_back(MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 3));
    EXPECT_TRUE(ApplyNumbered(first).empty());
    const v1::Event wrong_account = MakeDelivery("a2", "c1", v1::DeliveryReported::CLICK, 1);
    const v1::Event unknown = MakeDelivery("a1", "c9", v1::DeliveryReported::CLICK, 1);
    const std::vector<v1::Event> second = {
        MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 4),
        wrong_account,
        MakeDelivery("a2", "c2", v1::DeliveryReported::CLICK, 5),
        unknown,
        MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 6)};
    EXPECT_EQ(ApplyNumbered(second),
              (std::vector<uint64_t>{wrong_account.event_id(), unknown.event_id()}));
    EXPECT_EQ(BilledUnits("c1"), 3 + 4 + 6);
    EXPECT_EQ(BilledUnits("c2"), 5);
  }

  TempDir dir_;
  std::unique_ptr<Journal> journal_;
  log::PairNumbering numbering_;
};

// A pair found (or created) in one batch is resolved from its number in
// the next; a number is a pair, so the same campaign id under another
// account, and a campaign that does not exist, are still refused.
TEST_F(NumberedBatchTest, APairLearntInOneBatchIsFoundByItsNumberInTheNext) {
  DeliverAcrossTwoBatches();
  EXPECT_EQ(numbering_.size(), 4u);  // a1/c1, a2/c2, a2/c1, a1/c9
}

// Past the numbering's bound, pairs go unnumbered and are looked up each
// batch: the same outcome.
TEST_F(NumberedBatchTest, PairsPastTheNumberingsBoundAreLookedUp) {
  numbering_.set_max_pairs(1);
  DeliverAcrossTwoBatches();
  EXPECT_EQ(numbering_.size(), 1u);
}

// A restore takes campaigns out of the ledger, and a later creation may
// take a removed campaign's index: a number must not bring back what was
// found for it before (c1's delivery would bill c2).
TEST_F(NumberedBatchTest, WhatWasLearntOfAPairIsForgottenWhenTheLedgerIsRestored) {
  EXPECT_TRUE(ApplyNumbered({MakeOpenAccount("a1"), MakeDeposit("a1", 500 * kUnit)}).empty());
  v1::LedgerState before;
  journal_->ledger().SaveState(&before);
  std::vector<v1::Event> first = Campaign("a1", "c1");
  first.push_back(MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 3));
  EXPECT_TRUE(ApplyNumbered(first).empty());
  ASSERT_TRUE(journal_->mutable_ledger().RestoreState(before).ok());
  journal_->DropPending();
  std::vector<v1::Event> second = Campaign("a1", "c2");
  const v1::Event to_c1 = MakeDelivery("a1", "c1", v1::DeliveryReported::CLICK, 4);
  second.push_back(to_c1);
  EXPECT_EQ(ApplyNumbered(second), std::vector<uint64_t>{to_c1.event_id()});
  EXPECT_EQ(BilledUnits("c2"), 0);
  EXPECT_FALSE(journal_->ledger().Spend("c1").has_value());
}

}  // namespace
}  // namespace billsim::testing
