#include "util/pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <new>

#include "util/assert.h"
#include "util/sanitizers.h"

namespace billsim {

// Under AddressSanitizer every block comes from operator new, so that its
// checks see it.
constexpr bool kMapBlocks = !kAddressSanitizer;

bool IsMappedBlock(size_t bytes) { return kMapBlocks && bytes >= kMappedFrom; }

namespace {

// A block of whole huge pages, on a huge-page boundary, asked to be backed
// by huge pages (where the system allows it: transparent huge pages in
// "madvise" mode or "always"), then made resident. Null if the system has
// no room.
void* MapHugeBlock(size_t bytes) {
  // Mapped with a huge page of slack, then trimmed to the boundary.
  const size_t mapped = bytes + kHugePageBytes;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto at = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (at + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (begin > at) munmap(p, begin - at);
  const uintptr_t end = begin + bytes;
  if (at + mapped > end) munmap(reinterpret_cast<void*>(end), at + mapped - end);
  void* block = reinterpret_cast<void*>(begin);
  // Either may be refused (no transparent huge pages; an older kernel):
  // the block is then ordinary pages, faulted in as they are touched.
  madvise(block, bytes, MADV_HUGEPAGE);
  madvise(block, bytes, MADV_POPULATE_WRITE);
  return block;
}

}  // namespace

void* AllocateZeroed(size_t bytes, size_t align) {
  BILLSIM_ASSERT(align > 0 && (align & (align - 1)) == 0 && align <= 4096);
  if (IsMappedBlock(bytes)) {
    // Anonymous pages are zero; MAP_POPULATE makes them resident now.
    void* p = bytes % kHugePageBytes == 0
                  ? MapHugeBlock(bytes)
                  : mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == nullptr || p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }
  void* p = ::operator new(bytes, std::align_val_t{align});
  std::memset(p, 0, bytes);
  return p;
}

void FreeZeroed(void* block, size_t bytes, size_t align) {
  if (block == nullptr) return;
  if (IsMappedBlock(bytes)) {
    munmap(block, bytes);
  } else {
    ::operator delete(block, bytes, std::align_val_t{align});
  }
}

}  // namespace billsim
