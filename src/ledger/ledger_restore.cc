// Ledger::Restorer: a saved state (SerializeState's parts) back into a
// ledger, part by part. Every number is checked against R11's bounds before
// it is used, and every index against what is restored, so that a damaged
// or hostile snapshot is refused and never reaches an assertion or
// overflows. The relations between values are CheckInvariants'.
#include <algorithm>
#include <initializer_list>

#include "ledger/ledger.h"

namespace billsim {

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

Status Bad(const std::string& what) { return Status::Corruption("snapshot state: " + what); }
Status OutOfRange(const std::string& what) { return Bad(what + " has a value out of range"); }

bool InRange(const v1::LedgerState::Account& a) {
  // Its clock against the state's: at Finish.
  return Time(a.clock_us()) && In(a.opened_at_us(), 0, a.clock_us()) &&
         a.utc_offset_minutes() % 30 == 0 && In(a.utc_offset_minutes(), -720, 840) &&
         v1::FundingOrder_IsValid(a.funding_order()) &&
         AllMoney(std::initializer_list<int64_t>{a.cash(), a.credit(), a.frozen(), a.deposited(),
                                                 a.granted(), a.spent(), a.expired(),
                                                 a.adjusted()});
}

bool InRange(const v1::LedgerState::Grant& g) {
  return Money(g.amount()) && Money(g.remaining()) && Money(g.expired_micros()) &&
         Expiry(g.expires_at_us());
}

bool InRange(const v1::LedgerState::Campaign& c) {
  return In(c.price(), 1, kAmountMaxMicros) && In(c.budget(), 0, kAmountMaxMicros) &&
         v1::BudgetMode_IsValid(c.budget_mode()) &&
         c.budget_mode() != v1::BUDGET_MODE_UNSPECIFIED &&
         In(c.day_index(), -1, kTimeMaxUs / kMicrosPerDay + 1) &&
         AllMoney(std::initializer_list<int64_t>{c.hold(), c.billed_units(), c.billed_micros(),
                                                 c.served_units(), c.fault_billed_micros(),
                                                 c.day_spent()}) &&
         c.served_units() <= c.billed_units() && AllMoney(c.delivered()) &&
         AllMoney(c.not_billed_units()) && AllMoney(c.not_billed_micros());
}

bool InRange(const v1::LedgerState::FaultCharge& f) {
  return Time(f.time_us()) &&
         std::all_of(f.parts().begin(), f.parts().end(), [](const auto& p) {
           return Money(p.amount()) && In(p.adjusted(), 0, p.amount());
         });
}

bool InRange(const v1::LedgerState::Dispute& d) {
  return Time(d.window_start_us()) && Time(d.window_end_us()) && Money(d.claimed()) &&
         Money(d.verifiable()) && Money(d.adjusted()) && v1::DisputeReason_IsValid(d.reason()) &&
         v1::DisputeStatus_IsValid(d.status());
}

}  // namespace

Ledger::Restorer::Restorer(const LedgerOptions& options)
    : fresh_(std::make_unique<Ledger>(options)) {}

Ledger::Restorer::~Restorer() = default;

Status Ledger::Restorer::AddAccount(const v1::LedgerState::Account& p) {
  if (!InRange(p)) return OutOfRange("account " + p.id());
  // Its grants and holding campaigns come later: checked at Finish.
  Ledger& f = *fresh_;
  Account& a = f.accounts_.emplace_back();
  a.id_and_name = f.strings_.AddPair(p.id(), p.name());
  a.currency_index = f.currencies_.Intern(p.currency());
  a.utc_offset_minutes = static_cast<int16_t>(p.utc_offset_minutes());  // checked above
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
  if (p.business_center_id().size() > kNameBytesMax) {
    return Bad("account " + p.id() + " has a business center id over " +
               std::to_string(kNameBytesMax) + " bytes");
  }
  if (!p.business_center_id().empty()) {
    f.JoinBusinessCenter(static_cast<uint32_t>(f.accounts_.size() - 1), p.business_center_id());
  }
  // Set from its timer (AddTimer).
  a.day_timer_us = p.day_timer_scheduled() ? INT64_MIN : INT64_MAX;
  a.clock_us = p.clock_us();
  if (!f.account_index_.Insert(static_cast<uint32_t>(f.accounts_.size() - 1))) {
    return Bad("account " + p.id() + " appears twice");
  }
  return Status::Ok();
}

