// Fuzz target: the input bytes are a stream of events, applied to a ledger.
//
// A small structured decoder turns the bytes into v1::Events (every payload
// kind, and none), drawing ids from small pools so that events refer to each
// other, and numbers from tables of edges: amounts, prices, budgets and
// counts of 0, 1, -1, the documented bounds (10^15 micros, 10^12 units) and
// one past them, INT64_MAX and INT64_MIN; times at 0, near and past
// 2200-01-01 (kTimeMaxUs), INT64_MAX, negative, late (before the clock) and
// days ahead; event ids 0, repeated, UINT64_MAX; ids empty or not UTF-8.
//
// After every event the target checks, besides ASan/UBSan's own checks:
//   - Check(event) predicted Apply's outcome and changed nothing;
//   - CheckInvariants() holds (R5, R12 and the ledger's internal ones);
// and at the end:
//   - a second ledger fed the same events (deliveries through the columnar
//     path, ApplyDelivery, where the campaign resolves, as replay and the
//     server do) had the same outcomes and ends with the same Digest();
//   - the state saved and restored into a third ledger has that digest too.
// A failed check aborts with the event's position and text;
// LEDGER_FUZZ_TRACE=1 prints every event before (a finding as events).
//
// Built as a libFuzzer binary (BILLSIM_FUZZ=ON) and, always, linked with
// fuzz_smoke_main.cc into ledger_fuzz_smoke (ctest fuzz.ledger.smoke).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"
#include "ledger/ledger.h"
#include "util/money.h"

namespace {

using namespace billsim;

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kAmountBound = 1'000'000'000'000'000;  // 10^15 micros
constexpr int64_t kCountBound = 1'000'000'000'000;       // 10^12 units
constexpr int64_t kStartUs = 1'767'225'600'000'000;      // 2026-01-01T00:00:00Z
// Events per input: bounds the work of one input however long it is.
constexpr int kEventsMax = 4000;

std::string Text(const v1::Event& e) {
  std::string s;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(e, &s);
  return s;
}

[[noreturn]] void Fail(int position, const v1::Event* e, const std::string& what) {
  std::fprintf(stderr, "ledger_fuzz: event %d%s%s: %s\n", position, e ? ": " : "",
               e ? Text(*e).c_str() : "", what.c_str());
  std::abort();
}

// The input, read front to back; past its end every read is 0.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t Byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | Byte();
    return v;
  }
  // One of `n` choices.
  unsigned Pick(unsigned n) { return Byte() % n; }

 private:
  const uint8_t* p_;
  size_t n_;
};

// Turns bytes into events that reach the ledger's edges.
class EventDecoder {
 public:
  explicit EventDecoder(Bytes* in) : in_(*in) {}

  v1::Event Next() {
    v1::Event e;
    const unsigned op = in_.Pick(13);
    e.set_event_id(EventId());
    e.set_time_us(Time());
    switch (op) {
      case 0: AccountOpened(e.mutable_account_opened()); break;
      case 1: CashDeposited(e.mutable_cash_deposited()); break;
      case 2: CreditGranted(e.mutable_credit_granted()); break;
      case 3: CampaignCreated(e.mutable_campaign_created()); break;
      case 4: StatusChanged(e.mutable_campaign_status_changed()); break;
      case 5: AdReviewed(e.mutable_ad_reviewed()); break;
      case 6:
      case 7:
      case 8: Delivery(e.mutable_delivery_reported()); break;
      case 9: DisputeFiled(e.mutable_dispute_filed()); break;
      case 10: EvidenceAdded(e.mutable_dispute_evidence_added()); break;
      case 11: DisputeDecided(e.mutable_dispute_decided()); break;
      default: {
        const unsigned k = in_.Pick(8);
        if (k >= 5) {
          CampaignUpdated(e.mutable_campaign_updated());
        } else if (k != 0) {
          e.mutable_clock_advanced();
        }  // else: no payload
      }
    }
    return e;
  }

 private:
  uint64_t EventId() {
    switch (in_.Pick(32)) {
      case 0: return 0;
      case 1: return last_id_;  // a duplicate, or a reuse after a refusal
      case 2: return std::numeric_limits<uint64_t>::max();
      case 3: return in_.U64();
      default: return last_id_ = ++next_id_;
    }
  }

