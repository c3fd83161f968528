// Ledger: money in (deposits, grants), holds (R4), charges (R1-R3, R5, R7).
#include <algorithm>
#include <limits>

#include "ledger/hold_flow.h"
#include "ledger/ledger.h"
#include "util/assert.h"
#include "util/money.h"

namespace billsim {

namespace {

constexpr int64_t kNoCap = std::numeric_limits<int64_t>::max();

v1::DeliveryReported::Kind BillableKind(v1::BillingEvent b) {
  switch (b) {
    case v1::BILLING_EVENT_CPM: return v1::DeliveryReported::IMPRESSION;
    case v1::BILLING_EVENT_CPC: return v1::DeliveryReported::CLICK;
    case v1::BILLING_EVENT_CPV_2S: return v1::DeliveryReported::VIDEO_VIEW_2S;
    case v1::BILLING_EVENT_CPV_6S: return v1::DeliveryReported::VIDEO_VIEW_6S;
    default: return v1::DeliveryReported::KIND_UNSPECIFIED;
  }
}

// R2: the most units u <= m such that billing them keeps the cumulative
// charge floor((n+u)*p/k) within `already + cap`.
int64_t UnitsWithin(int64_t n, int64_t m, int64_t p, int64_t k,
                    int64_t already, int64_t cap) {
  if (cap >= kNoCap / 2) return m;
  // floor(N*p/k) <= L  <=>  N*p < (L+1)*k  <=>  N <= ((L+1)*k - 1) / p
  const __int128 limit = static_cast<__int128>(already) + cap;
  const __int128 max_total = ((limit + 1) * k - 1) / p;
  const __int128 u = max_total - n;
  BILLSIM_ASSERT(u >= 0);  // floor(n*p/k) == already <= limit
  return u >= m ? m : static_cast<int64_t>(u);
}

// The length of url's origin and the slash after it ("https://host/"), or
// 0 when it has none (no scheme, or no path: the host ends the URL or a
// query or fragment follows it).
size_t LandingOriginLength(std::string_view url) {
  constexpr size_t kNone = std::string_view::npos;
  const size_t scheme = url.find("://");
  if (scheme == kNone || url.substr(0, scheme).find('/') != kNone) return 0;
  const size_t end = url.find_first_of("/?#", scheme + 3);
  return end != kNone && url[end] == '/' ? end + 1 : 0;
}

}  // namespace

int64_t BillableUnitsWithin(int64_t price, int64_t per_units, int64_t cost_max) {
  BILLSIM_ASSERT(price > 0 && per_units > 0 && cost_max >= 0);
  // floor(N*p/k) <= L  <=>  N <= ((L+1)*k - 1) / p  (as in UnitsWithin)
  const __int128 n = ((static_cast<__int128>(cost_max) + 1) * per_units - 1) / price;
  return n >= kCampaignUnitsMax ? kCampaignUnitsMax : static_cast<int64_t>(n);
}

// --- Accounts and money in ------------------------------------------------------

void Ledger::OnAccountOpened(const v1::AccountOpened& m, int64_t at_us) {
  const uint32_t index = static_cast<uint32_t>(accounts_.size());
  Account& a = accounts_.emplace_back();
  a.id_and_name = strings_.AddPair(m.account_id(), m.name());
  a.currency_index = currencies_.Intern(m.currency());
  a.utc_offset_minutes = static_cast<int16_t>(m.utc_offset_minutes());  // validated
  a.funding_order = m.funding_order();
  a.opened_at_us = a.clock_us = at_us;
  const bool added = account_index_.Insert(index);
  BILLSIM_ASSERT(added);  // Validate refuses a known id
  if (!m.business_center_id().empty()) JoinBusinessCenter(index, m.business_center_id());
}

void Ledger::JoinBusinessCenter(uint32_t account, std::string_view id) {
  auto it = business_center_index_.find(id);
  if (it == business_center_index_.end()) {
    it = business_center_index_.emplace(std::string(id),
                                        static_cast<uint32_t>(business_centers_.size())).first;
    business_centers_.push_back({std::string(id), {}});
  }
  accounts_[account].business_center = it->second;
  business_centers_[it->second].accounts.push_back(account);
}

void Ledger::OnCashDeposited(const v1::CashDeposited& m) {
  const uint32_t ai = FindAccount(m.account_id());
  Account& a = accounts_[ai];
  // R11 (ValidateInflow) keeps every total within kAccountFundsMaxMicros.
  a.cash = CheckedAdd(a.cash, m.amount_micros());
  a.deposited = CheckedAdd(a.deposited, m.amount_micros());
  Entry e;
  e.kind = v1::ADD_BALANCE;
  e.account = ai;
  e.funds = v1::FUNDS_TYPE_CASH;
  e.balance_delta = m.amount_micros();
  e.note = m.reference();
  Emit(std::move(e));
  TopUpAll(ai);  // R4: money in tops up short holds
}

void Ledger::InsertGrantOrdered(Account& a, uint32_t grant) {
  auto at = std::upper_bound(a.grants.begin(), a.grants.end(), grant,
                             [this](uint32_t x, uint32_t y) { return GrantBefore(x, y); });
  BILLSIM_ASSERT(at - a.grants.begin() >= a.expired_grants);  // R6: it expires later
  BILLSIM_ASSERT(grants_[grant].expires_at_us > a.clock_us);
  a.grants.insert(at, grant);
  UpdateNextExpiry(a);
}

void Ledger::SetCampaignName(uint32_t campaign, std::string_view name) {
  // What a rebuild may leave behind at once: a small book never rebuilds.
  constexpr uint64_t kDeadNameSlackBytes = uint64_t{1} << 20;
  if (const auto it = campaign_names_.find(campaign); it != campaign_names_.end()) {
    dead_name_bytes_ += sizeof(uint32_t) + names_.Get(it->second).size();
    if (name.empty()) campaign_names_.erase(it);
  }
  if (!name.empty()) campaign_names_[campaign] = names_.Add(name);
  if (dead_name_bytes_ <= names_.bytes() / 2 + kDeadNameSlackBytes) return;
  // The dead bytes are over half the pool: copying the live names costs
  // less than the renames that made them dead.
  StringPool live;
  for (auto& [index, handle] : campaign_names_) handle = live.Add(names_.Get(handle));
  names_ = std::move(live);
  dead_name_bytes_ = 0;
}

void Ledger::OnCreditGranted(const v1::CreditGranted& m) {
  const uint32_t ai = FindAccount(m.account_id());
  const uint32_t gi = static_cast<uint32_t>(grants_.size());
  Grant& g = grants_.emplace_back();
  g.id_handle = strings_.Add(m.grant_id());
  g.program_index = programs_.Intern(m.program());
  g.account = ai;
  g.order = ++grant_order_;
  g.amount = g.remaining = m.amount_micros();
  g.expires_at_us = m.expires_at_us();
  if (m.campaign_ids_size() > 0) {
    std::vector<uint32_t> campaigns;
    for (const std::string& c : m.campaign_ids()) campaigns.push_back(FindCampaign(c));
    std::sort(campaigns.begin(), campaigns.end());
    campaigns.erase(std::unique(campaigns.begin(), campaigns.end()), campaigns.end());
    for (uint32_t ci : campaigns) campaigns_[ci].coupon_named = true;
    g.scope = static_cast<uint32_t>(grant_scopes_.size());
    grant_scopes_.emplace_back() = std::move(campaigns);
  }
  grant_index_.Insert(gi);
  Account& a = accounts_[ai];
  InsertGrantOrdered(a, gi);
  if (g.scope != kNoIndex) a.restricted_grants++;
  a.credit = CheckedAdd(a.credit, g.amount);
  a.granted = CheckedAdd(a.granted, g.amount);
  Entry e;
  e.kind = v1::PROMOTION_ISSUED;
  e.account = ai;
  e.funds = v1::FUNDS_TYPE_GRANT;
  e.grant = gi;
  e.balance_delta = g.amount;
  e.note = Note(grant_program(gi));
  Emit(std::move(e));
  TopUpAll(ai);
}

// --- Campaigns ----------------------------------------------------------------------

void Ledger::SetIdAndLandingPage(CampaignInfo* info, std::string_view id, std::string_view url) {
  const std::string_view origin = url.substr(0, LandingOriginLength(url));
  uint32_t index = landing_origins_.Find(origin);  // 0 if empty
  if (index == StringTable::kNotFound) {
    index = landing_origins_.size() <= kLandingOriginsMax ? landing_origins_.Intern(origin) : 0;
  }
  info->landing_origin = index;
  info->id_and_landing_page = strings_.AddPair(id, index == 0 ? url : url.substr(origin.size()));
}

void Ledger::OnCampaignCreated(const v1::CampaignCreated& m) {
  const uint32_t index = static_cast<uint32_t>(campaigns_.size());
  Campaign& c = campaigns_.emplace_back();
  CampaignInfo& info = campaign_info_.emplace_back();
  SetIdAndLandingPage(&info, m.campaign_id(), m.landing_page_url());
  info.objective = static_cast<uint8_t>(m.objective());         // validated
  info.billing_event = static_cast<uint8_t>(m.billing_event());  // validated
  info.creative_reviewed = m.creative_reviewed();
  info.audience_defined = m.audience_defined();
  c.account = FindAccount(m.account_id());
  c.billable_kind = BillableKind(m.billing_event());
  c.price = m.price_micros();
  c.budget_mode = m.budget_mode();
  c.budget = m.budget_micros();
  c.day_index = static_cast<int32_t>(LocalDay(accounts_[c.account], accounts_[c.account].clock_us));
  const bool added = campaign_index_.Insert(index);
  BILLSIM_ASSERT(added);  // Validate refuses a known id
  accounts_[c.account].campaigns.push_back(index);
  SetCampaignName(index, m.name());
}

bool Ledger::IsHolding(const Campaign& c) const {
  return c.status == Campaign::Status::kEnabled &&
         c.review != Campaign::Review::kRejectedBeforeServing &&
         c.review != Campaign::Review::kRejectedAfterServing &&
         c.budget_mode != v1::BUDGET_MODE_INFINITE;
}

int64_t Ledger::HoldTarget(uint32_t campaign) const {
  const Campaign& c = campaigns_[campaign];
  switch (c.budget_mode) {
    case v1::BUDGET_MODE_TOTAL:
      return std::max<int64_t>(0, c.budget - billed_micros(campaign));
    case v1::BUDGET_MODE_DAY: {
      const Account& a = accounts_[c.account];
      const bool today = c.day_index == LocalDay(a, a.clock_us);
      return std::max<int64_t>(0, c.budget - (today ? c.day_spent : 0));
    }
    default:
      return 0;
  }
}

bool Ledger::GrantFunds(const Grant& g, uint32_t campaign) const {
  return !g.expired && g.remaining > 0 && GrantCovers(g, campaign);
}

int64_t Ledger::Usable(const Account& a, uint32_t campaign) const {
  // Without coupons for particular campaigns, every live grant may fund any
  // campaign: the usable funds are the whole balance.
  if (a.restricted_grants == 0) return a.cash + a.credit;
  int64_t usable = a.cash;
  for (uint32_t gi : LiveGrants(a)) {
    if (GrantFunds(grants_[gi], campaign)) usable += grants_[gi].remaining;
  }
  return usable;
}

void Ledger::StartHolding(uint32_t ci) {
  Campaign& c = campaigns_[ci];
  BILLSIM_ASSERT(IsHolding(c));
  Account& a = accounts_[c.account];
  BILLSIM_ASSERT(std::find(a.holding.begin(), a.holding.end(), ci) ==
                 a.holding.end());
  // Keep enable order, also for a campaign re-approved after a rejection.
  auto at = std::upper_bound(a.holding.begin(), a.holding.end(), ci,
                             [this](uint32_t x, uint32_t y) {
                               return campaign_info_[x].enable_order <
                                      campaign_info_[y].enable_order;
                             });
  a.holding.insert(at, ci);
  if (c.budget_mode == v1::BUDGET_MODE_DAY) {
    a.daily_holding++;
    ScheduleDay(c.account);
  }
  TopUp(ci);
  ListForRenewal(ci);  // if short of funds, or spent from today
}

void Ledger::StopHolding(uint32_t ci, const std::string& why) {
  Campaign& c = campaigns_[ci];
  Account& a = accounts_[c.account];
  auto it = std::find(a.holding.begin(), a.holding.end(), ci);
  if (it == a.holding.end()) {
    BILLSIM_ASSERT(c.hold == 0);
    return;
  }
  a.holding.erase(it);
  if (c.budget_mode == v1::BUDGET_MODE_DAY) a.daily_holding--;
  if (c.hold > 0) ReturnHold(ci, c.hold, why);
}

void Ledger::ReturnHold(uint32_t ci, int64_t amount, std::string why) {
  Campaign& c = campaigns_[ci];
  BILLSIM_ASSERT(amount > 0 && amount <= c.hold);
  c.hold -= amount;
  accounts_[c.account].frozen -= amount;
  Entry e;
  e.kind = v1::RETURN_OF_REMAINING_BUDGET;
  e.account = c.account;
  e.campaign = ci;
  e.frozen_delta = -amount;
  e.note = std::move(why);
  Emit(std::move(e));
}

int64_t Ledger::PoolFunds(const Account& a, uint32_t leaving) const {
  int64_t pool = a.cash;
  for (uint32_t gi : LiveGrants(a)) {
    const Grant& g = grants_[gi];
    if (g.scope == kNoIndex && gi != leaving && !g.expired) pool += g.remaining;
  }
  return pool;
}

void Ledger::FitHolds(uint32_t ai, const std::vector<std::pair<uint32_t, int64_t>>& holds,
                      uint32_t leaving, std::vector<int64_t>* fitted) {
  const Account& a = accounts_[ai];
  HoldScratch& x = hold_scratch_;
  // One pool for cash and account-wide grants (they fund every campaign
  // alike), one source per coupon.
  x.flow.Clear();
  x.coupons.clear();
  for (uint32_t gi : LiveGrants(a)) {
    const Grant& g = grants_[gi];
    if (g.scope != kNoIndex && gi != leaving && !g.expired && g.remaining > 0) {
      x.coupons.emplace_back(gi, 0);
    }
  }
  const uint32_t pool_source = x.flow.AddSource(PoolFunds(a, leaving));
  for (auto& [gi, source] : x.coupons) source = x.flow.AddSource(grants_[gi].remaining);
  fitted->clear();
  for (const auto& [ci, want] : holds) {
    x.sources.assign(1, pool_source);
    for (const auto& [gi, source] : x.coupons) {
      if (GrantFunds(grants_[gi], ci)) x.sources.push_back(source);
    }
    fitted->push_back(x.flow.AddHold(x.sources, want));
  }
}

// R4: freeze as much of the hold target as the sources that may fund the
// campaign allow, after every other hold is covered.
void Ledger::TopUp(uint32_t ci) {
  Campaign& c = campaigns_[ci];
  BILLSIM_ASSERT(IsHolding(c));
  Account& a = accounts_[c.account];
  const int64_t want = HoldTarget(ci) - c.hold;
  if (want <= 0) return;
  int64_t room = a.valid();
  // Coupons: the other holds keep what they have, drawing on the sources
  // they may use, and this one gets what still fits among its own. Not the
  // account's frozen total against all its funds: holds backed by coupons
  // this campaign cannot use take nothing from it. Unless the pool alone
  // covers every hold, this one's whole want included (the holds sum to
  // the frozen balance): then all of them fit, whatever their coupons, and
  // FitHolds would find what the valid balance gives (it reads every
  // holding campaign; the pool, the grants a charge reads).
  if (a.restricted_grants > 0 && want > PoolFunds(a, kNoIndex) - a.frozen) {
    std::vector<std::pair<uint32_t, int64_t>>& holds = hold_scratch_.holds;
    holds.clear();
    for (uint32_t other : a.holding) {
      if (other != ci) holds.emplace_back(other, campaigns_[other].hold);
    }
    holds.emplace_back(ci, c.hold + want);
    FitHolds(c.account, holds, kNoIndex, &hold_scratch_.fitted);
    // Never past the valid balance either (R5), whatever the flow finds.
    room = std::min(room, hold_scratch_.fitted.back() - c.hold);
  }
  const int64_t add = std::min(want, room);
  if (add <= 0) return;
  c.hold += add;
  a.frozen += add;
  Entry e;
  e.kind = v1::FREEZE;
  e.account = c.account;
  e.campaign = ci;
  e.frozen_delta = add;
  e.note = c.budget_mode == v1::BUDGET_MODE_DAY ? Note("daily budget held (R4)")
                                                : Note("lifetime budget held (R4)");
  Emit(std::move(e));
}

void Ledger::TopUpAll(uint32_t ai) {
  const std::vector<uint32_t> holding = accounts_[ai].holding;
  for (uint32_t ci : holding) TopUp(ci);
}

// R6: after an expiry, no hold may exceed what can still fund it; the
// latest-enabled campaigns give way first. Holds shrink before the credit
// goes, so no entry ever shows a negative valid balance (R12).
void Ledger::ShrinkHolds(uint32_t ai, uint32_t expiring) {
  Account& a = accounts_[ai];
  if (a.holding.empty()) return;
  const int64_t leaving = expiring == kNoIndex ? 0 : grants_[expiring].remaining;
  // Every hold may draw on the pool (cash and account-wide grants), and
  // the holds sum to the frozen balance: if the pool covers it once the
  // grant has gone, FitHolds would cut none (the usual case), and this
  // reads no holding campaign. Without coupons the pool is cash and
  // credit.
  if (a.frozen <= a.cash + a.credit - leaving &&
      (a.restricted_grants == 0 || a.frozen <= PoolFunds(a, expiring))) {
    return;
  }
  // What fits without the expiring grant, earliest-enabled first.
  std::vector<std::pair<uint32_t, int64_t>>& holds = hold_scratch_.holds;
  holds.clear();
  for (uint32_t ci : a.holding) holds.emplace_back(ci, campaigns_[ci].hold);
  std::vector<int64_t>& fitted = hold_scratch_.fitted;
  FitHolds(ai, holds, expiring, &fitted);
  for (size_t i = holds.size(); i-- > 0;) {
    Campaign& c = campaigns_[holds[i].first];
    const int64_t cut = c.hold - fitted[i];
    BILLSIM_ASSERT(cut >= 0);
    if (cut == 0) continue;
    c.hold -= cut;
    ListForRenewal(holds[i].first);
    a.frozen -= cut;
    Entry e;
    e.kind = v1::FREEZE_REDUCED;
    e.account = ai;
    e.campaign = holds[i].first;
    e.frozen_delta = -cut;
    e.note = "credit behind the hold expires (R6)";
    Emit(std::move(e));
  }
  BILLSIM_ASSERT(a.frozen <= a.cash + a.credit - leaving);
}

void Ledger::OnStatusChanged(const v1::CampaignStatusChanged& m) {
  const uint32_t ci = FindCampaign(m.campaign_id());
  Campaign& c = campaigns_[ci];
  Entry e;
  e.kind = v1::CAMPAIGN_STATUS;
  e.account = c.account;
  e.campaign = ci;
  switch (m.operation()) {
    case v1::CampaignStatusChanged::ENABLE: {
      if (c.status == Campaign::Status::kEnabled) return;  // already on
      c.status = Campaign::Status::kEnabled;
      SetStatusReason(ci, "");
      campaign_info_[ci].enable_order = ++enable_order_;
      e.note = "enabled";
      Emit(Entry(e));
      std::string gaps;
      const CampaignInfo& info = campaign_info_[ci];
      if (!info.creative_reviewed) gaps += " creative not reviewed;";
      if (!info.audience_defined) gaps += " audience not defined;";
      if (!has_landing_page(ci)) gaps += " no landing page;";
      if (!gaps.empty()) {
        Entry w = e;
        w.kind = v1::PRELAUNCH_WARNING;
        w.note = "launched with gaps in the pre-launch checklist:" + gaps;
        Emit(std::move(w));
      }
      if (IsHolding(c)) StartHolding(ci);
      return;
    }
    case v1::CampaignStatusChanged::DISABLE:
      if (c.status != Campaign::Status::kEnabled) return;  // already off
      StopHolding(ci, "paused: unspent budget returned (R4)");
      c.status = Campaign::Status::kDisabled;
      SetStatusReason(ci, "paused by the advertiser");
      e.note = "paused by the advertiser";
      Emit(std::move(e));
      return;
    case v1::CampaignStatusChanged::DELETE:
      StopHolding(ci, "deleted: unspent budget returned (R4)");
      c.status = Campaign::Status::kDeleted;
      SetStatusReason(ci, "deleted by the advertiser");
      e.note = "deleted";
      Emit(std::move(e));
      return;
    default:
      BILLSIM_ASSERT(false);  // Validate refuses it
  }
}

void Ledger::OnCampaignUpdated(const v1::CampaignUpdated& m) {
  const uint32_t ci = FindCampaign(m.campaign_id());
  Campaign& c = campaigns_[ci];
  Account& a = accounts_[c.account];
  const v1::BudgetMode mode = m.has_budget_mode() ? m.budget_mode() : v1::BudgetMode{c.budget_mode};
  const int64_t budget = UpdatedBudget(c, m);
  Entry e;
  e.kind = v1::CAMPAIGN_UPDATED;
  e.account = c.account;
  e.campaign = ci;
  std::string note;  // what changed, each part ending "; "
  if (m.has_name() && m.name() != campaign_name(ci)) {
    note = "name \"" + std::string(campaign_name(ci)) + "\" -> \"" + m.name() + "\"; ";
    SetCampaignName(ci, m.name());
  }
  if (m.has_price_micros() && m.price_micros() != c.price) {
    // R2 restarts here: what was billed stays, later units are charged
    // exactly at the new price; R11 bounds them by what is left to cost.
    // R11 bounds what its billable units cost, billed or not: the room
    // left is kCampaignCostMaxMicros less what was billed and the would-be
    // cost of what was not (NotBilled's amounts).
    const int64_t billed = billed_micros(ci);
    __int128 spent = billed;
    for (int64_t micros : not_billed(ci).micros) spent += micros;
    const int64_t room = spent >= kCampaignCostMaxMicros
                             ? 0
                             : static_cast<int64_t>(kCampaignCostMaxMicros - spent);
    const int64_t delivered_units = delivered(ci, c.billable_kind);
    Reprice& r = reprices_[ci];
    r.units = c.billed_units;
    r.micros = billed;
    r.units_max = std::min(kCampaignUnitsMax,
                           delivered_units +
                               BillableUnitsWithin(m.price_micros(), c.per_units(), room));
    c.repriced = true;
    note += "price " + FormatMicros(c.price) + " -> " + FormatMicros(m.price_micros()) + "; ";
    c.price = m.price_micros();
  }
  const bool holding = IsHolding(c);
  if (mode != c.budget_mode) {
    note += "budget mode " + v1::BudgetMode_Name(v1::BudgetMode{c.budget_mode}) + " -> " +
            v1::BudgetMode_Name(mode) + "; ";
  }
  if (budget != c.budget) {
    note += "budget " + FormatMicros(c.budget) + " -> " + FormatMicros(budget) + "; ";
  }
  if (note.empty()) note = "no change; ";
  note.resize(note.size() - 2);
  e.note = std::move(note);
  Emit(std::move(e));
  if (mode != c.budget_mode) {
    // R4: the hold of the old mode returns, the new mode's is frozen anew.
    if (holding) StopHolding(ci, "budget mode changed: hold returned (R4)");
    if (mode == v1::BUDGET_MODE_DAY) {
      c.day_index = static_cast<int32_t>(LocalDay(a, a.clock_us));
      c.day_spent = 0;  // a daily budget counts from the update
    }
    c.budget_mode = mode;
    c.budget = budget;
    if (IsHolding(c)) StartHolding(ci);
    return;
  }
  const bool raised = budget > c.budget;
  c.budget = budget;
  if (!holding) return;
  const int64_t excess = c.hold - HoldTarget(ci);
  if (excess > 0) {
    ReturnHold(ci, excess, "budget lowered: the hold above it returned (R4)");
  } else if (raised) {
    // R4: a higher budget freezes more, as far as free funds allow. Any
    // other update leaves a short hold short (R5: only money coming in
    // tops it up), as a rename or a new price moves no money.
    TopUp(ci);
  }
  ListForRenewal(ci);
}

void Ledger::OnAdReviewed(const v1::AdReviewed& m) {
  const uint32_t ci = FindCampaign(m.campaign_id());
  Campaign& c = campaigns_[ci];
  const bool was_holding = IsHolding(c);
  switch (m.result()) {
    case v1::AdReviewed::APPROVED:
      c.review = Campaign::Review::kApproved;
      if (!was_holding && IsHolding(c)) StartHolding(ci);
      return;
    case v1::AdReviewed::REJECTED_BEFORE_SERVING:
    case v1::AdReviewed::REJECTED_AFTER_SERVING:
      // R7: a rejected ad is not charged from here on; its hold returns.
      StopHolding(ci, "ad rejected in review: budget returned (R7)");
      c.review = m.result() == v1::AdReviewed::REJECTED_BEFORE_SERVING
                     ? Campaign::Review::kRejectedBeforeServing
                     : Campaign::Review::kRejectedAfterServing;
      return;
    default:
      BILLSIM_ASSERT(false);
  }
}

// --- Delivery and charges -----------------------------------------------------------

void Ledger::Deliver(uint32_t ci, v1::DeliveryReported::Kind kind,
                     int64_t count, bool fault) {
  Campaign& c = campaigns_[ci];
  // R11 (DeliveryFits) bounds every counter below: none can overflow.
  // Delivered units are counted as billed or not billed (delivered()).
  // R1: only the billing event's delivery kind is ever charged.
  if (kind != c.billable_kind) {
    NotBilled(ci, v1::NOT_BILLABLE_KIND, count, kind);
    return;
  }
  // R7: fault-marked delivery is charged regardless (the simulated error).
  if (!fault) {
    if (c.status == Campaign::Status::kDeleted) {
      NotBilled(ci, v1::CAMPAIGN_DELETED, count, kind);
      return;
    }
    if (c.review == Campaign::Review::kRejectedBeforeServing ||
        c.review == Campaign::Review::kRejectedAfterServing) {
      NotBilled(ci, v1::AD_REJECTED, count, kind);
      return;
    }
    if (c.status != Campaign::Status::kEnabled) {
      NotBilled(ci, v1::CAMPAIGN_NOT_ACTIVE, count, kind);
      return;
    }
  }
  Charge(ci, count, fault);
}

void Ledger::NotBilled(uint32_t ci, v1::NotBilledReason reason, int64_t units,
                       v1::DeliveryReported::Kind kind) {
  Campaign& c = campaigns_[ci];
  const int64_t would_cost =
      reason == v1::NOT_BILLABLE_KIND
          ? 0
          : MulDivFloor(units, c.price, c.per_units());
  AddNotBilled(ci, reason, units, would_cost, kind);
  Entry e;
  e.kind = v1::NOT_BILLED;
  e.account = c.account;
  e.campaign = ci;
  e.units = units;
  e.not_billed_reason = reason;  // the reason is the note: no text needed
  e.delivery_kind = kind;
  Emit(std::move(e));
}

void Ledger::PauseForFunds(uint32_t ci) {
  Campaign& c = campaigns_[ci];
  StopHolding(ci, "paused for insufficient balance: hold returned (R5)");
  c.status = Campaign::Status::kDisabled;
  SetStatusReason(ci, "insufficient balance (R5)");
  Entry e;
  e.kind = v1::CAMPAIGN_STATUS;
  e.account = c.account;
  e.campaign = ci;
  e.note = "paused: insufficient balance (R5)";
  Emit(std::move(e));
}

void Ledger::Charge(uint32_t ci, int64_t units, bool fault) {
  Campaign& c = campaigns_[ci];
  Account& a = accounts_[c.account];
  // R2: the charge is exact over the units billed since the price was set
  // (creation, or the last update that changed it).
  int64_t n = c.billed_units;
  int64_t before = 0;  // billed before the last repricing
  if (c.repriced) [[unlikely]] {
    const Reprice& r = reprices_.at(ci);
    n -= r.units;
    before = r.micros;
  }
  const int64_t already = c.CostOf(n);
  if (c.budget_mode == v1::BUDGET_MODE_DAY) {
    const int64_t today = LocalDay(a, a.clock_us);
    if (c.day_index != today) {
      c.day_index = today;  // R4: a new local day, a new daily budget
      c.day_spent = 0;
    }
  }
  // n + units <= the campaign's delivered units, bounded by R11: the cost
  // of all of them is within kCampaignCostMaxMicros.
  const int64_t full = c.CostOf(CheckedAdd(n, units)) - already;
  // R4, R5: a held campaign is charged from its hold and only from it; a
  // hold left short is topped up by money coming in, not by delivery.
  const bool from_hold = IsHolding(c);

  int64_t cap_budget = kNoCap;
  if (c.budget_mode == v1::BUDGET_MODE_TOTAL) cap_budget = c.budget - (before + already);
  if (c.budget_mode == v1::BUDGET_MODE_DAY) cap_budget = c.budget - c.day_spent;
  cap_budget = std::max<int64_t>(cap_budget, 0);
  const int64_t usable = Usable(a, ci);
  const int64_t cap_funds =
      std::max<int64_t>(0, std::min(from_hold ? c.hold : a.valid(), usable));

  // The usual case: the whole delivery fits both caps.
  const bool fits = full <= cap_budget && full <= cap_funds;
  const int64_t by_budget =
      fits ? units : UnitsWithin(n, units, c.price, c.per_units(), already, cap_budget);
  const int64_t by_funds =
      fits ? units : UnitsWithin(n, units, c.price, c.per_units(), already, cap_funds);
  const int64_t billed = std::min(by_budget, by_funds);
  const int64_t amount =
      fits ? full : c.CostOf(n + billed) - already;
  BILLSIM_ASSERT(amount >= 0 && amount <= cap_budget && amount <= cap_funds);

  c.billed_units = CheckedAdd(c.billed_units, billed);
  if (fault && billed > 0) {
    FaultRecord& f = MutableFault(ci);
    f.billed_units = CheckedAdd(f.billed_units, billed);
  }
  if (c.budget_mode == v1::BUDGET_MODE_DAY) c.day_spent = CheckedAdd(c.day_spent, amount);
  a.spent = CheckedAdd(a.spent, amount);

  // R3: draw on the sources in the funding order, one entry per source.
  FaultCharge record;
  record.time_us = a.clock_us;
  int64_t left = amount;
  int64_t units_left = billed;
  auto draw = [&](uint32_t grant) {
    int64_t& balance = grant == kNoIndex ? a.cash : grants_[grant].remaining;
    const int64_t take = std::min(left, balance);
    if (take <= 0) return;
    balance -= take;
    if (grant != kNoIndex) a.credit -= take;  // cash was `balance` itself
    left -= take;
    if (from_hold) {
      c.hold -= take;
      a.frozen -= take;
      ListForRenewal(ci);
    }
    if (fault) record.parts.push_back({grant, take, 0});
    Entry e;
    e.kind = v1::COST;
    e.account = c.account;
    e.campaign = ci;
    e.funds = grant == kNoIndex ? v1::FUNDS_TYPE_CASH : v1::FUNDS_TYPE_GRANT;
    e.grant = grant;
    e.balance_delta = -take;
    e.frozen_delta = from_hold ? -take : 0;
    e.units = units_left;  // all the units on the first part
    e.delivery_kind = c.billable_kind;
    units_left = 0;
    if (fault) e.note = "platform fault: charged in error (R7, R9)";
    Emit(std::move(e));
  };
  auto draw_grants = [&] {
    if (left == 0) return;  // (cash paid it all: the grant list is not read)
    for (uint32_t gi : LiveGrants(a)) {
      if (left == 0) return;
      if (GrantFunds(grants_[gi], ci)) draw(gi);
    }
  };
  if (a.funding_order == v1::FUNDING_ORDER_CASH_FIRST) {
    draw(kNoIndex);
    draw_grants();
  } else {
    draw_grants();
    if (left > 0) draw(kNoIndex);
  }
  BILLSIM_ASSERT(left == 0);
  if (amount == 0 && billed > 0) {
    // Units billed for less than a micro-unit so far (R2's floor): no
    // money moves, but the billed delivery is still a line of the history.
    // Named after the source the next micro-unit would come from (R3).
    uint32_t source = kNoIndex;
    if (a.funding_order != v1::FUNDING_ORDER_CASH_FIRST || a.cash == 0) {
      for (uint32_t gi : LiveGrants(a)) {
        if (grants_[gi].remaining > 0 && GrantFunds(grants_[gi], ci)) {
          source = gi;
          break;
        }
      }
    }
    Entry e;
    e.kind = v1::COST;
    e.account = c.account;
    e.campaign = ci;
    e.funds = source == kNoIndex ? v1::FUNDS_TYPE_CASH : v1::FUNDS_TYPE_GRANT;
    e.grant = source;
    e.units = billed;
    e.delivery_kind = c.billable_kind;
    e.note = "billed for less than a micro-unit so far (R2)";
    Emit(std::move(e));
  }
  if (fault && amount > 0) {
    FaultRecord& f = MutableFault(ci);
    f.billed_micros += amount;
    f.charges.push_back(std::move(record));
  }

  if (billed < units) {
    // R4 or R5: whichever cap stopped the billing first names the reason.
    const bool budget_binds = by_budget <= by_funds;
    NotBilled(ci, budget_binds ? v1::OVER_BUDGET : v1::INSUFFICIENT_FUNDS,
              units - billed, c.billable_kind);
    if (!budget_binds && c.status == Campaign::Status::kEnabled) {
      PauseForFunds(ci);
    }
  }
}

}  // namespace billsim
