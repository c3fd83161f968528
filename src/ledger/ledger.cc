// Ledger: dispatch, the clock and its timers, entries and the digest.
// Validation is in ledger_validate.cc, funds (R3-R7) in ledger_funds.cc,
// disputes (R8, R9) in ledger_disputes.cc, views in ledger_views.cc.
#include "ledger/ledger.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "util/assert.h"
#include "util/money.h"

namespace billsim {

namespace {

uint32_t Lookup(const auto& index, std::string_view id) {
  // Debian's Abseil has its own string_view type (built before C++17).
  auto it = index.find(absl::string_view(id.data(), id.size()));
  return it == index.end() ? kNoIndex : it->second;
}

// Feeds fixed-width integers and length-prefixed strings into an XXH3
// stream, so that no two different states hash the same bytes.
class Hasher {
 public:
  Hasher() { XXH3_128bits_reset(state_); }
  ~Hasher() { XXH3_freeState(state_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Int(int64_t v) { XXH3_128bits_update(state_, &v, sizeof v); }
  void Str(std::string_view s) {
    Int(static_cast<int64_t>(s.size()));
    XXH3_128bits_update(state_, s.data(), s.size());
  }
  std::string Hex() const {
    const XXH128_hash_t h = XXH3_128bits_digest(state_);
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx",
                  static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return buf;
  }

 private:
  XXH3_state_t* state_ = XXH3_createState();
};

}  // namespace

Ledger::Ledger(LedgerOptions options) : options_(options) {
  BILLSIM_ASSERT(options_.min_budget_micros >= 0);
  BILLSIM_ASSERT(options_.refund_grant_validity_us > 0);
}

uint32_t Ledger::FindAccount(std::string_view id) const {
  return Lookup(account_index_, id);
}
uint32_t Ledger::FindCampaign(std::string_view id) const {
  return Lookup(campaign_index_, id);
}
uint32_t Ledger::FindGrant(std::string_view id) const {
  return Lookup(grant_index_, id);
}
uint32_t Ledger::FindDispute(std::string_view id) const {
  return Lookup(dispute_index_, id);
}

Ledger::Result Ledger::Check(const v1::Event& event) const {
  if (event.event_id() != 0 && applied_ids_.Contains(event.event_id())) {
    return Result{Outcome::kDuplicate, "event_id", ""};
  }
  return Validate(event, std::max(clock_us_, event.time_us()));
}

template <typename ValidateFn, typename ChangeFn>
Ledger::Result Ledger::ApplyFramed(uint64_t event_id, int64_t time_us,
                                   EntrySink* sink, ValidateFn validate,
                                   ChangeFn change) {
  current_event_id_ = event_id;
  sink_ = sink;
  Result verdict;
  // R10: a repeated id changes nothing but is recorded.
  if (event_id != 0 && applied_ids_.Contains(event_id)) {
    events_duplicate_++;
    Entry e;
    e.kind = v1::DUPLICATE;
    e.field = "event_id";
    e.note = "event " + std::to_string(event_id) +
             ": already applied; ignored (R10)";
    Emit(std::move(e));
    verdict = Result{Outcome::kDuplicate, "event_id", ""};
  } else {
    // R6: an event stamped before the clock is applied at the clock.
    const int64_t at_us = std::max(clock_us_, time_us);
    verdict = validate(at_us);
    if (verdict.outcome == Outcome::kRejected) {
      EmitRejection(verdict);  // R11: and nothing else
    } else {
      Admit(event_id, at_us);
      change();
    }
  }
  sink_ = nullptr;
  return verdict;
}

Ledger::Result Ledger::Apply(const v1::Event& event, EntrySink* sink) {
  auto validate = [&](int64_t at_us) { return Validate(event, at_us); };
  auto change = [&] {
    using P = v1::Event::PayloadCase;
    switch (event.payload_case()) {
      case P::kDeliveryReported: {
        const auto& m = event.delivery_reported();
        Deliver(FindCampaign(m.campaign_id()), m.kind(), m.count(),
                m.platform_fault());
        break;
      }
      case P::kAccountOpened: OnAccountOpened(event.account_opened()); break;
      case P::kCashDeposited: OnCashDeposited(event.cash_deposited()); break;
      case P::kCreditGranted: OnCreditGranted(event.credit_granted()); break;
      case P::kCampaignCreated:
        OnCampaignCreated(event.campaign_created());
        break;
      case P::kCampaignStatusChanged:
        OnStatusChanged(event.campaign_status_changed());
        break;
      case P::kAdReviewed: OnAdReviewed(event.ad_reviewed()); break;
      case P::kDisputeFiled: OnDisputeFiled(event.dispute_filed()); break;
      case P::kDisputeEvidenceAdded:
        OnEvidenceAdded(event.dispute_evidence_added());
        break;
      case P::kDisputeDecided: OnDisputeDecided(event.dispute_decided()); break;
      case P::kClockAdvanced: break;  // AdvanceClock did the work
      case P::PAYLOAD_NOT_SET:
        BILLSIM_ASSERT(false);  // Validate refuses it
    }
  };
  return ApplyFramed(event.event_id(), event.time_us(), sink, validate, change);
}

void Ledger::Admit(uint64_t event_id, int64_t at_us) {
  AdvanceClock(at_us);
  applied_ids_.Insert(event_id);
  events_applied_++;
}

Ledger::Result Ledger::ApplyDelivery(const DeliveryFact& f, EntrySink* sink) {
  BILLSIM_ASSERT(f.campaign < campaigns_.size());
  // The replay hot path: a well-formed delivery not seen before takes the
  // steps of ApplyFramed's accepting branch without building verdicts.
  if (DeliveryWellFormed(f.event_id, f.time_us, f.campaign, f.kind, f.count) &&
      !applied_ids_.Contains(f.event_id)) {
    current_event_id_ = f.event_id;
    sink_ = sink;
    Admit(f.event_id, std::max(clock_us_, f.time_us));
    Deliver(f.campaign, f.kind, f.count, f.platform_fault);
    sink_ = nullptr;
    return Result{};
  }
  auto validate = [&](int64_t) {
    return ValidateDelivery(f.event_id, f.time_us, f.campaign, f.kind, f.count);
  };
  auto change = [&] { Deliver(f.campaign, f.kind, f.count, f.platform_fault); };
  return ApplyFramed(f.event_id, f.time_us, sink, validate, change);
}

void Ledger::AdvanceTo(int64_t time_us, EntrySink* sink) {
  if (time_us <= clock_us_) return;
  current_event_id_ = 0;
  sink_ = sink;
  AdvanceClock(time_us);
  sink_ = nullptr;
}

void Ledger::EmitRejection(const Result& r) {
  events_rejected_++;
  Entry entry;
  entry.kind = v1::REJECTED;
  entry.field = r.field;
  entry.note = r.reason;
  Emit(std::move(entry));
}

// --- Clock and timers (R4, R6) ----------------------------------------------

int64_t Ledger::LocalDay(const Account& a, int64_t time_us) const {
  return FloorDiv(time_us + a.utc_offset_minutes * kMicrosPerMinute,
                  kMicrosPerDay);
}

void Ledger::FireTimers(int64_t to_us) {
  BILLSIM_ASSERT(to_us >= clock_us_);
  while (!timers_.empty() && timers_.begin()->at_us <= to_us) {
    const Timer t = *timers_.begin();
    timers_.erase(timers_.begin());
    BILLSIM_ASSERT(t.at_us >= clock_us_);
    clock_us_ = t.at_us;  // entries of the timer carry its own time
    if (t.kind == kTimerExpiry) {
      FireExpiry(t.index);
    } else {
      FireDay(t.index);
    }
  }
  clock_us_ = to_us;
}

void Ledger::FireExpiry(uint32_t grant) {
  Grant& g = grants_[grant];
  BILLSIM_ASSERT(!g.expired);
  BILLSIM_ASSERT(g.expires_at_us == clock_us_);
  Account& a = accounts_[g.account];
  ShrinkHolds(g.account, grant);  // first, so valid never dips below zero
  g.expired = true;
  const int64_t removed = g.remaining;
  if (removed > 0) {
    g.remaining = 0;
    g.expired_micros = removed;
    a.credit -= removed;
    a.expired += removed;
    Entry e;
    e.kind = v1::PROMOTION_EXPIRED;
    e.account = g.account;
    e.funds = v1::FUNDS_TYPE_GRANT;
    e.grant = grant;
    e.balance_delta = -removed;
    e.note = "unused credit removed at expiry: not refunded, not converted "
             "to cash, not carried over (R6)";
    Emit(std::move(e));
  }
}

void Ledger::ScheduleDay(uint32_t account) {
  Account& a = accounts_[account];
  if (a.day_timer_scheduled) return;
  const int64_t next_midnight =
      (LocalDay(a, clock_us_) + 1) * kMicrosPerDay -
      a.utc_offset_minutes * kMicrosPerMinute;
  BILLSIM_ASSERT(next_midnight > clock_us_);
  timers_.insert(Timer{next_midnight, kTimerDay, a.id, account});
  a.day_timer_scheduled = true;
}

void Ledger::FireDay(uint32_t account) {
  Account& a = accounts_[account];
  a.day_timer_scheduled = false;
  bool any_daily = false;
  // R4: a new local day renews daily holds, earliest-enabled first.
  const std::vector<uint32_t> holding = a.holding;  // TopUp may not change it
  for (uint32_t c : holding) {
    if (campaigns_[c].budget_mode != v1::BUDGET_MODE_DAY) continue;
    any_daily = true;
    TopUp(c);
  }
  if (any_daily) ScheduleDay(account);
}

// --- Entries ------------------------------------------------------------------

void Ledger::Emit(Entry&& e) {
  e.seq = ++entry_seq_;
  e.event_id = current_event_id_;
  e.time_us = clock_us_;
  // Balances after are for the sink (history); the digest does not fold
  // them, so a replay without a sink skips them.
  if (e.account != kNoIndex && sink_ != nullptr) {
    const Account& a = accounts_[e.account];
    e.cash_after = a.cash;
    e.credit_after = a.credit;
    e.frozen_after = a.frozen;
    e.valid_after = a.valid();
  }
  // Fold the entry into the history digest, cheaply: it runs for every
  // entry on the replay hot path. Each field is multiplied by its own odd
  // constant (independent multiplies, so they overlap) and summed: a change
  // of any one field changes the sum, since d * K != 0 mod 2^64 for odd K
  // and d != 0. One multiply-xorshift step then chains the sum to the
  // entries before, so order matters too. Balances after are not folded:
  // they follow from the deltas and the state, which the digest covers.
  // This detects divergence; it is not tamper evidence (the log's SHA-256
  // chain is).
  uint64_t sum = e.seq * 0x9e3779b97f4a7c15ull;
  sum += e.event_id * 0xc2b2ae3d27d4eb4full;
  sum += static_cast<uint64_t>(e.time_us) * 0x165667b19e3779f9ull;
  sum += (uint64_t{e.account} << 32 | e.campaign) * 0x85ebca77c2b2ae63ull;
  sum += (uint64_t{e.grant} << 32 | e.dispute) * 0x27d4eb2f165667c5ull;
  sum += (static_cast<uint64_t>(e.kind) << 48 | static_cast<uint64_t>(e.funds) << 32 |
          static_cast<uint64_t>(e.not_billed_reason) << 16 |
          static_cast<uint64_t>(e.dispute_status)) *
         0xff51afd7ed558ccdull;
  sum += static_cast<uint64_t>(e.balance_delta) * 0xc4ceb9fe1a85ec53ull;
  sum += static_cast<uint64_t>(e.frozen_delta) * 0x94d049bb133111ebull;
  sum += static_cast<uint64_t>(e.units) * 0xbf58476d1ce4e5b9ull;
  if (!e.note.empty()) sum += XXH3_64bits(e.note.data(), e.note.size()) * 0xd6e8feb86659fd93ull;
  uint64_t h = (history_hash_ ^ sum) * 0x9e3779b97f4a7c15ull;
  history_hash_ = h ^ (h >> 29);
  if (sink_ != nullptr) sink_->Add(e);
}

// --- Digest and invariants ------------------------------------------------------

std::string Ledger::Digest() const {
  Hasher h;
  h.Int(clock_us_);
  h.Int(static_cast<int64_t>(entry_seq_));
  h.Int(static_cast<int64_t>(events_applied_));
  h.Int(static_cast<int64_t>(events_rejected_));
  h.Int(static_cast<int64_t>(events_duplicate_));
  h.Int(static_cast<int64_t>(history_hash_));
  for (const auto& [first, last] : applied_ids_.runs()) {
    h.Int(static_cast<int64_t>(first));
    h.Int(static_cast<int64_t>(last));
  }
  for (const Account& a : accounts_) {
    h.Str(a.id);
    h.Str(a.currency);
    h.Int(a.utc_offset_minutes);
    h.Int(a.funding_order);
    for (int64_t v : {a.opened_at_us, a.cash, a.credit, a.frozen, a.deposited,
                      a.granted, a.spent, a.expired, a.adjusted}) {
      h.Int(v);
    }
    for (uint32_t c : a.holding) h.Int(c);
  }
  for (const Grant& g : grants_) {
    h.Str(g.id);
    for (int64_t v : {int64_t{g.account}, g.amount, g.remaining,
                      g.expires_at_us, g.expired_micros, int64_t{g.expired},
                      int64_t{g.adjustment}}) {
      h.Int(v);
    }
    for (uint32_t c : g.campaigns) h.Int(c);
  }
  for (const Campaign& c : campaigns_) {
    h.Str(c.id);
    h.Str(c.status_reason);
    h.Str(c.landing_page_url);
    for (int64_t v : {int64_t{c.account}, int64_t{c.billing_event}, c.price,
                      int64_t{c.budget_mode}, c.budget,
                      static_cast<int64_t>(c.status),
                      static_cast<int64_t>(c.review), c.hold, c.billed_units,
                      c.billed_micros, c.served_units, c.fault_billed_micros,
                      c.day_index, c.day_spent, static_cast<int64_t>(c.enable_order),
                      int64_t{c.objective}, int64_t{c.creative_reviewed},
                      int64_t{c.audience_defined}}) {
      h.Int(v);
    }
    for (int64_t v : c.delivered) h.Int(v);
    for (int64_t v : c.not_billed_units) h.Int(v);
    for (const FaultCharge& f : c.fault_charges) {
      h.Int(f.time_us);
      for (const auto& p : f.parts) {
        h.Int(p.grant);
        h.Int(p.amount);
        h.Int(p.adjusted);
      }
    }
  }
  for (const Dispute& d : disputes_) {
    h.Str(d.id);
    h.Str(d.status_note);
    for (int64_t v : {int64_t{d.account}, int64_t{d.campaign}, int64_t{d.reason},
                      int64_t{d.status}, d.window_start_us, d.window_end_us,
                      d.claimed, d.verifiable, d.adjusted, int64_t{d.has_screenshot},
                      int64_t{d.has_spend_report}, int64_t{d.has_delivery_data}}) {
      h.Int(v);
    }
  }
  return h.Hex();
}

Status Ledger::CheckInvariants() const {
  for (const Account& a : accounts_) {
    auto fail = [&a](const std::string& what) {
      return Status::Corruption("account " + a.id + ": " + what);
    };
    if (a.cash < 0 || a.credit < 0 || a.frozen < 0 || a.valid() < 0) {
      return fail("negative balance (R5): cash " + FormatMicros(a.cash) +
                  ", grant " + FormatMicros(a.credit) + ", frozen " +
                  FormatMicros(a.frozen) + ", valid " + FormatMicros(a.valid()));
    }
    if (a.deposited + a.granted + a.adjusted !=
        a.spent + a.expired + a.cash + a.credit) {
      return fail("conservation (R12) broken: deposited + granted + adjusted = " +
                  FormatMicros(a.deposited + a.granted + a.adjusted) +
                  " but spent + expired + cash + grant = " +
                  FormatMicros(a.spent + a.expired + a.cash + a.credit));
    }
    int64_t credit = 0;
    for (uint32_t gi : a.grants) {
      const Grant& g = grants_[gi];
      if (g.remaining < 0) return fail("grant " + g.id + " negative");
      if (g.expired && g.remaining != 0) {
        return fail("expired grant " + g.id + " still funds (R6)");
      }
      if (g.expired != (g.expires_at_us <= clock_us_)) {
        return fail("grant " + g.id + " expiry does not match the clock (R6)");
      }
      credit += g.remaining;
    }
    if (credit != a.credit) return fail("grant balance != sum of grants");
    int64_t frozen = 0;
    for (uint32_t ci : a.holding) {
      const Campaign& c = campaigns_[ci];
      if (c.hold < 0 || c.hold > HoldTarget(c)) {
        return fail("campaign " + c.id + " holds beyond its budget (R4)");
      }
      frozen += c.hold;
    }
    if (frozen != a.frozen) return fail("frozen balance != sum of holds");
  }
  for (const Campaign& c : campaigns_) {
    if (c.billed_micros != MulDivFloor(c.billed_units, c.price, c.per_units)) {
      return Status::Corruption("campaign " + c.id +
                                ": charge is not floor(units*price/k) (R2)");
    }
    if (!IsHolding(c) && c.hold != 0) {
      return Status::Corruption("campaign " + c.id + ": holds while not active");
    }
  }
  return Status::Ok();
}

}  // namespace billsim
