// Ledger: the whole state to and from v1::LedgerState, for snapshots.
// Everything that Digest() covers is saved, so a restored ledger has the
// digest of the one that was saved, and applying the same tail to both gives
// the same digest again.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <functional>

#include "ledger/ledger.h"
#include "util/varint.h"

namespace billsim {

namespace {

// The wire tag of a length-delimited field.
uint32_t Tag(int field) { return static_cast<uint32_t>(field) << 3 | 2; }

}  // namespace

void Ledger::SaveHead(v1::LedgerState* s) const {
  s->Clear();
  s->set_clock_us(latest_us_);
  s->set_entry_seq(entry_seq_);
  s->set_events_applied(events_applied_);
  s->set_events_rejected(events_rejected_);
  s->set_events_duplicate(events_duplicate_);
  s->set_grant_order(grant_order_);
  s->set_enable_order(enable_order_);
  s->set_history_hash(history_hash_);
  for (const auto& [first, last] : applied_ids_.runs()) {
    auto* r = s->add_applied_ids();
    r->set_first(first);
    r->set_last(last);
  }
}

void Ledger::SaveTail(v1::LedgerState* s) const {
  s->Clear();
  s->set_min_budget_micros(options_.min_budget_micros);
  s->set_refund_grant_validity_us(options_.refund_grant_validity_us);
}

void Ledger::SaveAccount(uint32_t ai, v1::LedgerState::Account* p) const {
  const Account& a = accounts_[ai];
  p->Clear();
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
  p->set_day_timer_scheduled(a.day_timer_us != INT64_MAX);
  p->set_clock_us(a.clock_us);
}

void Ledger::SaveGrant(uint32_t gi, v1::LedgerState::Grant* p) const {
  const Grant& g = grants_[gi];
  p->Clear();
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

void Ledger::SaveCampaign(uint32_t ci, v1::LedgerState::Campaign* p) const {
  const Campaign& c = campaigns_[ci];
  const CampaignInfo& info = campaign_info_[ci];
  p->Clear();
  p->set_id(Name(ci));
  p->set_account(c.account);
  p->set_objective(info.objective);
  p->set_billing_event(info.billing_event);
  p->set_price(c.price);
  p->set_budget_mode(c.budget_mode);
  p->set_budget(c.budget);
  p->set_creative_reviewed(info.creative_reviewed);
  p->set_audience_defined(info.audience_defined);
  p->set_landing_page_url(std::string(landing_page_url(ci)));
  p->set_status(static_cast<int32_t>(c.status));
  p->set_status_reason(status_reason(ci));
  p->set_review(static_cast<int32_t>(c.review));
  p->set_enable_order(info.enable_order);
  p->set_hold(c.hold);
  p->set_billed_units(c.billed_units);
  p->set_billed_micros(c.billed_micros);
  p->set_served_units(served_units(ci));
  p->set_fault_billed_micros(info.fault_billed_micros);
  p->set_day_index(c.day_index);
  p->set_day_spent(c.day_spent);
  for (int64_t v : c.delivered) p->add_delivered(v);
  const NotBilledCounts& counts = not_billed(ci);
  for (int64_t v : counts.units) p->add_not_billed_units(v);
  for (int64_t v : counts.micros) p->add_not_billed_micros(v);
  for (const FaultCharge& f : fault_charges(ci)) {
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

void Ledger::SaveDispute(uint32_t di, v1::LedgerState::Dispute* p) const {
  const Dispute& d = disputes_[di];
  p->Clear();
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

void Ledger::SaveTimers(const std::function<void(const v1::LedgerState::Timer&)>& add) const {
  // Account by account, each account's in the order they fire: (time,
  // kind, key).
  std::vector<Due> timers;
  v1::LedgerState::Timer p;
  for (uint32_t ai = 0; ai < accounts_.size(); ++ai) {
    const Account& a = accounts_[ai];
    timers.clear();
    for (size_t i = a.expired_grants; i < a.grants.size(); ++i) {
      timers.push_back(Due{grants_[a.grants[i]].expires_at_us, kTimerExpiry, a.grants[i]});
    }
    if (a.day_timer_us != INT64_MAX) timers.push_back(Due{a.day_timer_us, kTimerDay, ai});
    std::sort(timers.begin(), timers.end(), [this](const Due& x, const Due& y) {
      return std::tie(x.at_us, x.kind, DueKey(x)) < std::tie(y.at_us, y.kind, DueKey(y));
    });
    for (const Due& t : timers) {
      p.set_at_us(t.at_us);
      p.set_kind(t.kind);
      p.set_key(DueKey(t));
      p.set_index(t.index);
      add(p);
    }
  }
}

void Ledger::SaveState(v1::LedgerState* s) const {
  v1::LedgerState tail;
  SaveHead(s);
  SaveTail(&tail);
  s->MergeFrom(tail);
  for (uint32_t i = 0; i < accounts_.size(); ++i) SaveAccount(i, s->add_accounts());
  for (uint32_t i = 0; i < grants_.size(); ++i) SaveGrant(i, s->add_grants());
  for (uint32_t i = 0; i < campaigns_.size(); ++i) SaveCampaign(i, s->add_campaigns());
  for (uint32_t i = 0; i < disputes_.size(); ++i) SaveDispute(i, s->add_disputes());
  SaveTimers([s](const v1::LedgerState::Timer& t) { *s->add_timers() = t; });
}

void Ledger::SerializeState(const std::function<void(std::string_view)>& out) const {
  // Fields in number order, as a deterministic serialization of the whole
  // message writes them: the head (1-9), each entity (10-14) framed as a
  // length-delimited field, the tail (15-16).
  std::string bytes;
  auto serialize = [&bytes](const google::protobuf::MessageLite& m) {
    bytes.clear();
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  };
  std::string frame;
  auto field = [&](int number, const google::protobuf::MessageLite& m) {
    serialize(m);
    frame.clear();
    AppendVarint(&frame, Tag(number));
    AppendVarint(&frame, bytes.size());
    out(frame);
    out(bytes);
  };
  {
    v1::LedgerState head;
    SaveHead(&head);
    serialize(head);
    out(bytes);
  }
  v1::LedgerState::Account account;
  for (uint32_t i = 0; i < accounts_.size(); ++i) {
    SaveAccount(i, &account);
    field(v1::LedgerState::kAccountsFieldNumber, account);
  }
  v1::LedgerState::Grant grant;
  for (uint32_t i = 0; i < grants_.size(); ++i) {
    SaveGrant(i, &grant);
    field(v1::LedgerState::kGrantsFieldNumber, grant);
  }
  v1::LedgerState::Campaign campaign;
  for (uint32_t i = 0; i < campaigns_.size(); ++i) {
    SaveCampaign(i, &campaign);
    field(v1::LedgerState::kCampaignsFieldNumber, campaign);
  }
  v1::LedgerState::Dispute dispute;
  for (uint32_t i = 0; i < disputes_.size(); ++i) {
    SaveDispute(i, &dispute);
    field(v1::LedgerState::kDisputesFieldNumber, dispute);
  }
  SaveTimers([&](const v1::LedgerState::Timer& t) {
    field(v1::LedgerState::kTimersFieldNumber, t);
  });
  v1::LedgerState tail;
  SaveTail(&tail);
  serialize(tail);
  out(bytes);
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
        c.served_units() > c.billed_units() ||
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
    // Set from its timer below.
    a.day_timer_us = p.day_timer_scheduled() ? INT64_MIN : INT64_MAX;
    a.clock_us = p.clock_us();
    if (!fresh.account_index_.Insert(static_cast<uint32_t>(fresh.accounts_.size() - 1))) {
      return bad("account " + p.id() + " appears twice");
    }
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
    if (!fresh.grant_index_.Insert(static_cast<uint32_t>(fresh.grants_.size() - 1))) {
      return bad("grant " + p.id() + " appears twice");
    }
  }
  for (const auto& p : s.campaigns()) {
    if (p.account() >= n_accounts || p.status() < 0 || p.status() > 2 ||
        p.review() < 0 || p.review() > 3) {
      return bad("campaign " + p.id() + " is out of range");
    }
    const uint32_t ci = static_cast<uint32_t>(fresh.campaigns_.size());
    Campaign& c = fresh.campaigns_.emplace_back();
    CampaignInfo& info = fresh.campaign_info_.emplace_back();
    info.id = fresh.strings_.Add(p.id());
    c.account = p.account();
    info.objective = p.objective();
    info.billing_event = p.billing_event();
    switch (info.billing_event) {
      case v1::BILLING_EVENT_CPM: c.billable_kind = v1::DeliveryReported::IMPRESSION; break;
      case v1::BILLING_EVENT_CPC: c.billable_kind = v1::DeliveryReported::CLICK; break;
      case v1::BILLING_EVENT_CPV_2S: c.billable_kind = v1::DeliveryReported::VIDEO_VIEW_2S; break;
      case v1::BILLING_EVENT_CPV_6S: c.billable_kind = v1::DeliveryReported::VIDEO_VIEW_6S; break;
      default: return bad("campaign " + p.id() + " has no billing event");
    }
    c.price = p.price();
    if (c.price <= 0) return bad("campaign " + p.id() + " has no price");
    c.budget_mode = p.budget_mode();
    c.budget = p.budget();
    info.creative_reviewed = p.creative_reviewed();
    info.audience_defined = p.audience_defined();
    info.landing_page_url = fresh.strings_.Add(p.landing_page_url());
    c.status = static_cast<Campaign::Status>(p.status());
    fresh.SetStatusReason(ci, p.status_reason());
    c.review = static_cast<Campaign::Review>(p.review());
    info.enable_order = p.enable_order();
    c.hold = p.hold();
    c.billed_units = p.billed_units();
    c.billed_micros = p.billed_micros();
    info.fault_billed_units = p.billed_units() - p.served_units();
    info.fault_billed_micros = p.fault_billed_micros();
    c.day_index = static_cast<int32_t>(p.day_index());
    c.day_spent = p.day_spent();
    c.billable_units_max = BillableUnitsMax(c.price, c.per_units());
    NotBilledCounts counts;
    if (!CopyArray(p.delivered(), &c.delivered) ||
        !CopyArray(p.not_billed_units(), &counts.units) ||
        !CopyArray(p.not_billed_micros(), &counts.micros)) {
      return bad("campaign " + p.id() + " counters have the wrong size");
    }
    if (std::any_of(counts.units.begin(), counts.units.end(), [](int64_t v) { return v != 0; }) ||
        std::any_of(counts.micros.begin(), counts.micros.end(), [](int64_t v) { return v != 0; })) {
      fresh.MutableNotBilled(ci) = counts;
    }
    for (const auto& f : p.fault_charges()) {
      FaultCharge& fc = fresh.MutableFaultCharges(ci).emplace_back();
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
    if (!fresh.campaign_index_.Insert(ci)) return bad("campaign " + p.id() + " appears twice");
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
    if (!fresh.dispute_index_.Insert(static_cast<uint32_t>(fresh.disputes_.size() - 1))) {
      return bad("dispute " + p.id() + " appears twice");
    }
  }
  // Timers: exactly one expiry per unexpired grant, at its expiry, and one
  // day timer per account that says it has one, at the first local
  // midnight after its clock.
  size_t expiry_timers = 0;
  std::vector<uint8_t> timed(n_grants);
  for (const auto& p : s.timers()) {
    const size_t bound = p.kind() == kTimerExpiry ? n_grants : n_accounts;
    if ((p.kind() != kTimerExpiry && p.kind() != kTimerDay) || p.index() >= bound) {
      return bad("timer " + p.key() + " is out of range");
    }
    const bool expiry = p.kind() == kTimerExpiry;
    const uint32_t account = expiry ? fresh.grants_[p.index()].account : p.index();
    Account& a = fresh.accounts_[account];
    const int64_t midnight = fresh.NextMidnight(a, a.clock_us);
    const bool matches =
        expiry ? !fresh.grants_[p.index()].expired &&
                     fresh.grants_[p.index()].expires_at_us == p.at_us() &&
                     fresh.grants_[p.index()].id == p.key() && timed[p.index()]++ == 0
               : a.day_timer_us == INT64_MIN && a.id == p.key() && p.at_us() == midnight;
    if (!matches || p.at_us() <= a.clock_us) {
      return bad("timer " + p.key() + " does not match the state");
    }
    if (expiry) {
      expiry_timers++;
    } else {
      a.day_timer_us = p.at_us();
    }
  }
  const size_t live_grants = std::count_if(
      fresh.grants_.begin(), fresh.grants_.end(), [](const Grant& g) { return !g.expired; });
  const bool days_timed =
      std::none_of(fresh.accounts_.begin(), fresh.accounts_.end(),
                   [](const Account& a) { return a.day_timer_us == INT64_MIN; });
  if (expiry_timers != live_grants || !days_timed) {
    return bad("timers do not match the grants and accounts");
  }
  for (uint32_t ai = 0; ai < fresh.accounts_.size(); ++ai) {
    Account& a = fresh.accounts_[ai];
    // R3 order, which puts the expired grants first (CheckInvariants: a
    // grant has expired exactly when its expiry is not after the clock).
    auto key = [&fresh](uint32_t gi) {
      const Grant& g = fresh.grants_[gi];
      return std::tie(g.expires_at_us, g.order, g.id);
    };
    for (size_t i = 1; i < a.grants.size(); ++i) {
      if (!(key(a.grants[i - 1]) < key(a.grants[i]))) {
        return bad("account " + a.id + ": grants out of R3 order");
      }
    }
    while (a.expired_grants < a.grants.size() &&
           fresh.grants_[a.grants[a.expired_grants]].expired) {
      a.expired_grants++;
    }
    fresh.UpdateNextTimer(a);
    // Any daily hold may be short: all are listed for the next renewal.
    for (uint32_t ci : a.holding) {
      fresh.ListForRenewal(ci);
      if (fresh.campaigns_[ci].budget_mode == v1::BUDGET_MODE_DAY) a.daily_holding++;
    }
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
  campaign_info_ = std::move(fresh.campaign_info_);
  strings_ = std::move(fresh.strings_);
  reasons_ = std::move(fresh.reasons_);
  not_billed_ = std::move(fresh.not_billed_);
  fault_charges_ = std::move(fresh.fault_charges_);
  renew_scratch_.clear();
  grants_ = std::move(fresh.grants_);
  disputes_ = std::move(fresh.disputes_);
  RebuildIndexes();
  applied_ids_ = std::move(fresh.applied_ids_);
  return Status::Ok();
}

}  // namespace billsim
