// The events a TikTok report implies, and what the ledger finds in them.
// See the header for the plan of a row.
#include "import/report_importer.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <utility>

#include "util/keyed_id.h"
#include "util/money.h"

namespace billsim::import {

namespace {

constexpr int64_t kNoonUs = int64_t{12} * 3600 * 1'000'000;

const char* UnitName(v1::DeliveryReported::Kind k) {
  switch (k) {
    case v1::DeliveryReported::IMPRESSION: return "impressions";
    case v1::DeliveryReported::CLICK: return "clicks";
    case v1::DeliveryReported::VIDEO_VIEW_2S: return "2-second video views";
    case v1::DeliveryReported::VIDEO_VIEW_6S: return "6-second video views";
    default: return "units";
  }
}

Column ColumnOf(v1::DeliveryReported::Kind k) {
  switch (k) {
    case v1::DeliveryReported::CLICK: return Column::kClicks;
    case v1::DeliveryReported::VIDEO_VIEW_2S: return Column::kViews2s;
    case v1::DeliveryReported::VIDEO_VIEW_6S: return Column::kViews6s;
    default: return Column::kImpressions;
  }
}

int64_t UnitsOf(const ReportRow& r, v1::DeliveryReported::Kind k) {
  switch (k) {
    case v1::DeliveryReported::IMPRESSION: return r.impressions;
    case v1::DeliveryReported::CLICK: return r.clicks;
    case v1::DeliveryReported::VIDEO_VIEW_2S: return r.views_2s;
    case v1::DeliveryReported::VIDEO_VIEW_6S: return r.views_6s;
    default: return 0;
  }
}

class Importer {
 public:
  Importer(const Report& report, const ImportOptions& options, const std::vector<v1::Event>& base,
           Ledger* ledger, ImportResult* result)
      : report_(report), options_(options), base_(base), ledger_(*ledger), result_(*result) {}

  Status Run() {
    std::vector<const ReportRow*> rows;
    for (const ReportRow& r : report_.rows) rows.push_back(&r);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const ReportRow* a, const ReportRow* b) { return a->day < b->day; });
    for (const ReportRow* r : rows) {
      result_.report_micros = CheckedAdd(result_.report_micros, r->cost_micros);
    }
    for (const ReportRow* r : rows) {
      Status st = ImportRow(*r);
      if (!st.ok()) return st;
    }
    // Existing campaigns get their own price back after their last row.
    for (const auto& [ci, price] : own_price_) {
      if (ledger_.campaigns()[ci].price == price) continue;
      // Keyed by the import's last time: a later import restores again.
      v1::Event e = NewEvent("restore/" + std::string(ledger_.campaign_id(ci)) + "/" +
                                 std::to_string(last_us_),
                             last_us_);
      v1::CampaignUpdated* m = e.mutable_campaign_updated();
      m->set_account_id(options_.account_id);
      m->set_campaign_id(std::string(ledger_.campaign_id(ci)));
      m->set_price_micros(price);
      Status st = ApplyNew(std::move(e), nullptr);
      if (!st.ok()) return st;
    }
    Status st = ApplyBaseUntil(INT64_MAX);
    if (!st.ok()) return st;
    Grants();
    return Status::Ok();
  }

