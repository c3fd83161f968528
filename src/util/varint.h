// Varints as Protocol Buffers write them (base 128, least significant group
// first), for framing a message's fields by hand.
#ifndef BILLSIM_UTIL_VARINT_H_
#define BILLSIM_UTIL_VARINT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace billsim {

inline void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
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

}  // namespace billsim

#endif  // BILLSIM_UTIL_VARINT_H_
