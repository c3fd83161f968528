// ChunkedVector: a vector of T in fixed-size chunks, for the ledger's
// per-entity state. Growing never moves an element (no doubling copy, no
// transient second copy of the whole book: peak memory follows the size),
// and an index costs one more load from a small table (a few hundred
// pointers for ten million elements) than a std::vector's.
//
// The first chunk grows as a std::vector does (moving its elements), so a
// small book does not pay for a whole chunk; from the second chunk on,
// nothing moves. Like std::vector, appending may invalidate references
// into the first chunk. A chunk's elements are all constructed when it is
// made, in a block from AllocateZeroed (util/pages.h): a large chunk's
// pages are made resident in one call, not faulted in one by one.
//
// Only what the ledger needs: append, index, iterate, clear.
#ifndef BILLSIM_UTIL_CHUNKED_VECTOR_H_
#define BILLSIM_UTIL_CHUNKED_VECTOR_H_

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "util/assert.h"
#include "util/pages.h"

namespace billsim {

template <typename T, size_t kChunkBits = 14>
class ChunkedVector {
 public:
  static constexpr size_t kChunk = size_t{1} << kChunkBits;

  ChunkedVector() = default;
  ChunkedVector(ChunkedVector&& o) noexcept { *this = std::move(o); }
  ChunkedVector& operator=(ChunkedVector&& o) noexcept {
    chunks_ = std::move(o.chunks_);
    size_ = std::exchange(o.size_, 0);
    first_capacity_ = std::exchange(o.first_capacity_, 0);
    o.chunks_.clear();
    return *this;
  }
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
    if (size_ < kChunk) {
      if (size_ == first_capacity_) GrowFirst();
    } else if ((size_ & (kChunk - 1)) == 0 && (size_ >> kChunkBits) == chunks_.size()) {
      chunks_.emplace_back(kChunk);
    }
    return (*this)[size_++];
  }

  void clear() {
    chunks_.clear();
    size_ = 0;
    first_capacity_ = 0;
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
  void GrowFirst() {
    const size_t capacity = first_capacity_ == 0 ? 16 : std::min(kChunk, 2 * first_capacity_);
    Chunk bigger(capacity);
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move(chunks_[0][i]);
    if (chunks_.empty()) {
      chunks_.push_back(std::move(bigger));
    } else {
      chunks_[0] = std::move(bigger);
    }
    first_capacity_ = capacity;
  }

  // n value-initialized T in a block of their own.
  class Chunk {
   public:
    explicit Chunk(size_t n)
        : data_(static_cast<T*>(AllocateZeroed(n * sizeof(T), alignof(T)))), n_(n) {
      try {
        std::uninitialized_value_construct_n(data_, n);
      } catch (...) {
        FreeZeroed(data_, n * sizeof(T), alignof(T));
        throw;
      }
    }
    ~Chunk() { Release(); }
    Chunk(Chunk&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), n_(std::exchange(o.n_, 0)) {}
    Chunk& operator=(Chunk&& o) noexcept {
      if (this != &o) {
        Release();
        data_ = std::exchange(o.data_, nullptr);
        n_ = std::exchange(o.n_, 0);
      }
      return *this;
    }
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;
    T& operator[](size_t i) const { return data_[i]; }

   private:
    void Release() {
      if (data_ == nullptr) return;
      std::destroy_n(data_, n_);
      FreeZeroed(data_, n_ * sizeof(T), alignof(T));
      data_ = nullptr;
    }
    T* data_;
    size_t n_;
  };

  std::vector<Chunk> chunks_;
  size_t size_ = 0;
  size_t first_capacity_ = 0;  // of chunks_[0]: up to kChunk
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_CHUNKED_VECTOR_H_
