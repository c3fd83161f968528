// billsim audit: history, as-of balance, check and dispute evidence, from
// logs written here with LogWriter; and the entry checker fed fabricated
// entry streams that break each rule it checks.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"
#include "audit/audit.h"
#include "audit/checker.h"
#include "log/batch_codec.h"
#include "log/log_writer.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"

namespace billsim::audit {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1'768'435'200'000'000;  // 2026-01-15T00:00:00Z
constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kUnit = 1'000'000;

using TempDir = test_support::TempDir;

// Builds events with ids 1, 2, ... so that, appended in order, each event's
// log sequence equals its id.
class Events {
 public:
  v1::Event& New(int64_t time_us) {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(events_.size());
    e.set_time_us(time_us);
    return e;
  }
  void Open(int64_t t, const std::string& account) {
    auto* m = New(t).mutable_account_opened();
    m->set_account_id(account);
    m->set_currency("USD");
    m->set_funding_order(v1::FUNDING_ORDER_CREDIT_FIRST);
  }
  void Deposit(int64_t t, const std::string& account, int64_t amount) {
    auto* m = New(t).mutable_cash_deposited();
    m->set_account_id(account);
    m->set_amount_micros(amount);
  }
  void Grant(int64_t t, const std::string& account, const std::string& grant, int64_t amount,
             int64_t expires_at) {
    auto* m = New(t).mutable_credit_granted();
    m->set_account_id(account);
    m->set_grant_id(grant);
    m->set_amount_micros(amount);
    m->set_expires_at_us(expires_at);
    m->set_program("welcome");
  }
  void Campaign(int64_t t, const std::string& account, const std::string& campaign) {
    auto* m = New(t).mutable_campaign_created();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_objective(v1::OBJECTIVE_TRAFFIC);
    m->set_billing_event(v1::BILLING_EVENT_CPC);
    m->set_price_micros(kUnit);
    m->set_budget_mode(v1::BUDGET_MODE_INFINITE);
    m->set_creative_reviewed(true);
    m->set_audience_defined(true);
    m->set_landing_page_url("https://example.com");
  }
  void Enable(int64_t t, const std::string& account, const std::string& campaign) {
    auto* m = New(t).mutable_campaign_status_changed();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_operation(v1::CampaignStatusChanged::ENABLE);
  }
  void Clicks(int64_t t, const std::string& account, const std::string& campaign, int64_t n,
              bool fault) {
    auto* m = New(t).mutable_delivery_reported();
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_kind(v1::DeliveryReported::CLICK);
    m->set_count(n);
    m->set_platform_fault(fault);
  }
  void Advance(int64_t t) { New(t).mutable_clock_advanced(); }
  void Dispute(int64_t t, const std::string& dispute, const std::string& account,
               const std::string& campaign, int64_t start, int64_t end, int64_t claimed) {
    auto* m = New(t).mutable_dispute_filed();
    m->set_dispute_id(dispute);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_reason(v1::DISPUTE_REASON_PLATFORM_ERROR);
    m->set_window_start_us(start);
    m->set_window_end_us(end);
    m->set_claimed_micros(claimed);
    m->add_evidence(v1::EVIDENCE_SPEND_REPORT);
    m->add_evidence(v1::EVIDENCE_DELIVERY_DATA);
  }
  const std::vector<v1::Event>& all() const { return events_; }

