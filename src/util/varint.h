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

inline uint8_t* EncodeVarint(uint8_t* dst, uint64_t v) {
  return reinterpret_cast<uint8_t*>(EncodeVarint(reinterpret_cast<char*>(dst), v));
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

// Reads back a varint of at most 32 bits that EncodeVarint wrote in memory
// (there is nothing to check), and returns the byte after it.
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

// Reads the varint at *p that must end before `end`: at most 64 bits (ten
// bytes, the tenth holding only the 64th bit, as Protocol Buffers reads).
// True, with *p past it; false if it runs to `end` or is longer (then *p is
// unchanged). For bytes from outside: a file, the wire.
inline bool GetVarint64(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  const uint8_t* q = *p;
  uint64_t r = 0;
  for (int i = 0; i < 10 && q < end; ++i) {
    const uint8_t b = *q++;
    if (i == 9 && b > 1) return false;
    r |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (b < 0x80) {
      *v = r;
      *p = q;
      return true;
    }
  }
  return false;
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_VARINT_H_
