#include "sim/whatif.h"

#include <algorithm>
#include <map>
#include <utility>

#include "report/json.h"
#include "report/table.h"
#include "util/money.h"

namespace billsim::sim {

namespace {

constexpr size_t kRefusalsKept = 10;

// The same entry in both histories: the same fields, and the same account,
// campaign, grant and dispute by id (an inserted or dropped creation shifts
// the what-if's indexes, not its ids).
bool SameEntry(const Ledger& la, const Entry& a, const Ledger& lb, const Entry& b) {
  if (!(a.event_id == b.event_id && a.time_us == b.time_us && a.kind == b.kind &&
        a.funds == b.funds && a.balance_delta == b.balance_delta &&
        a.frozen_delta == b.frozen_delta && a.units == b.units &&
        a.not_billed_reason == b.not_billed_reason && a.dispute_status == b.dispute_status &&
        a.field == b.field && a.note == b.note && a.cash_after == b.cash_after &&
        a.credit_after == b.credit_after && a.frozen_after == b.frozen_after &&
        a.valid_after == b.valid_after)) {
    return false;
  }
  auto same = [](uint32_t x, uint32_t y, auto id_a, auto id_b) {
    if (x == kNoIndex || y == kNoIndex) return x == y;
    return id_a(x) == id_b(y);
  };
  return same(a.account, b.account, [&](uint32_t i) { return la.account_id(i); },
              [&](uint32_t i) { return lb.account_id(i); }) &&
         same(a.campaign, b.campaign, [&](uint32_t i) { return la.campaign_id(i); },
              [&](uint32_t i) { return lb.campaign_id(i); }) &&
         same(a.grant, b.grant, [&](uint32_t i) { return la.grant_id(i); },
              [&](uint32_t i) { return lb.grant_id(i); }) &&
         same(a.dispute, b.dispute, [&](uint32_t i) -> std::string_view { return la.disputes()[i].id; },
              [&](uint32_t i) -> std::string_view { return lb.disputes()[i].id; });
}

// A figure of an entity: its name, value and whether it is money.
struct Figure {
  std::string field;
  int64_t value;
  bool money;
};

}  // namespace

void WhatIf::Tally::Count(const Entry& e, int64_t sign) {
  if (e.kind != v1::COST) return;
  auto add = [&](std::vector<Spent>& v, uint32_t i) {
    if (i == kNoIndex) return;
    if (i >= v.size()) v.resize(i + 1);
    (e.funds == v1::FUNDS_TYPE_CASH ? v[i].cash : v[i].credit) -= sign * e.balance_delta;
  };
  add(by_account, e.account);
  add(by_campaign, e.campaign);
}

void WhatIf::Tally::Add(const Entry& e) {
  // Until the histories part, the what-if's entries are the actual's: one
  // tally serves both (Part copies it).
  if (against == nullptr || !keep) Count(e, 1);
  if (!keep) return;
  if (against != nullptr && empty() && !against->empty()) {
    if (SameEntry(owner->actual_, against->front().entry, owner->what_if_, e)) {
      against->head++;
    } else {
      owner->Part(&against->front(), e, seq, inserted);
    }
    return;
  }
  pending.push_back({e, seq, inserted});
}

WhatIf::WhatIf(const ChangeSet& changes, uint64_t from_seq, int64_t from_us, bool strict,
               const LedgerOptions& options)
    : actual_(options), what_if_(options), cf_(changes, from_seq, from_us), strict_(strict) {
  what_if_sink_.against = &actual_sink_;
  what_if_sink_.owner = this;
}

void WhatIf::Defer() {
  deferred_ = true;
  what_if_sink_.against = nullptr;
}

Status WhatIf::ApplyInserted(const std::vector<v1::Event>& events, uint64_t seq) {
  what_if_sink_.inserted = true;
  for (const v1::Event& e : events) {
    NoteWhatIf(what_if_.Apply(e, &what_if_sink_), seq);
  }
  what_if_sink_.inserted = false;
  return Status::Ok();
}

void WhatIf::BeforeActual(uint64_t seq) {
  seq_ = seq;
  if (first_seq_ == 0) first_seq_ = seq;
  events_++;
  actual_sink_.seq = seq;
}

Status WhatIf::BeforeWhatIf(uint64_t seq, int64_t time_us) {
  what_if_sink_.seq = seq;
  if (!cf_.Active(seq, time_us)) return Status::Ok();
  due_.clear();
  Status st = cf_.TakeDue(time_us, what_if_, &due_);
  if (!st.ok()) return st;
  return ApplyInserted(due_, seq);
}

Status WhatIf::CheckActual(const Ledger::Result& r, uint64_t seq) {
  if (!strict_ || r.outcome == Ledger::Outcome::kApplied) return Status::Ok();
  return Status::Corruption(
      "sequence " + std::to_string(seq) + ": the log holds an event the ledger refuses (" +
      (r.outcome == Ledger::Outcome::kDuplicate ? std::string("duplicate id") : r.reason) + ")");
}

void WhatIf::NoteWhatIf(const Ledger::Result& r, uint64_t seq) {
  if (r.outcome == Ledger::Outcome::kApplied) return;
  refused_++;
  if (refusals_.size() < kRefusalsKept) {
    refusals_.push_back(r.outcome == Ledger::Outcome::kDuplicate
                            ? "sequence " + std::to_string(seq) + ": a duplicate event id (R10)"
                            : r.reason);
  }
}

void WhatIf::After() {
  Tally& a = actual_sink_;
  Tally& w = what_if_sink_;
  while (!parting_.found && !a.empty() && !w.empty()) {
    if (!SameEntry(actual_, a.front().entry, what_if_, w.front().entry)) {
      Part(&a.front(), &w.front());
      break;
    }
    a.head++;
    w.head++;
  }
  if (parting_.found || a.empty()) a.clear();
  if (parting_.found || w.empty()) w.clear();
}

void WhatIf::Part(const Tally::Pending* a, const Entry& w, uint64_t seq, bool inserted) {
  const Tally::Pending copy{w, seq, inserted};
  Part(a, &copy);
  what_if_sink_.Count(w, 1);  // it is in no pending list
}

void WhatIf::Part(const Tally::Pending* a, const Tally::Pending* w) {
  parting_.found = true;
  if (a != nullptr) {
    parting_.has_actual = true;
    parting_.actual = actual_.ToProto(a->entry);
    parting_.seq = a->seq;
  }
  if (w != nullptr) {
    parting_.has_what_if = true;
    parting_.what_if = what_if_.ToProto(w->entry);
    parting_.inserted = w->inserted;
    if (a == nullptr || w->seq < a->seq) parting_.seq = w->seq;
  }
  // Lockstep, the what-if's tally is the shared one, less the actual's
  // entries past the parting, plus its own not yet counted. (Deferred,
  // each side kept its own.)
  Tally& at = actual_sink_;
  Tally& wt = what_if_sink_;
  if (!deferred_) {
    wt.by_account = at.by_account;
    wt.by_campaign = at.by_campaign;
    for (size_t i = at.head; i < at.pending.size(); ++i) wt.Count(at.pending[i].entry, -1);
    for (size_t i = wt.head; i < wt.pending.size(); ++i) wt.Count(wt.pending[i].entry, 1);
  }
  at.keep = false;
  wt.keep = false;
}

Status WhatIf::ApplyActual(uint64_t seq, const v1::Event& event) {
  return CheckActual(actual_.Apply(event, &actual_sink_), seq);
}

Status WhatIf::ApplyWhatIf(uint64_t seq, const v1::Event& event, uint32_t* created) {
  if (created != nullptr) *created = kNoIndex;
  const size_t campaigns = what_if_.campaigns().size();
  Ledger::Result r;
  if (!cf_.Active(seq, event.time_us())) {
    Status st = cf_.CheckBefore(seq, event);
    if (!st.ok()) return st;
    r = what_if_.Apply(event, &what_if_sink_);
  } else {
    v1::Event rewritten;
    bool changed = false;
    if (!cf_.Rewrite(event, &rewritten, &changed)) return Status::Ok();  // dropped
    r = what_if_.Apply(changed ? rewritten : event, &what_if_sink_);
  }
  NoteWhatIf(r, seq);
  if (created != nullptr && what_if_.campaigns().size() != campaigns) {
    *created = static_cast<uint32_t>(campaigns);
  }
  return Status::Ok();
}

Status WhatIf::Apply(uint64_t seq, const v1::Event& event, uint32_t* created) {
  // Lockstep: the what-if's insertions first (they precede the event on
  // its side), then each side's event, then the comparison.
  BeforeActual(seq);
  Status st = BeforeWhatIf(seq, event.time_us());
  if (st.ok()) st = ApplyActual(seq, event);
  if (st.ok()) st = ApplyWhatIf(seq, event, created);
  if (!st.ok()) return st;
  After();
  return Status::Ok();
}

Status WhatIf::Finish(const std::string& account, WhatIfResult* out) {
  due_.clear();
  Status st = cf_.TakeRest(what_if_, &due_);
  if (!st.ok()) return st;
  st = ApplyInserted(due_, seq_);
  if (!st.ok()) return st;
  After();
  st = cf_.CheckAllUsed();
  if (!st.ok()) return st;
  if (!parting_.found) {
    const Tally& a = actual_sink_;
    const Tally& w = what_if_sink_;
    if (!a.empty() || !w.empty()) Part(a.empty() ? nullptr : &a.front(), w.empty() ? nullptr : &w.front());
  }
  if (!parting_.found && !deferred_) {  // the same entries: the same tally
    what_if_sink_.by_account = actual_sink_.by_account;
    what_if_sink_.by_campaign = actual_sink_.by_campaign;
  }
  out->changes = cf_.changes().described;
  out->first_seq = first_seq_;
  out->last_seq = seq_;
  out->events = events_;
  out->inserted = cf_.inserted();
  out->dropped = cf_.dropped();
  out->rewritten = cf_.rewritten();
  out->refused = refused_;
  out->refusals = refusals_;
  out->parting = parting_;
  out->actual_digest = actual_.Digest();
  out->what_if_digest = what_if_.Digest();
  Diff(account, out);
  return Status::Ok();
}

void WhatIf::Diff(const std::string& account, WhatIfResult* out) const {
  auto spent = [](const std::vector<Tally::Spent>& v, uint32_t i) {
    return i < v.size() ? v[i] : Tally::Spent{};
  };
  auto account_figures = [&](const Ledger& l, const Tally& t, uint32_t ai) {
    std::vector<Figure> f;
    if (ai == kNoIndex) return f;
    const v1::AccountBalance b = l.AccountView(ai);
    const Tally::Spent s = spent(t.by_account, ai);
    f = {{"cash_balance", b.cash_balance(), true},
         {"grant_balance", b.grant_balance(), true},
         {"frozen_balance", b.frozen_balance(), true},
         {"valid_balance", b.valid_balance(), true},
         {"total_deposited", b.total_deposited(), true},
         {"total_granted", b.total_granted(), true},
         {"spent_cash", s.cash, true},
         {"spent_credit", s.credit, true},
         {"total_spent", b.total_spent(), true},
         {"total_expired", b.total_expired(), true},
         {"refunded", b.total_adjusted(), true}};
    return f;
  };
  auto campaign_figures = [&](const Ledger& l, const Tally& t, uint32_t ci) {
    std::vector<Figure> f;
    if (ci == kNoIndex) return f;
    const v1::CampaignSpend c = l.CampaignView(ci);
    const Tally::Spent s = spent(t.by_campaign, ci);
    f = {{"budget_micros", c.budget_micros(), true},
         {"price_micros", c.price_micros(), true},
         {"frozen_micros", c.frozen_micros(), true},
         {"billed_units", c.billed_units(), false},
         {"billed_micros", c.billed_micros(), true},
         {"spent_cash", s.cash, true},
         {"spent_credit", s.credit, true},
         {"fault_billed_micros", c.fault_billed_micros(), true},
         {"impressions", c.impressions(), false},
         {"clicks", c.clicks(), false},
         {"video_views_2s", c.video_views_2s(), false},
         {"video_views_6s", c.video_views_6s(), false},
         {"conversions", c.conversions(), false}};
    for (const auto& nb : c.not_billed()) {
      const std::string reason = v1::NotBilledReason_Name(nb.reason());
      f.push_back({"not_billed." + reason + ".units", nb.units(), false});
      f.push_back({"not_billed." + reason + ".micros", nb.amount_micros(), true});
    }
    return f;
  };
  auto compare = [&](const std::string& entity, const std::string& id, const std::string& owner,
                     const std::vector<Figure>& a, const std::vector<Figure>& w) {
    std::map<std::string, std::pair<int64_t, int64_t>> values;
    std::vector<std::string> order;
    std::map<std::string, bool> money;
    for (const Figure& x : a) {
      if (!values.count(x.field)) order.push_back(x.field);
      values[x.field].first = x.value;
      money[x.field] = x.money;
    }
    for (const Figure& x : w) {
      if (!values.count(x.field)) order.push_back(x.field);
      values[x.field].second = x.value;
      money[x.field] = x.money;
    }
    for (const std::string& field : order) {
      const auto [va, vw] = values[field];
      if (va == vw) continue;
      WhatIfRow row;
      row.entity = entity;
      row.id = id;
      row.account = owner;
      row.field = field;
      row.money = money[field];
      row.actual = va;
      row.what_if = vw;
      out->rows.push_back(std::move(row));
    }
  };
  auto text_row = [&](const std::string& entity, const std::string& id, const std::string& owner,
                      const std::string& field, const std::string& a, const std::string& w) {
    if (a == w) return;
    WhatIfRow row;
    row.entity = entity;
    row.id = id;
    row.account = owner;
    row.field = field;
    row.text = true;
    row.actual_text = a;
    row.what_if_text = w;
    out->rows.push_back(std::move(row));
  };

  // Accounts, in the actual ledger's order, then those only the what-if has.
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < actual_.accounts().size(); ++i) {
    ids.emplace_back(actual_.account_id(i));
  }
  for (uint32_t i = 0; i < what_if_.accounts().size(); ++i) {
    const std::string_view id = what_if_.account_id(i);
    if (actual_.FindAccount(id) == kNoIndex) ids.emplace_back(id);
  }
  for (const std::string& id : ids) {
    if (!account.empty() && id != account) continue;
    const uint32_t ai = actual_.FindAccount(id);
    const uint32_t wi = what_if_.FindAccount(id);
    text_row("account", id, id, "exists", ai == kNoIndex ? "no" : "yes",
             wi == kNoIndex ? "no" : "yes");
    if (ai != kNoIndex && wi != kNoIndex &&
        actual_.accounts()[ai].funding_order != what_if_.accounts()[wi].funding_order) {
      text_row("account", id, id, "funding_order",
               v1::FundingOrder_Name(v1::FundingOrder{actual_.accounts()[ai].funding_order}),
               v1::FundingOrder_Name(v1::FundingOrder{what_if_.accounts()[wi].funding_order}));
    }
    compare("account", id, id, account_figures(actual_, actual_sink_, ai),
            account_figures(what_if_, what_if_sink_, wi));
  }
  // Grants: what a change to one (its amount, its expiry) does to it.
  auto grant_figures = [&](const Ledger& l, uint32_t gi) {
    std::vector<Figure> f;
    if (gi == kNoIndex) return f;
    const Grant& g = l.grants()[gi];
    f = {{"amount_micros", g.amount, true},
         {"remaining_micros", g.remaining, true},
         {"expired_micros", g.expired_micros, true}};
    return f;
  };
  std::vector<std::string> grant_ids;
  for (uint32_t gi = 0; gi < actual_.grants().size(); ++gi) {
    grant_ids.emplace_back(actual_.grant_id(gi));
  }
  for (uint32_t gi = 0; gi < what_if_.grants().size(); ++gi) {
    const std::string_view id = what_if_.grant_id(gi);
    if (actual_.FindGrant(id) == kNoIndex) grant_ids.emplace_back(id);
  }
  for (const std::string& id : grant_ids) {
    const uint32_t ai = actual_.FindGrant(id);
    const uint32_t wi = what_if_.FindGrant(id);
    const std::string owner(ai != kNoIndex ? actual_.account_id(actual_.grants()[ai].account)
                                           : what_if_.account_id(what_if_.grants()[wi].account));
    if (!account.empty() && owner != account) continue;
    text_row("grant", id, owner, "exists", ai == kNoIndex ? "no" : "yes", wi == kNoIndex ? "no" : "yes");
    if (ai != kNoIndex && wi != kNoIndex) {
      text_row("grant", id, owner, "expires_at", FormatTime(actual_.grants()[ai].expires_at_us),
               FormatTime(what_if_.grants()[wi].expires_at_us));
    }
    compare("grant", id, owner, grant_figures(actual_, ai), grant_figures(what_if_, wi));
  }

