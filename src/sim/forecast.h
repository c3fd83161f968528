// Forecast: an account's credit runway (issue 13). From the state at the end
// of the log, each enabled campaign's daily spend is projected (by its daily
// budget, or by its recent pace per local day) as a simulated stream of
// future delivery, one delivery per campaign at local noon of each day,
// applied to a fork of the state by the ledger itself. So the forecast
// follows every rule billing follows (funding order, coupons, holds, daily
// budgets across local midnight, expiry) and can never disagree with it.
//
// It reports when each grant runs out or how much of it expires unused (and
// on which day), when the valid balance reaches zero, which campaigns then
// stop for insufficient funds, the balances day by day, and for each grant
// the account's daily spend that would use it by its expiry (checked by
// simulating it too).
//
// Pure: no I/O and no clock. The fork is a copy of the state through
// SaveState/RestoreState, one per simulation.
#ifndef BILLSIM_SIM_FORECAST_H_
#define BILLSIM_SIM_FORECAST_H_

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "report/format.h"
#include "util/status.h"

namespace billsim::sim {

struct ForecastOptions {
  std::string account;
  // The last instant projected; 0: the account's last grant expiry, at
  // least 30 days from now. At most kMaxDays days from now.
  int64_t until_us = 0;
  // How each campaign's daily spend is projected: kBudget (a daily budget
  // spends in full; other campaigns at their history pace) or kHistory
  // (every campaign at what it was billed per local day over the last
  // history_days days).
  enum class Pace { kBudget, kHistory };
  Pace pace = Pace::kBudget;
  int history_days = 7;
  // Billed micros per campaign (ledger index) over the last history_days
  // local days before the end of the log: the caller reads them from the
  // history (ForecastPaceSink, or the history index).
  std::map<uint32_t, int64_t> billed_recently;
  // Recommendations: whether to search for them (each costs simulations).
  bool recommend = true;

  static constexpr int kMaxDays = 3660;
  // How far ahead it may look, in days (a server asks for less).
  int max_days = kMaxDays;
};

struct ForecastDay {
  int64_t day_start_us = 0;  // local midnight, as UTC microseconds
  int64_t local_day = 0;     // days since 1970-01-01 in the account's zone
  int64_t cash = 0;
  int64_t credit = 0;
  int64_t frozen = 0;
  int64_t valid = 0;
  int64_t spent = 0;         // billed that day
  int64_t expired = 0;       // credit removed that day (R6)
};

struct ForecastGrant {
  std::string grant_id;
  std::vector<std::string> campaign_ids;  // a coupon's; empty: any
  int64_t remaining = 0;     // now
  int64_t expires_at_us = 0;
  int64_t runs_out_us = 0;   // the day (start) it is used up; 0: not in the forecast
  int64_t expires_unused = 0;  // removed at its expiry within the forecast
  int64_t expired_us = 0;      // when; 0: not within the forecast
};

struct ForecastStop {
  std::string campaign_id;
  int64_t at_us = 0;
  std::string reason;
};

struct ForecastCampaign {
  std::string campaign_id;
  std::string budget_mode;
  int64_t budget = 0;
  int64_t pace_per_day = 0;  // micros per local day, as projected
  std::string pace_from;     // "daily budget" or "history (7 days)"
};

// The account's total daily spend that uses a grant by its expiry: what its
// campaigns would need as daily budgets (split in proportion to their pace,
// evenly if none has one), checked by simulating them.
struct ForecastAdvice {
  std::string grant_id;
  int64_t expires_at_us = 0;
  int64_t daily_spend = 0;        // the account's, all campaigns
  std::map<std::string, int64_t> daily_budgets;  // by campaign
  bool uses_it = false;           // the simulation used it up by its expiry
  bool holdable = false;          // the daily budgets fit the valid balance
  std::string note;               // why no advice, or what limits it
};

struct ForecastResult {
  std::string account_id;
  std::string currency;
  int32_t utc_offset_minutes = 0;
  std::string funding_order;
  int64_t from_us = 0;
  int64_t until_us = 0;
  std::string pace;
  std::vector<ForecastCampaign> campaigns;
  std::vector<ForecastDay> days;
  std::vector<ForecastGrant> grants;
  int64_t valid_zero_us = 0;  // the first day the valid balance is 0; 0: never
  std::vector<ForecastStop> stops;
  std::vector<ForecastAdvice> advice;
};

// A forecast in two parts, so that a server's ledger owner does only the
// first: PrepareForecast copies the account's state (Ledger::ForkAccount,
// O(the account)) and checks the options; RunForecast simulates, on any
// thread. Forecast is both.
struct ForecastJob {
  std::unique_ptr<Ledger> fork;  // the account alone: account 0
  ForecastOptions options;       // billed_recently renumbered to the fork
};
Status PrepareForecast(const Ledger& ledger, const ForecastOptions& options, ForecastJob* job);
Status RunForecast(const ForecastJob& job, ForecastResult* out);
// The start of the pace window (the first of the history_days local days
// up to the account's clock), and the billing found in it by campaign id
// into job->options.billed_recently: for a caller that reads the history
// elsewhere (a server's history index).
int64_t PaceWindowStart(const ForecastJob& job);
void SetBilledRecently(const std::map<std::string, int64_t>& by_campaign, ForecastJob* job);
// REQUIRES: `ledger` holds the log's state (it is not changed).
Status Forecast(const Ledger& ledger, const ForecastOptions& options, ForecastResult* out);

void ToProto(const ForecastResult& result, v1::ForecastReport* out);

// Collects, while a log is replayed, what each campaign of `account` was
// billed per local day (COST entries), for ForecastOptions::billed_recently.
class ForecastPaceSink : public EntrySink {
 public:
  ForecastPaceSink(const Ledger* ledger, std::string account)
      : ledger_(ledger), account_(std::move(account)) {}
  void Add(const Entry& e) override;
  // Billed per campaign over the `days` local days up to the account's clock.
  std::map<uint32_t, int64_t> Recent(int days) const;

 private:
  const Ledger* ledger_;
  std::string account_;
  uint32_t index_ = kNoIndex;
  std::map<std::pair<int64_t, uint32_t>, int64_t> by_day_;  // (local day, campaign)
};

// Table (people), csv (the day-by-day balances) or json (the ForecastReport
// message, as the HTTP API serves it).
void WriteForecast(const ForecastResult& result, Format format, std::ostream& out);

}  // namespace billsim::sim

#endif  // BILLSIM_SIM_FORECAST_H_