Status Ledger::Restorer::AddGrant(const v1::LedgerState::Grant& p) {
  if (!InRange(p)) return OutOfRange("grant " + p.id());
  Ledger& f = *fresh_;
  if (p.account() >= f.accounts_.size()) {
    return Bad("grant " + p.id() + " names an account or campaign out of range");
  }
  // Sorted and unique, as OnCreditGranted keeps them (GrantFunds searches
  // them); their range is checked at Finish.
  for (int i = 1; i < p.campaigns_size(); ++i) {
    if (p.campaigns(i - 1) >= p.campaigns(i)) {
      return Bad("grant " + p.id() + " lists its campaigns out of order or twice");
    }
  }
  Grant& g = f.grants_.emplace_back();
  g.id_handle = f.strings_.Add(p.id());
  g.program_index = f.programs_.Intern(p.program());
  g.account = p.account();
  g.order = p.order();
  g.amount = p.amount();
  g.remaining = p.remaining();
  g.expires_at_us = p.expires_at_us();
  g.expired_micros = p.expired_micros();
  g.expired = p.expired();
  g.adjustment = p.adjustment();
  if (p.campaigns_size() > 0) {
    g.scope = static_cast<uint32_t>(f.grant_scopes_.size());
    f.grant_scopes_.emplace_back().assign(p.campaigns().begin(), p.campaigns().end());
    f.accounts_[g.account].restricted_grants++;
  }
  timed_.push_back(0);
  if (!f.grant_index_.Insert(static_cast<uint32_t>(f.grants_.size() - 1))) {
    return Bad("grant " + p.id() + " appears twice");
  }
  return Status::Ok();
}