 private:
  std::vector<v1::Event> events_;
};

// Appends `events` as they are (no validation) in batches of `batch`.
log::Chain WriteLog(const std::string& dir, const std::vector<v1::Event>& events,
                    uint32_t batch = 4) {
  log::LogOptions options;
  options.fsync.mode = log::FsyncPolicy::Mode::kNever;
  std::unique_ptr<log::LogWriter> writer;
  EXPECT_TRUE(log::LogWriter::Open(dir, options, &writer).ok());
  log::BatchBuilder b;
  log::SeqRange range;
  for (const v1::Event& e : events) {
    b.Add(e);
    if (b.count() == batch) {
      EXPECT_TRUE(writer->Append(b, &range).ok());
      b.Clear();
    }
  }
  if (b.count() > 0) {
    EXPECT_TRUE(writer->Append(b, &range).ok());
  }
  const log::Chain chain = writer->chain();
  EXPECT_TRUE(writer->Close().ok());
  return chain;
}

// shop: 100.00 cash, grant g1 30.00 and g2 20.00 (both expire at T0+2d),
// CPC 1.00 unbudgeted: 40 fault-marked clicks (g1 30 + cash 10, one event,
// two COST entries), 5 normal clicks (cash); g2 expires unused; dispute d1
// over [T0, T0+1d) claims 100.00: verifiable 40 -> refund cash 10 and, g1
// having expired, a new grant refund:d1 of 30. other: 50.00 cash.
class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ev_.Open(kT0, "shop");                                   // 1
    ev_.Open(kT0, "other");                                  // 2
    ev_.Deposit(kT0, "shop", 100 * kUnit);                   // 3
    ev_.Grant(kT0, "shop", "g1", 30 * kUnit, kT0 + 2 * kDay);  // 4
    ev_.Deposit(kT0, "other", 50 * kUnit);                   // 5
    ev_.Campaign(kT0, "shop", "c1");                         // 6
    ev_.Enable(kT0 + kHour, "shop", "c1");                   // 7
    ev_.Clicks(kT0 + 2 * kHour, "shop", "c1", 40, true);     // 8
    ev_.Clicks(kT0 + 3 * kHour, "shop", "c1", 5, false);     // 9
    ev_.Grant(kT0 + kDay, "shop", "g2", 20 * kUnit, kT0 + 2 * kDay);  // 10
    ev_.Advance(kT0 + 3 * kDay);                             // 11
    ev_.Dispute(kT0 + 3 * kDay + kHour, "d1", "shop", "c1", kT0, kT0 + kDay, 100 * kUnit);  // 12
    chain_ = WriteLog(dir_, ev_.all());
  }

  TempDir tmp_;
  std::string dir_ = tmp_.sub("log");
  Events ev_;
  log::Chain chain_{};
};

int Count(const std::vector<AuditEntry>& entries, v1::EntryKind kind) {
  int n = 0;
  for (const auto& a : entries) n += a.entry.kind() == kind;
  return n;
}

TEST_F(AuditLogTest, HistoryHasEveryEntryOfTheAccountWithItsLogSequence) {
  std::vector<AuditEntry> h;
  ASSERT_TRUE(AccountHistory(dir_, "shop", INT64_MIN, INT64_MAX, &h).ok());
  ASSERT_FALSE(h.empty());
  uint64_t last_entry_seq = 0;
  for (const auto& a : h) {
    EXPECT_EQ(a.entry.account_id(), "shop");
    EXPECT_EQ(a.log_seq, a.entry.event_id());  // ids were appended in order
    EXPECT_GT(a.entry.seq(), last_entry_seq);
    last_entry_seq = a.entry.seq();
  }
  EXPECT_EQ(Count(h, v1::ADD_BALANCE), 1);
  EXPECT_EQ(Count(h, v1::PROMOTION_ISSUED), 2);
  EXPECT_EQ(Count(h, v1::COST), 3);
  EXPECT_EQ(Count(h, v1::PROMOTION_EXPIRED), 1);  // g2; g1 was spent
  EXPECT_EQ(Count(h, v1::REFUND), 2);
  // One event, two sources: two COST entries with the same log sequence.
  std::vector<const AuditEntry*> costs;
  for (const auto& a : h) {
    if (a.entry.kind() == v1::COST) costs.push_back(&a);
  }
  EXPECT_EQ(costs[0]->log_seq, 8u);
  EXPECT_EQ(costs[1]->log_seq, 8u);
  EXPECT_EQ(costs[0]->entry.grant_id(), "g1");
  EXPECT_EQ(costs[1]->entry.funds_type(), v1::FUNDS_TYPE_CASH);
  EXPECT_EQ(costs[2]->log_seq, 9u);
  // The expiry fired before event 11, which passed it: stamped at expiry.
  for (const auto& a : h) {
    if (a.entry.kind() == v1::PROMOTION_EXPIRED) {
      EXPECT_EQ(a.log_seq, 11u);
      EXPECT_EQ(a.entry.time_us(), kT0 + 2 * kDay);
      EXPECT_EQ(a.entry.balance_delta_micros(), -20 * kUnit);
    }
  }
  EXPECT_EQ(h.back().entry.cash_balance(), 95 * kUnit);
  EXPECT_EQ(h.back().entry.grant_balance(), 30 * kUnit);  // refund:d1

  std::vector<AuditEntry> other;
  ASSERT_TRUE(AccountHistory(dir_, "other", INT64_MIN, INT64_MAX, &other).ok());
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].log_seq, 5u);
  EXPECT_EQ(other[0].entry.kind(), v1::ADD_BALANCE);
}

