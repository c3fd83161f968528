// UTF-8 validity. Protobuf's proto3 `string` fields must hold UTF-8: its
// parser refuses anything else, so text bound for the log or the wire is
// checked before it is accepted.
#ifndef BILLSIM_UTIL_UTF8_H_
#define BILLSIM_UTIL_UTF8_H_

#include <string_view>

namespace billsim {

// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates, at
// most U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace billsim

#endif  // BILLSIM_UTIL_UTF8_H_
