// UTF-8 validity. Protobuf's proto3 `string` fields must hold UTF-8: its
// parser refuses anything else, so text bound for the log or the wire is
// checked before it is accepted.
#ifndef BILLSIM_UTIL_UTF8_H_
#define BILLSIM_UTIL_UTF8_H_

#include <cstdint>
#include <cstring>
#include <string_view>

namespace billsim {

// True if every byte of `s` is ASCII (then it is UTF-8).
inline bool IsAscii(std::string_view s) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    any |= word;
  }
  for (; i < s.size(); ++i) any |= static_cast<unsigned char>(s[i]);
  return (any & 0x8080808080808080ull) == 0;
}

// IsValidUtf8's check of text that is not all ASCII.
bool IsValidUtf8Sequences(std::string_view s);

// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates, at
// most U+10FFFF). Inline for the ASCII of the usual id, so that a hot path
// (the log's dictionary) makes no call.
inline bool IsValidUtf8(std::string_view s) { return IsAscii(s) || IsValidUtf8Sequences(s); }

}  // namespace billsim

#endif  // BILLSIM_UTIL_UTF8_H_
