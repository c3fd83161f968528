// Whether this build runs under AddressSanitizer, for the few places that
// behave differently there (util/pages.cc gives every block from operator
// new so that ASan sees it; tests that would exhaust ASan's mappings run
// fewer cases).
#ifndef BILLSIM_UTIL_SANITIZERS_H_
#define BILLSIM_UTIL_SANITIZERS_H_

namespace billsim {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace billsim

#endif  // BILLSIM_UTIL_SANITIZERS_H_
