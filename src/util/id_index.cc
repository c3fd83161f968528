#include "util/id_index.h"

#include <xxhash.h>

#include "util/assert.h"
#include "util/hash_seed.h"

namespace billsim {

namespace {
constexpr size_t kIndexFirstSlots = 64;
static_assert(kIndexFirstSlots >= 2, "growing by half must grow");
constexpr uint64_t kIndexMask = 0xffffffffu;
}  // namespace

uint64_t IdIndex::Hash(std::string_view id) {
  return XXH3_64bits_withSeed(id.data(), id.size(), ProcessHashSeed());
}

size_t IdIndex::Probe(std::string_view id, uint32_t tag) const {
  for (size_t i = Home(tag);; i = Next(i)) {
    const uint64_t s = slots_[i];
    if (s == 0) return i;
    if (static_cast<uint32_t>(s >> 32) == tag &&
        id_of_(owner_, static_cast<uint32_t>((s & kIndexMask) - 1)) == id) {
      return i;
    }
  }
}

uint32_t IdIndex::Candidate(uint32_t tag) const {
  for (size_t i = Home(tag);; i = Next(i)) {
    const uint64_t s = slots_[i];
    if (s == 0) return kNotFound;
    if (static_cast<uint32_t>(s >> 32) == tag) return static_cast<uint32_t>((s & kIndexMask) - 1);
  }
}

uint32_t IdIndex::Find(std::string_view id) const {
  if (slots_.empty()) return kNotFound;
  const uint64_t s = slots_[Probe(id, Tag(Hash(id)))];
  return s == 0 ? kNotFound : static_cast<uint32_t>((s & kIndexMask) - 1);
}

void IdIndex::FindAll(const std::string_view* ids, size_t n, uint32_t* out) const {
  if (slots_.empty()) {
    for (size_t i = 0; i < n; ++i) out[i] = kNotFound;
    return;
  }
  // Three loads, each started a stage ahead of the one that needs it: the
  // slot 12 ids ahead, the candidate entity 8 ahead (its slot is in by
  // then), the candidate's id bytes 4 ahead (its entity is in by then).
  constexpr size_t kSlotAhead = 12, kEntityAhead = 8, kIdAhead = 4, kRing = 16;
  uint32_t tags[kRing];
  auto tag = [&](size_t i) -> uint32_t& { return tags[i % kRing]; };
  for (size_t i = 0; i < n && i < kSlotAhead; ++i) {
    tag(i) = Tag(Hash(ids[i]));
    __builtin_prefetch(&slots_[Home(tag(i))]);
  }
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlotAhead < n) {
      const size_t j = i + kSlotAhead;
      tag(j) = Tag(Hash(ids[j]));
      __builtin_prefetch(&slots_[Home(tag(j))]);
    }
    if (prefetch_of_ != nullptr && i + kEntityAhead < n) {
      const uint32_t c = Candidate(tag(i + kEntityAhead));
      if (c != kNotFound) prefetch_of_(owner_, c);
    }
    if (i + kIdAhead < n) {
      const uint32_t c = Candidate(tag(i + kIdAhead));
      if (c != kNotFound) __builtin_prefetch(id_of_(owner_, c).data());
    }
    const uint64_t s = slots_[Probe(ids[i], tag(i))];
    out[i] = s == 0 ? kNotFound : static_cast<uint32_t>((s & kIndexMask) - 1);
  }
}

void IdIndex::Prefetch(std::string_view id, int stage) const {
  if (slots_.empty()) return;
  const uint32_t tag = Tag(Hash(id));
  if (stage == 1) {
    __builtin_prefetch(&slots_[Home(tag)]);
    return;
  }
  const uint32_t c = Candidate(tag);
  if (c == kNotFound) return;
  if (prefetch_of_ != nullptr) prefetch_of_(owner_, c);
  __builtin_prefetch(id_of_(owner_, c).data());
}

bool IdIndex::Insert(uint32_t index) {
  BILLSIM_ASSERT(index < kNotFound);
  if ((size_ + 1) * 4 > slots_.size() * 3) {
    BILLSIM_ASSERT(slots_.size() < slot_math::kMaxSlots);  // fewer than 3 * 2^30 entries
    Resize(slots_.empty() ? kIndexFirstSlots : slot_math::Grown(slots_.size()));
  }
  const std::string_view id = id_of_(owner_, index);
  const uint32_t tag = Tag(Hash(id));
  const size_t at = Probe(id, tag);
  if (slots_[at] != 0) return false;
  slots_[at] = uint64_t{tag} << 32 | (uint64_t{index} + 1);
  size_++;
  return true;
}

void IdIndex::Resize(size_t slots) {
  BILLSIM_ASSERT(slots <= slot_math::kMaxSlots);
  PageArray<uint64_t> old = std::move(slots_);
  slots_ = PageArray<uint64_t>(slots);
  // Every entry's place follows from its tag: no id is read.
  for (size_t k = 0; k < old.size(); ++k) {
    const uint64_t s = old[k];
    if (s == 0) continue;
    size_t i = Home(static_cast<uint32_t>(s >> 32));
    while (slots_[i] != 0) i = Next(i);
    slots_[i] = s;
  }
}

void IdIndex::Clear() {
  slots_ = PageArray<uint64_t>();
  size_ = 0;
}

void IdIndex::Reserve(size_t n) {
  size_t slots = slots_.empty() ? kIndexFirstSlots : slots_.size();
  while (n * 4 > slots * 3) {
    BILLSIM_ASSERT(slots < slot_math::kMaxSlots);  // fewer than 3 * 2^30 entries
    slots = slot_math::Grown(slots);
  }
  if (slots != slots_.size()) Resize(slots);
}

}  // namespace billsim