 private:
  Status ImportRow(const ReportRow& row) {
    result_.row_starts.push_back(result_.events.size());
    // Noon of the row's local day: the account's zone if it exists by then.
    uint32_t a = ledger_.FindAccount(options_.account_id);
    const int32_t offset = a != kNoIndex ? ledger_.accounts()[a].utc_offset_minutes
                                         : options_.utc_offset_minutes;
    const int64_t noon = row.day * kMicrosPerDay + kNoonUs - offset * kMicrosPerMinute;
    Status st = ApplyBaseUntil(noon);
    if (!st.ok()) return st;
    a = ledger_.FindAccount(options_.account_id);
    if (a == kNoIndex) {
      st = OpenAccount(row, noon);
      if (!st.ok()) return st;
      a = ledger_.FindAccount(options_.account_id);
    }
    const Account& account = ledger_.accounts()[a];
    if (options_.utc_offset_given && account.utc_offset_minutes != options_.utc_offset_minutes) {
      return Status::InvalidArgument("--utc-offset-minutes " +
                                     std::to_string(options_.utc_offset_minutes) + ": account " +
                                     options_.account_id + " keeps its own zone, " +
                                     std::to_string(account.utc_offset_minutes) +
                                     " minutes (drop the option)");
    }
    const std::string currency(ledger_.account_currency(a));
    if (!row.currency.empty() && row.currency != currency) {
      return Status::InvalidArgument(report_.Where(row.line, Column::kCurrency) + ": \"" +
                                     row.currency + "\", but account " + options_.account_id +
                                     " is in " + currency);
    }
    RowOutcome out;
    out.line = row.line;
    out.campaign_id = row.campaign_id;
    out.day = row.day;
    out.report_micros = row.cost_micros;
    key_ = "tiktok-report/" + options_.account_id + "/" + row.campaign_id + "/" +
           FormatDay(row.day) + "/";
    // A row of zeros implies nothing; a row whose first event is applied
    // was imported before (its events are keyed by account, campaign, day).
    if (row.cost_micros == 0 && row.impressions == 0 && row.clicks == 0 && row.views_2s == 0 &&
        row.views_6s == 0) {
      result_.rows.push_back(out);
      return Status::Ok();
    }
    const uint64_t first_id = KeyedId(key_ + "0");
    if (ledger_.FirstUnappliedId(first_id) != first_id) {
      out.skipped = true;
      result_.rows.push_back(out);
      return Status::Ok();
    }
    int64_t t = noon;
    const int64_t day_start = row.day * kMicrosPerDay - account.utc_offset_minutes * kMicrosPerMinute;
    if (account.clock_us > t) {
      if (account.clock_us >= day_start + kMicrosPerDay) {
        return Status::InvalidArgument(
            report_.Where(row.line, Column::kDay) + ": " + FormatDay(row.day) +
            " is a day before account " + options_.account_id +
            "'s clock (its events run to " + FormatTime(account.clock_us) +
            "): billsim's time only moves forward; import into a log that ends before the "
            "report's first day");
      }
      t = account.clock_us;
    }
    last_us_ = std::max(last_us_, t);

    uint32_t ci = ledger_.FindCampaign(row.campaign_id);
    if (ci != kNoIndex && ledger_.campaigns()[ci].account != a) {
      return Status::InvalidArgument(
          report_.Where(row.line, Column::kCampaignId) + ": campaign " + row.campaign_id +
          " is account " + std::string(ledger_.account_id(ledger_.campaigns()[ci].account)) +
          "'s, not " +
          options_.account_id + "'s");
    }
    if (ci == kNoIndex) {
      st = CreateCampaign(row, t);
      if (!st.ok()) return st;
      ci = ledger_.FindCampaign(row.campaign_id);
    } else if (!own_price_.count(ci) && !created_.count(ci)) {
      own_price_.emplace(ci, ledger_.campaigns()[ci].price);
    }

    std::vector<v1::Event> plan;
    st = Plan(row, ci, t, &plan);
    if (!st.ok()) return st;
    if (plan.empty() || plan.front().event_id() != first_id) {
      return Status::Corruption("row " + std::to_string(row.line) + ": its plan is empty");
    }
    const Campaign& c = ledger_.campaigns()[ci];
    const bool paused = c.status != Campaign::Status::kEnabled;
    const bool deleted = c.status == Campaign::Status::kDeleted;
    const bool rejected = c.review == Campaign::Review::kRejectedBeforeServing ||
                          c.review == Campaign::Review::kRejectedAfterServing;
    const v1::BudgetMode mode = c.budget_mode;
    const v1::DeliveryReported::Kind billable = c.billable_kind;
    sink_.Take();
    for (v1::Event& e : plan) {
      st = ApplyNew(std::move(e), &row);
      if (!st.ok()) return st;
    }
    const std::vector<Entry> entries = sink_.Take();
    if (!result_.events.empty()) out.last_event_id = result_.events.back().event_id();
    out.billed_after_micros = ledger_.billed_micros(ci);
    int64_t over_budget = 0, beyond_funds = 0;
    for (const Entry& e : entries) {
      if (e.campaign != ci) continue;
      if (e.kind == v1::COST) out.charged_micros = CheckedAdd(out.charged_micros, -e.balance_delta);
      if (e.kind == v1::NOT_BILLED && e.delivery_kind == billable) {
        over_budget += e.not_billed_reason == v1::OVER_BUDGET;
        beyond_funds += e.not_billed_reason == v1::INSUFFICIENT_FUNDS;
      }
    }
    result_.charged_micros = CheckedAdd(result_.charged_micros, out.charged_micros);

    // What the ledger found.
    const bool fault = paused || rejected;
    if (fault && out.charged_micros > 0) {
      Finding f = NewFinding(row, out);
      f.kind = deleted ? Finding::Kind::kAfterDeletion
               : rejected ? Finding::Kind::kAfterRejection
                          : Finding::Kind::kAfterPause;
      f.amount_micros = out.charged_micros;
      f.explanation = std::string("the report charges delivery while the ") +
                      (deleted    ? "campaign was deleted"
                       : rejected ? "campaign's ad was rejected in review"
                                  : "campaign was paused") +
                      "; billsim's rules would not (R7): charged as fault-marked delivery, an "
                      "error a dispute recovers (R9)";
      st = Record(std::move(f), t);
      if (!st.ok()) return st;
    }
    if (out.charged_micros < row.cost_micros) {
      Finding f = NewFinding(row, out);
      f.amount_micros = row.cost_micros - out.charged_micros;
      const std::string excess = FormatMicros(f.amount_micros) + " of the report's " +
                                 FormatMicros(row.cost_micros);
      if (over_budget > 0 && mode == v1::BUDGET_MODE_DAY) {
        f.kind = Finding::Kind::kOverDailyBudget;
        f.explanation = excess + " is over the campaign's daily budget of " +
                        FormatMicros(ledger_.campaigns()[ci].budget) +
                        ": billsim never spends past it (R4)";
      } else if (over_budget > 0) {
        f.kind = Finding::Kind::kOverLifetimeBudget;
        f.explanation = excess + " is over the campaign's lifetime budget of " +
                        FormatMicros(ledger_.campaigns()[ci].budget) +
                        ": billsim never spends past it (R4)";
      } else if (beyond_funds > 0) {
        f.kind = Finding::Kind::kBeyondFunds;
        f.explanation = excess + " is beyond what the balance (or the campaign's hold) "
                        "covered: billsim does not charge it (R5)";
      } else {
        f.kind = Finding::Kind::kNotReproduced;
        f.explanation = excess + " was not charged: its price per unit is below billsim's "
                        "smallest (one micro-unit per unit, per thousand for CPM)";
      }
      st = Record(std::move(f), t);
      if (!st.ok()) return st;
    } else if (out.charged_micros > row.cost_micros) {
      Finding f = NewFinding(row, out);
      f.kind = Finding::Kind::kNotReproduced;
      f.amount_micros = out.charged_micros - row.cost_micros;
      f.explanation = "billsim charged " + FormatMicros(f.amount_micros) +
                      " more than the report: its price per unit is below billsim's smallest "
                      "(one micro-unit per unit, per thousand for CPM)";
      st = Record(std::move(f), t);
      if (!st.ok()) return st;
    }
    result_.rows.push_back(out);
    return Status::Ok();
  }

