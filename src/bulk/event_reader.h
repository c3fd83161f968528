// EventReader: the events of one input, in order, a chunk at a time, into
// a columnar batch (log/batch_codec.h): what `log append` judges and
// appends, and what `client` sends. Memory is bounded by the chunk and the
// line buffer (line_reader.h), not by the input.
//
// Formats:
//   JSON lines  .jsonl, .ndjson, and standard input unless told otherwise:
//               one v1::Event per line (jsonl_parser.h; blank lines skipped);
//   CSV         .csv: deliveries, with a header (csv_events.h);
//   scenario    .textproto, .txtpb, .pbtxt, .json: a v1::Scenario's events.
//               A scenario is read whole (LoadScenario, at most 256 MiB from
//               standard input with --format scenario), so it cannot come
//               compressed.
// Any of the line formats may be gzip or zstd compressed (input_stream.h);
// a trailing .gz or .zst is ignored when finding the format from the name.
#ifndef BILLSIM_BULK_EVENT_READER_H_
#define BILLSIM_BULK_EVENT_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "bulk/csv_events.h"
#include "bulk/jsonl_parser.h"
#include "bulk/line_reader.h"
#include "log/batch_codec.h"
#include "util/status.h"

namespace billsim::bulk {

enum class Format { kAuto, kJsonLines, kCsv, kScenario };

// "jsonl", "csv", "scenario" or "auto" (from the name); the error names
// the option `what`.
Status ParseFormat(const std::string& text, const std::string& what, Format* out);

struct ReaderOptions {
  Format format = Format::kAuto;
  uint64_t first_event_id = 0;  // CSV without an event_id column
};

class EventReader {
 public:
  static Status Open(const std::string& path, const ReaderOptions& options,
                     std::unique_ptr<EventReader>* out);

  // Adds the next events, at most max_events of them and no more once
  // max_bytes of lines have been read, to *batch (which is not cleared
  // first); *added says how many, *done that the input ended.
  // A malformed line is an error naming input, line and field: the events
  // of its chunk before it are in *batch, and the caller, which knows what
  // it has done with earlier chunks, decides what to keep.
  Status Read(uint32_t max_events, size_t max_bytes, log::BatchBuilder* batch, uint32_t* added,
              bool* done);

  // Ends a Read waiting for input (a pipe, a terminal) with an error, and
  // every later one: InputStream::Cancel. Safe from another thread while
  // Read runs. A scenario was read whole by Open: nothing waits.
  void Cancel() {
    if (lines_reader_) lines_reader_->Cancel();
  }

  const std::string& name() const { return name_; }
  Format format() const { return format_; }
  uint64_t lines() const { return lines_; }
  uint64_t bytes() const { return lines_reader_ ? lines_reader_->bytes() : 0; }
  uint64_t events() const { return events_; }
  const JsonLineParser& json() const { return json_; }

 private:
  EventReader() : csv_(0) {}

  std::string name_;
  Format format_ = Format::kAuto;
  std::unique_ptr<LineReader> lines_reader_;  // line formats
  JsonLineParser json_;
  CsvDeliveryParser csv_;
  std::vector<v1::Event> scenario_;           // a scenario's events
  size_t scenario_at_ = 0;
  uint64_t lines_ = 0;
  uint64_t events_ = 0;
};

// Calls fn with every event of `path` (any format above, "-" for standard
// input), in order, a chunk at a time: memory does not grow with the
// input. Stops at the first error, the input's or fn's.
Status ForEachEventIn(const std::string& path, const ReaderOptions& options,
                      const std::function<Status(const v1::Event&)>& fn);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_EVENT_READER_H_