  std::vector<std::string> campaigns;
  for (uint32_t ci = 0; ci < actual_.campaigns().size(); ++ci) {
    campaigns.emplace_back(actual_.campaign_id(ci));
  }
  for (uint32_t ci = 0; ci < what_if_.campaigns().size(); ++ci) {
    if (actual_.FindCampaign(what_if_.campaign_id(ci)) == kNoIndex) {
      campaigns.emplace_back(what_if_.campaign_id(ci));
    }
  }
  for (const std::string& id : campaigns) {
    const uint32_t ai = actual_.FindCampaign(id);
    const uint32_t wi = what_if_.FindCampaign(id);
    const std::string owner(ai != kNoIndex ? actual_.account_id(actual_.campaigns()[ai].account)
                                           : what_if_.account_id(what_if_.campaigns()[wi].account));
    if (!account.empty() && owner != account) continue;
    text_row("campaign", id, owner, "exists", ai == kNoIndex ? "no" : "yes",
             wi == kNoIndex ? "no" : "yes");
    const std::string sa = ai == kNoIndex ? "" : actual_.CampaignView(ai).status();
    const std::string sw = wi == kNoIndex ? "" : what_if_.CampaignView(wi).status();
    if (ai != kNoIndex && wi != kNoIndex) {
      text_row("campaign", id, owner, "status", sa, sw);
      text_row("campaign", id, owner, "budget_mode",
               v1::BudgetMode_Name(actual_.CampaignView(ai).budget_mode()),
               v1::BudgetMode_Name(what_if_.CampaignView(wi).budget_mode()));
    }
    compare("campaign", id, owner, campaign_figures(actual_, actual_sink_, ai),
            campaign_figures(what_if_, what_if_sink_, wi));
  }
}

