#include "util/pages.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

#include "util/assert.h"
#include "util/sanitizers.h"

namespace billsim {

// Under AddressSanitizer every block comes from operator new, so that its
// checks see it.
constexpr bool kMapBlocks = !kAddressSanitizer;

bool IsMappedBlock(size_t bytes) { return kMapBlocks && bytes >= kMappedFrom; }

void* AllocateZeroed(size_t bytes, size_t align) {
  BILLSIM_ASSERT(align > 0 && (align & (align - 1)) == 0 && align <= 4096);
  if (IsMappedBlock(bytes)) {
    // Anonymous pages are zero; MAP_POPULATE makes them resident now.
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
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
