#include "net/frame.h"

#include "util/endian.h"

namespace billsim::net {

void PutFrameHeader(uint32_t length, char header[kFrameHeaderBytes]) {
  StoreLittleEndian(length, static_cast<int>(kFrameHeaderBytes), header);
}

uint32_t GetFrameHeader(const char header[kFrameHeaderBytes]) {
  return static_cast<uint32_t>(LoadLittleEndian(header, static_cast<int>(kFrameHeaderBytes)));
}

Status AppendFrame(const google::protobuf::MessageLite& message, std::string* out,
                   uint32_t max_frame_bytes) {
  const size_t size = message.ByteSizeLong();
  if (size > max_frame_bytes) {
    return Status::InvalidArgument("message of " + std::to_string(size) +
                                   " bytes exceeds the frame maximum of " +
                                   std::to_string(max_frame_bytes) + " bytes");
  }
  const size_t start = out->size();
  out->resize(start + kFrameHeaderBytes + size);
  PutFrameHeader(static_cast<uint32_t>(size), out->data() + start);
  if (!message.SerializeToArray(out->data() + start + kFrameHeaderBytes,
                                static_cast<int>(size))) {
    out->resize(start);
    return Status::InvalidArgument("message does not serialize");
  }
  return Status::Ok();
}

void FrameDecoder::Feed(const char* data, size_t n) {
  if (failed_ || n == 0) return;
  // Drop consumed bytes before growing (amortized: at most once per half).
  if (pos_ > 0 && (pos_ == buffer_.size() || pos_ >= buffer_.size() / 2)) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(data, n);
}

FrameDecoder::Result FrameDecoder::Next(std::string_view* body, Status* error) {
  if (failed_) {
    if (error) *error = Status::InvalidArgument(error_);
    return Result::kError;
  }
  const size_t available = buffer_.size() - pos_;
  if (available < kFrameHeaderBytes) return Result::kNeedMore;
  const uint32_t length = GetFrameHeader(buffer_.data() + pos_);
  if (length > max_frame_bytes_) {
    failed_ = true;
    error_ = "frame length " + std::to_string(length) + " exceeds the maximum of " +
             std::to_string(max_frame_bytes_) + " bytes";
    buffer_.clear();
    buffer_.shrink_to_fit();
    pos_ = 0;
    if (error) *error = Status::InvalidArgument(error_);
    return Result::kError;
  }
  if (available - kFrameHeaderBytes < length) return Result::kNeedMore;
  *body = std::string_view(buffer_.data() + pos_ + kFrameHeaderBytes, length);
  pos_ += kFrameHeaderBytes + length;
  return Result::kFrame;
}

}  // namespace billsim::net
