// PageArray: a fixed-size array of zeroed trivially copyable T, for large
// tables that are replaced whole as they grow (a hash table's slots). Its
// block comes from AllocateZeroed (util/pages.h): when large, a mapping of
// its own, resident at once.
//
// Why not std::vector: glibc serves a large block from a mapping of its own
// and, when such a block is freed, raises its threshold for doing so to the
// block's size (up to 32 MiB). A growing table frees ever larger blocks, so
// the rest of the program's blocks below that size then come from the heap,
// where freed ones stay resident: replaying 10^6 campaigns kept 36 bytes a
// campaign more than it used. A large PageArray's memory never passes
// through malloc, and goes back to the system when it is destroyed.
#ifndef BILLSIM_UTIL_PAGE_ARRAY_H_
#define BILLSIM_UTIL_PAGE_ARRAY_H_

#include <cstddef>
#include <type_traits>
#include <utility>

#include "util/pages.h"

namespace billsim {

template <typename T>
class PageArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  PageArray() = default;
  // n elements, all bits zero. Throws std::bad_alloc if the system has no
  // room, as std::vector would.
  explicit PageArray(size_t n) : size_(n) {
    if (n == 0) return;
    data_ = static_cast<T*>(AllocateZeroed(n * sizeof(T), alignof(T)));
  }
  ~PageArray() { Release(); }
  PageArray(PageArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  PageArray& operator=(PageArray&& other) noexcept {
    if (this != &other) {
      Release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  PageArray(const PageArray&) = delete;
  PageArray& operator=(const PageArray&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  void Release() {
    FreeZeroed(data_, size_ * sizeof(T), alignof(T));
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_PAGE_ARRAY_H_
