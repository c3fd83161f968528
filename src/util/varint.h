// Varints as Protocol Buffers write them (base 128, least significant group
// first), for framing a message's fields by hand.
#ifndef BILLSIM_UTIL_VARINT_H_
#define BILLSIM_UTIL_VARINT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace billsim {

// Writes v at dst, which has room (VarintLength(v), at most 10 bytes), and
// returns the byte after it.
inline char* EncodeVarint(char* dst, uint64_t v) {
  while (v >= 0x80) {
    *dst++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *dst++ = static_cast<char>(v);
  return dst;
}

inline void AppendVarint(std::string* out, uint64_t v) {
  char bytes[10];
  out->append(bytes, static_cast<size_t>(EncodeVarint(bytes, v) - bytes));
}

// The bytes AppendVarint writes for v.
inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

// Reads a varint of at most 32 bits known to end in memory (EncodeVarint
// wrote it, or a bounded scan found its last byte: there is nothing to
// check), and returns the byte after it.
inline const char* DecodeVarint32(const char* p, uint32_t* v) {
  uint32_t r = 0;
  int shift = 0;
  while (static_cast<unsigned char>(*p) & 0x80) {
    r |= static_cast<uint32_t>(static_cast<unsigned char>(*p++) & 0x7f) << shift;
    shift += 7;
  }
  *v = r | static_cast<uint32_t>(static_cast<unsigned char>(*p++)) << shift;
  return p;
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_VARINT_H_
