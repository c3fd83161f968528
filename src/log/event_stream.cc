#include "log/event_stream.h"

namespace billsim::log {

Status EventStream::Open(const std::string& dir, LogReader::Options options) {
  return reader_.Open(dir, options);
}

Status EventStream::NextInto(BatchDecoder* decoder, bool* done) {
  Status st = reader_.Next(&batch_, done);
  if (!st.ok() || *done) return st;
  st = decoder->Parse(batch_.payload, batch_.header.count);
  if (!st.ok()) {
    return Status::Corruption(reader_.segment_path() + " at offset " +
                              std::to_string(batch_.offset) + " (sequence " +
                              std::to_string(batch_.header.first_seq) + "): " + st.message());
  }
  return Status::Ok();
}

namespace {

class EventVisitor : public BatchVisitor {
 public:
  EventVisitor(const BatchDecoder& decoder, uint64_t from,
               const std::function<bool(uint64_t, const v1::Event&)>& fn)
      : decoder_(decoder), from_(from), fn_(fn) {}
  void Start(uint64_t first) { first_ = first; }
  bool OnDelivery(uint32_t pos, const DeliveryRow& row) override {
    return first_ + pos < from_ || Call(pos, decoder_.ToEvent(row));
  }
  bool OnEvent(uint32_t pos, const v1::Event& e) override {
    return first_ + pos < from_ || Call(pos, e);
  }
  bool stopped() const { return stopped_; }

 private:
  bool Call(uint32_t pos, const v1::Event& e) {
    if (!fn_(first_ + pos, e)) stopped_ = true;
    return !stopped_;
  }
  const BatchDecoder& decoder_;
  uint64_t from_;
  const std::function<bool(uint64_t, const v1::Event&)>& fn_;
  uint64_t first_ = 0;
  bool stopped_ = false;
};

}  // namespace

Status ForEachEvent(const std::string& dir, uint64_t from_seq,
                    const std::function<bool(uint64_t, const v1::Event&)>& fn,
                    std::string* tail_fault) {
  EventStream stream;
  Status st = stream.Open(dir);
  if (st.ok() && from_seq > 1) st = stream.Seek(from_seq);
  EventVisitor visitor(stream.decoder(), from_seq, fn);
  while (st.ok() && !visitor.stopped()) {
    bool done = false;
    st = stream.Next(&done);
    if (!st.ok() || done) break;
    visitor.Start(stream.batch().header.first_seq);
    stream.Visit(&visitor);
  }
  if (st.ok() && tail_fault != nullptr) *tail_fault = stream.tail_fault();
  return st;
}

}  // namespace billsim::log