TEST_F(AuditLogTest, HistoryWindowIsInclusive) {
  std::vector<AuditEntry> h;
  ASSERT_TRUE(AccountHistory(dir_, "shop", kT0 + 2 * kHour, kT0 + 3 * kHour, &h).ok());
  ASSERT_EQ(h.size(), 3u);
  for (const auto& a : h) EXPECT_EQ(a.entry.kind(), v1::COST);
}

TEST_F(AuditLogTest, HistoryOfAnUnknownAccountIsNotFoundNamingIt) {
  std::vector<AuditEntry> h;
  const Status st = AccountHistory(dir_, "nobody", INT64_MIN, INT64_MAX, &h);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_NE(st.message().find("nobody"), std::string::npos);
}

TEST_F(AuditLogTest, HistoryFormatsCarryTheLogSequence) {
  std::vector<AuditEntry> h;
  ASSERT_TRUE(AccountHistory(dir_, "shop", INT64_MIN, INT64_MAX, &h).ok());
  std::ostringstream csv, json, table;
  WriteAuditHistory(h, Format::kCsv, csv);
  WriteAuditHistory(h, Format::kJson, json);
  WriteAuditHistory(h, Format::kTable, table);
  EXPECT_EQ(csv.str().rfind("log_seq,seq,time,event,kind,", 0), 0u) << csv.str();
  EXPECT_NE(csv.str().find("\n8,"), std::string::npos);
  EXPECT_EQ(json.str().rfind("{\"log_seq\":3,\"entry\":{", 0), 0u) << json.str();
  std::istringstream lines(json.str());
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) n++;
  EXPECT_EQ(n, h.size());
  EXPECT_EQ(table.str().rfind("log_seq", 0), 0u);
}

TEST_F(AuditLogTest, BalanceAsOfFiresTheExpiriesDueByThen) {
  BalanceAsOf b;
  ASSERT_TRUE(AccountBalanceAt(dir_, "shop", kT0 + 2 * kDay + 1, &b).ok());
  EXPECT_EQ(b.last_seq, 10u);  // event 11 is stamped later
  EXPECT_EQ(b.balance.cash_balance(), 85 * kUnit);
  EXPECT_EQ(b.balance.grant_balance(), 0);
  EXPECT_EQ(b.balance.total_expired(), 20 * kUnit);
  ASSERT_FALSE(b.entries.empty());
  const AuditEntry& last = b.entries.back();
  EXPECT_EQ(last.entry.kind(), v1::PROMOTION_EXPIRED);
  EXPECT_EQ(last.log_seq, 0u);  // made by the as-of clock advance
  EXPECT_EQ(last.entry.event_id(), 0u);
  EXPECT_EQ(last.entry.cash_balance(), b.balance.cash_balance());

  ASSERT_TRUE(AccountBalanceAt(dir_, "shop", kT0 + kHour, &b).ok());
  EXPECT_EQ(b.balance.cash_balance(), 100 * kUnit);
  EXPECT_EQ(b.balance.grant_balance(), 30 * kUnit);
  EXPECT_EQ(b.entries.size(), 3u);  // deposit, grant, enabled (no FREEZE: unbudgeted)

  std::ostringstream json;
  WriteBalanceAsOf(b, Format::kJson, json);
  EXPECT_EQ(json.str().rfind("{\"as_of_us\":" + std::to_string(kT0 + kHour), 0), 0u);

  EXPECT_EQ(AccountBalanceAt(dir_, "shop", kT0 - 1, &b).code(), Status::Code::kNotFound);
}

