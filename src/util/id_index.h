// IdIndex: finds an entity by its id, holding only the entities' dense
// indexes (4 bytes a slot, open addressing): the ids themselves are read
// from where the entities keep them, through `id_of`. A map keyed by
// std::string would hold every id a second time, 32 bytes and often a heap
// block each, which at millions of campaigns is most of an index's memory.
//
// Not movable: its hash and equality reach back to it. An owner that swaps
// in new entities rebuilds the index (Clear, then Insert each).
#ifndef BILLSIM_UTIL_ID_INDEX_H_
#define BILLSIM_UTIL_ID_INDEX_H_

#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace billsim {

class IdIndex {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;  // == kNoIndex
  using IdOf = std::string_view (*)(const void* owner, uint32_t index);

  IdIndex(const void* owner, IdOf id_of)
      : owner_(owner), id_of_(id_of), set_(0, Hash{this}, Eq{this}) {}
  IdIndex(const IdIndex&) = delete;
  IdIndex& operator=(const IdIndex&) = delete;

  // The index whose id is `id`, or kNotFound.
  uint32_t Find(std::string_view id) const {
    auto it = set_.find(absl::string_view(id.data(), id.size()));
    return it == set_.end() ? kNotFound : *it;
  }
  // Starts loading the slots where `id` would be, for a Find soon after.
  void Prefetch(std::string_view id) const { set_.prefetch(absl::string_view(id.data(), id.size())); }
  // Adds `index` (its id read through id_of); false if that id is there.
  bool Insert(uint32_t index) { return set_.insert(index).second; }
  void Clear() { set_.clear(); }
  void Reserve(size_t n) { set_.reserve(n); }
  size_t size() const { return set_.size(); }

 private:
  std::string_view Id(uint32_t i) const { return id_of_(owner_, i); }
  static absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }

  struct Hash {
    using is_transparent = void;
    const IdIndex* self;
    size_t operator()(uint32_t i) const { return absl::Hash<absl::string_view>{}(View(self->Id(i))); }
    size_t operator()(absl::string_view s) const { return absl::Hash<absl::string_view>{}(s); }
  };
  struct Eq {
    using is_transparent = void;
    const IdIndex* self;
    bool operator()(uint32_t a, uint32_t b) const { return a == b || self->Id(a) == self->Id(b); }
    bool operator()(absl::string_view s, uint32_t i) const { return View(self->Id(i)) == s; }
    bool operator()(uint32_t i, absl::string_view s) const { return View(self->Id(i)) == s; }
  };

  const void* owner_;
  IdOf id_of_;
  absl::flat_hash_set<uint32_t, Hash, Eq> set_;
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_ID_INDEX_H_