  // The row's repricing and delivery, not yet applied.
  Status Plan(const ReportRow& row, uint32_t ci, int64_t t, std::vector<v1::Event>* plan) {
    const Campaign& c = ledger_.campaigns()[ci];
    const bool fault = c.status != Campaign::Status::kEnabled ||
                       c.review == Campaign::Review::kRejectedBeforeServing ||
                       c.review == Campaign::Review::kRejectedAfterServing;
    const v1::DeliveryReported::Kind billable = c.billable_kind;
    const int64_t n = UnitsOf(row, billable);
    const int64_t per = c.per_units();
    const int64_t cost = row.cost_micros;
    if (cost > 0 && n == 0) {
      return Status::InvalidArgument(
          report_.Where(row.line, ColumnOf(billable)) + ": no " + UnitName(billable) +
          " for a cost of " + FormatMicros(cost) + ": campaign " + row.campaign_id +
          " bills " + UnitName(billable) + ", and billsim bills delivery only (R1)");
    }
    int step = 0;
    int64_t price = c.price;
    auto reprice = [&](int64_t p) {
      v1::Event& e = plan->emplace_back(NewEvent(key_ + std::to_string(step++), t));
      v1::CampaignUpdated* m = e.mutable_campaign_updated();
      m->set_account_id(options_.account_id);
      m->set_campaign_id(row.campaign_id);
      m->set_price_micros(p);
      price = p;
    };
    auto deliver = [&](v1::DeliveryReported::Kind k, int64_t count, bool marked) {
      if (count == 0) return;
      v1::Event& e = plan->emplace_back(NewEvent(key_ + std::to_string(step++), t));
      v1::DeliveryReported* m = e.mutable_delivery_reported();
      m->set_account_id(options_.account_id);
      m->set_campaign_id(row.campaign_id);
      m->set_kind(k);
      m->set_count(count);
      m->set_platform_fault(marked);
    };
    // R2 charges floor(units * price / per) since the last price change.
    // A price that is a multiple of `per` charges each unit the same,
    // restarted or not; for any other, restart by changing the price.
    auto restart_at = [&](int64_t p) {
      if (p == price && p % per != 0) reprice(p == kAmountMaxMicros ? p - 1 : p + 1);
      if (p != price) reprice(p);
    };
    if (n > 0 && cost == 0) {
      restart_at(1);  // the smallest price: no charge for fewer than `per` units
      deliver(billable, n, fault);
    } else if (n == 1) {
      if (cost > kAmountMaxMicros / per) return TooDear(row, billable);
      restart_at(cost * per);
      deliver(billable, 1, fault);
    } else if (n > 1) {
      // All but the last unit at p1, charging at most cost - 1; the last
      // unit at the rest (at least 1 micro-unit), a multiple of `per`.
      const int64_t p1 = std::min(MulDivFloor(cost - 1, per, n - 1), kAmountMaxMicros);
      if (p1 < 1) {
        restart_at(1);  // below billsim's smallest price: a finding
        deliver(billable, n, fault);
      } else {
        restart_at(p1);
        deliver(billable, n - 1, fault);
        const int64_t rest = cost - MulDivFloor(n - 1, p1, per);
        if (rest > kAmountMaxMicros / per) return TooDear(row, billable);
        if (rest * per != price) reprice(rest * per);
        deliver(billable, 1, fault);
      }
    }
    for (auto k : {v1::DeliveryReported::IMPRESSION, v1::DeliveryReported::CLICK,
                   v1::DeliveryReported::VIDEO_VIEW_2S, v1::DeliveryReported::VIDEO_VIEW_6S}) {
      if (k != billable) deliver(k, UnitsOf(row, k), false);
    }
    return Status::Ok();
  }

