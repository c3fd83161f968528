// CsvDeliveryParser: delivery data as CSV, for dumps from other systems.
//
//   account_id,campaign_id,kind,count,time[,event_id][,platform_fault]...
//
// The first line is the header: it names the columns, in any order; the
// five above are required, event_id and platform_fault are optional and
// other columns are ignored. Cells:
//   kind            a DeliveryReported.Kind name (IMPRESSION, CLICK, ...) or
//                   its number;
//   count           an integer;
//   time            integer microseconds UTC or ISO 8601 (time_parse.h);
//   event_id        an unsigned integer; without the column, rows are numbered
//                   from the reader's first_event_id (which must then be
//                   given), one more per row, so that importing the same
//                   file again is a duplicate (R10), not a second charge;
//   platform_fault  true/false or 1/0 (empty: false).
// Quoting follows RFC 4180 (libcsv, strict) within a line: a record is one
// line. Blank lines are skipped. Errors name the input, the line, the
// column and the reason, and add nothing.
#ifndef BILLSIM_BULK_CSV_EVENTS_H_
#define BILLSIM_BULK_CSV_EVENTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log/batch_codec.h"
#include "util/status.h"

namespace billsim::bulk {

// What `log export --format csv` writes, and so the header a round trip reads.
inline constexpr std::string_view kCsvHeader =
    "event_id,account_id,campaign_id,kind,count,time,platform_fault";

class CsvDeliveryParser {
 public:
  // first_event_id: the first row's event id when the file has no event_id
  // column (0: not given, and such a file is refused).
  explicit CsvDeliveryParser(uint64_t first_event_id) : next_id_(first_event_id) {}

  // The first line given is the header; later lines are rows, added to
  // *batch.
  Status Add(std::string_view input, uint64_t number, std::string_view line,
             log::BatchBuilder* batch);

 private:
  enum Col { kAccount, kCampaign, kKind, kCount, kTime, kEventId, kFault, kCols };
  Status Header(std::string_view input, uint64_t number, std::string_view line);
  Status Split(std::string_view input, uint64_t number, std::string_view line);

  bool have_header_ = false;
  int index_[kCols];        // the cell of each column, -1 if absent
  int needed_ = 0;          // cells a row must have: 1 + the largest index
  uint64_t next_id_;
  std::vector<std::string_view> cells_;
  std::vector<std::string> quoted_;  // cells of a quoted line, unquoted
  bool ascii_ = false;               // the last line split was all ASCII
};

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_CSV_EVENTS_H_
