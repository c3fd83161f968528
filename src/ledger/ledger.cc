// Ledger: dispatch, the clock and its timers, entries and the digest.
// Validation is in ledger_validate.cc, funds (R3-R7) in ledger_funds.cc,
// disputes (R8, R9) in ledger_disputes.cc, views in ledger_views.cc.
#include "ledger/ledger.h"
#include "ledger/event_account.h"

#include <xxhash.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <tuple>

#include "util/assert.h"
#include "util/money.h"

namespace billsim {

Ledger::Ledger(LedgerOptions options) : options_(options) {
  BILLSIM_ASSERT(options_.min_budget_micros >= 0);
  BILLSIM_ASSERT(options_.refund_grant_validity_us > 0);
}

uint32_t Ledger::FindAccount(std::string_view id) const { return account_index_.Find(id); }
uint32_t Ledger::FindCampaign(std::string_view id) const { return campaign_index_.Find(id); }
uint32_t Ledger::FindGrant(std::string_view id) const { return grant_index_.Find(id); }
uint32_t Ledger::FindDispute(std::string_view id) const { return dispute_index_.Find(id); }

void Ledger::RebuildIndexes() {
  account_index_.Clear();
  campaign_index_.Clear();
  grant_index_.Clear();
  dispute_index_.Clear();
  account_index_.Reserve(accounts_.size());
  campaign_index_.Reserve(campaigns_.size());
  grant_index_.Reserve(grants_.size());
  dispute_index_.Reserve(disputes_.size());
  for (uint32_t i = 0; i < accounts_.size(); ++i) account_index_.Insert(i);
  for (uint32_t i = 0; i < campaigns_.size(); ++i) campaign_index_.Insert(i);
  for (uint32_t i = 0; i < grants_.size(); ++i) grant_index_.Insert(i);
  for (uint32_t i = 0; i < disputes_.size(); ++i) dispute_index_.Insert(i);
}

NotBilledCounts Ledger::not_billed(uint32_t campaign) const {
  NotBilledCounts counts;
  const Campaign& c = campaigns_[campaign];
  const uint32_t i = c.not_billed;
  if (i == kNoIndex) return counts;
  const uint32_t at = i & ~kNotBilledTable;
  switch (i & kNotBilledTable) {
    case kNotBilledMany: return not_billed_many_[at];
    case kNotBilledInKinds: {
      const NotBilledKinds& kinds = not_billed_kinds_[at];
      int64_t units = 0;
      for (int kind = 1; kind <= static_cast<int>(counts.other_kinds.size()); ++kind) {
        if (kind == c.billable_kind) continue;
        const int64_t n = kinds.units[NotBilledKinds::Slot(kind, c.billable_kind)];
        counts.other_kinds[kind - 1] = n;
        units = CheckedAdd(units, n);  // AddNotBilled kept the sum in range
      }
      counts.units[v1::NOT_BILLABLE_KIND] = units;
      return counts;
    }
    default: {
      const NotBilledOne& one = not_billed_one_[at];
      counts.units[one.reason] = one.units;
      counts.micros[one.reason] = one.micros;
      counts.billable_kind_units = one.units;
      return counts;
    }
  }
}

uint32_t Ledger::AddNotBilledRecord(uint32_t table) {
  size_t at = 0;
  switch (table) {
    case kNotBilledInOne:
      at = not_billed_one_.size();
      not_billed_one_.emplace_back();
      break;
    case kNotBilledInKinds:
      at = not_billed_kinds_.size();
      not_billed_kinds_.emplace_back();
      break;
    default:
      at = not_billed_many_.size();
      not_billed_many_.emplace_back();
      break;
  }
  // Fewer records than campaigns, and a campaign index is 32 bits: a book
  // of 2^30 campaigns with not-billed counters would need 64 GiB of
  // campaigns first.
  BILLSIM_ASSERT(at < (uint32_t{1} << 30));
  return static_cast<uint32_t>(at) | table;
}

namespace {
// Whether a campaign's not-billed units of `reason` (with `micros`) can be
// kept by kind (NotBilledKinds): NOT_BILLABLE_KIND, priced at nothing
// (NotBilled), of a campaign that bills one of the four kinds that are
// not CONVERSION, so the four other kinds fill its four slots.
bool FitsByKind(const Campaign& c, uint32_t reason, int64_t micros) {
  return reason == v1::NOT_BILLABLE_KIND && micros == 0 && c.billable_kind >= 1 &&
         c.billable_kind <= 4;
}
}  // namespace

void Ledger::AddNotBilled(uint32_t campaign, v1::NotBilledReason reason, int64_t units,
                          int64_t micros, v1::DeliveryReported::Kind kind) {
  BILLSIM_ASSERT(reason > 0 && reason < 7);
  BILLSIM_ASSERT(kind > 0 && kind <= 5);
  Campaign& c = campaigns_[campaign];
  uint32_t& bound = c.unbilled_units;
  bound = units >= Campaign::kUnbilledMany - bound ? Campaign::kUnbilledMany
                                                  : bound + static_cast<uint32_t>(units);
  const bool by_kind = FitsByKind(c, reason, micros) && kind != c.billable_kind;
  uint32_t& i = c.not_billed;
  if (i == kNoIndex) {
    i = AddNotBilledRecord(by_kind                               ? kNotBilledInKinds
                           : reason != v1::NOT_BILLABLE_KIND ? kNotBilledInOne
                                                             : kNotBilledMany);
  }
  const uint32_t table = i & kNotBilledTable;
  const uint32_t at = i & ~kNotBilledTable;
  if (table == kNotBilledInKinds && by_kind) {
    uint32_t& n = not_billed_kinds_[at].units[NotBilledKinds::Slot(kind, c.billable_kind)];
    if (units <= NotBilledKinds::kMax - n) {
      n += static_cast<uint32_t>(units);
      return;
    }
    // Past 32 bits: counters of every reason, below. (Each kind's units are
    // at most kCampaignUnitsMax, ValidateDeliveryTotals, so their sum, the
    // reason's units, fits in 64.)
  }
  if (table == kNotBilledInOne &&
      (not_billed_one_[at].reason == 0 ||  // new
       not_billed_one_[at].reason == static_cast<uint32_t>(reason))) {
    NotBilledOne& one = not_billed_one_[at];
    one.reason = static_cast<uint32_t>(reason);
    one.units = CheckedAdd(one.units, units);
    one.micros = CheckedAdd(one.micros, micros);
    return;
  }
  if (table != kNotBilledMany) {
    // A second reason, or a kind's count past NotBilledKinds::kMax: all
    // seven counters of its own (its small record stays unused: rare).
    const NotBilledCounts counts = not_billed(campaign);
    i = AddNotBilledRecord(kNotBilledMany);
    not_billed_many_.back() = counts;
  }
  NotBilledCounts& many = not_billed_many_[i & ~kNotBilledTable];
  many.units[reason] = CheckedAdd(many.units[reason], units);
  many.micros[reason] = CheckedAdd(many.micros[reason], micros);
  if (reason != v1::NOT_BILLABLE_KIND) {
    many.billable_kind_units = CheckedAdd(many.billable_kind_units, units);
  } else {
    // A kind it does not bill: those units are all it was delivered of it.
    many.other_kinds[kind - 1] = CheckedAdd(many.other_kinds[kind - 1], units);
  }
}

void Ledger::SetNotBilled(uint32_t campaign, const NotBilledCounts& counts) {
  int reasons = 0;
  uint32_t reason = 0;
  for (uint32_t r = 0; r < counts.units.size(); ++r) {
    if (counts.units[r] != 0 || counts.micros[r] != 0) {
      reasons++;
      reason = r;
    }
  }
  Campaign& c = campaigns_[campaign];
  uint32_t& i = c.not_billed;
  BILLSIM_ASSERT(i == kNoIndex);
  __int128 unbilled = 0;  // (each count is at most 10^18)
  for (int64_t units : counts.units) unbilled += units;
  c.unbilled_units =
      unbilled >= Campaign::kUnbilledMany ? Campaign::kUnbilledMany : static_cast<uint32_t>(unbilled);
  if (reasons == 0) return;
  bool others_zero = true;   // no kind but the billable one counted apart
  bool others_small = true;  // each kind's units fit a NotBilledKinds slot
  for (int64_t units : counts.other_kinds) {
    if (units != 0) others_zero = false;
    if (units > NotBilledKinds::kMax) others_small = false;
  }
  if (reasons == 1 && FitsByKind(c, reason, counts.micros[reason]) &&
      counts.other_kinds[c.billable_kind - 1] == 0 && others_small) {
    // (the restore checked that the kinds' units sum to the reason's)
    i = AddNotBilledRecord(kNotBilledInKinds);
    NotBilledKinds& kinds = not_billed_kinds_.back();
    for (int kind = 1; kind <= static_cast<int>(counts.other_kinds.size()); ++kind) {
      if (kind == c.billable_kind) continue;
      kinds.units[NotBilledKinds::Slot(kind, c.billable_kind)] =
          static_cast<uint32_t>(counts.other_kinds[kind - 1]);
    }
  } else if (reasons == 1 && reason > 0 && reason != v1::NOT_BILLABLE_KIND && others_zero) {
    i = AddNotBilledRecord(kNotBilledInOne);
    NotBilledOne& one = not_billed_one_.back();
    one.units = counts.units[reason];
    one.micros = counts.micros[reason];
    one.reason = reason;
  } else {
    i = AddNotBilledRecord(kNotBilledMany);
    NotBilledCounts& many = not_billed_many_.back();
    many = counts;
    many.billable_kind_units = static_cast<int64_t>(counts.BillableKindUnitsWide());
  }
}

const FaultRecord& Ledger::fault(uint32_t campaign) const {
  static const FaultRecord kNone;
  const uint32_t i = campaign_info_[campaign].fault;
  return i == kNoIndex ? kNone : faults_[i];
}

const std::vector<FaultCharge>& Ledger::fault_charges(uint32_t campaign) const {
  return fault(campaign).charges;
}

FaultRecord& Ledger::MutableFault(uint32_t campaign) {
  uint32_t& i = campaign_info_[campaign].fault;
  if (i == kNoIndex) {
    i = static_cast<uint32_t>(faults_.size());
    faults_.emplace_back();
  }
  return faults_[i];
}

void Ledger::PrefetchLookups(const v1::Event& e, int stage) const {
  using P = v1::Event::PayloadCase;
  switch (e.payload_case()) {
    case P::kAccountOpened:
      account_index_.Prefetch(e.account_opened().account_id(), stage);
      break;
    case P::kCashDeposited:
      account_index_.Prefetch(e.cash_deposited().account_id(), stage);
      break;
    case P::kCreditGranted:
      account_index_.Prefetch(e.credit_granted().account_id(), stage);
      grant_index_.Prefetch(e.credit_granted().grant_id(), stage);
      break;
    case P::kCampaignCreated:
      account_index_.Prefetch(e.campaign_created().account_id(), stage);
      campaign_index_.Prefetch(e.campaign_created().campaign_id(), stage);
      break;
    case P::kCampaignStatusChanged:
      campaign_index_.Prefetch(e.campaign_status_changed().campaign_id(), stage);
      break;
    case P::kAdReviewed:
      campaign_index_.Prefetch(e.ad_reviewed().campaign_id(), stage);
      break;
    default:
      break;
  }
}

std::string_view EventAccountId(const v1::Event& e) {
  using P = v1::Event::PayloadCase;
  switch (e.payload_case()) {
    case P::kAccountOpened: return e.account_opened().account_id();
    case P::kDeliveryReported: return e.delivery_reported().account_id();
    case P::kCashDeposited: return e.cash_deposited().account_id();
    case P::kCreditGranted: return e.credit_granted().account_id();
    case P::kCampaignCreated: return e.campaign_created().account_id();
    case P::kCampaignStatusChanged: return e.campaign_status_changed().account_id();
    case P::kAdReviewed: return e.ad_reviewed().account_id();
    case P::kCampaignUpdated: return e.campaign_updated().account_id();
    case P::kDisputeFiled: return e.dispute_filed().account_id();
    case P::kClockAdvanced: return e.clock_advanced().account_id();
    case P::kDisputeEvidenceAdded:
    case P::kDisputeDecided:
    case P::PAYLOAD_NOT_SET:
      return {};
  }
  return {};
}

uint32_t Ledger::EventAccount(const v1::Event& e) const {
  using P = v1::Event::PayloadCase;
  switch (e.payload_case()) {
    case P::kAccountOpened:  // a new account (one that exists is refused)
      return kNoIndex;
    case P::kDisputeEvidenceAdded:
    case P::kDisputeDecided: {
      const uint32_t di = FindDispute(e.has_dispute_decided() ? e.dispute_decided().dispute_id()
                                                             : e.dispute_evidence_added().dispute_id());
      return di == kNoIndex ? kNoIndex : disputes_[di].account;
    }
    default: {
      const std::string_view id = EventAccountId(e);
      return id.empty() ? kNoIndex : FindAccount(id);
    }
  }
}

Ledger::Result Ledger::Check(const v1::Event& event) const {
  if (event.event_id() != 0 && applied_ids_.Contains(event.event_id())) {
    return Result{Outcome::kDuplicate, "event_id", ""};
  }
  return Validate(event, AppliedAt(EventAccount(event), event.time_us()));
}

template <typename ValidateFn, typename ChangeFn>
Ledger::Result Ledger::ApplyFramed(uint64_t event_id, int64_t time_us,
                                   uint32_t account, EntrySink* sink,
                                   ValidateFn validate, ChangeFn change) {
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
    // R6: an event stamped before its account's clock is applied at it.
    const int64_t at_us = AppliedAt(account, time_us);
    verdict = validate(at_us);
    if (verdict.outcome == Outcome::kRejected) {
      EmitRejection(verdict);  // R11: and nothing else
    } else {
      Admit(event_id, account, at_us);
      change(at_us);
    }
  }
  sink_ = nullptr;
  return verdict;
}

