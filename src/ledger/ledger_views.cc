// Ledger: the projections as proto views, built on demand from the state.
#include "ledger/ledger.h"
#include "util/money.h"

namespace billsim {

namespace {

const char* StatusName(Campaign::Status s) {
  switch (s) {
    case Campaign::Status::kEnabled: return "ENABLE";
    case Campaign::Status::kDisabled: return "DISABLE";
    case Campaign::Status::kDeleted: return "DELETE";
  }
  return "";
}

const char* ReviewName(Campaign::Review r) {
  switch (r) {
    case Campaign::Review::kPending: return "PENDING";
    case Campaign::Review::kApproved: return "APPROVED";
    case Campaign::Review::kRejectedBeforeServing:
      return "REJECTED_BEFORE_SERVING";
    case Campaign::Review::kRejectedAfterServing:
      return "REJECTED_AFTER_SERVING";
  }
  return "";
}

}  // namespace

std::optional<v1::AccountBalance> Ledger::Balance(
    std::string_view account) const {
  const uint32_t ai = FindAccount(account);
  if (ai == kNoIndex) return std::nullopt;
  return AccountView(ai);
}

std::optional<v1::CampaignSpend> Ledger::Spend(
    std::string_view campaign) const {
  const uint32_t ci = FindCampaign(campaign);
  if (ci == kNoIndex) return std::nullopt;
  return CampaignView(ci);
}

std::optional<v1::DisputeView> Ledger::DisputeState(
    std::string_view dispute) const {
  const uint32_t di = FindDispute(dispute);
  if (di == kNoIndex) return std::nullopt;
  return DisputeViewAt(di);
}

v1::AccountBalance Ledger::AccountView(uint32_t ai) const {
  const Account& a = accounts_[ai];
  v1::AccountBalance v;
  v.set_account_id(std::string(account_id(ai)));
  v.set_currency(std::string(account_currency(ai)));
  v.set_utc_offset_minutes(a.utc_offset_minutes);
  v.set_funding_order(a.funding_order);
  v.set_name(std::string(account_name(ai)));
  if (a.business_center != kNoIndex) {
    v.set_business_center_id(business_centers_[a.business_center].id);
  }
  v.set_cash_balance(a.cash);
  v.set_grant_balance(a.credit);
  v.set_frozen_balance(a.frozen);
  v.set_valid_balance(a.valid());
  v.set_total_deposited(a.deposited);
  v.set_total_granted(a.granted);
  v.set_total_spent(a.spent);
  v.set_total_expired(a.expired);
  v.set_total_adjusted(a.adjusted);
  for (uint32_t gi : a.grants) {
    const Grant& g = grants_[gi];
    v1::GrantView* gv = v.add_grants();
    gv->set_grant_id(GrantName(gi));
    gv->set_program(std::string(grant_program(gi)));
    gv->set_amount_micros(g.amount);
    gv->set_remaining_micros(g.remaining);
    gv->set_expires_at_us(g.expires_at_us);
    gv->set_expired(g.expired);
    gv->set_expired_micros(g.expired_micros);
    gv->set_adjustment(g.adjustment);
    for (uint32_t ci : grant_campaigns(gi)) gv->add_campaign_ids(Name(ci));
  }
  return v;
}

v1::CampaignSpend Ledger::CampaignView(uint32_t ci) const {
  const Campaign& c = campaigns_[ci];
  const CampaignInfo& info = campaign_info_[ci];
  v1::CampaignSpend v;
  v.set_campaign_id(Name(ci));
  v.set_account_id(std::string(account_id(c.account)));
  v.set_status(StatusName(c.status));
  v.set_status_reason(std::string(status_reason(ci)));
  v.set_review(ReviewName(c.review));
  v.set_billing_event(static_cast<v1::BillingEvent>(info.billing_event));
  v.set_name(std::string(campaign_name(ci)));
  v.set_objective(static_cast<v1::Objective>(info.objective));
  v.set_price_micros(c.price);
  v.set_budget_mode(c.budget_mode);
  v.set_budget_micros(c.budget);
  v.set_frozen_micros(c.hold);
  v.set_billed_units(c.billed_units);
  v.set_billed_micros(billed_micros(ci));
  v.set_fault_billed_micros(fault(ci).billed_micros);
  v.set_impressions(delivered(ci, v1::DeliveryReported::IMPRESSION));
  v.set_clicks(delivered(ci, v1::DeliveryReported::CLICK));
  v.set_video_views_2s(delivered(ci, v1::DeliveryReported::VIDEO_VIEW_2S));
  v.set_video_views_6s(delivered(ci, v1::DeliveryReported::VIDEO_VIEW_6S));
  v.set_conversions(delivered(ci, v1::DeliveryReported::CONVERSION));
  const NotBilledCounts& counts = not_billed(ci);
  for (size_t r = 1; r < counts.units.size(); ++r) {
    if (counts.units[r] == 0) continue;
    v1::NotBilled* nb = v.add_not_billed();
    nb->set_reason(static_cast<v1::NotBilledReason>(r));
    nb->set_units(counts.units[r]);
    nb->set_amount_micros(counts.micros[r]);
  }
  return v;
}

v1::DisputeView Ledger::DisputeViewAt(uint32_t di) const {
  const Dispute& d = disputes_[di];
  v1::DisputeView v;
  v.set_dispute_id(d.id);
  v.set_account_id(std::string(account_id(d.account)));
  v.set_campaign_id(Name(d.campaign));
  v.set_reason(d.reason);
  v.set_status(d.status);
  v.set_status_note(d.status_note);
  v.set_window_start_us(d.window_start_us);
  v.set_window_end_us(d.window_end_us);
  v.set_claimed_micros(d.claimed);
  v.set_verifiable_micros(d.verifiable);
  v.set_adjusted_micros(d.adjusted);
  if (d.has_screenshot) v.add_evidence(v1::EVIDENCE_SCREENSHOT);
  if (d.has_spend_report) v.add_evidence(v1::EVIDENCE_SPEND_REPORT);
  if (d.has_delivery_data) v.add_evidence(v1::EVIDENCE_DELIVERY_DATA);
  return v;
}

v1::BalanceReport Ledger::Report() const {
  v1::BalanceReport r = ReportSummary();
  for (uint32_t ai = 0; ai < accounts_.size(); ++ai) *r.add_accounts() = AccountView(ai);
  for (uint32_t ci = 0; ci < campaigns_.size(); ++ci) *r.add_campaigns() = CampaignView(ci);
  for (uint32_t di = 0; di < disputes_.size(); ++di) *r.add_disputes() = DisputeViewAt(di);
  return r;
}

v1::BalanceReport Ledger::ReportSummary() const {
  v1::BalanceReport r;
  r.set_events_applied(events_applied_);
  r.set_events_rejected(events_rejected_);
  r.set_events_duplicate(events_duplicate_);
  r.set_entries(entry_seq_);
  r.set_clock_us(latest_us_);
  r.set_state_digest(Digest());
  return r;
}

v1::LedgerEntry Ledger::ToProto(const Entry& e) const {
  v1::LedgerEntry p;
  p.set_seq(e.seq);
  p.set_event_id(e.event_id);
  p.set_time_us(e.time_us);
  if (e.account != kNoIndex) p.set_account_id(std::string(account_id(e.account)));
  if (e.campaign != kNoIndex) p.set_campaign_id(Name(e.campaign));
  p.set_kind(e.kind);
  p.set_funds_type(e.funds);
  if (e.grant != kNoIndex) p.set_grant_id(GrantName(e.grant));
  p.set_balance_delta_micros(e.balance_delta);
  p.set_frozen_delta_micros(e.frozen_delta);
  p.set_units(e.units);
  p.set_not_billed_reason(e.not_billed_reason);
  if (e.dispute != kNoIndex) p.set_dispute_id(disputes_[e.dispute].id);
  p.set_dispute_status(e.dispute_status);
  p.set_delivery_kind(e.delivery_kind);
  p.set_note(std::string(e.note));
  p.set_field(e.field);
  p.set_cash_balance(e.cash_after);
  p.set_grant_balance(e.credit_after);
  p.set_frozen_balance(e.frozen_after);
  p.set_valid_balance(e.valid_after);
  return p;
}

}  // namespace billsim
