#include "server/request.h"

namespace billsim::server {

Status DecodeAppend(uint32_t max_events, Parsed* parsed, v1::Error::Code* code) {
  v1::Request& request = parsed->request;
  const std::string what = "request " + std::to_string(request.request_id());
  v1::AppendRequest* append = request.mutable_append();
  const bool columnar = !append->batch().empty() || append->batch_events() > 0;
  *code = v1::Error::BAD_REQUEST;
  if (columnar && append->events_size() > 0) {
    return Status::InvalidArgument(what + " has both events and a batch; send one or the other");
  }
  const uint64_t n = columnar ? append->batch_events()
                              : static_cast<uint64_t>(append->events_size());
  if (n > max_events) {
    return Status::InvalidArgument(what + " has " + std::to_string(n) +
                                   " events; the maximum is " + std::to_string(max_events));
  }
  if (!columnar) return Status::Ok();
  std::unique_ptr<log::BatchDecoder> batch;
  if (2 * log::CountOtherEvents(append->batch()) >= static_cast<int64_t>(n)) {
    batch = std::make_unique<log::BatchDecoder>(log::BatchDecoder::OneShot{});
  } else {
    batch = std::make_unique<log::BatchDecoder>();
  }
  const Status st = batch->Parse(append->batch(), append->batch_events());
  if (!st.ok()) {
    *code = v1::Error::MALFORMED;
    return Status::InvalidArgument(what + ": batch: " + st.message());
  }
  append->clear_batch();  // decoded: the columns hold it now
  parsed->batch = std::move(batch);
  return Status::Ok();
}

}  // namespace billsim::server
