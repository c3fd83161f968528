#include "audit/checker.h"

#include <algorithm>

#include "audit/audit.h"
#include "journal/unknown_fields.h"
#include "ledger/event_account.h"
#include "log/event_stream.h"
#include "replay/replayer.h"
#include "report/json.h"
#include "util/money.h"

namespace billsim::audit {

// --- Facts ------------------------------------------------------------------------

bool LedgerFacts::GrantExpiry(const std::string& grant, int64_t* expires_at_us) const {
  const uint32_t g = ledger_->FindGrant(grant);
  if (g == kNoIndex) return false;
  *expires_at_us = ledger_->grants()[g].expires_at_us;
  return true;
}

bool LedgerFacts::Dispute(const std::string& dispute, DisputeFacts* out) const {
  const uint32_t d = ledger_->FindDispute(dispute);
  if (d == kNoIndex) return false;
  const billsim::Dispute& v = ledger_->disputes()[d];
  out->campaign = std::string(ledger_->campaign_id(v.campaign));
  out->window_start_us = v.window_start_us;
  out->window_end_us = v.window_end_us;
  out->verifiable = v.verifiable;
  return true;
}

int64_t LedgerFacts::FaultBilled(const std::string& campaign) const {
  const uint32_t c = ledger_->FindCampaign(campaign);
  return c == kNoIndex ? 0 : ledger_->fault(c).billed_micros;
}

bool TableFacts::GrantExpiry(const std::string& grant, int64_t* expires_at_us) const {
  auto it = grant_expiry.find(grant);
  if (it == grant_expiry.end()) return false;
  *expires_at_us = it->second;
  return true;
}

bool TableFacts::Dispute(const std::string& dispute, DisputeFacts* out) const {
  auto it = disputes.find(dispute);
  if (it == disputes.end()) return false;
  *out = it->second;
  return true;
}

int64_t TableFacts::FaultBilled(const std::string& campaign) const {
  auto it = fault_billed.find(campaign);
  return it == fault_billed.end() ? 0 : it->second;
}

// --- EntryChecker ---------------------------------------------------------------------

const char* EntryChecker::Name(CheckId id) {
  switch (id) {
    case kEntries: return "entries in order";
    case kConservation: return "conservation (R12)";
    case kNonNegative: return "no negative balance (R5)";
    case kExpiry: return "grant expiry once, at its time (R6)";
    case kRefunds: return "refunds within what was charged in error (R9)";
    case kNumChecks: break;
  }
  return "";
}

bool EntryChecker::Fail(CheckId id, uint64_t log_seq, const v1::LedgerEntry& e,
                        std::string what) {
  if (!violation_) {
    violation_ = Violation{log_seq, e.seq(), e.account_id(), Name(id), std::move(what)};
  }
  return false;
}

bool EntryChecker::Add(uint64_t log_seq, const v1::LedgerEntry& e) {
  if (violation_) return false;
  counts_[kEntries]++;
  if (last_entry_seq_ != 0 && e.seq() != last_entry_seq_ + 1) {
    return Fail(kEntries, log_seq, e,
                "entry sequence " + std::to_string(e.seq()) + " follows " +
                    std::to_string(last_entry_seq_) + ": entries must be dense");
  }
  if (log_seq != last_log_seq_ && !EndEvent()) return false;
  if (log_seq < last_log_seq_) {
    return Fail(kEntries, log_seq, e,
                "log sequence went back from " + std::to_string(last_log_seq_));
  }
  last_entry_seq_ = e.seq();
  last_log_seq_ = log_seq;
  if (!e.account_id().empty() && !CheckMoney(log_seq, e)) return false;
  if (!CheckExpiry(log_seq, e)) return false;
  return CheckRefund(log_seq, e);
}

bool EntryChecker::EndEvent() {
  if (violation_) return false;
  if (negative_valid_.empty()) return true;
  auto first = negative_valid_.begin();
  for (auto it = negative_valid_.begin(); it != negative_valid_.end(); ++it) {
    if (it->second.entry_seq < first->second.entry_seq) first = it;
  }
  violation_ = std::move(first->second);
  negative_valid_.clear();
  return false;
}

bool EntryChecker::CheckMoney(uint64_t log_seq, const v1::LedgerEntry& e) {
  Totals& t = totals_[e.account_id()];
  const int64_t d = e.balance_delta_micros();
  const std::string kind = v1::EntryKind_Name(e.kind());
  auto wrong_sign = [&](const char* want) {
    return Fail(kConservation, log_seq, e,
                kind + " with balance delta " + FormatMicros(d) + ": must be " + want);
  };
  switch (e.kind()) {
    case v1::ADD_BALANCE:
      if (d <= 0) return wrong_sign("positive");
      t.deposited += d;
      break;
    case v1::PROMOTION_ISSUED:
      if (d <= 0) return wrong_sign("positive");
      t.granted += d;
      break;
    case v1::REFUND:
      if (d <= 0) return wrong_sign("positive");
      t.adjusted += d;
      break;
    case v1::COST:
      if (d >= 0) return wrong_sign("negative");
      t.spent -= d;
      break;
    case v1::PROMOTION_EXPIRED:
      if (d >= 0) return wrong_sign("negative");
      t.expired -= d;
      break;
    default:
      if (d != 0) return wrong_sign("zero (this kind moves no money)");
  }
  if (d != 0) {
    if (e.funds_type() == v1::FUNDS_TYPE_CASH) {
      t.cash += d;
    } else if (e.funds_type() == v1::FUNDS_TYPE_GRANT) {
      t.credit += d;
    } else {
      return Fail(kConservation, log_seq, e, kind + " moves money from no source");
    }
  }
  t.frozen += e.frozen_delta_micros();

  // R5: checked first, the plainer fault.
  counts_[kNonNegative]++;
  const std::string balances = "cash " + FormatMicros(e.cash_balance()) + ", grant " +
                               FormatMicros(e.grant_balance()) + ", frozen " +
                               FormatMicros(e.frozen_balance()) + ", valid " +
                               FormatMicros(e.valid_balance());
  if (e.cash_balance() < 0 || e.grant_balance() < 0 || e.frozen_balance() < 0) {
    return Fail(kNonNegative, log_seq, e, kind + " leaves a negative balance: " + balances);
  }
  if (e.valid_balance() < 0) {
    negative_valid_[e.account_id()] =
        Violation{log_seq, e.seq(), e.account_id(), Name(kNonNegative),
                  kind + " leaves a negative valid balance and no later entry of the event "
                         "restores it: " + balances};
  } else {
    negative_valid_.erase(e.account_id());
  }
  counts_[kConservation]++;
  const int64_t in = t.deposited + t.granted + t.adjusted;
  const int64_t out = t.spent + t.expired + e.cash_balance() + e.grant_balance();
  if (in != out) {
    return Fail(kConservation, log_seq, e,
                "after " + kind + ": deposited + granted + adjusted = " + FormatMicros(in) +
                    " but spent + expired + cash + grant = " + FormatMicros(out));
  }
  if (t.cash != e.cash_balance()) {
    return Fail(kConservation, log_seq, e,
                "after " + kind + ": cash balance " + FormatMicros(e.cash_balance()) +
                    " is not the sum of the cash deltas " + FormatMicros(t.cash));
  }
  if (t.credit != e.grant_balance()) {
    return Fail(kConservation, log_seq, e,
                "after " + kind + ": grant balance " + FormatMicros(e.grant_balance()) +
                    " is not the sum of the grant deltas " + FormatMicros(t.credit));
  }
  if (t.frozen != e.frozen_balance()) {
    return Fail(kConservation, log_seq, e,
                "after " + kind + ": frozen balance " + FormatMicros(e.frozen_balance()) +
                    " is not the sum of the frozen deltas " + FormatMicros(t.frozen));
  }
  if (e.valid_balance() + e.frozen_balance() != e.cash_balance() + e.grant_balance()) {
    return Fail(kConservation, log_seq, e,
                "after " + kind + ": valid + frozen = " +
                    FormatMicros(e.valid_balance() + e.frozen_balance()) +
                    " but cash + grant = " +
                    FormatMicros(e.cash_balance() + e.grant_balance()));
  }
  return true;
}

bool EntryChecker::CheckExpiry(uint64_t log_seq, const v1::LedgerEntry& e) {
  const bool expiry = e.kind() == v1::PROMOTION_EXPIRED;
  const bool uses_grant = (e.kind() == v1::COST || e.kind() == v1::REFUND) &&
                          e.funds_type() == v1::FUNDS_TYPE_GRANT;
  if (!expiry && !uses_grant) return true;
  const std::string& g = e.grant_id();
  int64_t expires_at = 0;
  if (g.empty() || !facts_->GrantExpiry(g, &expires_at)) {
    return Fail(kExpiry, log_seq, e,
                v1::EntryKind_Name(e.kind()) + " names no known grant (\"" + g + "\")");
  }
  if (expiry) {
    counts_[kExpiry]++;
    auto [it, first] = expired_at_seq_.emplace(g, log_seq);
    if (!first) {
      return Fail(kExpiry, log_seq, e,
                  "grant " + g + " expired twice (first at log sequence " +
                      std::to_string(it->second) + ")");
    }
    if (e.time_us() != expires_at) {
      return Fail(kExpiry, log_seq, e,
                  "grant " + g + " expired at " + FormatTime(e.time_us()) +
                      ", not at its expires_at " + FormatTime(expires_at));
    }
    return true;
  }
  if (e.time_us() >= expires_at || expired_at_seq_.count(g)) {
    return Fail(kExpiry, log_seq, e,
                v1::EntryKind_Name(e.kind()) + " of " + FormatMicros(e.balance_delta_micros()) +
                    " to grant " + g + " at " + FormatTime(e.time_us()) +
                    ", at or after its expiry at " + FormatTime(expires_at));
  }
  return true;
}

bool EntryChecker::CheckRefund(uint64_t log_seq, const v1::LedgerEntry& e) {
  const int64_t amount = -e.balance_delta_micros();
  if (e.kind() == v1::COST && e.note().find("platform fault") != std::string::npos) {
    fault_costs_[e.campaign_id()].push_back({e.time_us(), amount});
    fault_total_[e.campaign_id()] += amount;
    return true;
  }
  if (e.kind() != v1::REFUND) return true;
  counts_[kRefunds]++;
  Facts::DisputeFacts d;
  if (e.dispute_id().empty() || !facts_->Dispute(e.dispute_id(), &d)) {
    return Fail(kRefunds, log_seq, e, "REFUND names no known dispute (\"" + e.dispute_id() + "\")");
  }
  if (d.campaign != e.campaign_id()) {
    return Fail(kRefunds, log_seq, e,
                "REFUND for campaign " + e.campaign_id() + " under dispute " + e.dispute_id() +
                    " of campaign " + d.campaign);
  }
  const int64_t refunded = refunded_[e.dispute_id()] += e.balance_delta_micros();
  const int64_t by_campaign = campaign_refunded_[d.campaign] += e.balance_delta_micros();
  if (refunded > d.verifiable) {
    return Fail(kRefunds, log_seq, e,
                "dispute " + e.dispute_id() + " refunded " + FormatMicros(refunded) +
                    ", above its verifiable amount " + FormatMicros(d.verifiable));
  }
  int64_t in_window = 0;
  for (const FaultCost& f : fault_costs_[d.campaign]) {
    if (f.time_us >= d.window_start_us && f.time_us < d.window_end_us) in_window += f.amount;
  }
  if (refunded > in_window) {
    return Fail(kRefunds, log_seq, e,
                "dispute " + e.dispute_id() + " refunded " + FormatMicros(refunded) +
                    ", above the fault-marked charges in its window " +
                    FormatMicros(in_window));
  }
  const int64_t billed = std::min(fault_total_[d.campaign], facts_->FaultBilled(d.campaign));
  if (by_campaign > billed) {
    return Fail(kRefunds, log_seq, e,
                "campaign " + d.campaign + " refunded " + FormatMicros(by_campaign) +
                    " in all, above what it was charged for fault-marked delivery " +
                    FormatMicros(billed));
  }
  return true;
}

// --- CheckLog -------------------------------------------------------------------------

namespace {

constexpr const char* kInvariants = "ledger invariants after every event";
constexpr const char* kSchema = "only fields the schema defines";
constexpr const char* kTotals = "account totals = sum of their entries";
constexpr const char* kDigest = "same digest on every replay";

class CheckingSink : public SeqEntrySink {
 public:
  CheckingSink(const Ledger* ledger, EntryChecker* checker)
      : ledger_(ledger), checker_(checker) {}
  void Add(const Entry& e) override {
    if (checker_->ok()) checker_->Add(seq, ledger_->ToProto(e));
  }