// --- Rendering ------------------------------------------------------------------

namespace {

std::string Value(const WhatIfRow& r, bool what_if) {
  if (r.text) return what_if ? r.what_if_text : r.actual_text;
  const int64_t v = what_if ? r.what_if : r.actual;
  return r.money ? FormatMicros(v) : std::to_string(v);
}

std::string Change(const WhatIfRow& r) {
  if (r.text) return "";
  // Figures are within R11's bounds (at most 10^18): the difference fits.
  const int64_t d = r.what_if - r.actual;
  const std::string s = r.money ? FormatMicros(d) : std::to_string(d);
  return d > 0 ? "+" + s : s;
}

std::string EntryLine(const v1::LedgerEntry& e) {
  std::string s = v1::EntryKind_Name(e.kind()) + " event " + std::to_string(e.event_id()) +
                  " account " + e.account_id();
  if (!e.campaign_id().empty()) s += " campaign " + e.campaign_id();
  if (!e.grant_id().empty()) s += " grant " + e.grant_id();
  if (e.balance_delta_micros() != 0) s += " balance " + FormatMicros(e.balance_delta_micros());
  if (e.frozen_delta_micros() != 0) s += " frozen " + FormatMicros(e.frozen_delta_micros());
  if (e.units() != 0) s += " units " + std::to_string(e.units());
  if (!e.note().empty()) s += " (" + e.note() + ")";
  return s;
}

}  // namespace

