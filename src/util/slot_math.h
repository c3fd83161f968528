// The arithmetic of the open-addressed slot tables (IdIndex, Interner):
// linear probing over any number of slots, grown by half.
//
// A key's probe starts at 32 bits of its hash scaled to the table (not
// masked), so a table need not be a power of two; that caps it at 2^32
// slots. Growing by half rather than doubling keeps about a sixth fewer
// slots on average over sizes, for twice the rehashing while a table
// grows (still O(1) amortized).
#ifndef BILLSIM_UTIL_SLOT_MATH_H_
#define BILLSIM_UTIL_SLOT_MATH_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace billsim::slot_math {

inline constexpr size_t kMaxSlots = size_t{1} << 32;

// Where the probe of a key whose hash has these 32 bits starts, in a table
// of `slots` (> 0, at most kMaxSlots): always below `slots`.
inline size_t Home(uint32_t hash32, size_t slots) { return (uint64_t{hash32} * slots) >> 32; }
// The slot after i, wrapping.
inline size_t Next(size_t i, size_t slots) { return i + 1 == slots ? 0 : i + 1; }
// The size a table of `slots` (at least 2) grows to. REQUIRES: slots <
// kMaxSlots (the caller checks: a full table cannot grow).
inline size_t Grown(size_t slots) { return std::min(slots + slots / 2, kMaxSlots); }

}  // namespace billsim::slot_math

#endif  // BILLSIM_UTIL_SLOT_MATH_H_
