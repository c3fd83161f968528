// ChunkReader: an EventReader on a thread of its own, a few chunks ahead.
// Parsing a line format costs about as much as judging and appending its
// events, so a reader of a large file (log append, client) overlaps the
// two: this thread parses chunk k+1 into a serialized batch payload while
// the caller applies chunk k. At most `depth` chunks wait: memory is
// bounded by depth x chunk_events, whatever the input's size.
//
// A malformed line ends the stream: the chunks before the one holding it
// come out first, then the error (the partial chunk is dropped).
#ifndef BILLSIM_BULK_CHUNK_READER_H_
#define BILLSIM_BULK_CHUNK_READER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bulk/event_reader.h"
#include "util/status.h"

namespace billsim::bulk {

class ChunkReader {
 public:
  static constexpr size_t kChunkBytes = size_t{8} << 20;

  struct Chunk {
    std::string payload;  // a v1::EventBatch (log/batch_codec.h)
    uint32_t count = 0;   // events in it
  };

  ChunkReader(std::unique_ptr<EventReader> reader, uint32_t chunk_events, size_t depth = 3);
  // Stops the thread: at once if it waits for room or for input (a read
  // of a pipe or terminal is cancelled, EventReader::Cancel), else after
  // the chunk it is parsing.
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // The next chunk into *out (its payload's memory is swapped, so a caller
  // that keeps passing the same Chunk reuses buffers); *done at the end.
  Status Next(Chunk* out, bool* done);

  const std::string& name() const { return name_; }

 private:
  void Run();

  const std::string name_;
  const uint32_t chunk_events_;
  const size_t depth_;
  std::unique_ptr<EventReader> reader_;  // the thread's alone, but for Cancel

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> ready_;     // guarded by mu_
  std::deque<Chunk> free_;      // spent buffers handed back, guarded by mu_
  Status status_;               // the end: ok (done) or the error; guarded
  bool ended_ = false;          // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_CHUNK_READER_H_