TEST_F(AuditLogTest, CheckPassesAndAgreesWithReplay) {
  CheckReport r;
  ASSERT_TRUE(CheckLog(dir_, &r).ok());
  EXPECT_TRUE(r.ok()) << r.violation->what;
  EXPECT_EQ(r.last_seq, 12u);
  for (const auto& c : r.checks) EXPECT_EQ(c.state, CheckReport::State::kOk) << c.name;
  Ledger ledger;
  ReplayStats stats;
  ASSERT_TRUE(Replay(dir_, ReplayOptions{}, &ledger, &stats).ok());
  EXPECT_EQ(r.digest, ledger.Digest());
  auto count = [&](const std::string& unit) {
    for (const auto& c : r.checks) {
      if (c.unit == unit) return c.count;
    }
    return uint64_t{0};
  };
  EXPECT_EQ(count("events"), 12u);
  EXPECT_EQ(count("expiries"), 1u);
  EXPECT_EQ(count("refunds"), 2u);
  EXPECT_EQ(count("accounts"), 2u);
  EXPECT_EQ(count("replays"), 3u);

  std::ostringstream text, json;
  WriteCheckReport(r, false, text);
  WriteCheckReport(r, true, json);
  EXPECT_NE(text.str().find("all checks passed"), std::string::npos);
  EXPECT_EQ(json.str().rfind("{\"ok\":true", 0), 0u);
}

// A snapshot at the end of the log: the replay from it must not apply the
// events it already holds again.
TEST_F(AuditLogTest, CheckReplaysFromTheSnapshotToo) {
  Ledger ledger;
  ReplayStats stats;
  ASSERT_TRUE(Replay(dir_, ReplayOptions{}, &ledger, &stats).ok());
  std::string path;
  ASSERT_TRUE(WriteSnapshot(dir_, ledger, stats.last_seq, chain_, &path).ok());
  {
    Ledger from_snapshot;
    ASSERT_TRUE(Replay(dir_, ReplayOptions{}, &from_snapshot, &stats).ok());
    EXPECT_EQ(stats.snapshot_seq, 12u);
  }
  CheckReport r;
  ASSERT_TRUE(CheckLog(dir_, &r).ok());
  EXPECT_TRUE(r.ok()) << r.violation->what;
  EXPECT_EQ(r.digest, ledger.Digest());
}

TEST_F(AuditLogTest, EvidenceIsTheWindowsChargesAndDelivery) {
  Evidence e;
  ASSERT_TRUE(CollectEvidence(dir_, "d1", &e).ok());
  EXPECT_EQ(e.dispute.campaign_id(), "c1");
  ASSERT_EQ(e.spend.size(), 3u);
  EXPECT_EQ(e.spend[0].log_seq, 8u);
  EXPECT_EQ(e.spend[0].funds, v1::FUNDS_TYPE_GRANT);
  EXPECT_EQ(e.spend[0].grant_id, "g1");
  EXPECT_EQ(e.spend[0].amount_micros, 30 * kUnit);
  EXPECT_EQ(e.spend[0].units, 40);
  EXPECT_TRUE(e.spend[0].fault_marked);
  EXPECT_EQ(e.spend[1].amount_micros, 10 * kUnit);
  EXPECT_EQ(e.spend[1].units, 0);  // the units go on the first part
  EXPECT_TRUE(e.spend[1].fault_marked);
  EXPECT_EQ(e.spend[2].log_seq, 9u);
  EXPECT_FALSE(e.spend[2].fault_marked);
  ASSERT_EQ(e.delivery.size(), 2u);
  EXPECT_EQ(e.delivery[0].log_seq, 8u);
  EXPECT_EQ(e.delivery[0].count, 40);
  EXPECT_TRUE(e.delivery[0].platform_fault);
  EXPECT_FALSE(e.delivery[1].platform_fault);

  std::ostringstream spend, delivery;
  WriteSpendReport(e, spend);
  WriteDeliveryData(e, delivery);
  EXPECT_EQ(spend.str(),
            "log_seq,time,event_id,source,grant_id,amount_micros,units,fault_marked\n"
            "8,2026-01-15T02:00:00Z,8,GRANT,g1,30000000,40,yes\n"
            "8,2026-01-15T02:00:00Z,8,CASH,,10000000,0,yes\n"
            "9,2026-01-15T03:00:00Z,9,CASH,,5000000,5,no\n");
  EXPECT_EQ(delivery.str(),
            "log_seq,time,event_id,kind,count,platform_fault\n"
            "8,2026-01-15T02:00:00Z,8,CLICK,40,yes\n"
            "9,2026-01-15T03:00:00Z,9,CLICK,5,no\n");

  const Status st = CollectEvidence(dir_, "d9", &e);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_NE(st.message().find("d9"), std::string::npos);
}

