// Framing of the wire protocol (proto/billsim/v1/wire.proto): every message
// is a 4-byte little-endian length N, then N bytes of one serialized
// Request or Response.
//
// FrameDecoder: bytes in (any split), whole frames out. A length above the
// decoder's maximum is an error as soon as the 4 length bytes are seen,
// before any allocation for the body. After an error the decoder stays
// failed. Not thread-safe.
#ifndef BILLSIM_NET_FRAME_H_
#define BILLSIM_NET_FRAME_H_

#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace billsim::net {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;  // 16 MiB

// Appends the frame of `message` (header + serialized body) to *out.
// Fails (InvalidArgument) if the message is larger than `max_frame_bytes`.
Status AppendFrame(const google::protobuf::MessageLite& message, std::string* out,
                   uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

// The 4-byte header for a body of `length` bytes.
void PutFrameHeader(uint32_t length, char header[kFrameHeaderBytes]);
uint32_t GetFrameHeader(const char header[kFrameHeaderBytes]);

class FrameDecoder {
 public:
  enum class Result { kFrame, kNeedMore, kError };

  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Buffers `n` more bytes of the stream.
  void Feed(const char* data, size_t n);
  void Feed(std::string_view data) { Feed(data.data(), data.size()); }

  // kFrame: *body is the next frame's body, valid until the next Feed or
  // Next call. kNeedMore: no whole frame buffered yet. kError: the stream is
  // bad (*error says why: a length above the maximum); stays kError.
  Result Next(std::string_view* body, Status* error = nullptr);

  // Bytes buffered and not yet returned as frames.
  size_t buffered() const { return buffer_.size() - pos_; }
  // The body length of the next frame, once its header is buffered (0
  // before): what a caller with a byte budget reserves before reading on.
  uint32_t next_frame_bytes() const {
    return buffered() >= kFrameHeaderBytes ? GetFrameHeader(buffer_.data() + pos_) : 0;
  }
  // Makes room for the whole next frame at once, so that a large frame's
  // body is not copied again each time the buffer would grow.
  void ReserveNextFrame() {
    if (!failed_ && next_frame_bytes() <= max_frame_bytes_) {
      buffer_.reserve(pos_ + kFrameHeaderBytes + next_frame_bytes());
    }
  }
  bool failed() const { return failed_; }
  uint32_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  uint32_t max_frame_bytes_;
  std::string buffer_;
  size_t pos_ = 0;  // start of the unconsumed bytes in buffer_
  bool failed_ = false;
  std::string error_;
};

}  // namespace billsim::net

#endif  // BILLSIM_NET_FRAME_H_
