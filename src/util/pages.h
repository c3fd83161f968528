// Zeroed blocks for the ledger's large tables: a large block comes straight
// from the system with all its pages made resident in one call.
//
// Why: on the machines billsim is measured on (virtual, two cores), the
// first touch of a fresh page is a fault that costs about 10 us, and the
// kernel makes the same pages resident in one call (MAP_POPULATE) for
// about 5 us each (measured with a C program touching 128 MiB in 2 MiB
// mappings). A book of 10^6 campaigns takes about 100,000 pages, so its
// set-up spent about a sixth of its time in these faults. The blocks given
// here are ones touched whole soon anyway (chunks whose elements are all
// constructed at once, hash tables filled at random), so being resident
// at once costs them no memory they would not have used.
//
// A large block is a mapping of its own, given back whole when freed, so
// it never passes through malloc (page_array.h says why that matters). A
// small block comes from operator new, so a small book pays for no page it
// does not use; and so does every block under AddressSanitizer, whose
// checks then see it.
#ifndef BILLSIM_UTIL_PAGES_H_
#define BILLSIM_UTIL_PAGES_H_

#include <cstddef>

namespace billsim {

// From this many bytes on a block is a mapping of its own: glibc's own
// threshold for that, as it starts.
inline constexpr size_t kMappedFrom = size_t{128} << 10;
// A mapped block of whole huge pages (x86-64's 2 MiB) is placed on their
// boundary and asked to be backed by them: one TLB entry then covers what
// 512 would, and the random loads of a large book's state miss the TLB
// far less often.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Whether a block of `bytes` is a mapping of its own (resident at once).
bool IsMappedBlock(size_t bytes);

// `bytes` bytes, all zero, aligned to `align` (a power of two, at most
// 4096). Throws std::bad_alloc if the system has no room, as new would.
void* AllocateZeroed(size_t bytes, size_t align);
// Frees a block from AllocateZeroed, given the same `bytes` and `align`.
// Null does nothing.
void FreeZeroed(void* block, size_t bytes, size_t align);

}  // namespace billsim

#endif  // BILLSIM_UTIL_PAGES_H_
