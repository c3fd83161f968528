#include "bulk/chunk_reader.h"

#include "util/thread_name.h"

namespace billsim::bulk {

ChunkReader::ChunkReader(std::unique_ptr<EventReader> reader, uint32_t chunk_events,
                         size_t depth)
    : name_(reader->name()),
      chunk_events_(chunk_events),
      depth_(depth),
      reader_(std::move(reader)),
      thread_([this] {
        SetThreadName("bs-chunk-read");
        Run();
      }) {}

ChunkReader::~ChunkReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  // The thread may be waiting for input that never comes (a silent pipe):
  // that read ends now. The reader is otherwise the thread's; Cancel is
  // the one call safe beside its Read.
  reader_->Cancel();
  thread_.join();
}

void ChunkReader::Run() {
  log::BatchBuilder batch;
  Status st;
  for (bool done = false; !done;) {
    Chunk chunk;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
      if (stop_) return;
      if (!free_.empty()) {
        chunk = std::move(free_.front());
        free_.pop_front();
      }
    }
    batch.Clear();
    st = reader_->Read(chunk_events_, kChunkBytes, &batch, &chunk.count, &done);
    if (!st.ok()) break;
    if (chunk.count == 0) continue;
    batch.Finish(&chunk.payload);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(std::move(chunk));
    }
    cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = st;
    ended_ = true;
  }
  cv_.notify_all();
}

Status ChunkReader::Next(Chunk* out, bool* done) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || ended_; });
  if (!out->payload.empty() || out->payload.capacity() > 0) {
    Chunk spent;
    spent.payload.swap(out->payload);
    spent.payload.clear();
    free_.push_back(std::move(spent));
  }
  if (!ready_.empty()) {
    *out = std::move(ready_.front());
    ready_.pop_front();
    *done = false;
    lock.unlock();
    cv_.notify_all();
    return Status::Ok();
  }
  out->count = 0;
  *done = status_.ok();
  return status_;
}

}  // namespace billsim::bulk
