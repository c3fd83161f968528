// JsonLineParser: one line of a JSON-lines event file (one v1::Event in
// proto3 JSON, as `log dump --json`'s "event" or `log export` writes it)
// into a columnar batch.
//
// Two paths, one verdict. A delivery written in the plain form (the
// fields of Event and DeliveryReported by their JSON or proto names,
// integers as numbers or digit strings, the kind by name or number, times
// also as ISO 8601) is read by simdjson straight into the batch's delivery
// columns, with no v1::Event and no heap allocation. Every other line
// (another event, or anything the fast path does not recognise: an unknown
// or repeated field, a null, a malformed document) goes the general way:
// time strings rewritten (time_fields.h), then Protobuf's JSON parser,
// whose error names the field and the reason. So the fast path never
// judges a line: it only reads those whose reading is certain, and it
// gives exactly the event the general path would (tests/bulk_test.cc
// checks both on the same lines).
#ifndef BILLSIM_BULK_JSONL_PARSER_H_
#define BILLSIM_BULK_JSONL_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "billsim/v1/events.pb.h"
#include "log/batch_codec.h"
#include "util/status.h"

namespace billsim::bulk {

class JsonLineParser {
 public:
  JsonLineParser();
  ~JsonLineParser();

  // Adds the event of `line` (line `number` of `input`) to *batch.
  // `readable`: bytes readable from line.data() on, at least
  // line.size() + 64 (LineReader::Readable). On error *batch is unchanged
  // and the message is "input:number: " and the reason.
  Status Add(std::string_view input, uint64_t number, std::string_view line, size_t readable,
             log::BatchBuilder* batch);

  // The general path alone (for tests: the fast path must agree with it).
  static Status ParseGeneral(std::string_view input, uint64_t number, std::string_view line,
                             v1::Event* event);

  uint64_t fast_lines() const { return fast_; }
  uint64_t general_lines() const { return general_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t fast_ = 0;
  uint64_t general_ = 0;
};

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_JSONL_PARSER_H_
