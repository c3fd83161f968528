#include "scenario/scenario_runner.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include <map>
#include <set>
#include <unordered_set>

#include "sim/whatif.h"
#include "util/money.h"

namespace billsim {

namespace {

namespace pb = google::protobuf;

// Keeps every entry as its proto view; names resolve at emission time.
class HistorySink : public EntrySink {
 public:
  explicit HistorySink(const Ledger& ledger) : ledger_(ledger) {}
  void Add(const Entry& e) override { entries_.push_back(ledger_.ToProto(e)); }
  std::vector<v1::LedgerEntry>& entries() { return entries_; }

 private:
  const Ledger& ledger_;
  std::vector<v1::LedgerEntry> entries_;
};

// A value as a reader wants it: money as a decimal, time as a date, enums by
// name; the raw integer too where it was converted.
std::string Show(const pb::Message& m, const pb::FieldDescriptor* f) {
  const pb::Reflection* r = m.GetReflection();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = r->GetInt64(m, f);
      const std::string& n = f->name();
      if (n.ends_with("_us")) return FormatTime(v) + " (" + std::to_string(v) + ")";
      if (n.find("micros") != std::string::npos || n.find("balance") != std::string::npos ||
          n.starts_with("total_")) {
        return FormatMicros(v) + " (" + std::to_string(v) + ")";
      }
      return std::to_string(v);
    }
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(r->GetInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(r->GetUInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(m, f) ? "true" : "false";
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return "\"" + r->GetString(m, f) + "\"";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnum(m, f)->name();
    default:
      return "?";
  }
}

// Compares every optional field set in `expect` with the field of the same
// name in `actual`. Fields in `contains` match when actual contains the
// expected text. Differences go to `diff` prefixed by `label`.
void CompareSetFields(const pb::Message& expect, const pb::Message& actual,
                      const std::string& label,
                      const std::set<std::string>& contains,
                      std::vector<std::string>* diff) {
  const pb::Descriptor* ed = expect.GetDescriptor();
  const pb::Reflection* er = expect.GetReflection();
  const pb::Reflection* ar = actual.GetReflection();
  for (int i = 0; i < ed->field_count(); ++i) {
    const pb::FieldDescriptor* f = ed->field(i);
    if (f->is_repeated() || !f->has_presence() || !er->HasField(expect, f)) continue;
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (contains.contains(f->name())) {
      const pb::FieldDescriptor* af = actual.GetDescriptor()->FindFieldByName(
          f->name() == "note_contains" ? "note" : f->name());
      const std::string want = er->GetString(expect, f);
      const std::string got = ar->GetString(actual, af);
      if (got.find(want) == std::string::npos) {
        diff->push_back(label + "." + af->name() + ": expected to contain \"" +
                        want + "\", got \"" + got + "\"");
      }
      continue;
    }
    const pb::FieldDescriptor* af = actual.GetDescriptor()->FindFieldByName(f->name());
    if (af == nullptr) continue;
    const std::string want = Show(expect, f);
    const std::string got = Show(actual, af);
    if (want != got) {
      diff->push_back(label + "." + f->name() + ": expected " + want + ", got " + got);
    }
  }
}

bool Matches(const v1::EntryExpectation& x, const v1::LedgerEntry& e) {
  if (e.event_id() != x.event_id()) return false;
  if (x.kind() != v1::ENTRY_KIND_UNSPECIFIED && e.kind() != x.kind()) return false;
  std::vector<std::string> diff;
  CompareSetFields(x, e, "", {"note_contains"}, &diff);
  // `count` is not a field of the entry; CompareSetFields skips it because
  // LedgerEntry has no field of that name.
  return diff.empty();
}

std::string Brief(const v1::LedgerEntry& e) {
  std::string s = v1::EntryKind_Name(e.kind());
  if (e.funds_type() != v1::FUNDS_TYPE_UNSPECIFIED) {
    s += " " + v1::FundsType_Name(e.funds_type());
  }
  if (!e.grant_id().empty()) s += " " + e.grant_id();
  if (e.balance_delta_micros() != 0) s += " balance " + FormatMicros(e.balance_delta_micros());
  if (e.frozen_delta_micros() != 0) s += " frozen " + FormatMicros(e.frozen_delta_micros());
  if (e.units() != 0) s += " units " + std::to_string(e.units());
  if (e.not_billed_reason() != v1::NOT_BILLED_REASON_UNSPECIFIED) {
    s += " " + v1::NotBilledReason_Name(e.not_billed_reason());
  }
  if (e.dispute_status() != v1::DISPUTE_STATUS_UNSPECIFIED) {
    s += " " + v1::DisputeStatus_Name(e.dispute_status());
  }
  return s;
}

std::string ShortText(const pb::Message& m) {
  pb::TextFormat::Printer p;
  p.SetSingleLineMode(true);
  std::string s;
  p.PrintToString(m, &s);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

void CheckEntry(const v1::EntryExpectation& x,
                const std::vector<v1::LedgerEntry>& entries,
                std::vector<std::string>* diff) {
  int64_t matched = 0;
  std::vector<const v1::LedgerEntry*> of_event;
  for (const v1::LedgerEntry& e : entries) {
    if (e.event_id() != x.event_id()) continue;
    of_event.push_back(&e);
    if (Matches(x, e)) matched++;
  }
  const std::string what = "entry of event " + std::to_string(x.event_id()) +
                           " {" + ShortText(x) + "}";
  bool ok = true;
  if (x.absent()) {
    if (matched != 0) {
      diff->push_back(what + ": expected none, got " + std::to_string(matched));
      ok = false;
    }
  } else if (x.has_count()) {
    if (matched != x.count()) {
      diff->push_back(what + ": expected " + std::to_string(x.count()) +
                      " matching, got " + std::to_string(matched));
      ok = false;
    }
  } else if (matched == 0) {
    diff->push_back(what + ": expected at least one, got none");
    ok = false;
  }
  if (!ok) {
    for (const v1::LedgerEntry* e : of_event) {
      diff->push_back("  event " + std::to_string(x.event_id()) + " made: " + Brief(*e));
    }
    if (of_event.empty()) diff->push_back("  event made no entries");
  }
}

void CheckRejection(const v1::RejectionExpectation& x,
                    const std::vector<v1::LedgerEntry>& entries,
                    std::vector<std::string>* diff) {
  const v1::LedgerEntry* rejected = nullptr;
  std::string made;
  for (const v1::LedgerEntry& e : entries) {
    if (e.event_id() != x.event_id()) continue;
    if (e.kind() == v1::REJECTED && rejected == nullptr) rejected = &e;
    made += (made.empty() ? "" : ", ") + Brief(e);
  }
  const std::string what = "event " + std::to_string(x.event_id());
  if (rejected == nullptr) {
    diff->push_back(what + ": expected to be rejected, but it was not (entries: " +
                    (made.empty() ? "none" : made) + ")");
    return;
  }
  if (x.has_field() && rejected->field() != x.field()) {
    diff->push_back(what + ": rejected field: expected \"" + x.field() +
                    "\", got \"" + rejected->field() + "\" (" + rejected->note() + ")");
  }
  if (x.has_reason_contains() &&
      rejected->note().find(x.reason_contains()) == std::string::npos) {
    diff->push_back(what + ": rejection reason: expected to contain \"" +
                    x.reason_contains() + "\", got \"" + rejected->note() + "\"");
  }
}

void CheckBalance(const v1::BalanceExpectation& x, const Ledger& ledger,
                  std::vector<std::string>* diff) {
  const std::string label = "balance " + x.account_id();
  const auto view = ledger.Balance(x.account_id());
  if (!view) {
    diff->push_back(label + ": no such account");
    return;
  }
  CompareSetFields(x, *view, label, {}, diff);
  for (const auto& g : x.grants()) {
    const v1::GrantView* found = nullptr;
    for (const auto& gv : view->grants()) {
      if (gv.grant_id() == g.grant_id()) found = &gv;
    }
    if (found == nullptr) {
      diff->push_back(label + " grant " + g.grant_id() + ": no such grant");
      continue;
    }
    CompareSetFields(g, *found, label + " grant " + g.grant_id(), {}, diff);
  }
}

void CheckCampaign(const v1::CampaignExpectation& x, const Ledger& ledger,
                   std::vector<std::string>* diff) {
  const std::string label = "campaign " + x.campaign_id();
  const auto view = ledger.Spend(x.campaign_id());
  if (!view) {
    diff->push_back(label + ": no such campaign");
    return;
  }
  CompareSetFields(x, *view, label, {"status_reason"}, diff);
  for (const auto& nb : x.not_billed()) {
    int64_t got = 0;
    for (const auto& v : view->not_billed()) {
      if (v.reason() == nb.reason()) got = v.units();
    }
    if (got != nb.units()) {
      diff->push_back(label + ".not_billed[" + v1::NotBilledReason_Name(nb.reason()) +
                      "].units: expected " + std::to_string(nb.units()) + ", got " +
                      std::to_string(got));
    }
  }
}

void CheckDispute(const v1::DisputeExpectation& x, const Ledger& ledger,
                  std::vector<std::string>* diff) {
  const std::string label = "dispute " + x.dispute_id();
  const auto view = ledger.DisputeState(x.dispute_id());
  if (!view) {
    diff->push_back(label + ": no such dispute");
    return;
  }
  CompareSetFields(x, *view, label, {"status_note"}, diff);
}

// State expectations read the ledger now; entry and rejection expectations
// read the whole history, so they wait for the end.
void CheckState(const v1::Expectation& x, const Ledger& ledger,
                std::vector<std::string>* diff) {
  switch (x.what_case()) {
    case v1::Expectation::kBalance: CheckBalance(x.balance(), ledger, diff); break;
    case v1::Expectation::kCampaign: CheckCampaign(x.campaign(), ledger, diff); break;
    case v1::Expectation::kDispute: CheckDispute(x.dispute(), ledger, diff); break;
    default: break;
  }
}

// A what-if block: the scenario's events replayed beside themselves with
// the block's changes, its expectations checked against the difference.
void CheckWhatIf(const v1::Scenario& scenario, const v1::WhatIfBlock& block,
                 const LedgerOptions& options, std::vector<std::string>* diffs) {
  sim::ChangeSet changes;
  for (const auto& c : block.change()) {
    const Status st = changes.Add(c.flag(), c.value());
    if (!st.ok()) {
      diffs->push_back(st.message());
      return;
    }
  }
  if (block.insert_size() > 0) {
    changes.AddInserted("the block's insert",
                        std::vector<v1::Event>(block.insert().begin(), block.insert().end()));
  }
  sim::WhatIf w(changes, 1, INT64_MAX, /*strict=*/false, options);
  Status st;
  for (int i = 0; i < scenario.events_size() && st.ok(); ++i) st = w.Apply(i + 1, scenario.events(i));
  sim::WhatIfResult r;
  if (st.ok()) st = w.Finish("", &r);
  if (!st.ok()) {
    diffs->push_back(st.message());
    return;
  }
  auto find = [&](const v1::WhatIfDifference& d) -> const sim::WhatIfRow* {
    for (const auto& row : r.rows) {
      if (row.entity == d.entity() && row.id == d.id() && row.field == d.field()) return &row;
    }
    return nullptr;
  };
  size_t listed = 0;
  for (const auto& d : block.differs()) {
    const std::string name = d.entity() + " " + d.id() + " " + d.field();
    const sim::WhatIfRow* row = find(d);
    if (d.absent()) {
      if (row != nullptr) {
        diffs->push_back(name + ": expected no difference, got " +
                         (row->text ? row->actual_text + " -> " + row->what_if_text
                                    : std::to_string(row->actual) + " -> " +
                                          std::to_string(row->what_if)));
      }
      continue;
    }
    listed++;
    if (row == nullptr) {
      diffs->push_back(name + ": expected a difference, got none");
      continue;
    }
    auto check = [&](const char* what, bool has, const std::string& want, const std::string& got) {
      if (has && want != got) diffs->push_back(name + " " + what + ": expected " + want + ", got " + got);
    };
    check("actual", d.has_actual(), std::to_string(d.actual()), std::to_string(row->actual));
    check("what_if", d.has_what_if(), std::to_string(d.what_if()), std::to_string(row->what_if));
    check("actual", d.has_actual_text(), d.actual_text(), row->actual_text);
    check("what_if", d.has_what_if_text(), d.what_if_text(), row->what_if_text);
  }
  if (block.only_these() && r.rows.size() != listed) {
    for (const auto& row : r.rows) {
      bool named = false;
      for (const auto& d : block.differs()) {
        named = named || (!d.absent() && row.entity == d.entity() && row.id == d.id() &&
                          row.field == d.field());
      }
      if (!named) {
        diffs->push_back(row.entity + " " + row.id + " " + row.field +
                         ": differs, but the block lists only its own figures");
      }
    }
  }
  if (block.has_parts_at_seq()) {
    const uint64_t got = r.parting.found ? r.parting.seq : 0;
    if (got != block.parts_at_seq()) {
      diffs->push_back("parts_at_seq: expected " + std::to_string(block.parts_at_seq()) + ", got " +
                       std::to_string(got));
    }
  }
}

bool IsStateExpectation(const v1::Expectation& x) {
  return x.has_balance() || x.has_campaign() || x.has_dispute();
}

}  // namespace

ScenarioOutcome RunScenario(const v1::Scenario& scenario, const std::string& file,
                            const LedgerOptions& options) {
  ScenarioOutcome out;
  v1::ScenarioResult& result = out.result;
  result.set_file(file);
  result.set_title(scenario.title());

  Ledger ledger(options);
  HistorySink sink(ledger);
  std::multimap<uint64_t, int> checkpoints;  // event id -> expectation index
  for (int i = 0; i < scenario.expect_size(); ++i) {
    result.add_expectations()->set_name(scenario.expect(i).name().empty()
                                            ? "expect[" + std::to_string(i) + "]"
                                            : scenario.expect(i).name());
  }
  std::vector<std::vector<std::string>> diffs(scenario.expect_size());
  for (int i = 0; i < scenario.expect_size(); ++i) {
    checkpoints.emplace(scenario.expect(i).after_event_id(), i);
  }

  std::unordered_set<uint64_t> seen;
  for (const v1::Event& e : scenario.events()) {
    ledger.Apply(e, &sink);
    // Id 0 names "the end" in after_event_id, never an event (an event with
    // id 0 is refused anyway); a repeated id was checked at its first.
    if (e.event_id() == 0 || !seen.insert(e.event_id()).second) continue;
    auto [lo, hi] = checkpoints.equal_range(e.event_id());
    for (auto it = lo; it != hi; ++it) {
      const v1::Expectation& x = scenario.expect(it->second);
      if (IsStateExpectation(x)) CheckState(x, ledger, &diffs[it->second]);
    }
  }
  out.entries = std::move(sink.entries());
  for (int i = 0; i < scenario.expect_size(); ++i) {
    const v1::Expectation& x = scenario.expect(i);
    if (x.after_event_id() == 0 && IsStateExpectation(x)) CheckState(x, ledger, &diffs[i]);
    if (x.has_entry()) CheckEntry(x.entry(), out.entries, &diffs[i]);
    if (x.has_rejection()) CheckRejection(x.rejection(), out.entries, &diffs[i]);
  }

  for (const v1::WhatIfBlock& block : scenario.whatif()) {
    result.add_expectations()->set_name("what-if: " + block.name());
    diffs.emplace_back();
    CheckWhatIf(scenario, block, options, &diffs.back());
  }

  bool all = true;
  for (int i = 0; i < result.expectations_size(); ++i) {
    v1::ExpectationResult* r = result.mutable_expectations(i);
    r->set_passed(diffs[i].empty());
    for (auto& d : diffs[i]) r->add_diff(std::move(d));
    all = all && r->passed();
  }
  // A ledger that broke its own invariants fails the scenario whatever the
  // expectations say.
  const Status invariants = ledger.CheckInvariants();
  if (!invariants.ok()) {
    all = false;
    result.set_error(invariants.ToString());
  }
  result.set_passed(all);
  result.set_events(ledger.events_applied());
  result.set_rejected(ledger.events_rejected());
  result.set_duplicates(ledger.events_duplicate());
  result.set_state_digest(ledger.Digest());
  out.report = ledger.Report();
  return out;
}

}  // namespace billsim