TEST(AuditCheckLogTest, AnEventTheLedgerRefusesIsAViolation) {
  TempDir tmp;
  Events ev;
  ev.Open(kT0, "shop");
  ev.Deposit(kT0, "ghost", kUnit);  // never accepted by `log append`
  WriteLog(tmp.sub("log"), ev.all());
  CheckReport r;
  ASSERT_TRUE(CheckLog(tmp.sub("log"), &r).ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.violation->log_seq, 2u);
  EXPECT_NE(r.violation->what.find("refuses"), std::string::npos);
  EXPECT_EQ(r.checks[0].state, CheckReport::State::kFailed);
  EXPECT_EQ(r.checks.back().state, CheckReport::State::kNotRun);
  std::ostringstream text;
  WriteCheckReport(r, false, text);
  EXPECT_NE(text.str().find("VIOLATION at log sequence 2"), std::string::npos);
}

// A log written before the journal refused events holding a field number
// the schema does not define (or by a build whose schema defines more):
// the check names the first such event and counts them, and the other
// checks still run over the whole log.
TEST(AuditCheckLogTest, AnEventHoldingAFieldTheSchemaDoesNotDefineIsReported) {
  TempDir tmp;
  Events ev;
  ev.Open(kT0, "shop");
  ev.Deposit(kT0 + 1, "shop", 5 * kUnit);
  ev.Deposit(kT0 + 2, "shop", 7 * kUnit);
  ev.Deposit(kT0 + 3, "shop", 9 * kUnit);
  std::vector<v1::Event> events = ev.all();
  for (const int i : {1, 3}) {
    v1::CashDeposited* d = events[i].mutable_cash_deposited();
    d->GetReflection()->MutableUnknownFields(d)->AddVarint(100, 7);
  }
  WriteLog(tmp.sub("log"), events);
  CheckReport r;
  ASSERT_TRUE(CheckLog(tmp.sub("log"), &r).ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.unknown_field_events, 2u);
  EXPECT_EQ(r.violation->log_seq, 2u);
  EXPECT_EQ(r.violation->account, "shop");
  EXPECT_EQ(r.violation->check, "only fields the schema defines");
  EXPECT_NE(r.violation->what.find("event 2: cash_deposited.#100: a field number"),
            std::string::npos)
      << r.violation->what;
  EXPECT_NE(r.violation->what.find("(2 events hold one)"), std::string::npos);
  EXPECT_EQ(r.last_seq, 4u);  // the replay went on to the end
  for (const auto& c : r.checks) {
    EXPECT_EQ(c.state, c.name == r.violation->check ? CheckReport::State::kFailed
                                                    : CheckReport::State::kOk)
        << c.name;
  }
  EXPECT_FALSE(r.digest.empty());
  // Replay counts them too (billsim replay and the server's start warn).
  Ledger replayed;
  ReplayStats stats;
  ASSERT_TRUE(Replay(tmp.sub("log"), ReplayOptions{}, &replayed, &stats).ok());
  EXPECT_EQ(stats.unknown_field_events, 2u);
  EXPECT_EQ(stats.first_unknown_field, "sequence 2: event 2: cash_deposited.#100");
  EXPECT_EQ(UnknownFieldWarning("L", stats),
            "L: 2 events hold a field number this billsim's schema does not define, first at "
            "sequence 2: event 2: cash_deposited.#100; the ledger judged them without it "
            "(billsim audit check names them)");
  std::ostringstream json;
  WriteCheckReport(r, true, json);
  EXPECT_NE(json.str().find("\"unknown_field_events\":2"), std::string::npos) << json.str();

  // The same log without them passes.
  TempDir clean;
  WriteLog(clean.sub("log"), ev.all());
  ASSERT_TRUE(CheckLog(clean.sub("log"), &r).ok());
  EXPECT_TRUE(r.ok()) << r.violation->what;
  EXPECT_EQ(r.unknown_field_events, 0u);
  Ledger fresh;
  ASSERT_TRUE(Replay(clean.sub("log"), ReplayOptions{}, &fresh, &stats).ok());
  EXPECT_EQ(stats.unknown_field_events, 0u);
  EXPECT_EQ(stats.first_unknown_field, "");
  EXPECT_EQ(UnknownFieldWarning("L", stats), "");
}

