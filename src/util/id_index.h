// IdIndex: finds an entity by its id, holding only the entities' dense
// indexes: the ids themselves are read from where the entities keep them,
// through `id_of`. A map keyed by std::string would hold every id a second
// time, 32 bytes and often a heap block each, which at millions of
// campaigns is most of an index's memory.
//
// A slot is 8 bytes (open addressing, linear probing, at most 3/4 full):
// 32 bits of the id's hash (seeded per process, hash_seed.h), which also
// place it, and the index. So a probe reads an entity's id only when all
// 32 bits match, and growing never reads an id. (Entries whose home slot is
// the same share its high bits, so at about 2^k slots 32 - k bits tell them
// apart: at 10^6 campaigns an id is read for another id in fewer than one
// probe in two thousand.) The table grows by half, not double, its tags
// scaled to it (util/slot_math.h). FindAll looks up many ids with their
// loads overlapped (the slot, the entity, the id's bytes: three cache misses one after another in a large
// book), given `prefetch_of`, which starts loading where an entity keeps
// its id.
//
// Not movable: an owner that swaps in new entities rebuilds the index
// (Clear, then Insert each).
#ifndef BILLSIM_UTIL_ID_INDEX_H_
#define BILLSIM_UTIL_ID_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "util/page_array.h"
#include "util/slot_math.h"

namespace billsim {

class IdIndex {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;  // == kNoIndex
  using IdOf = std::string_view (*)(const void* owner, uint32_t index);
  using PrefetchOf = void (*)(const void* owner, uint32_t index);

  IdIndex(const void* owner, IdOf id_of, PrefetchOf prefetch_of = nullptr)
      : owner_(owner), id_of_(id_of), prefetch_of_(prefetch_of) {}
  IdIndex(const IdIndex&) = delete;
  IdIndex& operator=(const IdIndex&) = delete;
  // Takes other's entries for an owner holding the same entities at a new
  // address (an owner that was moved): nothing is rehashed (slots name no
  // address), and other is left empty.
  IdIndex(IdIndex&& other, const void* new_owner) noexcept
      : owner_(new_owner),
        id_of_(other.id_of_),
        prefetch_of_(other.prefetch_of_),
        slots_(std::move(other.slots_)),
        size_(std::exchange(other.size_, 0)) {}
  // The same into an index of this owner. REQUIRES: the same id_of.
  void TakeFrom(IdIndex&& other) noexcept {
    slots_ = std::move(other.slots_);
    size_ = std::exchange(other.size_, 0);
  }

  // The index whose id is `id`, or kNotFound.
  uint32_t Find(std::string_view id) const;
  // out[i] = Find(ids[i]) for i in [0, n), each id's loads started a few
  // ids ahead.
  void FindAll(const std::string_view* ids, size_t n, uint32_t* out) const;
  // A hint that `id` is looked up soon; changes nothing. Stage 1 starts
  // loading its slot; stage 2, called a few lookups later (when the slot is
  // in), the entity the slot names (prefetch_of) and that entity's id.
  void Prefetch(std::string_view id, int stage) const;
  // Adds `index` (its id read through id_of); false if that id is there.
  // REQUIRES: index < kNotFound, and fewer than 3 * 2^30 entries (2^32
  // slots at most 3/4 full: checked).
  bool Insert(uint32_t index);
  void Clear();
  // Room for n entries without growing.
  void Reserve(size_t n);
  size_t size() const { return size_; }

 private:
  static uint64_t Hash(std::string_view id);
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
  // Where tag's probe starts: tag scaled to the table (its high bits).
  size_t Home(uint32_t tag) const { return slot_math::Home(tag, slots_.size()); }
  size_t Next(size_t i) const { return slot_math::Next(i, slots_.size()); }
  // The slot holding the entry of `id` (tag `tag`), or the empty slot
  // ending its run. REQUIRES: !slots_.empty().
  size_t Probe(std::string_view id, uint32_t tag) const;
  // The index in the first slot of tag's run with that tag, or kNotFound.
  uint32_t Candidate(uint32_t tag) const;
  void Resize(size_t slots);  // above 4/3 of size_, at most slot_math::kMaxSlots

  const void* owner_;
  IdOf id_of_;
  PrefetchOf prefetch_of_;
  // 0 = empty; else tag << 32 | (index + 1). A PageArray: a large table
  // is resident at once (it fills at random, so every page is soon
  // touched) and goes back to the system whole when it grows.
  PageArray<uint64_t> slots_;
  size_t size_ = 0;
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_ID_INDEX_H_
