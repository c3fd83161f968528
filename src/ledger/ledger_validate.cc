// Ledger: validation. Bad facts change nothing (R11): each refusal names the
// event id, the field and the reason, so the one message tells what to fix.
#include <cctype>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "ledger/ledger.h"
#include "util/assert.h"
#include "util/money.h"
#include "util/utf8.h"

namespace billsim {

namespace {

using Result = Ledger::Result;

Result Reject(uint64_t event_id, std::string field, const std::string& why) {
  Result r;
  r.outcome = Ledger::Outcome::kRejected;
  r.reason = "event " + std::to_string(event_id) + ": " + field + ": " + why;
  r.field = std::move(field);
  return r;
}

Result Reject(const v1::Event& e, std::string field, const std::string& why) {
  return Reject(e.event_id(), std::move(field), why);
}

// A time field within [0, kTimeMaxUs] (R11): an absurd time is refused, not
// applied (R6), and time arithmetic stays far from overflow.
Result TimeInRange(uint64_t event_id, const std::string& field, int64_t v) {
  if (v < 0) {
    return Reject(event_id, field, "must not be negative, got " + std::to_string(v));
  }
  if (v > kTimeMaxUs) {
    return Reject(event_id, field,
                  "must be at most " + std::to_string(kTimeMaxUs) + " (" +
                      FormatTime(kTimeMaxUs) + "), got " + std::to_string(v));
  }
  return Result{};
}

// The checks every event gets before its payload is looked at.
Result ValidateEnvelope(uint64_t event_id, int64_t time_us) {
  if (event_id == 0) return Reject(event_id, "event_id", "must be nonzero");
  return TimeInRange(event_id, "time_us", time_us);
}

// A payload's text fields, found by reflection once per payload kind, not
// once per event: Validate runs for every event but deliveries, and the walk
// over the payload's descriptor (copying each string out) took about a tenth
// of the set-up of a book of 10^6 campaigns.
struct PayloadText {
  const google::protobuf::FieldDescriptor* payload = nullptr;  // in Event
  std::vector<const google::protobuf::FieldDescriptor*> strings;
};

// By payload case (the payload's field number in Event); nullptr for one
// that is not a message.
const PayloadText* TextFieldsOf(v1::Event::PayloadCase which) {
  static const std::vector<PayloadText> table = [] {
    const google::protobuf::Descriptor* d = v1::Event::descriptor();
    const google::protobuf::OneofDescriptor* oneof = d->FindOneofByName("payload");
    BILLSIM_ASSERT(oneof != nullptr);
    std::vector<PayloadText> t;
    for (int i = 0; i < oneof->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* pf = oneof->field(i);
      if (pf->message_type() == nullptr) continue;
      if (static_cast<size_t>(pf->number()) >= t.size()) t.resize(pf->number() + 1);
      PayloadText& p = t[pf->number()];
      p.payload = pf;
      const google::protobuf::Descriptor* m = pf->message_type();
      for (int k = 0; k < m->field_count(); ++k) {
        if (m->field(k)->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
          p.strings.push_back(m->field(k));
        }
      }
    }
    return t;
  }();
  const size_t n = static_cast<size_t>(which);
  return n < table.size() && table[n].payload != nullptr ? &table[n] : nullptr;
}

// Every text field of the payload must be UTF-8: Protobuf refuses to parse
// anything else, so one such event in the log would make the log unreadable.
Result ValidateText(const v1::Event& e) {
  const PayloadText* p = TextFieldsOf(e.payload_case());
  if (p == nullptr || p->strings.empty()) return Result{};
  const google::protobuf::Message& m = e.GetReflection()->GetMessage(e, p->payload);
  const google::protobuf::Reflection* r = m.GetReflection();
  std::string scratch;  // only for a field not stored as a std::string
  for (const google::protobuf::FieldDescriptor* f : p->strings) {
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    for (int k = 0; k < n; ++k) {
      const std::string& v = f->is_repeated() ? r->GetRepeatedStringReference(m, f, k, &scratch)
                                              : r->GetStringReference(m, f, &scratch);
      if (!IsValidUtf8(v)) {
        return Reject(e.event_id(), p->payload->name() + "." + f->name(), "is not valid UTF-8");
      }
    }
  }
  return Result{};
}

Result ValidateDeliveryFields(uint64_t event_id, int kind, int64_t count) {
  if (!v1::DeliveryReported::Kind_IsValid(kind) ||
      kind == v1::DeliveryReported::KIND_UNSPECIFIED) {
    return Reject(event_id, "delivery_reported.kind",
                  "must be IMPRESSION, CLICK, VIDEO_VIEW_2S, VIDEO_VIEW_6S or "
                  "CONVERSION");
  }
  if (count <= 0 || count > kCountMax) {
    return Reject(event_id, "delivery_reported.count",
                  "must be from 1 to " + std::to_string(kCountMax) + ", got " +
                      std::to_string(count));
  }
  return Result{};
}

Result Accept() { return Result{}; }

bool Rejected(const Result& r) { return r.outcome == Ledger::Outcome::kRejected; }

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool ValidCurrency(std::string_view c) {
  if (c.size() != 3) return false;
  for (char ch : c) {
    if (ch < 'A' || ch > 'Z') return false;
  }
  return true;
}

// An amount, price or claim: 1 .. kAmountMaxMicros (R11).
Result Amount(const v1::Event& e, const std::string& field, int64_t v) {
  if (v > 0 && v <= kAmountMaxMicros) return Accept();
  return Reject(e, field,
                "must be from 1 to " + std::to_string(kAmountMaxMicros) +
                    " micros, got " + std::to_string(v));
}

Result ValidEvidence(const v1::Event& e, const std::string& field,
                     const google::protobuf::RepeatedField<int>& evidence) {
  for (int ev : evidence) {
    if (!v1::Evidence_IsValid(ev) || ev == v1::EVIDENCE_UNSPECIFIED) {
      return Reject(e, field, "unknown evidence kind " + std::to_string(ev));
    }
  }
  return Accept();
}

}  // namespace

Result Ledger::ValidateAccountEvent(const v1::Event& e,
                                    std::string_view account,
                                    const char* prefix) const {
  // The field's name is built only for a refusal: this runs for every
  // set-up event, and the name outgrows a short string's inline bytes.
  auto field = [prefix] { return std::string(prefix) + ".account_id"; };
  if (account.empty()) return Reject(e, field(), "must not be empty");
  const uint32_t ai = FindAccount(account);
  if (ai == kNoIndex) return Reject(e, field(), "unknown account " + Quoted(account));
  return ValidateOpened(e.event_id(), e.time_us(), ai);
}

Result Ledger::ValidateOpened(uint64_t event_id, int64_t time_us,
                              uint32_t account) const {
  const Account& a = accounts_[account];
  if (time_us < a.opened_at_us) {
    return Reject(event_id, "time_us",
                  "stamped " + FormatTime(time_us) + ", before account " +
                      Quoted(account_id(account)) + " opened at " +
                      FormatTime(a.opened_at_us));
  }
  return Accept();
}

Result Ledger::ValidateInflow(const v1::Event& e, uint32_t account,
                              int64_t amount, const char* field) const {
  const Account& a = accounts_[account];
  int64_t total = 0;
  if (AddWithin(a.deposited, a.granted, kAccountFundsMaxMicros, &total) &&
      AddWithin(total, a.adjusted, kAccountFundsMaxMicros, &total) &&
      AddWithin(total, amount, kAccountFundsMaxMicros, &total)) {
    return Accept();
  }
  return Reject(e, field,
                "would overflow account " + Quoted(account_id(account)) +
                    "'s balances: deposited + granted + adjusted may not pass " +
                    std::to_string(kAccountFundsMaxMicros) + " micros");
}

Result Ledger::ValidateDelivery(uint64_t event_id, int64_t time_us,
                                uint32_t campaign, int kind,
                                int64_t count) const {
  // The replay hot path: a well-formed delivery costs no string work.
  if (DeliveryWellFormed(event_id, time_us, campaign, kind, count)) return Accept();
  Result r = ValidateEnvelope(event_id, time_us);
  if (Rejected(r)) return r;
  r = ValidateOpened(event_id, time_us, campaigns_[campaign].account);
  if (Rejected(r)) return r;
  r = ValidateDeliveryFields(event_id, kind, count);
  if (Rejected(r)) return r;
  return ValidateDeliveryTotals(event_id, campaign, kind, count);
}

Result Ledger::ValidateDeliveryTotals(uint64_t event_id, uint32_t campaign,
                                      int kind, int64_t count) const {
  const Campaign& c = campaigns_[campaign];
  if (DeliveryFits(campaign, kind, count)) return Accept();
  const std::string what =
      kind == c.billable_kind
          ? "billable units whose cost at its price would pass " +
                std::to_string(kCampaignCostMaxMicros) + " micros"
          : std::to_string(kCampaignUnitsMax) + " delivered units of that kind";
  return Reject(event_id, "delivery_reported.count",
                "would overflow campaign " + Quoted(campaign_id(campaign)) + "'s totals: " +
                    std::to_string(delivered(campaign, kind)) + " + " +
                    std::to_string(count) + " passes " + what);
}

Result Ledger::ValidateCampaignEvent(const v1::Event& e,
                                     std::string_view account,
                                     std::string_view campaign,
                                     const char* prefix) const {
  Result r = ValidateAccountEvent(e, account, prefix);
  if (Rejected(r)) return r;
  auto field = [prefix] { return std::string(prefix) + ".campaign_id"; };
  if (campaign.empty()) return Reject(e, field(), "must not be empty");
  const uint32_t ci = FindCampaign(campaign);
  if (ci == kNoIndex) {
    return Reject(e, field(), "unknown campaign " + Quoted(campaign));
  }
  const std::string_view owner = account_id(campaigns_[ci].account);
  if (owner != account) {
    return Reject(e, field(),
                  "campaign " + Quoted(campaign) + " belongs to account " +
                      Quoted(owner) + ", not " + Quoted(account));
  }
  return Accept();
}

Result Ledger::Validate(const v1::Event& e, int64_t at_us, Text text) const {
  Result envelope = ValidateEnvelope(e.event_id(), e.time_us());
  if (Rejected(envelope)) return envelope;
  // Deliveries skip the walk: their ids must name an account and campaign
  // that were checked when created, and unknown ids are refused anyway.
  // So does an event Protobuf parsed: it checked every string field.
  if (text == Text::kUnchecked && !e.has_delivery_reported()) {
    Result utf8 = ValidateText(e);
    if (Rejected(utf8)) return utf8;
  }
  using P = v1::Event::PayloadCase;
  switch (e.payload_case()) {
    case P::PAYLOAD_NOT_SET:
      return Reject(e, "payload", "the event has no payload");

    case P::kAccountOpened: {
      const auto& m = e.account_opened();
      if (m.account_id().empty()) {
        return Reject(e, "account_opened.account_id", "must not be empty");
      }
      if (FindAccount(m.account_id()) != kNoIndex) {
        return Reject(e, "account_opened.account_id",
                      "account " + Quoted(m.account_id()) + " already exists");
      }
      if (!ValidCurrency(m.currency())) {
        return Reject(e, "account_opened.currency",
                      "must be three upper-case letters (ISO 4217), got " +
                          Quoted(m.currency()));
      }
      const int32_t tz = m.utc_offset_minutes();
      if (tz % 30 != 0 || tz < -720 || tz > 840) {
        return Reject(e, "account_opened.utc_offset_minutes",
                      "must be whole or half hours from -720 to +840, got " +
                          std::to_string(tz));
      }
      if (!v1::FundingOrder_IsValid(m.funding_order())) {
        return Reject(e, "account_opened.funding_order",
                      "unknown funding order " +
                          std::to_string(m.funding_order()));
      }
      if (m.business_center_id().size() > kNameBytesMax) {
        return Reject(e, "account_opened.business_center_id",
                      "is " + std::to_string(m.business_center_id().size()) +
                          " bytes, over the " + std::to_string(kNameBytesMax) + "-byte limit");
      }
      return Accept();
    }

    case P::kCashDeposited: {
      const auto& m = e.cash_deposited();
      Result r = ValidateAccountEvent(e, m.account_id(), "cash_deposited");
      if (Rejected(r)) return r;
      r = Amount(e, "cash_deposited.amount_micros", m.amount_micros());
      if (Rejected(r)) return r;
      return ValidateInflow(e, FindAccount(m.account_id()), m.amount_micros(),
                            "cash_deposited.amount_micros");
    }

    case P::kCreditGranted: {
      const auto& m = e.credit_granted();
      Result r = ValidateAccountEvent(e, m.account_id(), "credit_granted");
      if (Rejected(r)) return r;
      if (m.grant_id().empty()) {
        return Reject(e, "credit_granted.grant_id", "must not be empty");
      }
      if (m.grant_id().starts_with("refund:")) {
        return Reject(e, "credit_granted.grant_id",
                      "the prefix \"refund:\" is reserved for refund grants");
      }
      if (FindGrant(m.grant_id()) != kNoIndex) {
        return Reject(e, "credit_granted.grant_id",
                      "grant " + Quoted(m.grant_id()) + " already exists");
      }
      r = Amount(e, "credit_granted.amount_micros", m.amount_micros());
      if (Rejected(r)) return r;
      r = ValidateInflow(e, FindAccount(m.account_id()), m.amount_micros(),
                         "credit_granted.amount_micros");
      if (Rejected(r)) return r;
      r = TimeInRange(e.event_id(), "credit_granted.expires_at_us", m.expires_at_us());
      if (Rejected(r)) return r;
      if (m.expires_at_us() <= at_us) {
        return Reject(e, "credit_granted.expires_at_us",
                      "already expired when granted: expires " +
                          FormatTime(m.expires_at_us()) + ", granted at " +
                          FormatTime(at_us));
      }
      for (const std::string& c : m.campaign_ids()) {
        const uint32_t ci = FindCampaign(c);
        if (ci == kNoIndex) {
          return Reject(e, "credit_granted.campaign_ids",
                        "unknown campaign " + Quoted(c));
        }
        if (account_id(campaigns_[ci].account) != m.account_id()) {
          return Reject(e, "credit_granted.campaign_ids",
                        "campaign " + Quoted(c) +
                            " belongs to another account");
        }
      }
      return Accept();
    }

    case P::kCampaignCreated: {
      const auto& m = e.campaign_created();
      Result r = ValidateAccountEvent(e, m.account_id(), "campaign_created");
      if (Rejected(r)) return r;
      if (m.campaign_id().empty()) {
        return Reject(e, "campaign_created.campaign_id", "must not be empty");
      }
      if (FindCampaign(m.campaign_id()) != kNoIndex) {
        return Reject(e, "campaign_created.campaign_id",
                      "campaign " + Quoted(m.campaign_id()) +
                          " already exists");
      }
      if (!v1::Objective_IsValid(m.objective())) {
        return Reject(e, "campaign_created.objective", "unknown objective");
      }
      if (m.name().size() > kNameBytesMax) {
        return Reject(e, "campaign_created.name",
                      "is " + std::to_string(m.name().size()) + " bytes, over the " +
                          std::to_string(kNameBytesMax) + "-byte limit");
      }
      if (!v1::BillingEvent_IsValid(m.billing_event()) ||
          m.billing_event() == v1::BILLING_EVENT_UNSPECIFIED) {
        return Reject(e, "campaign_created.billing_event",
                      "must be CPM, CPC, CPV_2S or CPV_6S");
      }
      r = Amount(e, "campaign_created.price_micros", m.price_micros());
      if (Rejected(r)) return r;
      switch (m.budget_mode()) {
        case v1::BUDGET_MODE_DAY:
        case v1::BUDGET_MODE_TOTAL:
          if (m.budget_micros() < options_.min_budget_micros ||
              m.budget_micros() > kAmountMaxMicros) {
            return Reject(e, "campaign_created.budget_micros",
                          "a finite budget must be from " +
                              FormatMicros(options_.min_budget_micros) + " to " +
                              FormatMicros(kAmountMaxMicros) + ", got " +
                              FormatMicros(m.budget_micros()));
          }
          return Accept();
        case v1::BUDGET_MODE_INFINITE:
          if (m.budget_micros() != 0) {
            return Reject(e, "campaign_created.budget_micros",
                          "must be 0 with BUDGET_MODE_INFINITE, got " +
                              FormatMicros(m.budget_micros()));
          }
          return Accept();
        default:
          return Reject(e, "campaign_created.budget_mode",
                        "must be BUDGET_MODE_DAY, BUDGET_MODE_TOTAL or "
                        "BUDGET_MODE_INFINITE");
      }
    }

    case P::kCampaignStatusChanged: {
      const auto& m = e.campaign_status_changed();
      Result r = ValidateCampaignEvent(e, m.account_id(), m.campaign_id(),
                                       "campaign_status_changed");
      if (Rejected(r)) return r;
      if (m.operation() != v1::CampaignStatusChanged::ENABLE &&
          m.operation() != v1::CampaignStatusChanged::DISABLE &&
          m.operation() != v1::CampaignStatusChanged::DELETE) {
        return Reject(e, "campaign_status_changed.operation",
                      "must be ENABLE, DISABLE or DELETE");
      }
      const Campaign& c = campaigns_[FindCampaign(m.campaign_id())];
      if (c.status == Campaign::Status::kDeleted) {
        return Reject(e, "campaign_status_changed.operation",
                      "campaign " + Quoted(m.campaign_id()) +
                          " is deleted; DELETE is final");
      }
      return Accept();
    }

    case P::kCampaignUpdated: {
      const auto& m = e.campaign_updated();
      Result r = ValidateCampaignEvent(e, m.account_id(), m.campaign_id(), "campaign_updated");
      if (Rejected(r)) return r;
      const uint32_t ci = FindCampaign(m.campaign_id());
      const Campaign& c = campaigns_[ci];
      if (c.status == Campaign::Status::kDeleted) {
        return Reject(e, "campaign_updated.campaign_id",
                      "campaign " + Quoted(m.campaign_id()) +
                          " is deleted; a deleted campaign cannot change");
      }
      if (!m.has_budget_mode() && !m.has_budget_micros() && !m.has_price_micros() &&
          !m.has_name()) {
        return Reject(e, "campaign_updated",
                      "changes nothing: set budget_mode, budget_micros, price_micros or name");
      }
      if (m.name().size() > kNameBytesMax) {
        return Reject(e, "campaign_updated.name",
                      "is " + std::to_string(m.name().size()) + " bytes, over the " +
                          std::to_string(kNameBytesMax) + "-byte limit");
      }
      if (m.has_price_micros()) {
        r = Amount(e, "campaign_updated.price_micros", m.price_micros());
        if (Rejected(r)) return r;
      }
      const v1::BudgetMode mode = m.has_budget_mode() ? m.budget_mode() : v1::BudgetMode{c.budget_mode};
      const int64_t budget = UpdatedBudget(c, m);
      switch (mode) {
        case v1::BUDGET_MODE_DAY:
        case v1::BUDGET_MODE_TOTAL: {
          if (budget < options_.min_budget_micros || budget > kAmountMaxMicros) {
            return Reject(e, "campaign_updated.budget_micros",
                          "a finite budget must be from " +
                              FormatMicros(options_.min_budget_micros) + " to " +
                              FormatMicros(kAmountMaxMicros) + ", got " + FormatMicros(budget) +
                              (m.has_budget_micros() ? "" : " (the campaign's; set budget_micros)"));
          }
          // R4: a budget is a cap on what is billed; it cannot be set
          // below what the campaign was billed already (in its period).
          const Account& a = accounts_[c.account];
          const int64_t billed =
              mode == v1::BUDGET_MODE_TOTAL ? billed_micros(ci)
              : (c.budget_mode == v1::BUDGET_MODE_DAY && c.day_index == LocalDay(a, at_us))
                  ? c.day_spent
                  : 0;
          if (budget < billed) {
            return Reject(e, "campaign_updated.budget_micros",
                          std::string(mode == v1::BUDGET_MODE_TOTAL ? "a lifetime" : "a daily") +
                              " budget of " + FormatMicros(budget) + " is below the " +
                              FormatMicros(billed) + " campaign " + Quoted(m.campaign_id()) +
                              " was billed " +
                              (mode == v1::BUDGET_MODE_TOTAL ? "already" : "today"));
          }
          return Accept();
        }
        case v1::BUDGET_MODE_INFINITE:
          if (budget != 0) {
            return Reject(e, "campaign_updated.budget_micros",
                          "must be 0 with BUDGET_MODE_INFINITE, got " + FormatMicros(budget));
          }
          return Accept();
        default:
          return Reject(e, "campaign_updated.budget_mode",
                        "must be BUDGET_MODE_DAY, BUDGET_MODE_TOTAL or BUDGET_MODE_INFINITE");
      }
    }

    case P::kAdReviewed: {
      const auto& m = e.ad_reviewed();
      Result r = ValidateCampaignEvent(e, m.account_id(), m.campaign_id(),
                                       "ad_reviewed");
      if (Rejected(r)) return r;
      if (m.result() != v1::AdReviewed::APPROVED &&
          m.result() != v1::AdReviewed::REJECTED_BEFORE_SERVING &&
          m.result() != v1::AdReviewed::REJECTED_AFTER_SERVING) {
        return Reject(e, "ad_reviewed.result",
                      "must be APPROVED, REJECTED_BEFORE_SERVING or "
                      "REJECTED_AFTER_SERVING");
      }
      const uint32_t ci = FindCampaign(m.campaign_id());
      if (m.result() == v1::AdReviewed::REJECTED_BEFORE_SERVING &&
          served_units(ci) > 0) {
        return Reject(e, "ad_reviewed.result",
                      "campaign " + Quoted(m.campaign_id()) + " already billed " +
                          std::to_string(served_units(ci)) +
                          " units of delivery; an ad that served is "
                          "REJECTED_AFTER_SERVING");
      }
      return Accept();
    }

    case P::kDeliveryReported: {
      const auto& m = e.delivery_reported();
      Result r = ValidateCampaignEvent(e, m.account_id(), m.campaign_id(),
                                       "delivery_reported");
      if (Rejected(r)) return r;
      r = ValidateDeliveryFields(e.event_id(), m.kind(), m.count());
      if (Rejected(r)) return r;
      return ValidateDeliveryTotals(e.event_id(), FindCampaign(m.campaign_id()),
                                    m.kind(), m.count());
    }

    case P::kDisputeFiled: {
      const auto& m = e.dispute_filed();
      Result r = ValidateCampaignEvent(e, m.account_id(), m.campaign_id(),
                                       "dispute_filed");
      if (Rejected(r)) return r;
      if (m.dispute_id().empty()) {
        return Reject(e, "dispute_filed.dispute_id", "must not be empty");
      }
      if (FindDispute(m.dispute_id()) != kNoIndex) {
        return Reject(e, "dispute_filed.dispute_id",
                      "dispute " + Quoted(m.dispute_id()) + " already exists");
      }
      if (!v1::DisputeReason_IsValid(m.reason()) ||
          m.reason() == v1::DISPUTE_REASON_UNSPECIFIED) {
        return Reject(e, "dispute_filed.reason", "must name a reason");
      }
      r = TimeInRange(e.event_id(), "dispute_filed.window_start_us",
                      m.window_start_us());
      if (Rejected(r)) return r;
      r = TimeInRange(e.event_id(), "dispute_filed.window_end_us", m.window_end_us());
      if (Rejected(r)) return r;
      if (m.window_end_us() <= m.window_start_us()) {
        return Reject(e, "dispute_filed.window_end_us",
                      "the window [start, end) must be non-empty");
      }
      r = Amount(e, "dispute_filed.claimed_micros", m.claimed_micros());
      if (Rejected(r)) return r;
      // What an investigation may give back is at most the claim.
      r = ValidateInflow(e, FindAccount(m.account_id()), m.claimed_micros(),
                         "dispute_filed.claimed_micros");
      if (Rejected(r)) return r;
      return ValidEvidence(e, "dispute_filed.evidence", m.evidence());
    }

    case P::kDisputeEvidenceAdded: {
      const auto& m = e.dispute_evidence_added();
      const uint32_t di = FindDispute(m.dispute_id());
      if (di == kNoIndex) {
        return Reject(e, "dispute_evidence_added.dispute_id",
                      "unknown dispute " + Quoted(m.dispute_id()));
      }
      if (m.evidence().empty()) {
        return Reject(e, "dispute_evidence_added.evidence",
                      "must list at least one item");
      }
      Result r = ValidEvidence(e, "dispute_evidence_added.evidence", m.evidence());
      if (Rejected(r)) return r;
      // It may complete the evidence and so adjust up to the claim.
      const Dispute& d = disputes_[di];
      if (d.status != v1::NEEDS_EVIDENCE) return Accept();
      return ValidateInflow(e, d.account, d.claimed, "dispute_evidence_added.evidence");
    }

    case P::kDisputeDecided: {
      const auto& m = e.dispute_decided();
      const uint32_t di = FindDispute(m.dispute_id());
      if (di == kNoIndex) {
        return Reject(e, "dispute_decided.dispute_id",
                      "unknown dispute " + Quoted(m.dispute_id()));
      }
      const Dispute& d = disputes_[di];
      if (d.status != v1::UNDER_REVIEW) {
        return Reject(e, "dispute_decided.dispute_id",
                      "dispute " + Quoted(d.id) + " is " +
                          v1::DisputeStatus_Name(d.status) +
                          "; only a dispute UNDER_REVIEW can be decided");
      }
      if (m.verified()) {
        Result r = Amount(e, "dispute_decided.amount_micros", m.amount_micros());
        if (Rejected(r)) return r;
        return ValidateInflow(e, d.account, m.amount_micros(),
                              "dispute_decided.amount_micros");
      }
      return Accept();
    }

    case P::kClockAdvanced: {
      // Without an account it moves every account's clock (an operator's
      // event); with one, only that account's.
      const auto& m = e.clock_advanced();
      if (m.account_id().empty()) return Accept();
      return ValidateAccountEvent(e, m.account_id(), "clock_advanced");
    }
  }
  return Reject(e, "payload", "unknown payload");
}

}  // namespace billsim
