// Interner: numbers distinct strings, by default densely from 0 in order of
// first appearance, for sets of millions of keys looked up in bulk (replay
// names every (account, campaign) pair of a large book this way, and gives
// a pair it sees created a number of its own choosing).
//
// Where StringTable (string_table.h) gives strings back by index, this
// numbers a book's keys in bulk, with numbers of the caller's choosing when
// asked: each key is stored once, end to end in large blocks
// with its number in front ([number][length, a varint][bytes]), and the
// table holds one 8-byte slot per key (open addressing, linear probing): 24
// bits of the key's hash (seeded per process, hash_seed.h) to reject other
// keys without reading them, and where the record is. A lookup reads its
// slot's cache line and the record's, and InternAll overlaps those loads
// across the keys of a batch (a hit in a book of millions is two cache
// misses; one after another they cost more than the rest of the lookup).
//
// Bounds: fewer than 3 * 2^30 keys (2^32 slots, at most 3/4 full), numbers
// below 2^32 - 1, and fewer than 2^14 blocks
// of 64 MiB (a key longer than a block gets a block of its own). All are
// checked.
#ifndef BILLSIM_UTIL_INTERNER_H_
#define BILLSIM_UTIL_INTERNER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "util/page_array.h"
#include "util/prefetch.h"
#include "util/slot_math.h"

namespace billsim {

class Interner {
 public:
  // Blocks of 2^block_bits bytes (12 to 30); tests pass small ones. Keys
  // numbered by the interner get first_number, first_number + 1, ...
  explicit Interner(int block_bits = kDefaultBlockBits, uint32_t first_number = 0);
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;

  // The number of `key`, added with the next number if it is new (with
  // the default first_number and only these calls, size() before the
  // call: numbers dense from 0 in order of first appearance).
  uint32_t Intern(std::string_view key);
  // ids[i] = Intern(keys[i]) for i in [0, n), in that order, with each
  // key's loads started a few keys ahead.
  void InternAll(const std::string_view* keys, size_t n, uint32_t* ids);
  // The same, but a key not seen before gets numbers[i], the caller's
  // (which keeps numbers apart: the interner does not check), and the next
  // number does not move; or, where numbers[i] is kNotFound (or numbers is
  // null), the next.
  void InternAll(const std::string_view* keys, size_t n, const uint32_t* numbers, uint32_t* ids);
  // The number of `key`, or kNotFound; adds nothing.
  static constexpr uint32_t kNotFound = UINT32_MAX;
  uint32_t Find(std::string_view key) const;

  size_t size() const { return count_; }
  // Memory held: the table and the blocks.
  uint64_t bytes() const;

  // 64 MiB blocks: above glibc's largest mmap threshold, so each is a
  // mapping of its own, resident only as far as it is filled, and handed
  // back whole when the interner goes (smaller blocks freed by a thread
  // that has ended stay in malloc's arenas: 36 bytes a pair at 10^6).
  static constexpr int kDefaultBlockBits = 26;

 private:
  static constexpr int kRefBits = 40;  // block number, then offset in it
  static constexpr uint64_t kRefMask = (uint64_t{1} << kRefBits) - 1;

  static uint64_t Hash(std::string_view key);
  static uint64_t Tag(uint64_t hash) { return hash >> kRefBits; }  // 24 bits
  size_t block() const { return size_t{1} << block_bits_; }
  // Where a probe starts: the hash's low 32 bits scaled to the table (the
  // tag is its high 24).
  size_t Home(uint64_t hash) const {
    return slot_math::Home(static_cast<uint32_t>(hash), slots_.size());
  }
  size_t Next(size_t i) const { return slot_math::Next(i, slots_.size()); }
  // The record a slot refers to, and its parts.
  const char* Record(uint64_t slot) const;
  static uint32_t NumberOf(const char* record);
  static std::string_view KeyOf(const char* record);

  // The slot holding `key` (hash `h`), or the empty slot where it belongs.
  size_t Probe(std::string_view key, uint64_t h) const;
  // Starts loading what a lookup of the key with hash `h` will read.
  // (Defined in interner.cc, its only user; util/prefetch.h says why
  // they are always inlined.)
  BILLSIM_PREFETCHER void PrefetchSlot(uint64_t h) const;
  BILLSIM_PREFETCHER void PrefetchRecord(uint64_t h, size_t key_bytes) const;
  uint32_t NextNumber();
  uint32_t Add(std::string_view key, uint64_t h, size_t at, uint32_t number);
  uint64_t Store(std::string_view key, uint32_t number);  // a record's ref
  void Grow();

  // 0 = empty; else Tag << kRefBits | ref, where ref = block << block_bits_
  // | offset with blocks counted from 1 (so no used slot is 0).
  const int block_bits_;
  PageArray<uint64_t> slots_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<size_t> block_used_;  // bytes of records in each block
  size_t block_bytes_ = 0;          // sum of the blocks' sizes
  uint32_t count_ = 0;              // keys held
  uint32_t next_number_;            // Intern's next
  std::vector<uint64_t> hashes_;    // InternAll's, reused
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_INTERNER_H_
