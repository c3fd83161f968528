#include "sim/forecast.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "report/table.h"
#include "util/money.h"

namespace billsim::sim {

namespace {

constexpr int64_t kHour = 3'600'000'000;
constexpr int kAdviceTries = 6;
// Advice for at most this many grants (soonest to expire first): each costs
// up to kAdviceTries simulations.
constexpr size_t kAdviceGrantsMax = 20;
// And at most this many campaign-days simulated for advice in all (about a
// second here): an account of thousands of campaigns gets what fits.
constexpr int64_t kAdviceWorkMax = 2'000'000;
// The projection itself: at most this many campaign-days.
constexpr int64_t kForecastWorkMax = 20'000'000;

int64_t LocalDayOf(const Account& a, int64_t t) {
  return FloorDiv(t + a.utc_offset_minutes * kMicrosPerMinute, kMicrosPerDay);
}
int64_t MidnightOf(const Account& a, int64_t local_day) {
  return local_day * kMicrosPerDay - a.utc_offset_minutes * kMicrosPerMinute;
}

bool Active(const Campaign& c) {
  return c.status == Campaign::Status::kEnabled && c.review != Campaign::Review::kRejectedBeforeServing &&
         c.review != Campaign::Review::kRejectedAfterServing;
}

// A copy of the account's state alone (Ledger::ForkAccount): O(account).
Status Fork(const Ledger& ledger, uint32_t ai, std::unique_ptr<Ledger>* out) {
  auto fork = std::make_unique<Ledger>(ledger.options());
  Status st = ledger.ForkAccount(ai, fork.get());
  if (!st.ok()) return Status::Corruption("the account's state does not fork: " + st.message());
  *out = std::move(fork);
  return Status::Ok();
}

// One simulated future: what happened to the account, day by day.
struct Run {
  std::vector<ForecastDay> days;
  std::map<std::string, int64_t, std::less<>> runs_out;  // grant id -> day start
  std::map<std::string, std::pair<int64_t, int64_t>, std::less<>> expired;  // grant id -> (micros, when)
  std::vector<ForecastStop> stops;
  int64_t valid_zero_us = 0;
};

class RunSink : public EntrySink {
 public:
  RunSink(const Ledger* ledger, uint32_t account, Run* run)
      : ledger_(ledger), account_(account), run_(run) {}
  void Add(const Entry& e) override {
    if (e.account != account_) return;
    if (e.kind == v1::COST) spent += -e.balance_delta;
    if (e.kind == v1::PROMOTION_EXPIRED) {
      expired += -e.balance_delta;
      run_->expired[ledger_->GrantName(e.grant)] = {-e.balance_delta, e.time_us};
    }
    if (e.kind == v1::CAMPAIGN_STATUS && e.note.find("insufficient") != std::string::npos) {
      run_->stops.push_back(
          {std::string(ledger_->campaign_id(e.campaign)), e.time_us, std::string(e.note)});
    }
  }
  int64_t spent = 0;
  int64_t expired = 0;