Status Ledger::Restorer::AddCampaign(const v1::LedgerState::Campaign& p) {
  if (!InRange(p)) return OutOfRange("campaign " + p.id());
  for (const auto& fc : p.fault_charges()) {
    if (!InRange(fc)) return OutOfRange("campaign " + p.id() + " fault charge");
  }
  Ledger& f = *fresh_;
  if (p.account() >= f.accounts_.size() || p.status() < 0 || p.status() > 2 || p.review() < 0 ||
      p.review() > 3) {
    return Bad("campaign " + p.id() + " is out of range");
  }
  const uint32_t ci = static_cast<uint32_t>(f.campaigns_.size());
  Campaign& c = f.campaigns_.emplace_back();
  CampaignInfo& info = f.campaign_info_.emplace_back();
  f.SetIdAndLandingPage(&info, p.id(), p.landing_page_url());
  c.account = p.account();
  f.accounts_[c.account].campaigns.push_back(ci);
  if (p.name().size() > kNameBytesMax) {
    return Bad("campaign " + p.id() + " has a name over " + std::to_string(kNameBytesMax) +
               " bytes");
  }
  f.SetCampaignName(ci, p.name());
  if (!v1::Objective_IsValid(p.objective())) {
    return Bad("campaign " + p.id() + " has an unknown objective");
  }
  info.objective = static_cast<uint8_t>(p.objective());
  switch (p.billing_event()) {
    case v1::BILLING_EVENT_CPM: c.billable_kind = v1::DeliveryReported::IMPRESSION; break;
    case v1::BILLING_EVENT_CPC: c.billable_kind = v1::DeliveryReported::CLICK; break;
    case v1::BILLING_EVENT_CPV_2S: c.billable_kind = v1::DeliveryReported::VIDEO_VIEW_2S; break;
    case v1::BILLING_EVENT_CPV_6S: c.billable_kind = v1::DeliveryReported::VIDEO_VIEW_6S; break;
    default: return Bad("campaign " + p.id() + " has no billing event");
  }
  info.billing_event = static_cast<uint8_t>(p.billing_event());
  c.price = p.price();
  c.budget_mode = p.budget_mode();
  c.budget = p.budget();
  info.creative_reviewed = p.creative_reviewed();
  info.audience_defined = p.audience_defined();
  c.status = static_cast<Campaign::Status>(p.status());
  f.SetStatusReason(ci, p.status_reason());
  c.review = static_cast<Campaign::Review>(p.review());
  info.enable_order = p.enable_order();
  c.hold = p.hold();
  c.billed_units = p.billed_units();
  if (p.billed_units() != p.served_units() || p.fault_billed_micros() != 0 ||
      p.fault_charges_size() > 0) {
    FaultRecord& fr = f.MutableFault(ci);
    fr.billed_units = p.billed_units() - p.served_units();
    fr.billed_micros = p.fault_billed_micros();
  }
  c.day_index = static_cast<int32_t>(p.day_index());
  c.day_spent = p.day_spent();
  NotBilledCounts counts;
  std::array<int64_t, 6> delivered;
  if (!CopyArray(p.delivered(), &delivered) || !CopyArray(p.not_billed_units(), &counts.units) ||
      !CopyArray(p.not_billed_micros(), &counts.micros)) {
    return Bad("campaign " + p.id() + " counters have the wrong size");
  }
  if (p.repriced()) {
    // R2 counts from the update that set the price (CheckInvariants checks
    // the charge from there); R11's bound is the one it set.
    if (p.repriced_units() < 0 || p.repriced_units() > p.billed_units() ||
        p.repriced_micros() < 0 || p.repriced_micros() > p.billed_micros() ||
        p.repriced_units_max() < 0 || p.repriced_units_max() > kCampaignUnitsMax) {
      return Bad("campaign " + p.id() + " has a repricing out of range");
    }
    // Whatever the update left, units past those delivered cost at most
    // what R11 leaves after the charge at the update: so no charge or
    // would-be amount can pass the bounds its arithmetic relies on.
    const int64_t units = delivered[c.billable_kind];
    if (p.repriced_units_max() < units ||
        p.repriced_units_max() - units >
            BillableUnitsWithin(c.price, c.per_units(),
                                kCampaignCostMaxMicros - p.repriced_micros())) {
      return Bad("campaign " + p.id() + " has a repricing bound beyond R11's");
    }
    c.repriced = true;
    f.reprices_[ci] = Reprice{p.repriced_units(), p.repriced_micros(), p.repriced_units_max()};
  } else if (p.repriced_units() != 0 || p.repriced_micros() != 0 || p.repriced_units_max() != 0) {
    return Bad("campaign " + p.id() + " has repricing fields but is not repriced");
  }
  // Other kinds' delivered units are all not billed, NOT_BILLABLE_KIND.
  if (delivered[0] != 0) return Bad("campaign " + p.id() + " has delivered units of no kind");
  __int128 other = 0;
  for (int kind = 1; kind < static_cast<int>(delivered.size()); ++kind) {
    if (kind == c.billable_kind) continue;
    counts.other_kinds[kind - 1] = delivered[kind];
    other += delivered[kind];
  }
  if (other != counts.units[v1::NOT_BILLABLE_KIND]) {
    return Bad("campaign " + p.id() + " delivered units of the kinds it does not bill are not "
               "those not billed for the kind (R1)");
  }
  // What the ledger derives must be what the snapshot says: R2's charge
  // (from the units, at the price since the repricing), and the billable
  // kind's delivered units (billed, or not billed but for the kind).
  if (p.billed_micros() != BilledMicrosWide(c, c.repriced ? f.reprices_[ci] : Reprice{})) {
    return Bad("campaign " + p.id() + " billed_micros is not floor(units*price/k) (R2)");
  }
  if (c.billed_units + counts.BillableKindUnitsWide() != delivered[c.billable_kind]) {
    return Bad("campaign " + p.id() + " delivered units of its billable kind are not "
               "those billed and not billed (R1)");
  }
  f.SetNotBilled(ci, counts);  // (its sums now known to fit)
  for (const auto& fp : p.fault_charges()) {
    FaultCharge& fc = f.MutableFault(ci).charges.emplace_back();
    fc.time_us = fp.time_us();
    for (const auto& part : fp.parts()) {
      // A refund goes back to the grant that paid: one of the campaign's
      // own account (grants come before campaigns).
      if (part.grant() != kNoIndex &&
          (part.grant() >= f.grants_.size() || f.grants_[part.grant()].account != c.account)) {
        return Bad("campaign " + p.id() + " fault charge names a grant out of range");
      }
      fc.parts.push_back({part.grant(), part.amount(), part.adjusted()});
    }
  }
  if (!f.campaign_index_.Insert(ci)) return Bad("campaign " + p.id() + " appears twice");
  return Status::Ok();
}

Status Ledger::Restorer::AddDispute(const v1::LedgerState::Dispute& p) {
  if (!InRange(p)) return OutOfRange("dispute " + p.id());
  Ledger& f = *fresh_;
  if (p.account() >= f.accounts_.size() || p.campaign() >= f.campaigns_.size() ||
      f.campaigns_[p.campaign()].account != p.account()) {
    return Bad("dispute " + p.id() + " names an account or campaign out of range");
  }
  Dispute& d = f.disputes_.emplace_back();
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
  if (!f.dispute_index_.Insert(static_cast<uint32_t>(f.disputes_.size() - 1))) {
    return Bad("dispute " + p.id() + " appears twice");
  }
  return Status::Ok();
}