  Status TooDear(const ReportRow& row, v1::DeliveryReported::Kind k) const {
    return Status::InvalidArgument(report_.Where(row.line, Column::kCost) + ": " +
                                   FormatMicros(row.cost_micros) + " for " +
                                   std::to_string(UnitsOf(row, k)) + " " + UnitName(k) +
                                   " is a price past billsim's bound (R11)");
  }

  Status OpenAccount(const ReportRow& first, int64_t t) {
    if (!options_.open_account) {
      return Status::InvalidArgument("--account " + options_.account_id +
                                     ": no such account (open it in the log first)");
    }
    std::string currency = options_.currency.empty() ? first.currency : options_.currency;
    if (currency.empty()) {
      return Status::InvalidArgument(report_.name +
                                     ": no Currency column: say the account's currency (--currency)");
    }
    v1::Event open = NewEvent("open", t);
    v1::AccountOpened* o = open.mutable_account_opened();
    o->set_account_id(options_.account_id);
    o->set_currency(currency);
    o->set_utc_offset_minutes(options_.utc_offset_minutes);
    Status st = ApplyNew(std::move(open), &first);
    if (!st.ok()) return st;
    result_.account_opened = true;
    if (result_.report_micros == 0) return Status::Ok();
    v1::Event deposit = NewEvent("deposit", t);
    v1::CashDeposited* d = deposit.mutable_cash_deposited();
    d->set_account_id(options_.account_id);
    d->set_amount_micros(result_.report_micros);
    return ApplyNew(std::move(deposit), &first);
  }