Ledger::Result Ledger::Apply(const v1::Event& event, EntrySink* sink, Text text) {
  auto validate = [&](int64_t at_us) { return Validate(event, at_us, text); };
  auto change = [&](int64_t at_us) {
    using P = v1::Event::PayloadCase;
    switch (event.payload_case()) {
      case P::kDeliveryReported: {
        const auto& m = event.delivery_reported();
        Deliver(FindCampaign(m.campaign_id()), m.kind(), m.count(),
                m.platform_fault());
        break;
      }
      case P::kAccountOpened:
        OnAccountOpened(event.account_opened(), at_us);
        break;
      case P::kCashDeposited: OnCashDeposited(event.cash_deposited()); break;
      case P::kCreditGranted: OnCreditGranted(event.credit_granted()); break;
      case P::kCampaignCreated:
        OnCampaignCreated(event.campaign_created());
        break;
      case P::kCampaignStatusChanged:
        OnStatusChanged(event.campaign_status_changed());
        break;
      case P::kAdReviewed: OnAdReviewed(event.ad_reviewed()); break;
      case P::kCampaignUpdated: OnCampaignUpdated(event.campaign_updated()); break;
      case P::kDisputeFiled: OnDisputeFiled(event.dispute_filed()); break;
      case P::kDisputeEvidenceAdded:
        OnEvidenceAdded(event.dispute_evidence_added());
        break;
      case P::kDisputeDecided: OnDisputeDecided(event.dispute_decided()); break;
      case P::kClockAdvanced:
        // With an account, Admit moved its clock; without, every account's.
        if (event.clock_advanced().account_id().empty()) AdvanceAll(at_us);
        break;
      case P::PAYLOAD_NOT_SET:
        BILLSIM_ASSERT(false);  // Validate refuses it
    }
  };
  return ApplyFramed(event.event_id(), event.time_us(), EventAccount(event),
                     sink, validate, change);
}