// --- EntryChecker on fabricated streams ---------------------------------------------

class EntryCheckerTest : public ::testing::Test {
 protected:
  // An entry of account "a" with the balances after it.
  v1::LedgerEntry E(v1::EntryKind kind, int64_t delta, v1::FundsType funds, int64_t cash,
                    int64_t grant, int64_t frozen = 0, int64_t frozen_delta = 0) {
    v1::LedgerEntry e;
    e.set_seq(++seq_);
    e.set_event_id(seq_);
    e.set_time_us(kT0);
    e.set_account_id("a");
    e.set_kind(kind);
    e.set_funds_type(funds);
    e.set_balance_delta_micros(delta);
    e.set_frozen_delta_micros(frozen_delta);
    e.set_cash_balance(cash);
    e.set_grant_balance(grant);
    e.set_frozen_balance(frozen);
    e.set_valid_balance(cash + grant - frozen);
    return e;
  }
  static constexpr auto kCash = v1::FUNDS_TYPE_CASH;
  static constexpr auto kGrant = v1::FUNDS_TYPE_GRANT;
  TableFacts facts_;
  EntryChecker checker_{&facts_};
  uint64_t seq_ = 0;
};

TEST_F(EntryCheckerTest, AConsistentStreamPasses) {
  facts_.grant_expiry["g"] = kT0 + kDay;
  EXPECT_TRUE(checker_.Add(1, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
  auto g = E(v1::PROMOTION_ISSUED, 50, kGrant, 100, 50);
  g.set_grant_id("g");
  EXPECT_TRUE(checker_.Add(2, g));
  EXPECT_TRUE(checker_.Add(3, E(v1::FREEZE, 0, v1::FUNDS_TYPE_UNSPECIFIED, 100, 50, 80, 80)));
  auto c1 = E(v1::COST, -50, kGrant, 100, 0, 30, -50);
  c1.set_grant_id("g");
  EXPECT_TRUE(checker_.Add(4, c1));
  EXPECT_TRUE(checker_.Add(4, E(v1::COST, -10, kCash, 90, 0, 20, -10)));
  EXPECT_TRUE(checker_.EndEvent());
  EXPECT_TRUE(checker_.ok());
  EXPECT_EQ(checker_.count(EntryChecker::kConservation), 5u);
  const auto& t = checker_.totals().at("a");
  EXPECT_EQ(t.spent, 60);
  EXPECT_EQ(t.cash, 90);
  EXPECT_EQ(t.frozen, 20);
}

TEST_F(EntryCheckerTest, ConservationBrokenByABalanceTheDeltasDoNotExplain) {
  EXPECT_TRUE(checker_.Add(1, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
  // 10 left the account with no entry to say where.
  EXPECT_FALSE(checker_.Add(2, E(v1::COST, -20, kCash, 70, 0)));
  ASSERT_TRUE(checker_.violation());
  EXPECT_EQ(checker_.violation()->log_seq, 2u);
  EXPECT_EQ(checker_.violation()->account, "a");
  EXPECT_EQ(checker_.violation()->check, EntryChecker::Name(EntryChecker::kConservation));
  EXPECT_NE(checker_.violation()->what.find("deposited + granted + adjusted = 0.000100"),
            std::string::npos)
      << checker_.violation()->what;
  // Later entries are ignored; the first violation stays.
  EXPECT_FALSE(checker_.Add(3, E(v1::ADD_BALANCE, 1, kCash, 71, 0)));
  EXPECT_EQ(checker_.violation()->log_seq, 2u);
}

TEST_F(EntryCheckerTest, MoneyFromTheWrongSourceOrKindIsCaught) {
  EXPECT_TRUE(checker_.Add(1, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
  // Cash total right, but booked as grant money.
  EXPECT_FALSE(checker_.Add(2, E(v1::ADD_BALANCE, 10, kGrant, 110, 0)));
  EXPECT_NE(checker_.violation()->what.find("not the sum of the"), std::string::npos);

  EntryChecker other(&facts_);
  EXPECT_FALSE(other.Add(1, E(v1::FREEZE, 100, kCash, 100, 0)));
  EXPECT_NE(other.violation()->what.find("must be zero"), std::string::npos);
}

TEST_F(EntryCheckerTest, NegativeBalances) {
  EXPECT_TRUE(checker_.Add(1, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
  EXPECT_FALSE(checker_.Add(2, E(v1::COST, -150, kCash, -50, 0)));
  EXPECT_EQ(checker_.violation()->check, EntryChecker::Name(EntryChecker::kNonNegative));
}

TEST_F(EntryCheckerTest, ValidMayDipWithinAnEventButNotAfterIt) {
  facts_.grant_expiry["g"] = kT0;
  auto g = E(v1::PROMOTION_ISSUED, 100, kGrant, 0, 100);
  g.set_grant_id("g");
  EXPECT_TRUE(checker_.Add(1, g));
  EXPECT_TRUE(checker_.Add(2, E(v1::FREEZE, 0, {}, 0, 100, 80, 80)));
  auto x = E(v1::PROMOTION_EXPIRED, -60, kGrant, 0, 40, 80);  // valid -40
  x.set_grant_id("g");
  EXPECT_TRUE(checker_.Add(3, x));
  EXPECT_TRUE(checker_.Add(3, E(v1::FREEZE_REDUCED, 0, {}, 0, 40, 40, -40)));  // valid 0
  EXPECT_TRUE(checker_.EndEvent());

  EntryChecker strict(&facts_);
  seq_ = 0;
  g = E(v1::PROMOTION_ISSUED, 100, kGrant, 0, 100);
  g.set_grant_id("g");
  EXPECT_TRUE(strict.Add(1, g));
  EXPECT_TRUE(strict.Add(2, E(v1::FREEZE, 0, {}, 0, 100, 80, 80)));
  x = E(v1::PROMOTION_EXPIRED, -60, kGrant, 0, 40, 80);
  x.set_grant_id("g");
  EXPECT_TRUE(strict.Add(3, x));
  EXPECT_FALSE(strict.EndEvent());  // nothing restored it
  EXPECT_EQ(strict.violation()->log_seq, 3u);
  EXPECT_EQ(strict.violation()->check, EntryChecker::Name(EntryChecker::kNonNegative));
}

TEST_F(EntryCheckerTest, GrantExpiresOnceAndExactlyOnTime) {
  facts_.grant_expiry["g"] = kT0 + kDay;
  auto g = E(v1::PROMOTION_ISSUED, 100, kGrant, 0, 100);
  g.set_grant_id("g");
  EXPECT_TRUE(checker_.Add(1, g));
  auto x = E(v1::PROMOTION_EXPIRED, -60, kGrant, 0, 40);
  x.set_grant_id("g");
  x.set_time_us(kT0 + kDay);
  EXPECT_TRUE(checker_.Add(2, x));
  auto y = E(v1::PROMOTION_EXPIRED, -40, kGrant, 0, 0);
  y.set_grant_id("g");
  y.set_time_us(kT0 + kDay);
  EXPECT_FALSE(checker_.Add(3, y));
  EXPECT_NE(checker_.violation()->what.find("expired twice"), std::string::npos);

  EntryChecker late(&facts_);
  seq_ = 0;
  g.set_seq(++seq_);
  EXPECT_TRUE(late.Add(1, g));
  x.set_seq(++seq_);
  x.set_time_us(kT0 + kDay + 1);
  EXPECT_FALSE(late.Add(2, x));
  EXPECT_NE(late.violation()->what.find("not at its expires_at"), std::string::npos);
}

TEST_F(EntryCheckerTest, NoChargeToAGrantAtOrAfterItsExpiry) {
  facts_.grant_expiry["g"] = kT0;
  auto g = E(v1::PROMOTION_ISSUED, 100, kGrant, 0, 100);
  g.set_grant_id("g");
  EXPECT_TRUE(checker_.Add(1, g));
  auto c = E(v1::COST, -10, kGrant, 0, 90);
  c.set_grant_id("g");
  EXPECT_FALSE(checker_.Add(2, c));  // at kT0: the expiry came first
  EXPECT_EQ(checker_.violation()->check, EntryChecker::Name(EntryChecker::kExpiry));
}

class RefundCheckTest : public EntryCheckerTest {
 protected:
  void SetUp() override {
    facts_.disputes["d"] = {"c", kT0, kT0 + kDay, /*verifiable=*/30};
    facts_.fault_billed["c"] = 40;
    EXPECT_TRUE(checker_.Add(1, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
    auto fault = Cost(-30, 70, kT0 + kHour, true);      // in the window
    EXPECT_TRUE(checker_.Add(2, fault));
    EXPECT_TRUE(checker_.Add(3, Cost(-10, 60, kT0 + 2 * kDay, true)));  // outside
    EXPECT_TRUE(checker_.Add(4, Cost(-50, 10, kT0 + 2 * kHour, false)));  // not fault
  }
  v1::LedgerEntry Cost(int64_t delta, int64_t cash, int64_t time, bool fault) {
    auto e = E(v1::COST, delta, kCash, cash, 0);
    e.set_campaign_id("c");
    e.set_time_us(time);
    if (fault) e.set_note("platform fault: charged in error (R7, R9)");
    return e;
  }
  v1::LedgerEntry Refund(int64_t amount, int64_t cash_after) {
    auto e = E(v1::REFUND, amount, kCash, cash_after, 0);
    e.set_campaign_id("c");
    e.set_dispute_id("d");
    return e;
  }
};

TEST_F(RefundCheckTest, RefundWithinVerifiablePasses) {
  EXPECT_TRUE(checker_.Add(5, Refund(20, 30)));
  EXPECT_TRUE(checker_.Add(5, Refund(10, 40)));
  EXPECT_TRUE(checker_.ok());
  EXPECT_EQ(checker_.count(EntryChecker::kRefunds), 2u);
}

TEST_F(RefundCheckTest, RefundAboveVerifiableFails) {
  EXPECT_TRUE(checker_.Add(5, Refund(20, 30)));
  EXPECT_FALSE(checker_.Add(5, Refund(11, 41)));  // 31 > 30
  EXPECT_EQ(checker_.violation()->check, EntryChecker::Name(EntryChecker::kRefunds));
  EXPECT_NE(checker_.violation()->what.find("verifiable"), std::string::npos);
}

TEST_F(RefundCheckTest, RefundAboveTheFaultChargesInTheWindowFails) {
  facts_.disputes["d"].verifiable = 45;  // a ledger that over-verified
  EXPECT_FALSE(checker_.Add(5, Refund(35, 45)));  // window holds 30 of fault charges
  EXPECT_NE(checker_.violation()->what.find("in its window"), std::string::npos);
}

TEST_F(RefundCheckTest, CampaignRefundsAboveFaultBilledFail) {
  facts_.disputes["d"] = {"c", kT0, kT0 + 3 * kDay, 100};
  facts_.fault_billed["c"] = 35;  // what the ledger says it charged in error
  EXPECT_FALSE(checker_.Add(5, Refund(40, 50)));
  EXPECT_NE(checker_.violation()->what.find("campaign c refunded"), std::string::npos);
}

TEST_F(RefundCheckTest, RefundOfAnUnknownDisputeFails) {
  auto r = Refund(5, 15);
  r.set_dispute_id("nope");
  EXPECT_FALSE(checker_.Add(5, r));
}

TEST_F(EntryCheckerTest, EntriesMustBeDenseAndInLogOrder) {
  EXPECT_TRUE(checker_.Add(2, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
  auto e = E(v1::ADD_BALANCE, 1, kCash, 101, 0);
  e.set_seq(e.seq() + 1);
  EXPECT_FALSE(checker_.Add(3, e));
  EXPECT_EQ(checker_.violation()->check, EntryChecker::Name(EntryChecker::kEntries));

  EntryChecker back(&facts_);
  seq_ = 0;
  EXPECT_TRUE(back.Add(5, E(v1::ADD_BALANCE, 100, kCash, 100, 0)));
  EXPECT_FALSE(back.Add(4, E(v1::ADD_BALANCE, 1, kCash, 101, 0)));
}

}  // namespace
}  // namespace billsim::audit
