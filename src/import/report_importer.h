// The billsim events a TikTok report implies, applied to a ledger, and what
// the ledger then finds. Pure and deterministic: no I/O, no clock.
//
// Each campaign-day row becomes delivery at noon of that local day of the
// account (or at its clock, if the clock is later that day):
//   - its billable units (impressions for CPM, clicks for CPC, 2- or
//     6-second views for CPV) priced so that R2's exact charge is the
//     row's Cost to the micro-unit: a CampaignUpdated sets a price for all
//     but the last unit, a second one prices the last unit at what is left
//     (R2's cumulative charge restarts at each change); an existing
//     campaign gets its own price back after its last row;
//   - its other metrics as delivery of those kinds (counted, not billed);
//   - a campaign the ledger does not know is created first (CPM, no
//     budget, the report's name) and enabled.
// The ledger then charges by its rules, and each row where that is not the
// report's story is a finding:
//   - delivery while the campaign was paused, deleted or its ad rejected:
//     billsim's rules forbid the charge, the report shows it, so the
//     delivery is fault-marked (R7: charged as the platform did) and the
//     charge is an error a dispute can recover;
//   - cost over the daily or lifetime budget, or beyond what the balance
//     held: billsim charges only what the budget and funds allow (R4, R5),
//     so the report's excess is a finding, not a charge;
// With `disputes`, each finding files a CHARGED_IN_ERROR dispute for its
// campaign and local day with the report as evidence (SPEND_REPORT and
// DELIVERY_DATA), claiming what the report charged in error; the ledger
// investigates it at once (R9: a fault-marked charge is verified and
// adjusted; an excess billsim never charged awaits an investigator).
//
// Every event id is derived from the account, campaign, day and step
// (KeyedId), so importing the same rows twice finds them applied and skips
// them: nothing is charged twice.
#ifndef BILLSIM_IMPORT_REPORT_IMPORTER_H_
#define BILLSIM_IMPORT_REPORT_IMPORTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "import/tiktok_report.h"
#include "ledger/ledger.h"
#include "util/status.h"

namespace billsim::import {

struct ImportOptions {
  std::string account_id;
  bool disputes = false;
  // When the account does not exist by the first row: open it (in the
  // report's currency, or `currency`, at this offset) and deposit the
  // report's total cost as cash, so that every row can be charged. When
  // false, a missing account is an error (importing into a log).
  bool open_account = false;
  std::string currency;
  bool utc_offset_given = false;
  int32_t utc_offset_minutes = 0;
};

// What the ledger made of one row.
struct RowOutcome {
  int line = 0;
  std::string campaign_id;
  int64_t day = 0;
  int64_t report_micros = 0;   // the row's Cost
  int64_t charged_micros = 0;  // what billsim charged for the row's delivery
  bool skipped = false;        // already imported (its events were applied)
  // After the row's last event: its id and the campaign's billed_micros
  // (for the expectations of a written scenario). 0 when skipped.
  uint64_t last_event_id = 0;
  int64_t billed_after_micros = 0;
};

struct Finding {
  enum class Kind { kAfterPause, kAfterDeletion, kAfterRejection, kOverDailyBudget,
                    kOverLifetimeBudget, kBeyondFunds, kNotReproduced };
  Kind kind = Kind::kNotReproduced;
  int line = 0;
  std::string campaign_id;
  int64_t day = 0;
  int64_t report_micros = 0;
  int64_t charged_micros = 0;
  // What the report charged in error: the fault-marked charge, or the
  // report's cost that billsim did not charge.
  int64_t amount_micros = 0;
  std::string explanation;
  std::string dispute_id;  // with `disputes`
};

const char* FindingName(Finding::Kind kind);  // "after_pause", ...

// A grant of the account and what the import did to it.
struct GrantUse {
  std::string grant_id;
  int64_t used_micros = 0;      // drawn by charges during the import
  int64_t expired_micros = 0;   // removed at expiry during the import (R6)
  int64_t remaining_micros = 0;
  int64_t expires_at_us = 0;
  bool expired = false;
};

struct ImportResult {
  // Every event applied, in order: the merged `base` and the new ones.
  std::vector<v1::Event> events;
  size_t new_events = 0;
  // Where each row's events begin in `events` (with the base events and
  // the account or campaign a row opened or created): a writer that must
  // split the events into batches splits between rows.
  std::vector<size_t> row_starts;
  std::vector<RowOutcome> rows;      // in the order applied (day, then line)
  std::vector<Finding> findings;
  std::vector<GrantUse> grants;
  int64_t report_micros = 0;         // sum of the rows' Cost
  int64_t charged_micros = 0;        // sum of billsim's charges for them
  int64_t credit_used_micros = 0;    // of which from grants
  int64_t cash_used_micros = 0;      // of which from cash
  int campaigns_created = 0;
  bool account_opened = false;
};

// Applies the report's events to `ledger`, with `base` (events of the
// account's setup, in order; may be empty) merged in by time: each base
// event goes before the first row whose delivery time is later. Rows are
// applied by day, then by line. Errors name the report's line and column
// (the account is missing, a day is before the account's clock, a row with
// cost but no billable units, a currency or campaign of another account,
// an event the ledger refuses) and leave `ledger` part-way: apply to a
// scratch ledger, then write the events.
Status ImportReport(const Report& report, const ImportOptions& options,
                    const std::vector<v1::Event>& base, Ledger* ledger, ImportResult* result);

}  // namespace billsim::import

#endif  // BILLSIM_IMPORT_REPORT_IMPORTER_H_