 private:
  const Ledger* ledger_;
  uint32_t account_;
  Run* run_;
};

// Simulates `rate` (micros per local day, by campaign of `ledger`) from the
// first local noon after the clock through `until_us`, after setting the
// daily budgets in `daily_budgets` (if any), on a fork of the account.
Status Simulate(const Ledger& ledger, uint32_t account, const std::map<uint32_t, int64_t>& by_index,
                const std::map<uint32_t, int64_t>& budgets_by_index, int64_t until_us, Run* run) {
  std::unique_ptr<Ledger> fork;
  Status st = Fork(ledger, account, &fork);
  if (!st.ok()) return st;
  // The fork numbers the account's campaigns anew: find them by id.
  auto renumber = [&](const std::map<uint32_t, int64_t>& in) {
    std::map<uint32_t, int64_t> out;
    for (const auto& [ci, v] : in) out[fork->FindCampaign(ledger.campaign_id(ci))] = v;
    return out;
  };
  const std::map<uint32_t, int64_t> rate = renumber(by_index);
  const std::map<uint32_t, int64_t> daily_budgets = renumber(budgets_by_index);
  constexpr uint32_t ai = 0;  // the fork's only account
  RunSink sink(fork.get(), ai, run);
  const Account& a = fork->accounts()[ai];
  const std::string account_id(fork->account_id(ai));
  uint64_t next_id = UINT64_MAX;
  auto apply = [&](v1::Event e, int64_t at) {
    e.set_event_id(next_id--);
    e.set_time_us(at);
    return fork->Apply(e, &sink);
  };
  for (const auto& [ci, budget] : daily_budgets) {
    v1::Event e;
    auto* m = e.mutable_campaign_updated();
    m->set_account_id(account_id);
    m->set_campaign_id(std::string(fork->campaign_id(ci)));
    m->set_budget_mode(v1::BUDGET_MODE_DAY);
    m->set_budget_micros(budget);
    const Ledger::Result r = apply(e, a.clock_us);
    if (r.outcome != Ledger::Outcome::kApplied) {
      return Status::InvalidArgument("a daily budget of " + FormatMicros(budget) +
                                     " for campaign " + std::string(fork->campaign_id(ci)) +
                                     " is refused: " + r.reason);
    }
  }
  const int64_t start = a.clock_us;
  int64_t day = LocalDayOf(a, start);
  if (MidnightOf(a, day) + 12 * kHour <= start) day++;
  for (;; ++day) {
    const int64_t midnight = MidnightOf(a, day);
    const int64_t noon = midnight + 12 * kHour;
    if (noon > until_us) break;
    sink.spent = 0;
    sink.expired = 0;
    for (const auto& [ci, micros] : rate) {
      const Campaign& c = fork->campaigns()[ci];
      if (micros <= 0 || !Active(c)) continue;
      const int64_t units = std::min(MulDivFloor(micros, c.per_units(), c.price), kCountMax);
      if (units <= 0) continue;
      v1::Event e;
      auto* m = e.mutable_delivery_reported();
      m->set_account_id(account_id);
      m->set_campaign_id(std::string(fork->campaign_id(ci)));
      m->set_kind(c.billable_kind);
      m->set_count(units);
      apply(e, noon);  // refused only past R11's totals: then nothing more is billed
    }
    for (uint32_t gi : a.grants) {  // used up by the day's delivery
      const Grant& g = fork->grants()[gi];
      if (!g.expired && g.remaining == 0) run->runs_out.try_emplace(fork->GrantName(gi), midnight);
    }
    // The end of the day: expiries due before the next midnight fire.
    const int64_t end = std::min(midnight + kMicrosPerDay - 1, std::max(until_us, noon));
    v1::Event advance;
    advance.mutable_clock_advanced()->set_account_id(account_id);
    apply(advance, end);
    const v1::AccountBalance b = fork->AccountView(ai);
    ForecastDay d;
    d.day_start_us = midnight;
    d.local_day = day;
    d.cash = b.cash_balance();
    d.credit = b.grant_balance();
    d.frozen = b.frozen_balance();
    d.valid = b.valid_balance();
    d.spent = sink.spent;
    d.expired = sink.expired;
    run->days.push_back(d);
    if (run->valid_zero_us == 0 && d.valid == 0) {
      run->valid_zero_us = midnight;
    }
    if (static_cast<int64_t>(run->days.size()) > ForecastOptions::kMaxDays) break;
  }
  return Status::Ok();
}

}  // namespace

void ForecastPaceSink::Add(const Entry& e) {
  if (e.kind != v1::COST || e.campaign == kNoIndex) return;
  if (index_ == kNoIndex) index_ = ledger_->FindAccount(account_);
  if (e.account != index_) return;
  const Account& a = ledger_->accounts()[e.account];
  by_day_[{LocalDayOf(a, e.time_us), e.campaign}] += -e.balance_delta;
}

std::map<uint32_t, int64_t> ForecastPaceSink::Recent(int days) const {
  std::map<uint32_t, int64_t> out;
  const uint32_t ai = ledger_->FindAccount(account_);
  if (ai == kNoIndex) return out;
  const int64_t today = LocalDayOf(ledger_->accounts()[ai], ledger_->accounts()[ai].clock_us);
  for (const auto& [key, micros] : by_day_) {
    if (key.first > today - days && key.first <= today) out[key.second] += micros;
  }
  return out;
}

Status PrepareForecast(const Ledger& ledger, const ForecastOptions& o, ForecastJob* job) {
  const uint32_t ai = ledger.FindAccount(o.account);
  if (ai == kNoIndex) return Status::NotFound("account " + o.account + ": no such account");
  if (o.history_days < 1 || o.history_days > 366) {
    return Status::InvalidArgument("--pace history=" + std::to_string(o.history_days) +
                                   ": the days must be from 1 to 366");
  }
  Status st = Fork(ledger, ai, &job->fork);
  if (!st.ok()) return st;
  job->options = o;
  job->options.billed_recently.clear();
  for (const auto& [ci, micros] : o.billed_recently) {
    if (ci >= ledger.campaigns().size()) continue;
    const uint32_t mine = job->fork->FindCampaign(ledger.campaign_id(ci));
    if (mine != kNoIndex) job->options.billed_recently[mine] = micros;
  }
  return Status::Ok();
}

int64_t PaceWindowStart(const ForecastJob& job) {
  const Account& a = job.fork->accounts()[0];
  return MidnightOf(a, LocalDayOf(a, a.clock_us) - job.options.history_days + 1);
}

void SetBilledRecently(const std::map<std::string, int64_t>& by_campaign, ForecastJob* job) {
  job->options.billed_recently.clear();
  for (const auto& [id, micros] : by_campaign) {
    const uint32_t ci = job->fork->FindCampaign(id);
    if (ci != kNoIndex) job->options.billed_recently[ci] = micros;
  }
}

Status Forecast(const Ledger& ledger, const ForecastOptions& o, ForecastResult* out) {
  ForecastJob job;
  Status st = PrepareForecast(ledger, o, &job);
  if (!st.ok()) return st;
  return RunForecast(job, out);
}

Status RunForecast(const ForecastJob& job, ForecastResult* out) {
  const Ledger& ledger = *job.fork;
  const ForecastOptions& o = job.options;
  constexpr uint32_t ai = 0;  // the fork's only account
  const Account& a = ledger.accounts()[ai];
  const int64_t now = a.clock_us;
  const int max_days = std::clamp(o.max_days, 1, ForecastOptions::kMaxDays);
  const int64_t limit = std::min<int64_t>(kTimeMaxUs, now + max_days * kMicrosPerDay);
  int64_t until = o.until_us;
  if (until == 0) {
    until = now + 30 * kMicrosPerDay;
    for (uint32_t gi : a.grants) {
      const Grant& g = ledger.grants()[gi];
      if (!g.expired) until = std::max(until, g.expires_at_us);
    }
    until = std::min(until, limit);
  }
  if (until <= now) {
    return Status::InvalidArgument("until " + FormatTime(until) + ": not after the account's clock " +
                                   FormatTime(now));
  }
  if (until > limit) {
    return Status::InvalidArgument("until " + FormatTime(until) + ": at most " +
                                   std::to_string(max_days) +
                                   " days ahead (" + FormatTime(limit) + ")");
  }
  out->account_id = ledger.account_id(ai);
  out->currency = ledger.account_currency(ai);
  out->utc_offset_minutes = a.utc_offset_minutes;
  out->funding_order = v1::FundingOrder_Name(v1::FundingOrder{a.funding_order});
  out->from_us = now;
  out->until_us = until;
  out->pace = o.pace == ForecastOptions::Pace::kBudget
                  ? "budget"
                  : "history (" + std::to_string(o.history_days) + " days)";

  // Each active campaign's projected spend per local day.
  std::map<uint32_t, int64_t> rate;
  for (uint32_t ci = 0; ci < ledger.campaigns().size(); ++ci) {
    const Campaign& c = ledger.campaigns()[ci];
    if (c.account != ai || !Active(c)) continue;
    ForecastCampaign fc;
    fc.campaign_id = std::string(ledger.campaign_id(ci));
    fc.budget_mode = v1::BudgetMode_Name(v1::BudgetMode{c.budget_mode});
    fc.budget = c.budget;
    auto recent = o.billed_recently.find(ci);
    const int64_t history = recent == o.billed_recently.end() ? 0 : recent->second / o.history_days;
    if (o.pace == ForecastOptions::Pace::kBudget && c.budget_mode == v1::BUDGET_MODE_DAY) {
      fc.pace_per_day = c.budget;
      fc.pace_from = "daily budget";
    } else {
      fc.pace_per_day = history;
      fc.pace_from = "history (" + std::to_string(o.history_days) + " days)";
    }
    rate[ci] = fc.pace_per_day;
    out->campaigns.push_back(fc);
  }

  // Bounded work: a delivery per campaign and day.
  const int64_t span_days = (until - now) / kMicrosPerDay + 1;
  int64_t spending = 0;
  for (const auto& [ci, r] : rate) spending += r > 0;
  if (spending * span_days > kForecastWorkMax) {
    return Status::InvalidArgument(
        "until " + FormatTime(until) + ": " + std::to_string(spending) + " campaigns over " +
        std::to_string(span_days) + " days is more than the " + std::to_string(kForecastWorkMax) +
        " campaign-days a forecast simulates; forecast a shorter span");
  }
  Run run;
  Status st = Simulate(ledger, ai, rate, {}, until, &run);
  if (!st.ok()) return st;
  out->days = run.days;
  out->valid_zero_us = run.valid_zero_us;
  out->stops = run.stops;
  for (uint32_t gi : a.grants) {
    const Grant& g = ledger.grants()[gi];
    if (g.expired || g.remaining == 0) continue;
    ForecastGrant fg;
    fg.grant_id = ledger.grant_id(gi);
    for (uint32_t ci : ledger.grant_campaigns(gi)) fg.campaign_ids.emplace_back(ledger.campaign_id(ci));
    fg.remaining = g.remaining;
    fg.expires_at_us = g.expires_at_us;
    if (auto it = run.runs_out.find(fg.grant_id); it != run.runs_out.end()) fg.runs_out_us = it->second;
    if (auto it = run.expired.find(fg.grant_id); it != run.expired.end()) {
      fg.expires_unused = it->second.first;
      fg.expired_us = it->second.second;
    }
    out->grants.push_back(fg);
  }
  if (!o.recommend) return Status::Ok();

  // Advice: for each live grant, the account's daily spend that uses it
  // (and every source drawn before it) by its expiry.
  std::vector<uint32_t> live;
  for (uint32_t gi : a.grants) {
    const Grant& g = ledger.grants()[gi];
    if (!g.expired && g.remaining > 0) live.push_back(gi);
  }
  int64_t advice_work = 0;  // campaign-days simulated for advice
  for (size_t k = 0; k < live.size(); ++k) {
    const Grant& g = ledger.grants()[live[k]];
    const std::string_view g_id = ledger.grant_id(live[k]);
    ForecastAdvice adv;
    if (k >= kAdviceGrantsMax) {
      adv.grant_id = g_id;
      adv.expires_at_us = g.expires_at_us;
      adv.note = "not computed: advice covers the " + std::to_string(kAdviceGrantsMax) +
                 " grants that expire first";
      out->advice.push_back(adv);
      continue;
    }
    adv.grant_id = g_id;
    adv.expires_at_us = g.expires_at_us;
    if (g.expires_at_us > limit) {
      adv.note = "not computed: it expires beyond the " + std::to_string(max_days) +
                 " days a forecast looks ahead";
      out->advice.push_back(adv);
      continue;
    }
    auto funds = [&](uint32_t grant, uint32_t ci) {
      return ledger.GrantCovers(ledger.grants()[grant], ci);
    };
    // The campaigns that can spend it, and what is drawn before it (R3).
    std::vector<uint32_t> spenders;
    for (const auto& [ci, r] : rate) {
      if (funds(live[k], ci)) spenders.push_back(ci);
    }
    if (spenders.empty()) {
      adv.note = "no enabled campaign can spend it";
      out->advice.push_back(adv);
      continue;
    }
    if (auto used = run.runs_out.find(g_id); used != run.runs_out.end()) {
      adv.uses_it = true;
      adv.note = "the projected pace uses it up (local day " +
                 FormatTime(used->second + a.utc_offset_minutes * kMicrosPerMinute).substr(0, 10) +
                 ")";
      out->advice.push_back(adv);
      continue;
    }
    int64_t need = a.funding_order == v1::FUNDING_ORDER_CASH_FIRST ? a.cash : 0;
    for (size_t i = 0; i <= k; ++i) {
      const Grant& x = ledger.grants()[live[i]];
      const bool shared = std::any_of(spenders.begin(), spenders.end(),
                                      [&](uint32_t ci) { return funds(live[i], ci); });
      if (shared) need += x.remaining;
    }
    // Local noons strictly after the clock and before the expiry.
    int64_t first = LocalDayOf(a, now);
    if (MidnightOf(a, first) + 12 * kHour <= now) first++;
    int64_t last = LocalDayOf(a, g.expires_at_us - 1);
    if (MidnightOf(a, last) + 12 * kHour >= g.expires_at_us) last--;
    const int64_t days = last - first + 1;
    if (days <= 0) {
      adv.note = "it expires before the next local noon: nothing can be spent in time";
      out->advice.push_back(adv);
      continue;
    }
    const int64_t can_hold = a.cash + a.credit;
    int64_t spend = (need + days - 1) / days;
    for (int attempt = 0; attempt < kAdviceTries; ++attempt) {
      // Each check is a simulation of up to `days` days of its campaigns.
      advice_work += days * static_cast<int64_t>(spenders.size());
      if (advice_work > kAdviceWorkMax) {
        adv.note = "not computed: the advice's simulations reached their bound (" +
                   std::to_string(kAdviceWorkMax) + " campaign-days)";
        break;
      }
      if (spend > can_hold) {
        spend = can_hold;
        adv.note = "the account cannot hold more than " + FormatMicros(can_hold) + " a day";
      }
      // Split in proportion to the campaigns' pace (evenly if none has
      // one), among as few of the fastest as the minimum budget needs.
      std::vector<uint32_t> by_pace = spenders;
      std::stable_sort(by_pace.begin(), by_pace.end(),
                       [&](uint32_t x, uint32_t y) { return rate[x] > rate[y]; });
      const int64_t fit = std::max<int64_t>(1, spend / std::max<int64_t>(1, ledger.options().min_budget_micros));
      if (static_cast<int64_t>(by_pace.size()) > fit) by_pace.resize(static_cast<size_t>(fit));
      const std::vector<uint32_t>& spenders = by_pace;
      int64_t total_pace = 0;
      for (uint32_t ci : spenders) total_pace += rate[ci];
      std::map<uint32_t, int64_t> budgets;
      int64_t given = 0;
      for (size_t i = 0; i < spenders.size(); ++i) {
        const uint32_t ci = spenders[i];
        int64_t share = i + 1 == spenders.size()
                            ? spend - given
                            : (total_pace > 0 ? MulDivFloor(spend, rate[ci], total_pace)
                                              : spend / static_cast<int64_t>(spenders.size()));
        share = std::max(share, ledger.options().min_budget_micros);
        budgets[ci] = share;
        given += share;
      }
      adv.daily_spend = given;
      adv.daily_budgets.clear();
      for (const auto& [ci, b] : budgets) adv.daily_budgets[std::string(ledger.campaign_id(ci))] = b;
      adv.holdable = given <= can_hold;
      Run check;
      st = Simulate(ledger, ai, budgets, budgets, g.expires_at_us, &check);
      if (!st.ok()) {
        adv.note = st.message();
        break;
      }
      const bool used = check.runs_out.count(g_id) > 0;
      adv.uses_it = used;
      if (used || !adv.note.empty()) break;
      // Short (whole units, a day's turn): the remainder of the grant at
      // its expiry, spread over the days, more.
      int64_t unused = g.remaining;
      if (auto it = check.expired.find(g_id); it != check.expired.end()) unused = it->second.first;
      spend = given + (unused + days - 1) / days + 1;
    }
    out->advice.push_back(adv);
  }
  return Status::Ok();
}

// --- Rendering ------------------------------------------------------------------

void ToProto(const ForecastResult& r, v1::ForecastReport* out) {
  out->Clear();
  out->set_account_id(r.account_id);
  out->set_currency(r.currency);
  out->set_utc_offset_minutes(r.utc_offset_minutes);
  v1::FundingOrder order = v1::FUNDING_ORDER_CREDIT_FIRST;
  v1::FundingOrder_Parse(r.funding_order, &order);
  out->set_funding_order(order);
  out->set_from_us(r.from_us);
  out->set_until_us(r.until_us);
  out->set_pace(r.pace);
  out->set_valid_balance_zero_us(r.valid_zero_us);
  for (const auto& c : r.campaigns) {
    auto* p = out->add_campaigns();
    p->set_campaign_id(c.campaign_id);
    v1::BudgetMode mode = v1::BUDGET_MODE_UNSPECIFIED;
    v1::BudgetMode_Parse(c.budget_mode, &mode);
    p->set_budget_mode(mode);
    p->set_budget_micros(c.budget);
    p->set_pace_micros_per_day(c.pace_per_day);
    p->set_pace_from(c.pace_from);
  }
  for (const auto& g : r.grants) {
    auto* p = out->add_grants();
    p->set_grant_id(g.grant_id);
    for (const auto& c : g.campaign_ids) p->add_campaign_ids(c);
    p->set_remaining_micros(g.remaining);
    p->set_expires_at_us(g.expires_at_us);
    p->set_runs_out_us(g.runs_out_us);
    p->set_expires_unused_micros(g.expires_unused);
    p->set_expired_at_us(g.expired_us);
  }
  for (const auto& s : r.stops) {
    auto* p = out->add_stops();
    p->set_campaign_id(s.campaign_id);
    p->set_at_us(s.at_us);
    p->set_reason(s.reason);
  }
  for (const auto& a : r.advice) {
    auto* p = out->add_advice();
    p->set_grant_id(a.grant_id);
    p->set_expires_at_us(a.expires_at_us);
    p->set_daily_spend_micros(a.daily_spend);
    for (const auto& [c, b] : a.daily_budgets) (*p->mutable_daily_budgets())[c] = b;
    p->set_uses_it_by_expiry(a.uses_it);
    p->set_holdable(a.holdable);
    p->set_note(a.note);
  }
  for (const auto& d : r.days) {
    auto* p = out->add_days();
    p->set_day_start_us(d.day_start_us);
    p->set_date(FormatTime(d.local_day * kMicrosPerDay).substr(0, 10));
    p->set_cash_balance(d.cash);
    p->set_grant_balance(d.credit);
    p->set_frozen_balance(d.frozen);
    p->set_valid_balance(d.valid);
    p->set_spent_micros(d.spent);
    p->set_expired_micros(d.expired);
  }
}

namespace {

std::string When(int64_t us) { return us == 0 ? "-" : FormatTime(us); }
// A local day by its start (a local midnight as UTC microseconds).
std::string Day(int64_t us, int32_t offset_minutes) {
  return us == 0 ? "-" : FormatTime(us + offset_minutes * kMicrosPerMinute).substr(0, 10);
}

}  // namespace

void WriteForecast(const ForecastResult& r, Format format, std::ostream& out) {
  if (format == Format::kJson) {
    v1::ForecastReport report;
    ToProto(r, &report);
    out << ToJson(report) << "\n";
    return;
  }
  if (format == Format::kCsv) {
    WriteCsvRow({"day_start_us", "cash", "credit", "frozen", "valid", "spent", "expired"}, out);
    for (const auto& d : r.days) {
      WriteCsvRow({std::to_string(d.day_start_us), std::to_string(d.cash), std::to_string(d.credit),
                   std::to_string(d.frozen), std::to_string(d.valid), std::to_string(d.spent),
                   std::to_string(d.expired)},
                  out);
    }
    return;
  }
  out << "forecast for account " << r.account_id << " (" << r.currency << ", UTC offset "
      << r.utc_offset_minutes << " min, " << r.funding_order << "), from " << FormatTime(r.from_us)
      << " through " << FormatTime(r.until_us) << ", pace: " << r.pace << "\n\n";
  Table c({"campaign", "mode", "budget", "pace per day", "pace from"});
  for (const auto& x : r.campaigns) {
    c.Add({x.campaign_id, x.budget_mode, FormatMicros(x.budget), FormatMicros(x.pace_per_day),
           x.pace_from});
  }
  if (r.campaigns.empty()) {
    out << "no enabled campaign: nothing is projected to spend\n";
  } else {
    c.Write(out, 2);
  }
  out << "\n";
  Table g({"grant", "remaining", "expires", "used up (local day)", "expires unused", "at"});
  for (const auto& x : r.grants) {
    g.Add({x.grant_id, FormatMicros(x.remaining), FormatTime(x.expires_at_us),
           Day(x.runs_out_us, r.utc_offset_minutes), FormatMicros(x.expires_unused),
           When(x.expired_us)});
  }
  g.Write(out, 1);
  out << "\nvalid balance reaches zero: local day " << Day(r.valid_zero_us, r.utc_offset_minutes)
      << "\n";
  for (const auto& s : r.stops) {
    out << "campaign " << s.campaign_id << " stops " << FormatTime(s.at_us) << ": " << s.reason
        << "\n";
  }
  if (!r.advice.empty()) {
    out << "\nto use each grant by its expiry:\n";
    Table a({"grant", "expires", "daily spend", "daily budgets", "checked", "note"});
    for (const auto& x : r.advice) {
      std::string budgets;
      for (const auto& [id, b] : x.daily_budgets) {
        budgets += (budgets.empty() ? "" : ", ") + id + " " + FormatMicros(b);
      }
      a.Add({x.grant_id, FormatTime(x.expires_at_us), FormatMicros(x.daily_spend), budgets,
             x.daily_spend == 0 ? "-" : (x.uses_it ? "uses it" : "falls short"), x.note});
    }
    a.Write(out, 2);
  }
  out << "\n";
  Table d({"day (local)", "cash", "credit", "frozen", "valid", "spent", "expired"});
  for (const auto& x : r.days) {
    d.Add({FormatTime(x.local_day * kMicrosPerDay).substr(0, 10), FormatMicros(x.cash),
           FormatMicros(x.credit), FormatMicros(x.frozen), FormatMicros(x.valid),
           FormatMicros(x.spent), FormatMicros(x.expired)});
  }
  d.Write(out, 1);
}

}  // namespace billsim::sim