void WriteWhatIf(const WhatIfResult& r, Format format, std::ostream& out) {
  if (format == Format::kJson) {
    JsonObject doc;
    doc["changes"] = r.changes;
    doc["first_seq"] = r.first_seq;
    doc["last_seq"] = r.last_seq;
    doc["events"] = r.events;
    doc["inserted"] = r.inserted;
    doc["dropped"] = r.dropped;
    doc["rewritten"] = r.rewritten;
    doc["refused"] = r.refused;
    doc["refusals"] = r.refusals;
    if (r.parting.found) {
      JsonObject p;
      p["seq"] = r.parting.seq;
      p["inserted"] = r.parting.inserted;
      p["actual"] = r.parting.has_actual ? ToJsonValue(r.parting.actual) : JsonObject();
      p["what_if"] = r.parting.has_what_if ? ToJsonValue(r.parting.what_if) : JsonObject();
      doc["first_parting"] = p;
    } else {
      doc["first_parting"] = nullptr;
    }
    doc["actual_digest"] = r.actual_digest;
    doc["what_if_digest"] = r.what_if_digest;
    JsonObject rows = JsonObject::array();
    for (const WhatIfRow& row : r.rows) {
      JsonObject o;
      o["entity"] = row.entity;
      o["id"] = row.id;
      o["account_id"] = row.account;
      o["field"] = row.field;
      if (row.text) {
        o["actual"] = row.actual_text;
        o["what_if"] = row.what_if_text;
      } else {
        o["actual"] = row.actual;
        o["what_if"] = row.what_if;
        o["change"] = row.what_if - row.actual;
      }
      rows.push_back(std::move(o));
    }
    doc["differences"] = std::move(rows);
    out << ToJsonLine(doc);
    return;
  }
  if (format == Format::kCsv) {
    WriteCsvRow({"entity", "id", "account_id", "field", "actual", "what_if", "change"}, out);
    for (const WhatIfRow& row : r.rows) {
      WriteCsvRow({row.entity, row.id, row.account, row.field,
                   row.text ? row.actual_text : std::to_string(row.actual),
                   row.text ? row.what_if_text : std::to_string(row.what_if),
                   row.text ? "" : std::to_string(row.what_if - row.actual)},
                  out);
    }
    return;
  }
  out << "what-if over sequences " << r.first_seq << ".." << r.last_seq << " (" << r.events
      << " events): " << r.inserted << " inserted, " << r.dropped << " dropped, " << r.rewritten
      << " rewritten, " << r.refused << " refused by the what-if's ledger\n";
  for (const std::string& c : r.changes) out << "  change: " << c << "\n";
  for (const std::string& c : r.refusals) out << "  refused: " << c << "\n";
  if (r.parting.found) {
    out << "the histories part at sequence " << r.parting.seq
        << (r.parting.inserted ? " (an inserted event)" : "") << ":\n";
    out << "  actual:  " << (r.parting.has_actual ? EntryLine(r.parting.actual) : "(no entry)")
        << "\n";
    out << "  what-if: "
        << (r.parting.has_what_if ? EntryLine(r.parting.what_if) : "(no entry)") << "\n";
  } else {
    out << "the histories do not part: the same entries"
        << (r.actual_digest == r.what_if_digest ? ", the same state\n"
                                                : " (the states differ only as listed below)\n");
  }
  out << "state digest: actual " << r.actual_digest << ", what-if " << r.what_if_digest << "\n";
  if (r.rows.empty()) {
    out << "no figure differs\n";
    return;
  }
  Table t({"entity", "id", "account", "field", "actual", "what-if", "change"});
  for (const WhatIfRow& row : r.rows) {
    t.Add({row.entity, row.id, row.account, row.field, Value(row, false), Value(row, true),
           Change(row)});
  }
  out << "\n";
  t.Write(out, 4);
}

}  // namespace billsim::sim
