// Ledger: the whole state to and from v1::LedgerState, for snapshots.
// Everything that Digest() covers is saved, so a restored ledger has the
// digest of the one that was saved, and applying the same tail to both gives
// the same digest again.
#include <algorithm>

#include "ledger/ledger.h"

namespace billsim {

void Ledger::SaveState(v1::LedgerState* s) const {
  s->Clear();
  s->set_clock_us(latest_us_);
  s->set_entry_seq(entry_seq_);
  s->set_events_applied(events_applied_);
  s->set_events_rejected(events_rejected_);
  s->set_events_duplicate(events_duplicate_);
  s->set_grant_order(grant_order_);
  s->set_enable_order(enable_order_);
  s->set_history_hash(history_hash_);
  s->set_min_budget_micros(options_.min_budget_micros);
  s->set_refund_grant_validity_us(options_.refund_grant_validity_us);
  for (const auto& [first, last] : applied_ids_.runs()) {
    auto* r = s->add_applied_ids();
    r->set_first(first);
    r->set_last(last);
  }
  for (const Account& a : accounts_) {
    auto* p = s->add_accounts();
    p->set_id(a.id);
    p->set_currency(a.currency);
    p->set_name(a.name);
    p->set_utc_offset_minutes(a.utc_offset_minutes);
    p->set_funding_order(a.funding_order);
    p->set_opened_at_us(a.opened_at_us);
    p->set_cash(a.cash);
    p->set_credit(a.credit);
    p->set_frozen(a.frozen);
    p->set_deposited(a.deposited);
    p->set_granted(a.granted);
    p->set_spent(a.spent);
    p->set_expired(a.expired);
    p->set_adjusted(a.adjusted);
    for (uint32_t g : a.grants) p->add_grants(g);
    for (uint32_t c : a.holding) p->add_holding(c);
    p->set_day_timer_scheduled(a.day_timer_scheduled);
    p->set_clock_us(a.clock_us);
  }
  for (const Grant& g : grants_) {
    auto* p = s->add_grants();
    p->set_id(g.id);
    p->set_program(g.program);
    p->set_account(g.account);
    p->set_order(g.order);
    p->set_amount(g.amount);
    p->set_remaining(g.remaining);
    p->set_expires_at_us(g.expires_at_us);
    p->set_expired_micros(g.expired_micros);
    p->set_expired(g.expired);
    p->set_adjustment(g.adjustment);
    for (uint32_t c : g.campaigns) p->add_campaigns(c);
  }
  for (const Campaign& c : campaigns_) {
    auto* p = s->add_campaigns();
    p->set_id(c.id);
    p->set_account(c.account);
    p->set_objective(c.objective);
    p->set_billing_event(c.billing_event);
    p->set_price(c.price);
    p->set_budget_mode(c.budget_mode);
    p->set_budget(c.budget);
    p->set_creative_reviewed(c.creative_reviewed);
    p->set_audience_defined(c.audience_defined);
    p->set_landing_page_url(c.landing_page_url);
    p->set_status(static_cast<int32_t>(c.status));
    p->set_status_reason(c.status_reason);
    p->set_review(static_cast<int32_t>(c.review));
    p->set_enable_order(c.enable_order);
    p->set_hold(c.hold);
    p->set_billed_units(c.billed_units);
    p->set_billed_micros(c.billed_micros);
    p->set_served_units(c.served_units);
    p->set_fault_billed_micros(c.fault_billed_micros);
    p->set_day_index(c.day_index);
    p->set_day_spent(c.day_spent);
    for (int64_t v : c.delivered) p->add_delivered(v);
    for (int64_t v : c.not_billed_units) p->add_not_billed_units(v);
    for (int64_t v : c.not_billed_micros) p->add_not_billed_micros(v);
    for (const FaultCharge& f : c.fault_charges) {
      auto* fp = p->add_fault_charges();
      fp->set_time_us(f.time_us);
      for (const auto& part : f.parts) {
        auto* pp = fp->add_parts();
        pp->set_grant(part.grant);
        pp->set_amount(part.amount);
        pp->set_adjusted(part.adjusted);
      }
    }
  }
  for (const Dispute& d : disputes_) {
    auto* p = s->add_disputes();
    p->set_id(d.id);
    p->set_account(d.account);
    p->set_campaign(d.campaign);
    p->set_reason(d.reason);
    p->set_status(d.status);
    p->set_status_note(d.status_note);
    p->set_window_start_us(d.window_start_us);
    p->set_window_end_us(d.window_end_us);
    p->set_claimed(d.claimed);
    p->set_verifiable(d.verifiable);
    p->set_adjusted(d.adjusted);
    p->set_has_screenshot(d.has_screenshot);
    p->set_has_spend_report(d.has_spend_report);
    p->set_has_delivery_data(d.has_delivery_data);
  }
  for (const Timer& t : timers_) {
    auto* p = s->add_timers();
    p->set_at_us(t.at_us);
    p->set_kind(t.kind);
    p->set_key(t.key);
    p->set_index(t.index);
  }
}

namespace {

template <typename T>
bool AllBelow(const T& indexes, size_t bound) {
  return std::all_of(indexes.begin(), indexes.end(),
                     [bound](uint32_t i) { return i < bound; });
}

template <size_t N>
bool CopyArray(const google::protobuf::RepeatedField<int64_t>& from,
               std::array<int64_t, N>* to) {
  if (static_cast<size_t>(from.size()) != N) return false;
  std::copy(from.begin(), from.end(), to->begin());
  return true;
}

bool In(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }
bool Money(int64_t v) { return In(v, 0, kAccountFundsMaxMicros); }
bool Time(int64_t v) { return In(v, 0, kTimeMaxUs); }
// Refund grants may expire up to their validity past kTimeMaxUs.
bool Expiry(int64_t v) { return In(v, 0, 2 * kTimeMaxUs); }
template <typename T>
bool AllMoney(const T& values) {
  return std::all_of(values.begin(), values.end(), Money);
}

// Every number of a saved state within the bounds the ledger keeps (R11),
// checked before any of them is used: a damaged or hostile snapshot is
// refused, never reaches an assertion or overflows. Relations between the
// values are CheckInvariants' and RestoreState's.
std::string OutOfRange(const v1::LedgerState& s) {
  if (!In(s.min_budget_micros(), 0, kAmountMaxMicros) ||
      !In(s.refund_grant_validity_us(), 1, kTimeMaxUs) || !Time(s.clock_us())) {
    return "options or clock";
  }
  for (const auto& a : s.accounts()) {
    if (!Time(a.clock_us()) || !In(a.opened_at_us(), 0, a.clock_us()) ||
        a.clock_us() > s.clock_us() || a.utc_offset_minutes() % 30 != 0 ||
        !In(a.utc_offset_minutes(), -720, 840) ||
        !v1::FundingOrder_IsValid(a.funding_order()) ||
        !AllMoney(std::initializer_list<int64_t>{
            a.cash(), a.credit(), a.frozen(), a.deposited(), a.granted(),
            a.spent(), a.expired(), a.adjusted()})) {
      return "account " + a.id();
    }
  }
  for (const auto& g : s.grants()) {
    if (!Money(g.amount()) || !Money(g.remaining()) ||
        !Money(g.expired_micros()) || !Expiry(g.expires_at_us())) {
      return "grant " + g.id();
    }
  }
  for (const auto& c : s.campaigns()) {
    if (!In(c.price(), 1, kAmountMaxMicros) || !In(c.budget(), 0, kAmountMaxMicros) ||
        !v1::BudgetMode_IsValid(c.budget_mode()) ||
        c.budget_mode() == v1::BUDGET_MODE_UNSPECIFIED ||
        !In(c.day_index(), -1, kTimeMaxUs / kMicrosPerDay + 1) ||
        !AllMoney(std::initializer_list<int64_t>{
            c.hold(), c.billed_units(), c.billed_micros(), c.served_units(),
            c.fault_billed_micros(), c.day_spent()}) ||
        !AllMoney(c.delivered()) || !AllMoney(c.not_billed_units()) ||
        !AllMoney(c.not_billed_micros())) {
      return "campaign " + c.id();
    }
    for (const auto& f : c.fault_charges()) {
      if (!Time(f.time_us())) return "campaign " + c.id() + " fault charge";
      for (const auto& p : f.parts()) {
        if (!Money(p.amount()) || !In(p.adjusted(), 0, p.amount())) {
          return "campaign " + c.id() + " fault charge";
        }
      }
    }
  }
  for (const auto& d : s.disputes()) {
    if (!Time(d.window_start_us()) || !Time(d.window_end_us()) ||
        !Money(d.claimed()) || !Money(d.verifiable()) || !Money(d.adjusted()) ||
        !v1::DisputeReason_IsValid(d.reason()) ||
        !v1::DisputeStatus_IsValid(d.status())) {
      return "dispute " + d.id();
    }
  }
  for (const auto& t : s.timers()) {
    if (!Expiry(t.at_us())) return "timer " + t.key();
  }
  return "";
}

}  // namespace

Status Ledger::RestoreState(const v1::LedgerState& s) {
  if (const std::string what = OutOfRange(s); !what.empty()) {
    return Status::Corruption("snapshot state: " + what +
                              " has a value out of range");
  }
  Ledger fresh(options_);
  fresh.options_.min_budget_micros = s.min_budget_micros();
  fresh.options_.refund_grant_validity_us = s.refund_grant_validity_us();
  fresh.latest_us_ = s.clock_us();
  fresh.entry_seq_ = s.entry_seq();
  fresh.events_applied_ = s.events_applied();
  fresh.events_rejected_ = s.events_rejected();
  fresh.events_duplicate_ = s.events_duplicate();
  fresh.grant_order_ = s.grant_order();
  fresh.enable_order_ = s.enable_order();
  fresh.history_hash_ = s.history_hash();
  auto bad = [](const std::string& what) {
    return Status::Corruption("snapshot state: " + what);
  };
  const size_t n_accounts = s.accounts_size();
  const size_t n_grants = s.grants_size();
  const size_t n_campaigns = s.campaigns_size();
  uint64_t prev_last = 0;
  for (const auto& r : s.applied_ids()) {
    if (r.first() > r.last() || (fresh.applied_ids_.ranges() > 0 &&
                                 r.first() <= prev_last + 1)) {
      return bad("applied id ranges overlap or are out of order");
    }
    fresh.applied_ids_.InsertRange(r.first(), r.last());
    prev_last = r.last();
  }
  for (const auto& p : s.accounts()) {
    if (!AllBelow(p.grants(), n_grants) || !AllBelow(p.holding(), n_campaigns)) {
      return bad("account " + p.id() + " names a grant or campaign out of range");
    }
    Account& a = fresh.accounts_.emplace_back();
    a.id = p.id();
    a.currency = p.currency();
    a.name = p.name();
    a.utc_offset_minutes = p.utc_offset_minutes();
    a.funding_order = p.funding_order();
    a.opened_at_us = p.opened_at_us();
    a.cash = p.cash();
    a.credit = p.credit();
    a.frozen = p.frozen();
    a.deposited = p.deposited();
    a.granted = p.granted();
    a.spent = p.spent();
    a.expired = p.expired();
    a.adjusted = p.adjusted();
    a.grants.assign(p.grants().begin(), p.grants().end());
    a.holding.assign(p.holding().begin(), p.holding().end());
    a.day_timer_scheduled = p.day_timer_scheduled();
    a.clock_us = p.clock_us();
    fresh.account_index_.emplace(a.id, fresh.accounts_.size() - 1);
  }
  for (const auto& p : s.grants()) {
    if (p.account() >= n_accounts || !AllBelow(p.campaigns(), n_campaigns)) {
      return bad("grant " + p.id() + " names an account or campaign out of range");
    }
    Grant& g = fresh.grants_.emplace_back();
    g.id = p.id();
    g.program = p.program();
    g.account = p.account();
    g.order = p.order();
    g.amount = p.amount();
    g.remaining = p.remaining();
    g.expires_at_us = p.expires_at_us();
    g.expired_micros = p.expired_micros();
    g.expired = p.expired();
    g.adjustment = p.adjustment();
    g.campaigns.assign(p.campaigns().begin(), p.campaigns().end());
    if (!g.campaigns.empty()) fresh.accounts_[g.account].restricted_grants++;
    fresh.grant_index_.emplace(g.id, fresh.grants_.size() - 1);
  }
  for (const auto& p : s.campaigns()) {
    if (p.account() >= n_accounts || p.status() < 0 || p.status() > 2 ||
        p.review() < 0 || p.review() > 3) {
      return bad("campaign " + p.id() + " is out of range");
    }
    Campaign& c = fresh.campaigns_.emplace_back();
    c.id = p.id();
    c.account = p.account();
    c.objective = p.objective();
    c.billing_event = p.billing_event();
    switch (c.billing_event) {
      case v1::BILLING_EVENT_CPM: c.billable_kind = v1::DeliveryReported::IMPRESSION; break;
      case v1::BILLING_EVENT_CPC: c.billable_kind = v1::DeliveryReported::CLICK; break;
      case v1::BILLING_EVENT_CPV_2S: c.billable_kind = v1::DeliveryReported::VIDEO_VIEW_2S; break;
      case v1::BILLING_EVENT_CPV_6S: c.billable_kind = v1::DeliveryReported::VIDEO_VIEW_6S; break;
      default: return bad("campaign " + p.id() + " has no billing event");
    }
    c.per_units = c.billing_event == v1::BILLING_EVENT_CPM ? 1000 : 1;
    c.price = p.price();
    if (c.price <= 0) return bad("campaign " + p.id() + " has no price");
    c.budget_mode = p.budget_mode();
    c.budget = p.budget();
    c.creative_reviewed = p.creative_reviewed();
    c.audience_defined = p.audience_defined();
    c.landing_page_url = p.landing_page_url();
    c.status = static_cast<Campaign::Status>(p.status());
    c.status_reason = p.status_reason();
    c.review = static_cast<Campaign::Review>(p.review());
    c.enable_order = p.enable_order();
    c.hold = p.hold();
    c.billed_units = p.billed_units();
    c.billed_micros = p.billed_micros();
    c.served_units = p.served_units();
    c.fault_billed_micros = p.fault_billed_micros();
    c.day_index = p.day_index();
    c.day_spent = p.day_spent();
    c.billable_units_max = BillableUnitsMax(c.price, c.per_units);
    if (!CopyArray(p.delivered(), &c.delivered) ||
        !CopyArray(p.not_billed_units(), &c.not_billed_units) ||
        !CopyArray(p.not_billed_micros(), &c.not_billed_micros)) {
      return bad("campaign " + p.id() + " counters have the wrong size");
    }
    for (const auto& f : p.fault_charges()) {
      FaultCharge& fc = c.fault_charges.emplace_back();
      fc.time_us = f.time_us();
      for (const auto& part : f.parts()) {
        // A refund goes back to the grant that paid: it must be one of the
        // campaign's own account (grants are restored before campaigns).
        if (part.grant() != kNoIndex && (part.grant() >= n_grants ||
                                         fresh.grants_[part.grant()].account != c.account)) {
          return bad("campaign " + p.id() + " fault charge names a grant out of range");
        }
        fc.parts.push_back({part.grant(), part.amount(), part.adjusted()});
      }
    }
    fresh.campaign_index_.emplace(c.id, fresh.campaigns_.size() - 1);
  }
  for (const auto& p : s.disputes()) {
    if (p.account() >= n_accounts || p.campaign() >= n_campaigns ||
        fresh.campaigns_[p.campaign()].account != p.account()) {
      return bad("dispute " + p.id() + " names an account or campaign out of range");
    }
    Dispute& d = fresh.disputes_.emplace_back();
    d.id = p.id();
    d.account = p.account();
    d.campaign = p.campaign();
    d.reason = p.reason();
    d.status = static_cast<v1::DisputeStatus>(p.status());
    d.status_note = p.status_note();
    d.window_start_us = p.window_start_us();
    d.window_end_us = p.window_end_us();
    d.claimed = p.claimed();
    d.verifiable = p.verifiable();
    d.adjusted = p.adjusted();
    d.has_screenshot = p.has_screenshot();
    d.has_spend_report = p.has_spend_report();
    d.has_delivery_data = p.has_delivery_data();
    fresh.dispute_index_.emplace(d.id, fresh.disputes_.size() - 1);
  }
  // Timers: exactly one expiry per unexpired grant, at its expiry, and one
  // day timer per account that says it has one, each after its clock.
  size_t expiry_timers = 0, day_timers = 0;
  for (const auto& p : s.timers()) {
    const size_t bound = p.kind() == kTimerExpiry ? n_grants : n_accounts;
    if ((p.kind() != kTimerExpiry && p.kind() != kTimerDay) || p.index() >= bound) {
      return bad("timer " + p.key() + " is out of range");
    }
    const bool expiry = p.kind() == kTimerExpiry;
    const uint32_t account = expiry ? fresh.grants_[p.index()].account : p.index();
    const Account& a = fresh.accounts_[account];
    const bool matches =
        expiry ? !fresh.grants_[p.index()].expired &&
                     fresh.grants_[p.index()].expires_at_us == p.at_us() &&
                     fresh.grants_[p.index()].id == p.key()
               : a.day_timer_scheduled && a.id == p.key();
    if (!matches || p.at_us() <= a.clock_us ||
        !fresh.timers_.insert(Timer{account, p.at_us(), p.kind(), p.key(), p.index()})
             .second) {
      return bad("timer " + p.key() + " does not match the state");
    }
    Account& owner = fresh.accounts_[account];
    owner.next_timer_us = std::min(owner.next_timer_us, p.at_us());
    (expiry ? expiry_timers : day_timers)++;
  }
  const size_t live_grants = std::count_if(
      fresh.grants_.begin(), fresh.grants_.end(), [](const Grant& g) { return !g.expired; });
  const size_t day_scheduled =
      std::count_if(fresh.accounts_.begin(), fresh.accounts_.end(),
                    [](const Account& a) { return a.day_timer_scheduled; });
  if (expiry_timers != live_grants || day_timers != day_scheduled) {
    return bad("timers do not match the grants and accounts");
  }
  const Status invariants = fresh.CheckInvariants();
  if (!invariants.ok()) return bad(invariants.message());

  // Commit: only a state that passed every check replaces ours.
  options_ = fresh.options_;
  latest_us_ = fresh.latest_us_;
  entry_seq_ = fresh.entry_seq_;
  events_applied_ = fresh.events_applied_;
  events_rejected_ = fresh.events_rejected_;
  events_duplicate_ = fresh.events_duplicate_;
  grant_order_ = fresh.grant_order_;
  enable_order_ = fresh.enable_order_;
  history_hash_ = fresh.history_hash_;
  accounts_ = std::move(fresh.accounts_);
  campaigns_ = std::move(fresh.campaigns_);
  grants_ = std::move(fresh.grants_);
  disputes_ = std::move(fresh.disputes_);
  account_index_ = std::move(fresh.account_index_);
  campaign_index_ = std::move(fresh.campaign_index_);
  grant_index_ = std::move(fresh.grant_index_);
  dispute_index_ = std::move(fresh.dispute_index_);
  applied_ids_ = std::move(fresh.applied_ids_);
  timers_ = std::move(fresh.timers_);
  return Status::Ok();
}

}  // namespace billsim
