// Reads a whole log back as the event ids of each batch, checking it as
// `log verify` does (checksums, the hash chain, dense sequences from 1, no
// torn tail): what the durability tests compare with what was
// acknowledged. Or as its batches' headers and payload bytes: what the
// tests of payloads written as they came compare with what was sent.
#ifndef BILLSIM_TESTS_LOG_EVENTS_H_
#define BILLSIM_TESTS_LOG_EVENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "log/batch_codec.h"
#include "log/env.h"
#include "log/log_reader.h"
#include "util/status.h"

namespace billsim::test_support {

using Batches = std::vector<std::vector<uint64_t>>;  // event ids per batch

class IdCollector final : public log::BatchVisitor {
 public:
  explicit IdCollector(std::vector<uint64_t>* ids) : ids_(ids) {}
  bool OnDelivery(uint32_t, const log::DeliveryRow& row) override {
    ids_->push_back(row.event_id);
    return true;
  }
  bool OnEvent(uint32_t, const v1::Event& event) override {
    ids_->push_back(event.event_id());
    return true;
  }

 private:
  std::vector<uint64_t>* ids_;
};

inline Status ReadLogEventIds(const std::string& dir, log::Env* env, Batches* out) {
  out->clear();
  log::LogReader reader;
  Status st = reader.Open(dir, log::LogReader::Options{/*verify_chain=*/true, env});
  if (!st.ok()) return st;
  log::BatchDecoder decoder;
  uint64_t next = 1;
  for (;;) {
    log::BatchView batch;
    bool done = false;
    st = reader.Next(&batch, &done);
    if (!st.ok()) return st;
    if (done) break;
    if (batch.header.first_seq != next) {
      return Status::Corruption("batch at sequence " + std::to_string(batch.header.first_seq) +
                                ", expected " + std::to_string(next));
    }
    next = batch.header.last_seq() + 1;
    st = decoder.Parse(batch.payload, batch.header.count);
    if (!st.ok()) return st;
    std::vector<uint64_t>& ids = out->emplace_back();
    IdCollector collector(&ids);
    decoder.Visit(&collector);
  }
  if (!reader.tail_fault().empty()) return Status::Corruption("torn tail: " + reader.tail_fault());
  return Status::Ok();
}

// A batch as the log holds it.
struct WrittenBatch {
  log::BatchHeader header;
  std::string payload;
};

// Every batch of the log in `dir`, in order (checksums checked, as every
// read does).
inline Status ReadLogBatches(const std::string& dir, std::vector<WrittenBatch>* out) {
  out->clear();
  log::LogReader reader;
  Status st = reader.Open(dir, {});
  if (!st.ok()) return st;
  for (;;) {
    log::BatchView view;
    bool done = false;
    st = reader.Next(&view, &done);
    if (!st.ok() || done) return st;
    out->push_back({view.header, std::string(view.payload)});
  }
}

}  // namespace billsim::test_support

#endif  // BILLSIM_TESTS_LOG_EVENTS_H_