  Status CreateCampaign(const ReportRow& row, int64_t t) {
    const std::string key = "tiktok-report/" + options_.account_id + "/" + row.campaign_id + "/";
    v1::Event e = NewEvent(key + "create", t);
    v1::CampaignCreated* m = e.mutable_campaign_created();
    m->set_account_id(options_.account_id);
    m->set_campaign_id(row.campaign_id);
    m->set_name(row.campaign_name);
    m->set_objective(v1::OBJECTIVE_REACH);
    m->set_billing_event(v1::BILLING_EVENT_CPM);
    m->set_price_micros(1);
    m->set_budget_mode(v1::BUDGET_MODE_INFINITE);
    // The report shows it served: its ad was reviewed and its audience set.
    m->set_creative_reviewed(true);
    m->set_audience_defined(true);
    Status st = ApplyNew(std::move(e), &row);
    if (!st.ok()) return st;
    v1::Event on = NewEvent(key + "enable", t);
    v1::CampaignStatusChanged* s = on.mutable_campaign_status_changed();
    s->set_account_id(options_.account_id);
    s->set_campaign_id(row.campaign_id);
    s->set_operation(v1::CampaignStatusChanged::ENABLE);
    st = ApplyNew(std::move(on), &row);
    if (!st.ok()) return st;
    created_.insert(ledger_.FindCampaign(row.campaign_id));
    ++result_.campaigns_created;
    return Status::Ok();
  }

  Finding NewFinding(const ReportRow& row, const RowOutcome& out) const {
    Finding f;
    f.line = row.line;
    f.campaign_id = row.campaign_id;
    f.day = row.day;
    f.report_micros = row.cost_micros;
    f.charged_micros = out.charged_micros;
    return f;
  }

  // Keeps the finding; with --disputes, files its dispute.
  Status Record(Finding f, int64_t t) {
    if (options_.disputes && f.kind != Finding::Kind::kNotReproduced && f.amount_micros > 0) {
      const uint32_t a = ledger_.FindAccount(options_.account_id);
      const int64_t start =
          f.day * kMicrosPerDay - ledger_.accounts()[a].utc_offset_minutes * kMicrosPerMinute;
      // No '/': a dispute's id goes in URL paths (/api/v1/disputes/ID).
      f.dispute_id = "tiktok-report:" + f.campaign_id + ":" + FormatDay(f.day) + ":" +
                     FindingName(f.kind);
      v1::Event e = NewEvent(key_ + FindingName(f.kind), t);
      v1::DisputeFiled* d = e.mutable_dispute_filed();
      d->set_dispute_id(f.dispute_id);
      d->set_account_id(options_.account_id);
      d->set_campaign_id(f.campaign_id);
      d->set_reason(v1::DISPUTE_REASON_CHARGED_IN_ERROR);
      d->set_window_start_us(start);
      d->set_window_end_us(start + kMicrosPerDay);
      d->set_claimed_micros(f.amount_micros);
      d->add_evidence(v1::EVIDENCE_SPEND_REPORT);
      d->add_evidence(v1::EVIDENCE_DELIVERY_DATA);
      d->set_description(report_.name + " line " + std::to_string(f.line) + ": " + f.explanation);
      Status st = ApplyNew(std::move(e), nullptr);
      if (!st.ok()) return st;
    }
    result_.findings.push_back(std::move(f));
    return Status::Ok();
  }

  v1::Event NewEvent(const std::string& key, int64_t t) const {
    v1::Event e;
    e.set_event_id(KeyedId(key.rfind("tiktok-report/", 0) == 0
                               ? key
                               : "tiktok-report/" + options_.account_id + "/" + key));
    e.set_time_us(t);
    return e;
  }

  // Applies a new event; a refusal is an error naming the row.
  Status ApplyNew(v1::Event e, const ReportRow* row) {
    const size_t from = sink_.Peek().size();
    const Ledger::Result r = ledger_.Apply(e, &sink_);
    if (r.outcome == Ledger::Outcome::kDuplicate) return Status::Ok();  // imported before
    if (r.outcome == Ledger::Outcome::kRejected) {
      return Status::InvalidArgument(
          (row ? report_.name + ":" + std::to_string(row->line) : report_.name) +
          ": billsim refuses the event this implies: " + r.reason);
    }
    Tally(from);
    result_.events.push_back(std::move(e));
    ++result_.new_events;
    return Status::Ok();
  }