Ledger::Result Ledger::ApplyDelivery(const DeliveryFact& f, EntrySink* sink) {
  BILLSIM_ASSERT(f.campaign < campaigns_.size());
  // The replay hot path: a well-formed delivery not seen before takes the
  // steps of ApplyFramed's accepting branch without building verdicts.
  if (DeliveryWellFormed(f.event_id, f.time_us, f.campaign, f.kind, f.count) &&
      !applied_ids_.Contains(f.event_id)) {
    current_event_id_ = f.event_id;
    sink_ = sink;
    const uint32_t account = campaigns_[f.campaign].account;
    Admit(f.event_id, account, AppliedAt(account, f.time_us));
    Deliver(f.campaign, f.kind, f.count, f.platform_fault);
    sink_ = nullptr;
    return Result{};
  }
  auto validate = [&](int64_t) {
    return ValidateDelivery(f.event_id, f.time_us, f.campaign, f.kind, f.count);
  };
  auto change = [&](int64_t) {
    Deliver(f.campaign, f.kind, f.count, f.platform_fault);
  };
  return ApplyFramed(f.event_id, f.time_us, campaigns_[f.campaign].account,
                     sink, validate, change);
}

void Ledger::AdvanceTo(int64_t time_us, EntrySink* sink) {
  // As-of queries may name any time; the clocks stop at the last valid one.
  time_us = std::min(time_us, kTimeMaxUs);
  current_event_id_ = 0;
  sink_ = sink;
  AdvanceAll(time_us);
  sink_ = nullptr;
}

