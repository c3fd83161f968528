// Event ids derived from a caller's key: the same key always gives the same
// id, so a retried request (campaign/create's request_id, a report row
// imported again) finds its events applied (R10) instead of applying them
// twice. The top bit is set: keyed ids never meet the small dense ids of
// scenarios and clients, nor the server's stamped ids (from 2^62, below
// 2^63).
#ifndef BILLSIM_UTIL_KEYED_ID_H_
#define BILLSIM_UTIL_KEYED_ID_H_

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace billsim {

inline uint64_t KeyedId(std::string_view key) {
  return (uint64_t{1} << 63) | (XXH3_64bits(key.data(), key.size()) >> 1);
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_KEYED_ID_H_
