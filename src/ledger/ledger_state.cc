// Ledger: the whole state to and from v1::LedgerState, for snapshots.
// Everything that Digest() covers is saved, so a restored ledger has the
// digest of the one that was saved, and applying the same tail to both gives
// the same digest again.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <tuple>

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
  p->set_id(std::string(account_id(ai)));
  p->set_currency(std::string(account_currency(ai)));
  p->set_name(std::string(account_name(ai)));
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
  if (a.business_center != kNoIndex) {
    p->set_business_center_id(business_centers_[a.business_center].id);
  }
}

void Ledger::SaveGrant(uint32_t gi, v1::LedgerState::Grant* p) const {
  const Grant& g = grants_[gi];
  p->Clear();
  p->set_id(GrantName(gi));
  p->set_program(std::string(grant_program(gi)));
  p->set_account(g.account);
  p->set_order(g.order);
  p->set_amount(g.amount);
  p->set_remaining(g.remaining);
  p->set_expires_at_us(g.expires_at_us);
  p->set_expired_micros(g.expired_micros);
  p->set_expired(g.expired);
  p->set_adjustment(g.adjustment);
  for (uint32_t c : grant_campaigns(gi)) p->add_campaigns(c);
}

void Ledger::SaveCampaign(uint32_t ci, v1::LedgerState::Campaign* p) const {
  const Campaign& c = campaigns_[ci];
  const CampaignInfo& info = campaign_info_[ci];
  p->Clear();
  p->set_id(Name(ci));
  p->set_account(c.account);
  p->set_objective(static_cast<v1::Objective>(info.objective));
  p->set_billing_event(static_cast<v1::BillingEvent>(info.billing_event));
  p->set_price(c.price);
  p->set_budget_mode(c.budget_mode);
  p->set_budget(c.budget);
  p->set_creative_reviewed(info.creative_reviewed);
  p->set_audience_defined(info.audience_defined);
  p->set_landing_page_url(LandingPageUrl(ci));
  p->set_status(static_cast<int32_t>(c.status));
  p->set_status_reason(std::string(status_reason(ci)));
  p->set_review(static_cast<int32_t>(c.review));
  p->set_enable_order(info.enable_order);
  p->set_hold(c.hold);
  p->set_billed_units(c.billed_units);
  p->set_billed_micros(billed_micros(ci));
  p->set_served_units(served_units(ci));
  p->set_fault_billed_micros(fault(ci).billed_micros);
  p->set_day_index(c.day_index);
  p->set_day_spent(c.day_spent);
  for (int kind = 0; kind < 6; ++kind) p->add_delivered(kind == 0 ? 0 : delivered(ci, kind));
  p->set_name(std::string(campaign_name(ci)));
  if (c.repriced) {
    const Reprice& r = reprices_.at(ci);
    p->set_repriced(true);
    p->set_repriced_units(r.units);
    p->set_repriced_micros(r.micros);
    p->set_repriced_units_max(r.units_max);
  }
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

void Ledger::AccountTimers(uint32_t ai, std::vector<Due>* timers) const {
  const Account& a = accounts_[ai];
  timers->clear();
  for (size_t i = a.expired_grants; i < a.grants.size(); ++i) {
    timers->push_back(Due{grants_[a.grants[i]].expires_at_us, kTimerExpiry, a.grants[i]});
  }
  if (a.day_timer_us != INT64_MAX) timers->push_back(Due{a.day_timer_us, kTimerDay, ai});
  std::sort(timers->begin(), timers->end(), [this](const Due& x, const Due& y) {
    return std::make_tuple(x.at_us, x.kind, DueKey(x)) < std::make_tuple(y.at_us, y.kind, DueKey(y));
  });
}

void Ledger::SaveTimers(const std::function<void(const v1::LedgerState::Timer&)>& add) const {
  // Account by account, each account's in the order they fire.
  std::vector<Due> timers;
  v1::LedgerState::Timer p;
  for (uint32_t ai = 0; ai < accounts_.size(); ++ai) {
    AccountTimers(ai, &timers);
    for (const Due& t : timers) {
      p.set_at_us(t.at_us);
      p.set_kind(t.kind);
      p.set_key(std::string(DueKey(t)));
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

Status Ledger::ForkAccount(uint32_t ai, Ledger* out) const {
  BILLSIM_ASSERT(ai < accounts_.size());
  const Account& a = accounts_[ai];
  // New numbers: the account's grants, campaigns and disputes in their order.
  std::unordered_map<uint32_t, uint32_t> grant_no, campaign_no;
  std::vector<uint32_t> grants(a.grants.begin(), a.grants.end()), campaigns, disputes;
  std::sort(grants.begin(), grants.end());
  for (uint32_t gi : grants) grant_no.emplace(gi, static_cast<uint32_t>(grant_no.size()));
  for (uint32_t ci : a.campaigns) {
    campaign_no.emplace(ci, static_cast<uint32_t>(campaigns.size()));
    campaigns.push_back(ci);
  }
  for (uint32_t di = 0; di < disputes_.size(); ++di) {
    if (disputes_[di].account == ai) disputes.push_back(di);
  }
  // A restored state may name another account's campaign in a coupon (the
  // restorer checks indexes, not owners): refused here, not thrown.
  auto renumber = [](const std::unordered_map<uint32_t, uint32_t>& no, uint32_t i,
                     uint32_t* out) {
    auto it = no.find(i);
    if (it == no.end()) return false;
    *out = it->second;
    return true;
  };
  const Status foreign =
      Status::Corruption("account " + std::string(account_id(ai)) +
                         " names a grant or campaign of another account");
  uint32_t n = 0;
  Restorer r(options_);
  v1::LedgerState::Account pa;
  SaveAccount(ai, &pa);
  for (int i = 0; i < pa.grants_size(); ++i) {
    if (!renumber(grant_no, pa.grants(i), &n)) return foreign;
    pa.set_grants(i, n);
  }
  for (int i = 0; i < pa.holding_size(); ++i) {
    if (!renumber(campaign_no, pa.holding(i), &n)) return foreign;
    pa.set_holding(i, n);
  }
  Status st = r.AddAccount(pa);
  for (size_t i = 0; st.ok() && i < grants.size(); ++i) {
    v1::LedgerState::Grant pg;
    SaveGrant(grants[i], &pg);
    pg.set_account(0);
    for (int k = 0; k < pg.campaigns_size(); ++k) {
      if (!renumber(campaign_no, pg.campaigns(k), &n)) return foreign;
      pg.set_campaigns(k, n);
    }
    st = r.AddGrant(pg);
  }
  for (size_t i = 0; st.ok() && i < campaigns.size(); ++i) {
    v1::LedgerState::Campaign pc;
    SaveCampaign(campaigns[i], &pc);
    pc.set_account(0);
    for (auto& charge : *pc.mutable_fault_charges()) {
      for (auto& part : *charge.mutable_parts()) {
        if (part.grant() == kNoIndex) continue;
        if (!renumber(grant_no, part.grant(), &n)) return foreign;
        part.set_grant(n);
      }
    }
    st = r.AddCampaign(pc);
  }
  for (size_t i = 0; st.ok() && i < disputes.size(); ++i) {
    v1::LedgerState::Dispute pd;
    SaveDispute(disputes[i], &pd);
    pd.set_account(0);
    if (!renumber(campaign_no, pd.campaign(), &n)) return foreign;
    pd.set_campaign(n);
    st = r.AddDispute(pd);
  }
  if (st.ok()) {
    std::vector<Due> timers;
    AccountTimers(ai, &timers);
    for (const Due& t : timers) {
      v1::LedgerState::Timer pt;
      pt.set_at_us(t.at_us);
      pt.set_kind(t.kind);
      pt.set_key(std::string(DueKey(t)));
      if (t.kind == kTimerExpiry && !renumber(grant_no, t.index, &n)) return foreign;
      pt.set_index(t.kind == kTimerExpiry ? n : 0);
      st = r.AddTimer(pt);
      if (!st.ok()) break;
    }
  }
  if (!st.ok()) return st;
  v1::LedgerState fields, tail;
  SaveHead(&fields);
  fields.clear_applied_ids();
  fields.set_clock_us(a.clock_us);
  SaveTail(&tail);
  fields.MergeFrom(tail);
  st = r.Finish(fields);
  if (!st.ok()) return st;
  r.CommitTo(out);
  return Status::Ok();
}

void Ledger::SerializeState(const std::function<void(std::string_view)>& out) const {
  // Fields in number order, as a deterministic serialization of the whole
  // message writes them: the head (1-9), each entity (10-14) framed as a
  // length-delimited field, the tail (15-16).
  std::string bytes;
  auto serialize = [&bytes](const google::protobuf::MessageLite& m) {
    // Into exactly its size: a StringOutputStream would first grow the
    // string to its whole capacity (zeroing it), and the capacity stays
    // that of the largest piece, the head, whose applied-id ranges alone
    // are megabytes when ids are scattered (a cluster shard's): a memset
    // of megabytes for every campaign.
    const size_t size = m.ByteSizeLong();
    bytes.resize(size);
    google::protobuf::io::ArrayOutputStream stream(bytes.data(), static_cast<int>(size));
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeWithCachedSizes(&coded);
    BILLSIM_ASSERT(!coded.HadError() && static_cast<size_t>(coded.ByteCount()) == size);
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

}  // namespace billsim