 private:
  const Ledger* ledger_;
  EntryChecker* checker_;
};

// "account X: ..." from CheckInvariants: the account.
std::string AccountOf(const std::string& message) {
  const std::string prefix = "account ";
  if (message.rfind(prefix, 0) != 0) return "";
  const size_t end = message.find(": ", prefix.size());
  return end == std::string::npos ? "" : message.substr(prefix.size(), end - prefix.size());
}

}  // namespace

Status CheckLog(const std::string& dir, CheckReport* out) {
  *out = CheckReport{};
  Ledger ledger;
  LedgerFacts facts(&ledger);
  EntryChecker checker(&facts);
  CheckingSink sink(&ledger, &checker);
  uint64_t events = 0;
  std::optional<Violation> violation;  // found outside the entry checker
  // An event holding a field this build's schema does not define (a log
  // written before the journal refused them, or by a build that defines
  // more) does not stop the replay: the ledger judges it without the
  // field, and the other checks go on; the first is the report's
  // violation unless one of theirs is.
  std::optional<Violation> unknown_field;
  std::string path;
  Status st = log::ForEachEvent(
      dir, 1,
      [&](uint64_t seq, const v1::Event& event) {
        sink.seq = seq;
        if (FindUnknownField(event, &path)) [[unlikely]] {
          if (out->unknown_field_events++ == 0) {
            unknown_field = Violation{
                seq, 0, std::string(EventAccountId(event)), kSchema,
                "event " + std::to_string(event.event_id()) + ": " + path +
                    ": a field number this billsim's schema does not define; the ledger "
                    "judged the event without it, and a billsim whose schema defines it "
                    "may replay this log differently (the journal refuses such events)"};
          }
        }
        const Ledger::Result r = ledger.Apply(event, &sink);
        if (!checker.EndEvent()) return false;
        if (r.outcome != Ledger::Outcome::kApplied) {
          violation = Violation{
              seq, 0, "", kInvariants,
              "the log holds an event the ledger refuses: " +
                  (r.outcome == Ledger::Outcome::kDuplicate
                       ? "event " + std::to_string(event.event_id()) + ": duplicate id (R10)"
                       : r.reason)};
          return false;
        }
        events++;
        out->last_seq = seq;
        const Status inv = ledger.CheckInvariants();
        if (!inv.ok()) {
          violation = Violation{seq, 0, AccountOf(inv.message()), kInvariants, inv.message()};
          return false;
        }
        return true;
      },
      &out->tail_fault);
  if (!st.ok()) return st;
  if (!checker.ok()) violation = checker.violation();

  using State = CheckReport::State;
  out->checks.reserve(9);  // (add's pointers stay valid)
  auto add = [&](std::string name, uint64_t count, std::string unit) {
    CheckReport::Check c{std::move(name), count, std::move(unit), State::kOk};
    if (violation && violation->check == c.name) c.state = State::kFailed;
    out->checks.push_back(std::move(c));
    return &out->checks.back();
  };
  add(kInvariants, events, "events");
  CheckReport::Check* schema = add(kSchema, events, "events");
  if (unknown_field) {
    schema->state = State::kFailed;
    unknown_field->what +=
        " (" + std::to_string(out->unknown_field_events) + " events hold one)";
  }
  const char* units[] = {"entries", "entries", "entries", "expiries", "refunds"};
  for (int i = 0; i < EntryChecker::kNumChecks; ++i) {
    const auto id = static_cast<EntryChecker::CheckId>(i);
    add(EntryChecker::Name(id), checker.count(id), units[i]);
  }
  if (violation) {
    add(kTotals, 0, "accounts")->state = State::kNotRun;
    add(kDigest, 0, "replays")->state = State::kNotRun;
    out->violation = std::move(violation);
    return Status::Ok();
  }

  // The ledger's totals against the sums of the entries.
  CheckReport::Check* totals = add(kTotals, 0, "accounts");
  for (uint32_t ai = 0; ai < ledger.accounts().size(); ++ai) {
    const Account& a = ledger.accounts()[ai];
    const std::string id(ledger.account_id(ai));
    totals->count++;
    EntryChecker::Totals t;
    if (auto it = checker.totals().find(id); it != checker.totals().end()) t = it->second;
    auto differ = [&](const char* what, int64_t ledger_value, int64_t entries_value) {
      if (ledger_value == entries_value) return false;
      totals->state = State::kFailed;
      out->violation = Violation{out->last_seq, 0, id, kTotals,
                                 std::string(what) + " is " + FormatMicros(ledger_value) +
                                     " but its entries sum to " + FormatMicros(entries_value)};
      return true;
    };
    if (differ("total_deposited", a.deposited, t.deposited) ||
        differ("total_granted", a.granted, t.granted) ||
        differ("total_adjusted", a.adjusted, t.adjusted) ||
        differ("total_spent", a.spent, t.spent) ||
        differ("total_expired", a.expired, t.expired) ||
        differ("cash_balance", a.cash, t.cash) || differ("grant_balance", a.credit, t.credit) ||
        differ("frozen_balance", a.frozen, t.frozen)) {
      add(kDigest, 0, "replays")->state = State::kNotRun;
      return Status::Ok();
    }
  }

  // Determinism: the same log gives the same digest, by the replay's fast
  // path from sequence 1 and from the newest snapshot.
  CheckReport::Check* digest = add(kDigest, 1, "replays");
  const std::string expected = ledger.Digest();
  for (const bool snapshots : {false, true}) {
    Ledger again;
    ReplayStats stats;
    ReplayOptions options;
    options.use_snapshots = snapshots;
    st = Replay(dir, options, &again, &stats);
    std::string what;
    if (!st.ok()) {
      what = "replay failed: " + st.ToString();
    } else if (stats.last_seq != out->last_seq) {
      what = "replay ended at sequence " + std::to_string(stats.last_seq) + ", not " +
             std::to_string(out->last_seq);
    } else if (again.Digest() != expected) {
      what = "replay" +
             (stats.snapshot_seq ? " from the snapshot at " + std::to_string(stats.snapshot_seq)
                                 : std::string(" from sequence 1")) +
             " gives digest " + again.Digest() + ", the checked replay " + expected;
    }
    if (!what.empty()) {
      digest->state = State::kFailed;
      out->violation = Violation{out->last_seq, 0, "", kDigest, what};
      return Status::Ok();
    }
    digest->count++;
  }
  out->digest = expected;
  out->violation = std::move(unknown_field);  // (none if no event held one)
  return Status::Ok();
}

void WriteCheckReport(const CheckReport& r, bool json, std::ostream& out) {
  using State = CheckReport::State;
  auto state = [](State s) {
    return s == State::kOk ? "OK" : s == State::kFailed ? "FAILED" : "not run";
  };
  if (json) {
    JsonObject checks = JsonObject::array();
    for (const auto& c : r.checks) {
      checks.push_back(
          {{"name", c.name}, {"count", c.count}, {"unit", c.unit}, {"result", state(c.state)}});
    }
    JsonObject violation;  // null when every check passed
    if (r.violation) {
      const Violation& v = *r.violation;
      violation = {{"log_seq", v.log_seq}, {"entry_seq", v.entry_seq}, {"account", v.account},
                   {"check", v.check},     {"what", v.what}};
    }
    out << ToJsonLine({{"ok", r.ok()},
                       {"last_seq", r.last_seq},
                       {"digest", r.digest},
                       {"checks", std::move(checks)},
                       {"violation", std::move(violation)},
                       {"tail_fault", r.tail_fault},
                       {"unknown_field_events", r.unknown_field_events}});
    return;
  }
  size_t width = 0;
  for (const auto& c : r.checks) width = std::max(width, c.name.size());
  for (const auto& c : r.checks) {
    std::string count = std::to_string(c.count) + " " + c.unit;
    out << c.name << std::string(width - c.name.size() + 2, ' ') << count
        << std::string(count.size() < 16 ? 16 - count.size() : 1, ' ') << state(c.state)
        << "\n";
  }
  if (r.violation) {
    const Violation& v = *r.violation;
    out << "VIOLATION at log sequence " << v.log_seq;
    if (v.entry_seq) out << " (entry " << v.entry_seq << ")";
    if (!v.account.empty()) out << ", account " << v.account;
    out << ": " << v.check << ": " << v.what << "\n";
  } else {
    out << "all checks passed through log sequence " << r.last_seq << "; state digest "
        << r.digest << "\n";
  }
}

}  // namespace billsim::audit
