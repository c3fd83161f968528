// StringTable: keeps one copy of each distinct string and names it by a
// dense 4-byte index, in order of first appearance (0 is the empty string).
// The ledger's account currencies, campaign status reasons, grant programs
// and the origins its campaigns' landing pages share.
//
// Compact when large, so a table may hold as many strings as a book has
// campaigns: the strings are packed in a StringList (8 bytes an entry
// beside its bytes) and found through an IdIndex over it (8-byte slots, at
// most 3/4 full), 20 to 25 bytes a string beside its bytes, where a
// std::string and a hash map's copy of it took 80 to 120. (A table's first
// string costs a 4 KiB pool block and a 512-byte index.)
//
// Movable: the index goes along, handed to its new owner.
#ifndef BILLSIM_UTIL_STRING_TABLE_H_
#define BILLSIM_UTIL_STRING_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "util/assert.h"
#include "util/id_index.h"
#include "util/string_pool.h"

namespace billsim {

class StringTable {
 public:
  static constexpr uint32_t kNotFound = IdIndex::kNotFound;

  StringTable() { strings_.push_back({}); }
  StringTable(StringTable&& other)
      : strings_(std::move(other.strings_)), index_(std::move(other.index_), this) {
    other.Reset();
  }
  StringTable& operator=(StringTable&& other) {
    if (this != &other) {
      strings_ = std::move(other.strings_);
      index_.TakeFrom(std::move(other.index_));
      other.Reset();
    }
    return *this;
  }
  StringTable(const StringTable&) = delete;
  StringTable& operator=(const StringTable&) = delete;

  // The index of `s`, added if it is new.
  uint32_t Intern(std::string_view s) {
    const uint32_t i = Find(s);
    if (i != kNotFound) return i;
    BILLSIM_ASSERT(strings_.size() < kNotFound);
    const uint32_t added = static_cast<uint32_t>(strings_.size());
    strings_.push_back(s);
    index_.Insert(added);
    return added;
  }
  // The index of `s`, or kNotFound; adds nothing.
  uint32_t Find(std::string_view s) const { return s.empty() ? 0 : index_.Find(s); }
  // REQUIRES: i < size().
  std::string_view Get(uint32_t i) const { return strings_[i]; }
  // Strings held, the empty one included.
  size_t size() const { return strings_.size(); }

 private:
  static std::string_view IdOf(const void* self, uint32_t i) {
    return static_cast<const StringTable*>(self)->strings_[i];
  }
  void Reset() {
    strings_.clear();
    index_.Clear();
    strings_.push_back({});
  }

  StringList strings_;  // [0] is the empty string, which index_ leaves out
  IdIndex index_{this, &IdOf};
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_STRING_TABLE_H_
