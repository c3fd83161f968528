// Replay from a log (replay/replayer.h): it rebuilds exactly the ledger that
// wrote the log, also when it starts or stops inside a batch. Replay learns a
// campaign's index from its CampaignCreated (BatchApplier::Created) when the
// creation is in the part it replays, and looks the campaign up otherwise;
// both must name the same campaign.
#include <memory>
#include <string>
#include <vector>

#include "journal/journal.h"
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

}  // namespace
}  // namespace billsim::testing
