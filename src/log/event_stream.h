// EventStream: the log's batches, read and decoded, in order. Wraps
// LogReader and BatchDecoder so that every reader of events (replay, audit,
// dump, verify) reads the same way and reports a fault the same way: naming
// segment, offset and sequence.
#ifndef BILLSIM_LOG_EVENT_STREAM_H_
#define BILLSIM_LOG_EVENT_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>

#include "log/batch_codec.h"
#include "log/log_reader.h"
#include "util/status.h"

namespace billsim::log {

class EventStream {
 public:
  Status Open(const std::string& dir, LogReader::Options options = {});
  Status Seek(uint64_t seq) { return reader_.Seek(seq); }
  // Reads and decodes the next batch; *done at the end of the log.
  Status Next(bool* done) { return NextInto(&decoder_, done); }
  // The same, decoding into *decoder instead of this stream's own (for
  // readers that keep several decoded batches, such as ReadAheadStream).
  Status NextInto(BatchDecoder* decoder, bool* done);

  const BatchView& batch() const { return batch_; }
  const BatchDecoder& decoder() const { return decoder_; }
  // Visits the events of the current batch in order.
  void Visit(BatchVisitor* visitor) const { decoder_.Visit(visitor); }
  const LogReader& reader() const { return reader_; }
  const std::string& tail_fault() const { return reader_.tail_fault(); }

 private:
  LogReader reader_;
  BatchDecoder decoder_{BatchDecoder::Adaptive{}};
  BatchView batch_;
};

// Calls fn(sequence, event) for every event from `from_seq` on, in order,
// until fn returns false. A delivery row is given as the Event it records
// (the slow path: for tools, not replay). *tail_fault, if not null, gets a
// torn tail that ended the log.
Status ForEachEvent(const std::string& dir, uint64_t from_seq,
                    const std::function<bool(uint64_t, const v1::Event&)>& fn,
                    std::string* tail_fault = nullptr);

}  // namespace billsim::log

#endif  // BILLSIM_LOG_EVENT_STREAM_H_