  int64_t TimeEdge() {
    static constexpr int64_t kEdges[] = {0, 1, -1, kI64Min, kI64Max, kTimeMaxUs,
                                         kTimeMaxUs - 1, kTimeMaxUs + 1, kI64Max - 1,
                                         kMicrosPerDay - 1, kTimeMaxUs - kMicrosPerDay,
                                         4'102'444'800'000'000 /* 2100-01-01 */};
    return kEdges[in_.Pick(sizeof kEdges / sizeof kEdges[0])];
  }

  // Mostly forward in small steps from the start; sometimes late, a few days
  // ahead, or an edge.
  int64_t Time() {
    switch (in_.Pick(32)) {
      case 0: return TimeEdge();
      case 1: return in_.U64();
      case 2: return now_ - static_cast<int64_t>(in_.Byte()) * 3'600'000'000;  // late
      case 3: return now_ += static_cast<int64_t>(1 + in_.Pick(40)) * kMicrosPerDay;
      default: return now_ += static_cast<int64_t>(in_.Byte()) * 60'000'000;
    }
  }

  // An expiry or a window bound: around the clock, or an edge.
  int64_t TimeNear() {
    switch (in_.Pick(8)) {
      case 0: return TimeEdge();
      case 1: return now_ - static_cast<int64_t>(in_.Byte()) * 3'600'000'000;
      default: return now_ + static_cast<int64_t>(in_.Byte()) * 3'600'000'000;
    }
  }

  int64_t Amount() {
    static constexpr int64_t kEdges[] = {
        0,         1,          -1,           kI64Max,      kI64Min,      kAmountBound,
        kAmountBound + 1,      kAmountBound - 1,           50'000'000,   49'999'999,
        kI64Max / 2 + 1,       1'000'000'000'000'000'000};
    const unsigned k = in_.Pick(16);
    if (k < sizeof kEdges / sizeof kEdges[0]) return kEdges[k];
    if (k == 15) return static_cast<int64_t>(in_.U64());
    return static_cast<int64_t>(1 + in_.Byte()) * 1'000'000;  // 1.00 .. 256.00
  }

  int64_t Count() {
    static constexpr int64_t kEdges[] = {0,           1,           -1,         kI64Max,
                                         kI64Min,     kCountBound, kCountBound + 1,
                                         kI64Max / 2 + 1,          1000,       999};
    const unsigned k = in_.Pick(16);
    if (k < sizeof kEdges / sizeof kEdges[0]) return kEdges[k];
    if (k == 15) return static_cast<int64_t>(in_.U64());
    return 1 + in_.Byte();
  }

  // Ids from small pools, so that events refer to each other; sometimes
  // empty or not UTF-8.
  std::string Id(char kind, unsigned pool) {
    switch (in_.Pick(64)) {
      case 0: return "";
      case 1: return std::string(1, kind) + "\xff";
      default: return std::string(1, kind) + std::to_string(in_.Pick(pool));
    }
  }
  // A campaign and, mostly, its owner: campaign c<k> is created for a<k % 4>.
  void CampaignOf(std::string* account, std::string* campaign) {
    const unsigned k = in_.Pick(6);
    *campaign = "c" + std::to_string(k);
    *account = in_.Pick(16) == 0 ? Id('a', 4) : "a" + std::to_string(k % 4);
  }

  void AccountOpened(v1::AccountOpened* m) {
    static const char* kCurrencies[] = {"EUR", "USD", "JPY", "eur", "", "EURO", "\xff\xfe\xfd"};
    static constexpr int32_t kOffsets[] = {0, 60, 330, -300, 840, -720, 841, 7,
                                           std::numeric_limits<int32_t>::max(),
                                           std::numeric_limits<int32_t>::min()};
    m->set_account_id(Id('a', 4));
    m->set_currency(kCurrencies[in_.Pick(7)]);
    m->set_utc_offset_minutes(kOffsets[in_.Pick(10)]);
    m->set_funding_order(static_cast<v1::FundingOrder>(in_.Pick(3)));
    m->set_name(in_.Pick(8) == 0 ? "\xc3" : "name");
    // Business centers without another pick (older findings decode alike).
    if (m->account_id().size() % 2 == 0) m->set_business_center_id(m->name());
  }
  void CashDeposited(v1::CashDeposited* m) {
    m->set_account_id(Id('a', 4));
    m->set_amount_micros(Amount());
  }
  void CreditGranted(v1::CreditGranted* m) {
    m->set_account_id(Id('a', 4));
    m->set_grant_id(Id('g', 8));
    m->set_amount_micros(Amount());
    m->set_expires_at_us(TimeNear());
    for (unsigned i = in_.Pick(4); i > 0; --i) m->add_campaign_ids(Id('c', 6));
  }
  void CampaignCreated(v1::CampaignCreated* m) {
    std::string account, campaign;
    CampaignOf(&account, &campaign);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_objective(static_cast<v1::Objective>(in_.Pick(8)));
    m->set_billing_event(static_cast<v1::BillingEvent>(in_.Pick(6)));
    m->set_price_micros(Amount());
    m->set_budget_mode(static_cast<v1::BudgetMode>(in_.Pick(5)));
    m->set_budget_micros(Amount());
    m->set_creative_reviewed(in_.Pick(2));
    m->set_audience_defined(in_.Pick(2));
    m->set_name(campaign);  // no pick: older findings decode alike
  }
  void StatusChanged(v1::CampaignStatusChanged* m) {
    std::string account, campaign;
    CampaignOf(&account, &campaign);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    // ENABLE most often: holds are where the arithmetic is.
    const unsigned op = in_.Pick(8);
    m->set_operation(static_cast<v1::CampaignStatusChanged::Operation>(op >= 5 ? 1 : op));
  }
  void CampaignUpdated(v1::CampaignUpdated* m) {
    std::string account, campaign;
    CampaignOf(&account, &campaign);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    const unsigned what = in_.Pick(8);
    if (what & 1) m->set_budget_mode(static_cast<v1::BudgetMode>(in_.Pick(5)));
    if (what & 2) m->set_budget_micros(Amount());
    if (what & 4) m->set_price_micros(Amount());
    if (what == 0) m->set_name(account);  // a rename (no pick: findings decode alike)
  }
  void AdReviewed(v1::AdReviewed* m) {
    std::string account, campaign;
    CampaignOf(&account, &campaign);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_result(static_cast<v1::AdReviewed::Result>(in_.Pick(5)));
  }
  void Delivery(v1::DeliveryReported* m) {
    std::string account, campaign;
    CampaignOf(&account, &campaign);
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_kind(static_cast<v1::DeliveryReported::Kind>(in_.Pick(7)));
    m->set_count(Count());
    m->set_platform_fault(in_.Pick(4) == 0);
  }
  void Evidence(google::protobuf::RepeatedField<int>* out) {
    for (unsigned i = in_.Pick(4); i > 0; --i) out->Add(static_cast<int>(in_.Pick(5)));
  }
  void DisputeFiled(v1::DisputeFiled* m) {
    std::string account, campaign;
    CampaignOf(&account, &campaign);
    m->set_dispute_id(Id('d', 4));
    m->set_account_id(account);
    m->set_campaign_id(campaign);
    m->set_reason(static_cast<v1::DisputeReason>(in_.Pick(10)));
    if (in_.Pick(4) == 0) {
      m->set_window_start_us(TimeNear());
      m->set_window_end_us(TimeNear());
    } else {
      m->set_window_start_us(0);
      m->set_window_end_us(now_ + 1);
    }
    m->set_claimed_micros(Amount());
    Evidence(m->mutable_evidence());
  }
  void EvidenceAdded(v1::DisputeEvidenceAdded* m) {
    m->set_dispute_id(Id('d', 4));
    Evidence(m->mutable_evidence());
  }
  void DisputeDecided(v1::DisputeDecided* m) {
    m->set_dispute_id(Id('d', 4));
    m->set_verified(in_.Pick(2));
    m->set_amount_micros(Amount());
  }

  Bytes& in_;
  uint64_t next_id_ = 0;
  uint64_t last_id_ = 1;
  int64_t now_ = kStartUs;
};

const char* Name(Ledger::Outcome o) {
  switch (o) {
    case Ledger::Outcome::kApplied: return "applied";
    case Ledger::Outcome::kDuplicate: return "duplicate";
    default: return "rejected";
  }
}

// What the replay and the server do with a delivery: the columnar path when
// the campaign resolves to one of its account's, else the event.
Ledger::Result ApplyAsReplay(Ledger& ledger, const v1::Event& e) {
  if (e.payload_case() == v1::Event::kDeliveryReported) {
    const v1::DeliveryReported& d = e.delivery_reported();
    const uint32_t c = ledger.FindCampaign(d.campaign_id());
    if (c != kNoIndex && ledger.account_id(ledger.campaigns()[c].account) == d.account_id()) {
      Ledger::DeliveryFact fact;
      fact.event_id = e.event_id();
      fact.time_us = e.time_us();
      fact.campaign = c;
      fact.kind = d.kind();
      fact.count = d.count();
      fact.platform_fault = d.platform_fault();
      return ledger.ApplyDelivery(fact, nullptr);
    }
  }
  return ledger.Apply(e, nullptr);
}

// LEDGER_FUZZ_TRACE=1 prints every event and its outcome: a finding as the
// events that make it.
const bool kTrace = std::getenv("LEDGER_FUZZ_TRACE") != nullptr;

void RunOne(const uint8_t* data, size_t size) {
  Bytes in(data, size);
  EventDecoder decoder(&in);
  Ledger ledger, replica;
  for (int i = 0; i < kEventsMax && !in.empty(); ++i) {
    const v1::Event e = decoder.Next();
    const std::string before = ledger.Digest();
    const Ledger::Result predicted = ledger.Check(e);
    if (ledger.Digest() != before) Fail(i, &e, "Check changed the state");
    if (kTrace) std::fprintf(stderr, "ledger_fuzz: event %d: %s\n", i, Text(e).c_str());
    const Ledger::Result r = ledger.Apply(e, nullptr);
    if (kTrace) std::fprintf(stderr, "  %s %s\n", Name(r.outcome), r.reason.c_str());
    if (r.outcome != predicted.outcome) {
      Fail(i, &e, std::string("Check said ") + Name(predicted.outcome) + ", Apply " +
                      Name(r.outcome) + " (" + r.reason + predicted.reason + ")");
    }
    if (r.outcome == Ledger::Outcome::kRejected && (r.field.empty() || r.reason.empty())) {
      Fail(i, &e, "a refusal names no field or reason");
    }
    const Status invariants = ledger.CheckInvariants();
    if (!invariants.ok()) Fail(i, &e, invariants.ToString());
    const Ledger::Result again = ApplyAsReplay(replica, e);
    if (again.outcome != r.outcome) {
      Fail(i, &e, std::string("applied ") + Name(r.outcome) + ", as replay " +
                      Name(again.outcome) + " (" + r.reason + again.reason + ")");
    }
  }
  if (replica.Digest() != ledger.Digest()) {
    Fail(-1, nullptr, "digests differ: " + ledger.Digest() + " applied, " + replica.Digest() +
                          " as replay");
  }
  v1::LedgerState state;
  ledger.SaveState(&state);
  Ledger restored;
  const Status st = restored.RestoreState(state);
  if (!st.ok()) Fail(-1, nullptr, "the saved state does not restore: " + st.ToString());
  if (restored.Digest() != ledger.Digest()) Fail(-1, nullptr, "restored digest differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RunOne(data, size);
  return 0;
}

// --- Seeds for fuzz_mutation_main.cc -----------------------------------------

extern const char kBillsimFuzzName[] = "ledger_fuzz";

// Random streams of several lengths: the decoder makes events of any bytes,
// and the id pools make them refer to each other.
void BillsimFuzzSeeds(std::vector<std::string>* seeds) {
  uint64_t x = 0x9e3779b97f4a7c15;
  for (size_t length : {64, 256, 512, 1024, 2048, 4096, 8192, 16384}) {
    std::string s(length, '\0');
    for (char& c : s) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x >> 24);
    }
    seeds->push_back(std::move(s));
  }
}