  Status ApplyBaseUntil(int64_t t) {
    while (next_base_ < base_.size() && base_[next_base_].time_us() <= t) {
      const v1::Event& e = base_[next_base_++];
      const size_t from = sink_.Peek().size();
      const Ledger::Result r = ledger_.Apply(e, &sink_);
      if (r.outcome == Ledger::Outcome::kRejected) {
        return Status::InvalidArgument("the base scenario's event " +
                                       std::to_string(e.event_id()) + " is refused: " + r.reason);
      }
      Tally(from);
      sink_.Take();
      result_.events.push_back(e);
    }
    return Status::Ok();
  }

  // Counts the sources of charges and the expiries in the entries from
  // `from` on (those of the event just applied).
  void Tally(size_t from) {
    const uint32_t a = ledger_.FindAccount(options_.account_id);
    const std::vector<Entry>& entries = sink_.Peek();
    for (size_t i = from; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      if (e.account != a || a == kNoIndex) continue;
      if (e.kind == v1::COST) {
        int64_t& to = e.grant == kNoIndex ? result_.cash_used_micros : result_.credit_used_micros;
        to = CheckedAdd(to, -e.balance_delta);
        if (e.grant != kNoIndex) used_[e.grant] = CheckedAdd(used_[e.grant], -e.balance_delta);
      }
      if (e.kind == v1::PROMOTION_EXPIRED && e.grant != kNoIndex) {
        expired_[e.grant] = CheckedAdd(expired_[e.grant], -e.balance_delta);
      }
    }
  }

  void Grants() {
    const uint32_t a = ledger_.FindAccount(options_.account_id);
    if (a == kNoIndex) return;
    for (uint32_t gi : ledger_.accounts()[a].grants) {
      const Grant& g = ledger_.grants()[gi];
      GrantUse u;
      u.grant_id = ledger_.grant_id(gi);
      u.used_micros = used_.count(gi) ? used_[gi] : 0;
      u.expired_micros = expired_.count(gi) ? expired_[gi] : 0;
      u.remaining_micros = g.remaining;
      u.expires_at_us = g.expires_at_us;
      u.expired = g.expired;
      result_.grants.push_back(std::move(u));
    }
  }

  const Report& report_;
  const ImportOptions& options_;
  const std::vector<v1::Event>& base_;
  Ledger& ledger_;
  ImportResult& result_;
  size_t next_base_ = 0;
  int64_t last_us_ = 0;
  std::string key_;  // the current row's key prefix
  std::map<uint32_t, int64_t> own_price_;  // existing campaigns: their price before
  std::set<uint32_t> created_;
  std::map<uint32_t, int64_t> used_, expired_;  // by grant
  class Sink final : public EntrySink {
   public:
    void Add(const Entry& e) override { entries_.push_back(e); }
    const std::vector<Entry>& Peek() const { return entries_; }
    std::vector<Entry> Take() { return std::exchange(entries_, {}); }

   private:
    std::vector<Entry> entries_;
  } sink_;
};

}  // namespace

const char* FindingName(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::kAfterPause: return "after_pause";
    case Finding::Kind::kAfterDeletion: return "after_deletion";
    case Finding::Kind::kAfterRejection: return "after_rejection";
    case Finding::Kind::kOverDailyBudget: return "over_daily_budget";
    case Finding::Kind::kOverLifetimeBudget: return "over_lifetime_budget";
    case Finding::Kind::kBeyondFunds: return "beyond_funds";
    case Finding::Kind::kNotReproduced: return "not_reproduced";
  }
  return "unknown";
}

Status ImportReport(const Report& report, const ImportOptions& options,
                    const std::vector<v1::Event>& base, Ledger* ledger, ImportResult* result) {
  *result = ImportResult{};
  Importer importer(report, options, base, ledger, result);
  return importer.Run();
}

}  // namespace billsim::import
