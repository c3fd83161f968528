#include "util/interner.h"

#include <cstring>

#include <xxhash.h>

#include "util/assert.h"
#include "util/hash_seed.h"
#include "util/varint.h"

namespace billsim {

namespace {
// A record: its number, then the key's length (a varint), then the key.
constexpr size_t kNumber = sizeof(uint32_t);
constexpr size_t kInternerFirstSlots = 1024;
}  // namespace

Interner::Interner(int block_bits, uint32_t first_number)
    : block_bits_(block_bits), next_number_(first_number) {
  BILLSIM_ASSERT(block_bits >= 12 && block_bits <= 30);
}

uint64_t Interner::Hash(std::string_view key) {
  return XXH3_64bits_withSeed(key.data(), key.size(), ProcessHashSeed());
}

const char* Interner::Record(uint64_t slot) const {
  const uint64_t ref = slot & kRefMask;
  return blocks_[(ref >> block_bits_) - 1].get() + (ref & (block() - 1));
}

uint32_t Interner::NumberOf(const char* record) {
  uint32_t n;
  std::memcpy(&n, record, sizeof n);
  return n;
}

std::string_view Interner::KeyOf(const char* record) {
  uint32_t len;
  const char* key = DecodeVarint32(record + kNumber, &len);
  return {key, len};
}

size_t Interner::Probe(std::string_view key, uint64_t h) const {
  const uint64_t tag = Tag(h);
  for (size_t i = Home(h);; i = Next(i)) {
    const uint64_t s = slots_[i];
    if (s == 0) return i;
    if ((s >> kRefBits) == tag && KeyOf(Record(s)) == key) return i;
  }
}

void Interner::PrefetchSlot(uint64_t h) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[Home(h)]);
}

void Interner::PrefetchRecord(uint64_t h, size_t key_bytes) const {
  if (slots_.empty()) return;
  // Only a hint: the first slot in the probe run with the key's tag is
  // almost always the key's (24 bits), and the lookup probes again anyway.
  const uint64_t tag = Tag(h);
  size_t i = Home(h);
  for (int n = 0; n < 8; ++n, i = Next(i)) {
    const uint64_t s = slots_[i];
    if (s == 0) return;
    if ((s >> kRefBits) == tag) {
      // Records are packed end to end, so one of a pair key's size crosses
      // into a second line about half the time: its end, as long as the
      // key's if it is the key's, is loaded too (the same line, else).
      const char* record = Record(s);
      __builtin_prefetch(record);
      __builtin_prefetch(record + kNumber + VarintLength(key_bytes) + key_bytes - 1);
      return;
    }
  }
}

uint32_t Interner::Find(std::string_view key) const {
  if (slots_.empty()) return kNotFound;
  const uint64_t s = slots_[Probe(key, Hash(key))];
  return s == 0 ? kNotFound : NumberOf(Record(s));
}

uint32_t Interner::Intern(std::string_view key) {
  // Grown before probing, so the probe ends at the key or at an empty slot
  // (at most 3/4 of the slots are used).
  if ((uint64_t{count_} + 1) * 4 > uint64_t{slots_.size()} * 3) Grow();
  const uint64_t h = Hash(key);
  const size_t at = Probe(key, h);
  if (slots_[at] != 0) return NumberOf(Record(slots_[at]));
  return Add(key, h, at, NextNumber());
}

void Interner::InternAll(const std::string_view* keys, size_t n, uint32_t* ids) {
  InternAll(keys, n, nullptr, ids);
}

void Interner::InternAll(const std::string_view* keys, size_t n, const uint32_t* numbers,
                         uint32_t* ids) {
  hashes_.resize(n);
  for (size_t i = 0; i < n; ++i) hashes_[i] = Hash(keys[i]);
  // The slot's line is asked for 16 keys ahead, the record's 8 ahead (by
  // then the slot is in cache and names the record).
  constexpr size_t kSlotAhead = 16;
  constexpr size_t kRecordAhead = 8;
  for (size_t i = 0; i < n && i < kSlotAhead; ++i) PrefetchSlot(hashes_[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlotAhead < n) PrefetchSlot(hashes_[i + kSlotAhead]);
    if (i + kRecordAhead < n) {
      PrefetchRecord(hashes_[i + kRecordAhead], keys[i + kRecordAhead].size());
    }
    if ((uint64_t{count_} + 1) * 4 > uint64_t{slots_.size()} * 3) Grow();
    const size_t at = Probe(keys[i], hashes_[i]);
    if (slots_[at] != 0) {
      ids[i] = NumberOf(Record(slots_[at]));
    } else {
      const bool given = numbers != nullptr && numbers[i] != kNotFound;
      ids[i] = Add(keys[i], hashes_[i], at, given ? numbers[i] : NextNumber());
    }
  }
}

uint32_t Interner::NextNumber() {
  BILLSIM_ASSERT(next_number_ < kNotFound);  // numbers below 2^32 - 1
  return next_number_++;
}

uint32_t Interner::Add(std::string_view key, uint64_t h, size_t at, uint32_t number) {
  BILLSIM_ASSERT(count_ < kNotFound);  // fewer than 2^32 - 1 keys
  slots_[at] = Tag(h) << kRefBits | Store(key, number);
  count_++;  // after Store, which may throw: no number without a record
  return number;
}

uint64_t Interner::Store(std::string_view key, uint32_t number) {
  BILLSIM_ASSERT(key.size() <= UINT32_MAX);
  const uint32_t len = static_cast<uint32_t>(key.size());
  const size_t need = kNumber + VarintLength(len) + key.size();
  if (blocks_.empty() || block_used_.back() + need > block()) {
    // A key longer than a block gets one of its own (its record at 0).
    const size_t size = need > block() ? need : block();
    BILLSIM_ASSERT(blocks_.size() + 1 < (size_t{1} << (kRefBits - block_bits_)));
    // Not zeroed: only the bytes written become resident.
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    block_used_.push_back(0);
    block_bytes_ += size;
  }
  const size_t offset = block_used_.back();
  char* at = blocks_.back().get() + offset;
  std::memcpy(at, &number, kNumber);
  at = EncodeVarint(at + kNumber, len);
  if (!key.empty()) std::memcpy(at, key.data(), key.size());
  block_used_.back() += need;
  return uint64_t{blocks_.size()} << block_bits_ | offset;
}

void Interner::Grow() {
  // Zeroed (all empty); the old table goes back to the system.
  // By half (util/slot_math.h), up to 2^32 slots: fewer than 3 * 2^30 keys.
  BILLSIM_ASSERT(slots_.size() < slot_math::kMaxSlots);
  const size_t slots = slots_.empty() ? kInternerFirstSlots : slot_math::Grown(slots_.size());
  slots_ = PageArray<uint64_t>(slots);
  // Every key is distinct, so each goes to the first empty slot of its run:
  // no key is compared, only rehashed, walking the blocks in order.
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const char* block = blocks_[b].get();
    for (size_t offset = 0; offset < block_used_[b];) {
      const std::string_view key = KeyOf(block + offset);
      const uint64_t h = Hash(key);
      size_t i = Home(h);
      while (slots_[i] != 0) i = Next(i);
      slots_[i] = Tag(h) << kRefBits | uint64_t{b + 1} << block_bits_ | offset;
      offset = static_cast<size_t>(key.data() + key.size() - block);
    }
  }
}

uint64_t Interner::bytes() const {
  return slots_.size() * sizeof(uint64_t) + block_bytes_ +
         hashes_.capacity() * sizeof(uint64_t);
}

}  // namespace billsim
