#include "bulk/csv_events.h"

#include <csv.h>

#include <charconv>

#include "bulk/fields.h"
#include "util/time_parse.h"
#include "util/utf8.h"

namespace billsim::bulk {

namespace {

constexpr std::string_view kColumnNames[] = {"account_id", "campaign_id", "kind", "count",
                                             "time",       "event_id",    "platform_fault"};
constexpr int kRequired = 5;  // the first five of kColumnNames

std::string Quoted(std::string_view cell) {
  constexpr size_t kShown = 64;
  std::string s = "\"" + std::string(cell.substr(0, kShown)) + "\"";
  if (cell.size() > kShown) s += " (cut)";
  return s;
}

template <typename T>
bool Integer(std::string_view cell, T* out) {
  const char* end = cell.data() + cell.size();
  const auto r = std::from_chars(cell.data(), end, *out);
  return !cell.empty() && r.ec == std::errc() && r.ptr == end;
}

// libcsv's callbacks, gathering one line's cells.
struct Gather {
  std::vector<std::string>* cells;
  int records = 0;
  static void OnField(void* data, size_t len, void* self) {
    static_cast<Gather*>(self)->cells->emplace_back(static_cast<const char*>(data), len);
  }
  static void OnRecord(int, void* self) { static_cast<Gather*>(self)->records++; }
};

int NoSpaces(unsigned char) { return 0; }

}  // namespace

Status CsvDeliveryParser::Split(std::string_view input, uint64_t number, std::string_view line) {
  cells_.clear();
  // One pass: cells split at commas, unless a quote turns up (then the
  // line is libcsv's).
  size_t at = 0;
  bool quoted = false;
  unsigned char high = 0;  // any byte >= 0x80: the ids need a UTF-8 check
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    high |= static_cast<unsigned char>(c);
    if (c == ',') {
      cells_.push_back(line.substr(at, i - at));
      at = i + 1;
    } else if (c == '"') {
      quoted = true;
      break;
    }
  }
  if (!quoted) {
    cells_.push_back(line.substr(at));
    ascii_ = high < 0x80;
    return Status::Ok();
  }
  ascii_ = false;
  cells_.clear();
  quoted_.clear();
  csv_parser p;
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
    return Status::IOError(std::string(input) + ": libcsv: cannot start");
  }
  csv_set_space_func(&p, NoSpaces);
  Gather gather{&quoted_};
  std::string error;
  if (csv_parse(&p, line.data(), line.size(), Gather::OnField, Gather::OnRecord, &gather) !=
          line.size() ||
      csv_fini(&p, Gather::OnField, Gather::OnRecord, &gather) != 0) {
    error = csv_strerror(csv_error(&p));
  }
  csv_free(&p);
  if (error.empty() && gather.records > 1) error = "a line break inside the line";
  if (!error.empty()) {
    return Status::InvalidArgument(std::string(input) + ":" + std::to_string(number) +
                                   ": malformed CSV: " + error +
                                   " (a record is one line; a quote left open?)");
  }
  for (const std::string& c : quoted_) cells_.emplace_back(c);
  return Status::Ok();
}

Status CsvDeliveryParser::Header(std::string_view input, uint64_t number,
                                 std::string_view line) {
  const std::string at = std::string(input) + ":" + std::to_string(number) + ": ";
  Status st = Split(input, number, line);
  if (!st.ok()) return st;
  for (int& i : index_) i = -1;
  for (size_t c = 0; c < cells_.size(); ++c) {
    for (int k = 0; k < kCols; ++k) {
      if (cells_[c] != kColumnNames[k]) continue;
      if (index_[k] != -1) {
        return Status::InvalidArgument(at + "header names column " +
                                       std::string(kColumnNames[k]) + " twice");
      }
      index_[k] = static_cast<int>(c);
      needed_ = std::max(needed_, static_cast<int>(c) + 1);
    }
  }
  for (int k = 0; k < kRequired; ++k) {
    if (index_[k] == -1) {
      return Status::InvalidArgument(
          at + "header has no " + std::string(kColumnNames[k]) +
          " column (a CSV of deliveries starts with a header naming "
          "account_id,campaign_id,kind,count,time)");
    }
  }
  if (index_[kEventId] == -1 && next_id_ == 0) {
    return Status::InvalidArgument(at +
                                   "header has no event_id column, and rows need event ids "
                                   "(`log append` and `client` number them N, N+1, ... "
                                   "with --first-event-id N)");
  }
  have_header_ = true;
  return Status::Ok();
}

Status CsvDeliveryParser::Add(std::string_view input, uint64_t number, std::string_view line,
                              log::BatchBuilder* batch) {
  if (!have_header_) return Header(input, number, line);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return Status::Ok();
  Status st = Split(input, number, line);
  if (!st.ok()) return st;
  auto bad = [&](int col, const std::string& why) {
    return Status::InvalidArgument(std::string(input) + ":" + std::to_string(number) +
                                   ": column " + std::string(kColumnNames[col]) + ": " + why);
  };
  if (cells_.size() < static_cast<size_t>(needed_)) {
    return Status::InvalidArgument(std::string(input) + ":" + std::to_string(number) + ": " +
                                   std::to_string(cells_.size()) + " cells, the header needs " +
                                   std::to_string(needed_));
  }
  const std::string_view kind_cell = cells_[index_[kKind]];
  int kind = -1;
  if (int k; Integer(kind_cell, &k)) {
    if (v1::DeliveryReported::Kind_IsValid(k)) kind = k;
  } else if (int k; ParseKindName(kind_cell, &k)) {
    kind = k;
  }
  if (kind < 0) {
    return bad(kKind, "not a delivery kind: " + Quoted(kind_cell) +
                          " (IMPRESSION, CLICK, VIDEO_VIEW_2S, VIDEO_VIEW_6S, CONVERSION)");
  }
  int64_t count;
  if (!Integer(cells_[index_[kCount]], &count)) {
    return bad(kCount, "not an integer: " + Quoted(cells_[index_[kCount]]));
  }
  int64_t time_us;
  st = ParseTimeCell(cells_[index_[kTime]], "column time", &time_us);
  if (!st.ok()) {
    return Status::InvalidArgument(std::string(input) + ":" + std::to_string(number) + ": " +
                                   st.message());
  }
  uint64_t event_id;
  if (index_[kEventId] >= 0) {
    if (!Integer(cells_[index_[kEventId]], &event_id)) {
      return bad(kEventId, "not an unsigned integer: " + Quoted(cells_[index_[kEventId]]));
    }
  } else {
    if (next_id_ == 0) return bad(kEventId, "the numbering from --first-event-id ran past 2^64");
    event_id = next_id_++;
  }
  bool fault = false;
  if (index_[kFault] >= 0) {
    const std::string_view f = cells_[index_[kFault]];
    if (f == "true" || f == "1") {
      fault = true;
    } else if (!(f.empty() || f == "false" || f == "0")) {
      return bad(kFault, "not true, false, 1 or 0: " + Quoted(f));
    }
  }
  for (const int col : {kAccount, kCampaign}) {
    if (!ascii_ && !IsValidUtf8(cells_[index_[col]])) return bad(col, "not UTF-8 (R11)");
  }
  AddDelivery(event_id, time_us, cells_[index_[kAccount]], cells_[index_[kCampaign]],
              static_cast<v1::DeliveryReported::Kind>(kind), count, fault, batch);
  return Status::Ok();
}

}  // namespace billsim::bulk