Status Ledger::Restorer::AddTimer(const v1::LedgerState::Timer& p) {
  // Exactly one expiry per unexpired grant, at its expiry, and one day
  // timer per account that says it has one, at the first local midnight
  // after its clock (the counts are checked at Finish).
  if (!Expiry(p.at_us())) return OutOfRange("timer " + p.key());
  Ledger& f = *fresh_;
  const bool expiry = p.kind() == kTimerExpiry;
  const size_t bound = expiry ? f.grants_.size() : f.accounts_.size();
  if ((!expiry && p.kind() != kTimerDay) || p.index() >= bound) {
    return Bad("timer " + p.key() + " is out of range");
  }
  const uint32_t account = expiry ? f.grants_[p.index()].account : p.index();
  Account& a = f.accounts_[account];
  const Grant* g = expiry ? &f.grants_[p.index()] : nullptr;
  const bool matches =
      expiry ? !g->expired && g->expires_at_us == p.at_us() && f.grant_id(p.index()) == p.key() &&
                   timed_[p.index()]++ == 0
             : a.day_timer_us == INT64_MIN && f.account_id(account) == p.key() &&
                   p.at_us() == f.NextMidnight(a, a.clock_us);
  if (!matches || p.at_us() <= a.clock_us) {
    return Bad("timer " + p.key() + " does not match the state");
  }
  if (expiry) {
    expiry_timers_++;
  } else {
    a.day_timer_us = p.at_us();
  }
  return Status::Ok();
}

Status Ledger::Restorer::Finish(const v1::LedgerState& s) {
  BILLSIM_ASSERT(!finished_);
  if (!In(s.min_budget_micros(), 0, kAmountMaxMicros) ||
      !In(s.refund_grant_validity_us(), 1, kTimeMaxUs) || !Time(s.clock_us())) {
    return OutOfRange("options or clock");
  }
  Ledger& f = *fresh_;
  f.options_.min_budget_micros = s.min_budget_micros();
  f.options_.refund_grant_validity_us = s.refund_grant_validity_us();
  f.latest_us_ = s.clock_us();
  f.entry_seq_ = s.entry_seq();
  f.events_applied_ = s.events_applied();
  f.events_rejected_ = s.events_rejected();
  f.events_duplicate_ = s.events_duplicate();
  f.grant_order_ = s.grant_order();
  f.enable_order_ = s.enable_order();
  f.history_hash_ = s.history_hash();
  uint64_t prev_last = 0;
  for (const auto& r : s.applied_ids()) {
    // (prev_last + 1 wraps after a range ending at UINT64_MAX.)
    if (r.first() > r.last() ||
        (f.applied_ids_.ranges() > 0 && (prev_last == UINT64_MAX || r.first() <= prev_last + 1))) {
      return Bad("applied id ranges overlap or are out of order");
    }
    f.applied_ids_.InsertRange(r.first(), r.last());
    prev_last = r.last();
  }
  const size_t n_grants = f.grants_.size();
  const size_t n_campaigns = f.campaigns_.size();
  for (uint32_t ai = 0; ai < f.accounts_.size(); ++ai) {
    const Account& a = f.accounts_[ai];
    if (a.clock_us > s.clock_us()) return OutOfRange("account " + std::string(f.account_id(ai)));
    if (!AllBelow(a.grants, n_grants) || !AllBelow(a.holding, n_campaigns)) {
      return Bad("account " + std::string(f.account_id(ai)) +
                 " names a grant or campaign out of range");
    }
  }
  for (uint32_t gi = 0; gi < f.grants_.size(); ++gi) {
    if (!AllBelow(f.grant_campaigns(gi), n_campaigns)) {
      return Bad("grant " + f.GrantName(gi) +
                 " names an account or campaign out of range");
    }
    for (uint32_t ci : f.grant_campaigns(gi)) f.campaigns_[ci].coupon_named = true;
  }
  const size_t live_grants = std::count_if(f.grants_.begin(), f.grants_.end(),
                                           [](const Grant& g) { return !g.expired; });
  const bool days_timed = std::none_of(f.accounts_.begin(), f.accounts_.end(),
                                       [](const Account& a) { return a.day_timer_us == INT64_MIN; });
  if (expiry_timers_ != live_grants || !days_timed) {
    return Bad("timers do not match the grants and accounts");
  }
  for (uint32_t ai = 0; ai < f.accounts_.size(); ++ai) {
    Account& a = f.accounts_[ai];
    // R3 order, which puts the expired grants first (CheckInvariants: a
    // grant has expired exactly when its expiry is not after the clock).
    for (size_t i = 1; i < a.grants.size(); ++i) {
      if (!f.GrantBefore(a.grants[i - 1], a.grants[i])) {
        return Bad("account " + std::string(f.account_id(ai)) + ": grants out of R3 order");
      }
    }
    while (a.expired_grants < a.grants.size() && f.grants_[a.grants[a.expired_grants]].expired) {
      a.expired_grants++;
    }
    f.UpdateNextExpiry(a);
    // The daily holds short of their budget are listed for the next
    // renewal (CheckInvariants).
    for (uint32_t ci : a.holding) {
      f.ListForRenewal(ci);
      if (f.campaigns_[ci].budget_mode == v1::BUDGET_MODE_DAY) a.daily_holding++;
    }
  }
  const Status invariants = f.CheckInvariants();
  if (!invariants.ok()) return Bad(invariants.message());
  finished_ = true;
  return Status::Ok();
}

