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

bool SegmentReader::HeaderFollows(uint64_t from) {
  const uint8_t magic[4] = {kMagic & 0xff, (kMagic >> 8) & 0xff,
                            (kMagic >> 16) & 0xff, kMagic >> 24};
  for (uint64_t at = from; at + kHeaderSize <= file_.size();) {
    const uint8_t* data = nullptr;
    size_t got = 0;
    if (!file_.Read(at, 1 << 20, &data, &got).ok() || got < 4) return false;
    const void* hit = nullptr;
    for (size_t i = 0; i + 4 <= got; ++i) {
      if (std::memcmp(data + i, magic, 4) == 0) {
        hit = data + i;
        break;
      }
    }
    if (hit == nullptr) {
      at += got - 3;
      continue;
    }
    const uint64_t pos = at + (static_cast<const uint8_t*>(hit) - data);
    BatchHeader h;
    const uint8_t* hdr = nullptr;
    if (file_.Read(pos, kHeaderSize, &hdr, &got).ok() && got == kHeaderSize &&
        DecodeHeader(hdr, &h).ok() && h.first_seq >= expected_seq_) {
      return true;
    }
    at = pos + 1;
  }
  return false;
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
    // Where this batch ends is unknown: it is the tail only if no good
    // batch follows it.
    return Fault(HeaderFollows(offset_ + 1) ? Next::kCorrupt : Next::kTail,
                 st.message() + seq);
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
  if (options_.verify_payload && PayloadChecksum(payload) != h.payload_xxh3) {
    return Fault(end == size ? Next::kTail : Next::kCorrupt,
                 "payload checksum mismatch" + seq);
  }
  if (options_.verify_chain) {
    uint8_t header[kHeaderSize];
    EncodeHeader(h, header);
    if (ComputeChain(chain_, header, payload) != h.chain) {
      return Fault(Next::kCorrupt, "hash chain broken" + seq +
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
