#include "server/request.h"

#include "journal/journal.h"

namespace billsim::server {

Status DecodeAppend(uint32_t max_events, Parsed* parsed, v1::Error::Code* code,
                    bool keep_payload) {
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
  DecoderPool::Shared().Collect();  // set-up batches the committer has applied
  std::unique_ptr<log::BatchDecoder> batch;
  if (2 * log::CountOtherEvents(append->batch()) >= static_cast<int64_t>(n)) {
    batch = std::make_unique<log::BatchDecoder>(log::BatchDecoder::OneShot{});
  } else {
    batch = DecoderPool::Shared().Take();
  }
  const Status st = batch->Parse(append->batch(), append->batch_events());
  if (!st.ok()) {
    *code = v1::Error::MALFORMED;
    DecoderPool::Shared().Give(std::move(batch));
    return Status::InvalidArgument(what + ": batch: " + st.message());
  }
  if (keep_payload && Journal::MayKeepWhole(*batch) &&
      append->batch().size() <= kPayloadKeptPerEvent * n) {
    parsed->payload = std::move(*append->mutable_batch());
  }
  append->clear_batch();  // decoded: the columns hold it now
  parsed->batch = std::move(batch);
  return Status::Ok();
}

DecoderPool& DecoderPool::Shared() {
  static DecoderPool* pool = new DecoderPool;  // never destroyed: threads may outlive main
  return *pool;
}

std::unique_ptr<log::BatchDecoder> DecoderPool::Take() {
  {
    std::lock_guard lock(mu_);
    if (!kept_.empty()) {
      std::unique_ptr<log::BatchDecoder> d = std::move(kept_.back());
      kept_.pop_back();
      return d;
    }
  }
  return std::make_unique<log::BatchDecoder>();
}

void DecoderPool::Give(std::unique_ptr<log::BatchDecoder> decoder) {
  if (decoder == nullptr || decoder->largest_payload() > kPayloadBytesMax) return;
  std::lock_guard lock(mu_);
  if (decoder->one_shot()) {
    if (dropped_.size() < kDroppedMax) dropped_.push_back(std::move(decoder));
    return;  // else `decoder` is destroyed as this returns, outside the lock
  }
  if (kept_.size() < kKeptMax) kept_.push_back(std::move(decoder));
  // Else `decoder` is destroyed as this returns, outside the lock.
}

void DecoderPool::Collect() {
  std::vector<std::unique_ptr<log::BatchDecoder>> freed;
  {
    std::lock_guard lock(mu_);
    if (dropped_.empty()) return;
    freed.swap(dropped_);
  }
  // `freed` is destroyed as this returns, outside the lock.
}

size_t DecoderPool::kept() const {
  std::lock_guard lock(mu_);
  return kept_.size();
}

size_t DecoderPool::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_.size();
}

}  // namespace billsim::server
