// A TikTok Ads Manager report, campaign by day, as exported to CSV: read
// into rows of exact numbers, or refused with the line and column that is
// wrong. Pure: text in, rows out (the CLI reads the file).
//
// Columns are found by name, in English, Spanish, German or French (the
// header's language also decides the decimal separator: "1,234.56" in
// English, "1.234,56" in the others); the rest are ignored:
//   Campaign ID         required   the campaign's id (billsim's campaign id)
//   By Day / Date       required   2026-03-05, 2026/03/05, "2026-03-05 00:00:00"
//                                  or 05.03.2026: a day of the account's zone
//   Cost                required   an amount; currency symbols, ISO codes and
//                                  thousands separators are dropped
//   Impressions         required   a whole number
//   Campaign name, Clicks (destination), 2-second video views,
//   6-second video views, Currency: optional (0 or empty when absent)
// A cell of "-" or nothing counts as 0 in a number column. A row whose
// Campaign ID is empty and whose first cell begins with "Total" (or the
// locale's word) is the report's total and is skipped. The delimiter is
// the one the header line uses most of comma, semicolon and tab; quoting
// follows RFC 4180 (libcsv, strict).
#ifndef BILLSIM_IMPORT_TIKTOK_REPORT_H_
#define BILLSIM_IMPORT_TIKTOK_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace billsim::import {

// Bounds on what a report may hold (the README states them).
inline constexpr size_t kReportBytesMax = size_t{256} << 20;
inline constexpr size_t kReportRowsMax = 1'000'000;
inline constexpr size_t kReportCellBytesMax = 4096;
inline constexpr size_t kReportColumnsMax = 512;

// The columns billsim reads, in the order of kColumnNames.
enum class Column { kCampaignId, kCampaignName, kDay, kCost, kImpressions, kClicks,
                    kViews2s, kViews6s, kCurrency, kCount };

// One campaign-day of the report.
struct ReportRow {
  int line = 0;                // 1-based line of the file the row is on
  std::string campaign_id;
  std::string campaign_name;   // may be empty
  int64_t day = 0;             // days since 1970-01-01 (a local day)
  int64_t cost_micros = 0;     // exact micro-units of the currency
  int64_t impressions = 0;
  int64_t clicks = 0;
  int64_t views_2s = 0;
  int64_t views_6s = 0;
  std::string currency;        // empty when the report has no Currency column
};

struct Report {
  std::string name;            // the file's name, for messages
  std::string locale;          // "en", "es", "de" or "fr": the header's
  // 1-based column of each Column in the file, 0 when absent.
  int columns[static_cast<int>(Column::kCount)] = {};
  std::vector<ReportRow> rows;  // in file order, the Total row dropped

  // "REPORT.csv:7: column 4 (Cost)": where a row's field is, for messages.
  std::string Where(int line, Column column) const;
};

// Parses `text` (the whole file; `name` names it in messages) into `out`.
// Errors name the file, the line and, where one is at fault, the column by
// number and header, and say what was expected. `out` is complete only on
// OK. Two rows of one campaign and day are refused (the second's line), and
// so is a report whose costs add up past what an account can hold (R11).
Status ParseReport(std::string_view text, const std::string& name, Report* out);

// The header a column is looked for under, in English (for messages).
const char* ColumnName(Column c);

// "2026-03-05" for a day since 1970-01-01.
std::string FormatDay(int64_t day);

}  // namespace billsim::import

#endif  // BILLSIM_IMPORT_TIKTOK_REPORT_H_
