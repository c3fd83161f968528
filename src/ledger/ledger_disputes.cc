// Ledger: disputes. Performance is not a billing error (R8); verified errors
// are adjusted, never beyond what was wrongly charged (R9).
#include <algorithm>

#include "ledger/ledger.h"
#include "util/assert.h"
#include "util/money.h"

namespace billsim {

namespace {

bool IsPerformanceReason(v1::DisputeReason r) {
  switch (r) {
    case v1::DISPUTE_REASON_POOR_PERFORMANCE:
    case v1::DISPUTE_REASON_LOW_CTR:
    case v1::DISPUTE_REASON_FEW_CONVERSIONS:
    case v1::DISPUTE_REASON_IRRELEVANT_AUDIENCE:
    case v1::DISPUTE_REASON_PERFORMANCE_GUARANTEE:
    case v1::DISPUTE_REASON_MONEY_BACK_GUARANTEE:
      return true;
    default:
      return false;
  }
}

const char* DenialFor(v1::DisputeReason r) {
  switch (r) {
    case v1::DISPUTE_REASON_POOR_PERFORMANCE:
      return "poor results are the normal risk of advertising; delivery was "
             "billed as served";
    case v1::DISPUTE_REASON_LOW_CTR:
      return "billing is for delivery, not click-through rate";
    case v1::DISPUTE_REASON_FEW_CONVERSIONS:
      return "conversions are results; billing is for delivery";
    case v1::DISPUTE_REASON_IRRELEVANT_AUDIENCE:
      return "delivery within the targeting the advertiser set is billed; "
             "audience quality is not a billing error";
    case v1::DISPUTE_REASON_PERFORMANCE_GUARANTEE:
      return "ad credit carries no performance guarantee";
    case v1::DISPUTE_REASON_MONEY_BACK_GUARANTEE:
      return "there is no money-back guarantee, for first-time advertisers "
             "or any other";
    default:
      return "";
  }
}

}  // namespace

void Ledger::SetDisputeStatus(uint32_t di, v1::DisputeStatus status,
                              std::string note) {
  Dispute& d = disputes_[di];
  d.status = status;
  d.status_note = note;
  Entry e;
  e.kind = v1::DISPUTE_STATUS;
  e.account = d.account;
  e.campaign = d.campaign;
  e.dispute = di;
  e.dispute_status = status;
  e.note = std::move(note);
  Emit(std::move(e));
}

void Ledger::OnDisputeFiled(const v1::DisputeFiled& m) {
  const uint32_t di = static_cast<uint32_t>(disputes_.size());
  Dispute& d = disputes_.emplace_back();
  d.id = m.dispute_id();
  d.account = FindAccount(m.account_id());
  d.campaign = FindCampaign(m.campaign_id());
  d.reason = m.reason();
  d.window_start_us = m.window_start_us();
  d.window_end_us = m.window_end_us();
  d.claimed = m.claimed_micros();
  for (int ev : m.evidence()) {
    d.has_screenshot |= ev == v1::EVIDENCE_SCREENSHOT;
    d.has_spend_report |= ev == v1::EVIDENCE_SPEND_REPORT;
    d.has_delivery_data |= ev == v1::EVIDENCE_DELIVERY_DATA;
  }
  dispute_index_.Insert(di);

  if (IsPerformanceReason(d.reason)) {
    SetDisputeStatus(di, v1::DENIED,
                     std::string("denied (R8): performance is not a billing "
                                 "error: ") +
                         DenialFor(d.reason));
    return;
  }
  if (d.has_spend_report && d.has_delivery_data) {
    Investigate(di);
    return;
  }
  std::string missing;
  if (!d.has_spend_report) missing += " spend report;";
  if (!d.has_delivery_data) missing += " delivery data;";
  SetDisputeStatus(di, v1::NEEDS_EVIDENCE,
                   "R9: a billing error needs a spend report and delivery "
                   "data; missing:" + missing);
}

void Ledger::OnEvidenceAdded(const v1::DisputeEvidenceAdded& m) {
  const uint32_t di = FindDispute(m.dispute_id());
  Dispute& d = disputes_[di];
  for (int ev : m.evidence()) {
    d.has_screenshot |= ev == v1::EVIDENCE_SCREENSHOT;
    d.has_spend_report |= ev == v1::EVIDENCE_SPEND_REPORT;
    d.has_delivery_data |= ev == v1::EVIDENCE_DELIVERY_DATA;
  }
  if (d.status == v1::NEEDS_EVIDENCE && d.has_spend_report &&
      d.has_delivery_data) {
    Investigate(di);
  }
}

// R9: what the campaign was charged for fault-marked delivery in the
// disputed window, less what earlier adjustments already gave back.
int64_t Ledger::Verifiable(const Dispute& d) const {
  int64_t total = 0;
  for (const FaultCharge& f : fault_charges(d.campaign)) {
    if (f.time_us < d.window_start_us || f.time_us >= d.window_end_us) continue;
    for (const auto& p : f.parts) total += p.amount - p.adjusted;
  }
  return total;
}

void Ledger::Investigate(uint32_t di) {
  Dispute& d = disputes_[di];
  d.verifiable = Verifiable(d);
  if (d.verifiable == 0) {
    SetDisputeStatus(di, v1::UNDER_REVIEW,
                     "investigated: no charge for fault-marked delivery in "
                     "the window; awaits an investigator (R9)");
    return;
  }
  const int64_t amount = std::min(d.claimed, d.verifiable);
  Adjust(di, amount);
  SetDisputeStatus(di, v1::ADJUSTED,
                   "verified automatically: " + FormatMicros(d.verifiable) +
                       " charged in error in the window; adjusted " +
                       FormatMicros(amount) + " (R9)");
}

void Ledger::OnDisputeDecided(const v1::DisputeDecided& m) {
  const uint32_t di = FindDispute(m.dispute_id());
  Dispute& d = disputes_[di];
  BILLSIM_ASSERT(d.status == v1::UNDER_REVIEW);
  if (!m.verified()) {
    SetDisputeStatus(di, v1::DENIED,
                     "denied by the investigator: no platform or billing "
                     "error found");
    return;
  }
  d.verifiable = Verifiable(d);
  const int64_t amount = std::min(m.amount_micros(), d.verifiable);
  Adjust(di, amount);
  std::string note = "verified by the investigator: granted " +
                     FormatMicros(m.amount_micros()) + ", adjusted " +
                     FormatMicros(amount);
  if (amount < m.amount_micros()) {
    note += ": capped at what was charged in error (R9)";
  }
  SetDisputeStatus(di, v1::ADJUSTED, std::move(note));
}

// R9: gives `amount` back to the sources that paid for the fault-marked
// charges in the window, oldest first: cash to cash, a live grant to itself,
// credit of expired grants as one new grant.
void Ledger::Adjust(uint32_t di, int64_t amount) {
  Dispute& d = disputes_[di];
  BILLSIM_ASSERT(amount >= 0 && amount <= Verifiable(d));
  Account& a = accounts_[d.account];
  int64_t left = amount;
  int64_t from_expired = 0;
  // Nothing to give back makes no fault record (a restore would not).
  std::vector<FaultCharge> none;
  for (FaultCharge& f : amount > 0 ? MutableFault(d.campaign).charges : none) {
    if (f.time_us < d.window_start_us || f.time_us >= d.window_end_us) continue;
    for (auto& p : f.parts) {
      const int64_t take = std::min(left, p.amount - p.adjusted);
      if (take <= 0) continue;
      p.adjusted += take;
      left -= take;
      if (p.grant != kNoIndex && grants_[p.grant].expired) {
        from_expired += take;
        continue;
      }
      Entry e;
      e.kind = v1::REFUND;
      e.account = d.account;
      e.campaign = d.campaign;
      e.dispute = di;
      e.grant = p.grant;
      e.balance_delta = take;
      a.adjusted += take;
      if (p.grant == kNoIndex) {
        a.cash += take;
        e.funds = v1::FUNDS_TYPE_CASH;
      } else {
        grants_[p.grant].remaining += take;
        a.credit += take;
        e.funds = v1::FUNDS_TYPE_GRANT;
      }
      e.note = "credit adjustment for a verified error (R9)";
      Emit(std::move(e));
    }
  }
  BILLSIM_ASSERT(left == 0);
  if (from_expired > 0) {
    const uint32_t gi = static_cast<uint32_t>(grants_.size());
    Grant& g = grants_.emplace_back();
    g.id_handle = strings_.Add("refund:" + d.id);
    g.program_index = programs_.Intern("refund of expired credit, dispute " + d.id);
    g.account = d.account;
    g.order = ++grant_order_;
    g.amount = g.remaining = from_expired;
    g.expires_at_us = a.clock_us + options_.refund_grant_validity_us;
    g.adjustment = true;
    grant_index_.Insert(gi);  // a refund grant never shadows an id in use
    InsertGrantOrdered(a, gi);
    a.credit += from_expired;
    a.adjusted += from_expired;
    Entry e;
    e.kind = v1::REFUND;
    e.account = d.account;
    e.campaign = d.campaign;
    e.dispute = di;
    e.funds = v1::FUNDS_TYPE_GRANT;
    e.grant = gi;
    e.balance_delta = from_expired;
    e.note = "credit from expired grants restored as a new grant (R9)";
    Emit(std::move(e));
  }
  d.adjusted += amount;
  TopUpAll(d.account);
}

}  // namespace billsim