Ledger::Due Ledger::NextDue(uint32_t account) const {
  const Account& a = accounts_[account];
  Due due;
  const int64_t expiry = NextExpiryUs(a);
  if (expiry <= a.day_timer_us && expiry != INT64_MAX) {
    // The first by grant id of the grants expiring then (R6's order).
    due = Due{expiry, kTimerExpiry, a.grants[a.expired_grants]};
    for (size_t i = a.expired_grants + 1;
         i < a.grants.size() && grants_[a.grants[i]].expires_at_us == expiry; ++i) {
      if (grant_id(a.grants[i]) < grant_id(due.index)) due.index = a.grants[i];
    }
  } else if (a.day_timer_us != INT64_MAX) {
    due = Due{a.day_timer_us, kTimerDay, account};
  }
  return due;
}

std::string_view Ledger::DueKey(const Due& due) const {
  return due.kind == kTimerExpiry ? grant_id(due.index) : account_id(due.index);
}

void Ledger::AdvanceAll(int64_t to_us) {
  // The accounts' due work interleaved in (time, kind, key) order of each
  // account's next timer, as one clock for the whole book would fire it.
  using Next = std::tuple<int64_t, int, std::string, uint32_t>;
  std::priority_queue<Next, std::vector<Next>, std::greater<>> due;
  auto push_next = [&](uint32_t ai) {
    if (accounts_[ai].next_timer_us > to_us) return;
    const Due d = NextDue(ai);
    BILLSIM_ASSERT(d.at_us == accounts_[ai].next_timer_us);
    due.emplace(d.at_us, d.kind, DueKey(d), ai);
  };
  for (uint32_t ai = 0; ai < accounts_.size(); ++ai) push_next(ai);
  while (!due.empty()) {
    const auto [at_us, kind, key, ai] = due.top();
    due.pop();
    // (Due at at_us: push_next's test.) The account's next event is after
    // to_us, so its idle midnights are skipped up to there.
    FireTimers(ai, at_us, to_us);
    push_next(ai);
  }
  for (uint32_t ai = 0; ai < accounts_.size(); ++ai) {
    if (accounts_[ai].clock_us < to_us) AdvanceClock(ai, to_us);
  }
  latest_us_ = std::max(latest_us_, to_us);
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

void Ledger::FireTimers(uint32_t account, int64_t to_us, int64_t horizon_us) {
  Account& a = accounts_[account];
  BILLSIM_ASSERT(to_us >= a.clock_us && horizon_us >= to_us);
  for (;;) {
    const int64_t expiry = NextExpiryUs(a);
    const int64_t at_us = std::min(expiry, a.day_timer_us);
    if (at_us > to_us) break;
    BILLSIM_ASSERT(at_us >= a.clock_us);
    a.clock_us = at_us;  // entries of the timer carry its own time
    if (expiry == at_us) {
      FireExpiries(account, at_us);  // before the day timer of that instant
    } else {
      const uint64_t entries = entry_seq_;
      FireDay(account);
      // The turn is idle when nothing is left to renew, or when it moved no
      // money (it made no entry): the holds it left listed are short and no
      // funds can reach them, so the next turn finds the same holds, the
      // same balances and the same list, and moves nothing again. Either
      // way nothing changes before the next expiry (or the horizon): the
      // account's own events and expiries are all that move its funds.
      const bool idle = a.renewals.empty() || entry_seq_ == entries;
      if (idle && a.day_timer_us <= horizon_us && !options_.renew_every_daily_hold) {
        // Skip the idle midnights to the first at or after the bound.
        const int64_t bound = std::min(NextExpiryUs(a), horizon_us + 1);
        if (bound > a.day_timer_us) {
          a.day_timer_us = NextMidnight(a, bound - 1);
        }
      }
    }
  }
  a.clock_us = to_us;
  UpdateNextTimer(a);
}

void Ledger::FireExpiries(uint32_t account, int64_t at_us) {
  Account& a = accounts_[account];
  size_t end = a.expired_grants;
  while (end < a.grants.size() && grants_[a.grants[end]].expires_at_us == at_us) end++;
  BILLSIM_ASSERT(end > a.expired_grants);
  // R6: grants expiring at one instant go in grant id order.
  std::vector<uint32_t>& due = due_scratch_;
  due.assign(a.grants.begin() + a.expired_grants, a.grants.begin() + end);
  if (due.size() > 1) {
    std::sort(due.begin(), due.end(),
              [this](uint32_t x, uint32_t y) { return grant_id(x) < grant_id(y); });
  }
  for (uint32_t gi : due) FireExpiry(gi);
  a.expired_grants = static_cast<uint32_t>(end);
  UpdateNextExpiry(a);
}

void Ledger::FireExpiry(uint32_t grant) {
  Grant& g = grants_[grant];
  BILLSIM_ASSERT(!g.expired);
  timer_work_.expiries++;
  Account& a = accounts_[g.account];
  BILLSIM_ASSERT(g.expires_at_us == a.clock_us);
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
  if (a.day_timer_us != INT64_MAX) return;
  const int64_t next_midnight = NextMidnight(a, a.clock_us);
  BILLSIM_ASSERT(next_midnight > a.clock_us);
  a.day_timer_us = next_midnight;
  UpdateNextTimer(a);
}

void Ledger::FireDay(uint32_t account) {
  Account& a = accounts_[account];
  a.day_timer_us = INT64_MAX;
  timer_work_.days++;
  // R4: a new local day renews daily holds, earliest-enabled first. Only
  // the listed ones can be short (every other daily hold is full, and
  // topping up a full hold changes nothing), unless the reference
  // behaviour is asked for.
  std::vector<uint32_t>& renew = renew_scratch_;
  renew.assign(a.renewals.begin(), a.renewals.end());
  a.renewals.clear();
  // Their loads overlapped.
  for (uint32_t c : renew) PrefetchRenewal(a, c, renew.size());
  if (OrdersByHolding(a, renew.size())) __builtin_prefetch(a.holding.data());
  for (uint32_t c : renew) campaigns_[c].renewal_listed = false;
  if (options_.renew_every_daily_hold) {
    renew = a.holding;
  } else if (renew.size() > 1) {
    OrderRenewals(a, &renew);
  }
  for (uint32_t ci : renew) {
    const Campaign& c = campaigns_[ci];
    if (c.budget_mode != v1::BUDGET_MODE_DAY || !IsHolding(c)) continue;
    timer_work_.renewals++;
    TopUp(ci);
    ListForRenewal(ci);  // if short of funds: again
  }
  renew.clear();
  const bool any_daily = a.daily_holding > 0;
  if (any_daily) ScheduleDay(account);
}

void Ledger::OrderRenewals(const Account& a, std::vector<uint32_t>* renew) {
  if (!OrdersByHolding(a, renew->size())) {
    std::sort(renew->begin(), renew->end(), [this](uint32_t x, uint32_t y) {
      return campaign_info_[x].enable_order < campaign_info_[y].enable_order;
    });
    return;
  }
  // The holding list is in enable order (CheckInvariants), and holds every
  // campaign the turn renews: read in that order, a short list is one or
  // two loads, where each campaign's enable order (its cold state) is a
  // cache miss apiece in a large book.
  std::sort(renew->begin(), renew->end());  // for the lookups
  std::vector<uint32_t>& ordered = order_scratch_;
  ordered.clear();
  for (uint32_t ci : a.holding) {
    if (std::binary_search(renew->begin(), renew->end(), ci)) ordered.push_back(ci);
  }
  renew->swap(ordered);
}

// --- Entries ------------------------------------------------------------------

void Ledger::Emit(Entry&& e) {
  e.seq = ++entry_seq_;
  e.event_id = current_event_id_;
  // An account's entries carry its clock; refusals and duplicates, which
  // belong to no account's history, the latest clock.
  e.time_us = e.account != kNoIndex ? accounts_[e.account].clock_us : latest_us_;
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
  if (!e.note.empty()) sum += NoteHash(e.note) * 0xd6e8feb86659fd93ull;
  uint64_t h = (history_hash_ ^ sum) * 0x9e3779b97f4a7c15ull;
  history_hash_ = h ^ (h >> 29);
  if (sink_ != nullptr) sink_->Add(e);
}

uint64_t Ledger::NoteHash(const Note& note) {
  const char* literal = note.literal();
  if (literal == nullptr) return XXH3_64bits(note.data(), note.size());
  HashedNote& h = note_hashes_[(reinterpret_cast<uintptr_t>(literal) >> 4) % note_hashes_.size()];
  if (h.literal != literal) h = HashedNote{literal, XXH3_64bits(note.data(), note.size())};
  return h.hash;
}

// --- Digest and invariants ------------------------------------------------------

std::string Ledger::Digest(uint64_t* state_size) const {
  // Derived from the saved state, so that nothing in it can be missed; the
  // bytes are deterministic (no maps; fields in number order). Streamed, so
  // that a book of millions of campaigns is never held twice.
  XXH3_state_t* state = XXH3_createState();
  BILLSIM_ASSERT(state != nullptr);
  XXH3_128bits_reset(state);
  uint64_t size = 0;
  SerializeState([state, &size](std::string_view piece) {
    XXH3_128bits_update(state, piece.data(), piece.size());
    size += piece.size();
  });
  if (state_size != nullptr) *state_size = size;
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

Status Ledger::CheckInvariants() const {
  // Each grant in its own account's list once; each holding campaign in its
  // own account's holding list once, and nothing else there.
  std::vector<uint8_t> listed_grant(grants_.size()), listed_campaign(campaigns_.size());
  for (uint32_t ai = 0; ai < accounts_.size(); ++ai) {
    const Account& a = accounts_[ai];
    auto fail = [this, ai](const std::string& what) {
      return Status::Corruption("account " + std::string(account_id(ai)) + ": " + what);
    };
    // A delivery's check that it is not before the opening reads the
    // clock first (DeliveryWellFormed).
    if (a.clock_us < a.opened_at_us) return fail("its clock is before its opening");
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
      if (g.account != ai || listed_grant[gi]++ != 0) {
        return fail("grant " + GrantName(gi) + " listed twice or under another account");
      }
      if (g.remaining < 0) return fail("grant " + GrantName(gi) + " negative");
      if (g.expired && g.remaining != 0) {
        return fail("expired grant " + GrantName(gi) + " still funds (R6)");
      }
      if (g.expired != (g.expires_at_us <= a.clock_us)) {
        return fail("grant " + GrantName(gi) + " expiry does not match the clock (R6)");
      }
      credit += g.remaining;
    }
    if (credit != a.credit) return fail("grant balance != sum of grants");
    int64_t frozen = 0;
    uint64_t enabled_before = 0;
    for (uint32_t ci : a.holding) {
      const Campaign& c = campaigns_[ci];
      if (c.account != ai || !IsHolding(c) || listed_campaign[ci]++ != 0) {
        return fail("campaign " + Name(ci) + " listed as holding but is not");
      }
      // R4: top-ups, and a day's renewals (OrderRenewals), go
      // earliest-enabled first, in this list's order.
      if (campaign_info_[ci].enable_order <= enabled_before) {
        return fail("holding campaigns not in the order they were enabled: " + Name(ci));
      }
      enabled_before = campaign_info_[ci].enable_order;
      if (c.hold < 0 || c.hold > HoldTarget(ci)) {
        return fail("campaign " + Name(ci) + " holds beyond its budget (R4)");
      }
      frozen += c.hold;
    }
    if (frozen != a.frozen) return fail("frozen balance != sum of holds");
    const auto daily = std::count_if(a.holding.begin(), a.holding.end(), [this](uint32_t ci) {
      return campaigns_[ci].budget_mode == v1::BUDGET_MODE_DAY;
    });
    if (static_cast<uint32_t>(daily) != a.daily_holding) return fail("daily holds miscounted");
    // The timers' derived state (R4, R6).
    size_t expired = 0;
    while (expired < a.grants.size() && grants_[a.grants[expired]].expired) expired++;
    if (expired != a.expired_grants) {
      return fail("expired grants are not the first " + std::to_string(a.expired_grants) +
                  " of its grants");
    }
    if (a.day_timer_us != INT64_MAX && a.day_timer_us != NextMidnight(a, a.clock_us)) {
      return fail("day timer is not the first midnight after the clock");
    }
    if (a.next_expiry_us != FirstExpiryUs(a)) {
      return fail("next expiry is not its first unexpired grant's");
    }
    if (a.next_timer_us != std::min(NextExpiryUs(a), a.day_timer_us)) {
      return fail("next timer is not its earliest");
    }
    // Every daily hold that is short is listed for the next renewal.
    for (uint32_t ci : a.holding) {
      const Campaign& c = campaigns_[ci];
      if (c.budget_mode == v1::BUDGET_MODE_DAY && c.hold < c.budget && !c.renewal_listed) {
        return fail("short daily hold of campaign " + Name(ci) + " not listed for renewal (R4)");
      }
    }
    for (uint32_t ci : a.renewals) {
      if (campaigns_[ci].account != ai || !campaigns_[ci].renewal_listed) {
        return fail("renewal list names campaign " + Name(ci) + " wrongly");
      }
    }
  }
  for (uint32_t ci = 0; ci < campaigns_.size(); ++ci) {
    const Campaign& c = campaigns_[ci];
    const Reprice r = c.repriced ? reprices_.at(ci) : Reprice{};
    if (r.units < 0 || r.units > c.billed_units || r.micros < 0) {
      return Status::Corruption("campaign " + Name(ci) + ": repricing out of range (R2)");
    }
    if (!IsHolding(c) && c.hold != 0) {
      return Status::Corruption("campaign " + Name(ci) + ": holds while not active");
    }
    if (fault(ci).billed_units < 0 || fault(ci).billed_units > c.billed_units) {
      return Status::Corruption("campaign " + Name(ci) + ": fault-marked units out of range");
    }
  }
  for (size_t ci = 0; ci < campaigns_.size(); ++ci) {
    if (IsHolding(campaigns_[ci]) && !listed_campaign[ci]) {
      return Status::Corruption("campaign " + Name(ci) +
                                ": active but not in its account's holding list");
    }
  }
  std::vector<uint8_t> named(campaigns_.size());  // by a coupon
  for (size_t gi = 0; gi < grants_.size(); ++gi) {
    if (!listed_grant[gi]) {
      return Status::Corruption("grant " + GrantName(gi) + ": not in its account's list");
    }
    // A coupon funds campaigns of its own account only (R3).
    for (uint32_t ci : grant_campaigns(gi)) {
      if (ci >= campaigns_.size() || campaigns_[ci].account != grants_[gi].account) {
        return Status::Corruption("grant " + GrantName(gi) +
                                  ": names a campaign of another account");
      }
      named[ci] = 1;
    }
  }
  for (size_t ci = 0; ci < campaigns_.size(); ++ci) {
    if (campaigns_[ci].coupon_named != (named[ci] != 0)) {
      return Status::Corruption("campaign " + Name(ci) + ": marked " +
                                (campaigns_[ci].coupon_named ? "" : "not ") +
                                "named by a coupon, wrongly");
    }
  }
  return Status::Ok();
}

}  // namespace billsim
