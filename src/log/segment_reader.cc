#include "log/segment_reader.h"

#include <cstring>

namespace billsim::log {

Status SegmentReader::Open(const std::string& path, uint64_t offset,
                           uint64_t expected_seq, const Chain& prev_chain,
                           Options options) {
  options_ = options;
  offset_ = offset;
  expected_seq_ = expected_seq;
  chain_ = prev_chain;
  return file_.Open(path, options.env);
}

SegmentReader::Next SegmentReader::Fault(Next kind, const std::string& what) {
  fault_offset_ = offset_;
  fault_ = what;
  return kind;
}

bool SegmentReader::ZerosToEnd(uint64_t from) {
  for (uint64_t at = from; at < file_.size();) {
    const uint8_t* data = nullptr;
    size_t got = 0;
    if (!file_.Read(at, 1 << 20, &data, &got).ok() || got == 0) return false;
    for (size_t i = 0; i < got; ++i) {
      if (data[i] != 0) return false;
    }
    at += got;
  }
  return true;
}

SegmentReader::Next SegmentReader::Read(BatchView* batch) {
  const uint64_t size = file_.size();
  if (offset_ == size) return Next::kEnd;
  const std::string seq = " (sequence " + std::to_string(expected_seq_) + ")";
  const uint8_t* data = nullptr;
  size_t got = 0;
  Status st = file_.Read(offset_, kHeaderSize, &data, &got);
  if (!st.ok()) return Fault(Next::kCorrupt, st.ToString());
  if (got < kHeaderSize) {
    return Fault(Next::kTail, "truncated batch header" + seq);
  }
  BatchHeader h;
  st = DecodeHeader(data, &h);
  if (!st.ok()) {
    // A whole header was written whole: one that fails is damage, unless
    // the file ends in zeros from here (an allocated, never written block).
    return Fault(ZerosToEnd(offset_) ? Next::kTail : Next::kCorrupt, st.message() + seq);
  }
  if (h.first_seq != expected_seq_) {
    return Fault(Next::kCorrupt, "batch starts at sequence " +
                                     std::to_string(h.first_seq) +
                                     ", expected " + std::to_string(expected_seq_));
  }
  const uint64_t end = offset_ + kHeaderSize + h.payload_len;
  if (end > size) return Fault(Next::kTail, "truncated batch payload" + seq);
  st = file_.Read(offset_ + kHeaderSize, h.payload_len, &data, &got);
  if (!st.ok()) return Fault(Next::kCorrupt, st.ToString());
  if (got != h.payload_len) return Fault(Next::kCorrupt, "short read" + seq);
  const std::string_view payload(reinterpret_cast<const char*>(data), got);
  const auto range = [&h] {
    return " (batch of sequences " + std::to_string(h.first_seq) + ".." +
           std::to_string(h.last_seq()) + ")";
  };
  if (options_.verify_payload && PayloadChecksum(payload) != h.payload_xxh3) {
    // The header checks out and the whole payload is in the file: this
    // batch was written complete (and may have been acknowledged), so a
    // bad payload is damage even as the file's last batch, never a tear.
    return Fault(Next::kCorrupt, "payload checksum mismatch" + range());
  }
  if (options_.verify_chain) {
    uint8_t header[kHeaderSize];
    EncodeHeader(h, header);
    if (ComputeChain(chain_, header, payload) != h.chain) {
      return Fault(Next::kCorrupt, "hash chain broken" + range() +
                                       ": the batch or one before it was altered");
    }
  }
  chain_ = h.chain;
  batch->header = h;
  batch->payload = payload;
  batch->offset = offset_;
  offset_ = end;
  expected_seq_ = h.last_seq() + 1;
  return Next::kBatch;
}

}  // namespace billsim::log