std::string Ledger::Restorer::Digest() const {
  BILLSIM_ASSERT(finished_);
  return fresh_->Digest();
}

void Ledger::Restorer::CommitTo(Ledger* ledger) {
  BILLSIM_ASSERT(finished_);
  Ledger& f = *fresh_;
  ledger->options_ = f.options_;
  ledger->latest_us_ = f.latest_us_;
  ledger->entry_seq_ = f.entry_seq_;
  ledger->events_applied_ = f.events_applied_;
  ledger->events_rejected_ = f.events_rejected_;
  ledger->events_duplicate_ = f.events_duplicate_;
  ledger->grant_order_ = f.grant_order_;
  ledger->enable_order_ = f.enable_order_;
  ledger->history_hash_ = f.history_hash_;
  ledger->accounts_ = std::move(f.accounts_);
  ledger->campaigns_ = std::move(f.campaigns_);
  ledger->campaign_info_ = std::move(f.campaign_info_);
  ledger->strings_ = std::move(f.strings_);
  ledger->landing_origins_ = std::move(f.landing_origins_);
  ledger->currencies_ = std::move(f.currencies_);
  ledger->reasons_ = std::move(f.reasons_);
  ledger->not_billed_one_ = std::move(f.not_billed_one_);
  ledger->not_billed_kinds_ = std::move(f.not_billed_kinds_);
  ledger->not_billed_many_ = std::move(f.not_billed_many_);
  ledger->faults_ = std::move(f.faults_);
  ledger->reprices_ = std::move(f.reprices_);
  ledger->campaign_names_ = std::move(f.campaign_names_);
  ledger->names_ = std::move(f.names_);
  ledger->dead_name_bytes_ = f.dead_name_bytes_;
  ledger->business_centers_ = std::move(f.business_centers_);
  ledger->business_center_index_ = std::move(f.business_center_index_);
  ledger->renew_scratch_.clear();
  ledger->grants_ = std::move(f.grants_);
  ledger->grant_scopes_ = std::move(f.grant_scopes_);
  ledger->programs_ = std::move(f.programs_);
  ledger->disputes_ = std::move(f.disputes_);
  ledger->RebuildIndexes();
  ledger->applied_ids_ = std::move(f.applied_ids_);
  fresh_.reset();
}

Status Ledger::RestoreState(const v1::LedgerState& s) {
  Restorer r(options_);
  Status st;
  for (const auto& p : s.accounts()) {
    if (st = r.AddAccount(p); !st.ok()) return st;
  }
  for (const auto& p : s.grants()) {
    if (st = r.AddGrant(p); !st.ok()) return st;
  }
  for (const auto& p : s.campaigns()) {
    if (st = r.AddCampaign(p); !st.ok()) return st;
  }
  for (const auto& p : s.disputes()) {
    if (st = r.AddDispute(p); !st.ok()) return st;
  }
  for (const auto& p : s.timers()) {
    if (st = r.AddTimer(p); !st.ok()) return st;
  }
  if (st = r.Finish(s); !st.ok()) return st;
  r.CommitTo(this);
  return Status::Ok();
}

}  // namespace billsim
