// ChunkedVector: a vector of T in fixed-size chunks, for the ledger's
// per-entity state. Growing never moves an element (no doubling copy, no
// transient second copy of the whole book: peak memory follows the size),
// and an index costs one more load from a small table (a few hundred
// pointers for ten million elements) than a std::vector's.
//
// Only what the ledger needs: append, index, iterate, clear.
#ifndef BILLSIM_LEDGER_CHUNKED_VECTOR_H_
#define BILLSIM_LEDGER_CHUNKED_VECTOR_H_

#include <cstddef>
#include <iterator>
#include <memory>
#include <vector>

#include "util/assert.h"

namespace billsim {

template <typename T, size_t kChunkBits = 14>
class ChunkedVector {
 public:
  static constexpr size_t kChunk = size_t{1} << kChunkBits;

  ChunkedVector() = default;
  ChunkedVector(ChunkedVector&&) noexcept = default;
  ChunkedVector& operator=(ChunkedVector&&) noexcept = default;
  ChunkedVector(const ChunkedVector&) = delete;
  ChunkedVector& operator=(const ChunkedVector&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](size_t i) {
    return chunks_[i >> kChunkBits][i & (kChunk - 1)];
  }
  const T& operator[](size_t i) const {
    return chunks_[i >> kChunkBits][i & (kChunk - 1)];
  }
  T& back() {
    BILLSIM_ASSERT(size_ > 0);
    return (*this)[size_ - 1];
  }

  // Appends a default-constructed T and returns it.
  T& emplace_back() {
    if ((size_ & (kChunk - 1)) == 0 && (size_ >> kChunkBits) == chunks_.size()) {
      chunks_.push_back(std::make_unique<T[]>(kChunk));
    }
    return (*this)[size_++];
  }

  void clear() {
    chunks_.clear();
    size_ = 0;
  }

  template <bool kConst>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using Owner = std::conditional_t<kConst, const ChunkedVector, ChunkedVector>;
    using reference = std::conditional_t<kConst, const T&, T&>;
    using pointer = std::conditional_t<kConst, const T*, T*>;
    Iterator() = default;
    Iterator(Owner* owner, size_t i) : owner_(owner), i_(i) {}
    reference operator*() const { return (*owner_)[i_]; }
    pointer operator->() const { return &(*owner_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    Owner* owner_ = nullptr;
    size_t i_ = 0;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_CHUNKED_VECTOR_H_
