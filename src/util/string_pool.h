// StringPool: strings written once and kept for the ledger's life (ids,
// landing page URLs), packed end to end in large blocks, each named by an
// 8-byte handle instead of a 32-byte std::string plus a heap block of its
// own. Each is stored as its length (a varint: one byte below 128) and its
// bytes. Nothing is ever removed; a string that changes (a status reason)
// belongs in a StringTable instead, or the pool would grow with the log.
//
// Interned: StringTable (string_table.h) keeps one copy of each distinct
// string, named by a 4-byte index.
#ifndef BILLSIM_UTIL_STRING_POOL_H_
#define BILLSIM_UTIL_STRING_POOL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/assert.h"
#include "util/chunked_vector.h"
#include "util/page_array.h"
#include "util/varint.h"

namespace billsim {

class StringPool {
 public:
  using Handle = uint64_t;
  static constexpr Handle kEmpty = 0;  // the empty string, stored nowhere

  StringPool() = default;
  StringPool(StringPool&&) noexcept = default;
  StringPool& operator=(StringPool&&) noexcept = default;

  Handle Add(std::string_view s) {
    if (s.empty()) return kEmpty;
    BILLSIM_ASSERT(s.size() <= UINT32_MAX);
    const uint32_t n = static_cast<uint32_t>(s.size());
    const Handle h = Reserve(VarintLength(n) + s.size());
    std::memcpy(EncodeVarint(&blocks_.back()[h & 0xffffffffu], n), s.data(), s.size());
    return h;
  }

  std::string_view Get(Handle h) const {
    if (h == kEmpty) return {};
    uint32_t n;
    const char* at = DecodeVarint32(&blocks_[(h >> 32) - 1][h & 0xffffffffu], &n);
    return {at, n};
  }

  // Two strings under one handle, stored end to end (a campaign's id and
  // landing page: one 8-byte handle where two took 16). First(h) is Get(h);
  // Second(h) the string stored after it. Never kEmpty, even for two empty
  // strings.
  Handle AddPair(std::string_view first, std::string_view second) {
    BILLSIM_ASSERT(first.size() <= UINT32_MAX && second.size() <= UINT32_MAX);
    const uint32_t n1 = static_cast<uint32_t>(first.size());
    const uint32_t n2 = static_cast<uint32_t>(second.size());
    const Handle h = Reserve(VarintLength(n1) + first.size() + VarintLength(n2) + second.size());
    char* at = EncodeVarint(&blocks_.back()[h & 0xffffffffu], n1);
    if (n1 > 0) std::memcpy(at, first.data(), n1);  // (an empty view's data may be null)
    at = EncodeVarint(at + n1, n2);
    if (n2 > 0) std::memcpy(at, second.data(), n2);
    return h;
  }
  std::string_view First(Handle h) const { return Get(h); }
  // REQUIRES: h from AddPair.
  std::string_view Second(Handle h) const {
    const std::string_view first = Get(h);
    uint32_t n;
    const char* at = DecodeVarint32(first.data() + first.size(), &n);
    return {at, n};
  }

  uint64_t bytes() const { return bytes_; }

 private:
  // Room for `need` bytes at the end of the last block: their handle
  // (block numbers count from 1, so that no handle is kEmpty).
  Handle Reserve(size_t need) {
    if (blocks_.empty() || used_ + need > blocks_.back().size()) {
      // Blocks double up to kBlock, so a small pool is small and a large
      // one leaves at most kBlock unused; a string longer than that gets a
      // block of its own.
      const size_t next = blocks_.empty() ? kFirstBlock : std::min(kBlock, 2 * block_size_);
      block_size_ = std::max(next, need);
      blocks_.emplace_back(block_size_);
      used_ = 0;
    }
    const Handle h = (static_cast<uint64_t>(blocks_.size()) << 32) | used_;
    used_ += need;
    bytes_ += need;
    return h;
  }

  static constexpr size_t kFirstBlock = size_t{4} << 10;
  static constexpr size_t kBlock = size_t{256} << 10;
  // PageArray: a large block is resident at once (util/pages.h); it fills
  // from the front, so at most one block's pages wait unused.
  std::vector<PageArray<char>> blocks_;
  size_t block_size_ = 0;  // the last block's
  size_t used_ = 0;
  uint64_t bytes_ = 0;
};

// StringList: an append-only list of strings by index, packed in a
// StringPool: 8 bytes an entry beside its bytes, where a std::string takes
// 32 (and a heap block past 15 bytes), and no reallocation of the whole
// list as it grows (a copy of a book's campaign ids is millions of them).
class StringList {
 public:
  void push_back(std::string_view s) { handles_.emplace_back() = pool_.Add(s); }
  std::string_view operator[](size_t i) const { return pool_.Get(handles_[i]); }
  size_t size() const { return handles_.size(); }
  void clear() {
    pool_ = StringPool();
    handles_.clear();
  }

 private:
  StringPool pool_;
  ChunkedVector<StringPool::Handle> handles_;
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_STRING_POOL_H_
