// IdSet: the set of applied event ids (R10), exact, as disjoint ranges.
//
// Producers number their events densely (1, 2, 3 ... per producer, or one
// block of ids per connection), so the ids applied so far form a few long
// runs. Keeping runs instead of ids makes memory follow the number of gaps,
// not the length of the log: a replay of 50 million dense events holds one
// range. Any id pattern is still exact; a scattered one just costs a range
// per id.
#ifndef BILLSIM_LEDGER_ID_SET_H_
#define BILLSIM_LEDGER_ID_SET_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <utility>

namespace billsim {

class IdSet {
 public:
  IdSet() = default;
  IdSet(const IdSet& other) : ranges_(other.ranges_), size_(other.size_), max_(other.max_) {
    Retail();
  }
  IdSet& operator=(const IdSet& other) {
    ranges_ = other.ranges_;
    size_ = other.size_;
    max_ = other.max_;
    Retail();
    return *this;
  }
  IdSet(IdSet&& other) noexcept { *this = std::move(other); }
  IdSet& operator=(IdSet&& other) noexcept {
    ranges_ = std::move(other.ranges_);
    size_ = other.size_;
    max_ = other.max_;
    Retail();
    other.ranges_.clear();
    other.size_ = other.max_ = 0;
    other.Retail();
    return *this;
  }

  bool Contains(uint64_t id) const {
    if (id > max_) return false;  // a new id of a dense producer: no search
    return ContainsSlow(id);
  }
  // REQUIRES: !Contains(id).
  void Insert(uint64_t id) {
    // The usual case, inline: the next id of a dense producer extends the
    // last run (which ends at max_).
    if (id == max_ + 1 && tail_ != ranges_.end()) {
      tail_->second = id;
      max_ = id;
      size_++;
      return;
    }
    InsertSlow(id);
  }
  // Adds the closed range [first, last]; for restoring a snapshot.
  // REQUIRES: first <= last, disjoint from and not adjacent to what is held.
  void InsertRange(uint64_t first, uint64_t last);

  // The smallest id >= `id` not held (runs are merged: one lookup); 0 if
  // every id from `id` to UINT64_MAX is held.
  uint64_t FirstAbsentFrom(uint64_t id) const {
    auto next = ranges_.upper_bound(id);
    if (next == ranges_.begin()) return id;
    const auto prev = std::prev(next);
    if (prev->second < id) return id;
    return prev->second == UINT64_MAX ? 0 : prev->second + 1;
  }

  uint64_t size() const { return size_; }           // ids
  size_t ranges() const { return ranges_.size(); }  // runs
  // Runs in increasing order, as first -> last (inclusive).
  const std::map<uint64_t, uint64_t>& runs() const { return ranges_; }

 private:
  bool ContainsSlow(uint64_t id) const;
  void InsertSlow(uint64_t id);
  void InsertRun(uint64_t id);  // the map work of InsertSlow
  void Retail() { tail_ = ranges_.empty() ? ranges_.end() : std::prev(ranges_.end()); }

  std::map<uint64_t, uint64_t> ranges_;  // first -> last, disjoint, sorted
  // The last run (end() when empty), kept so the usual Insert needs no
  // tree walk.
  std::map<uint64_t, uint64_t>::iterator tail_ = ranges_.end();
  uint64_t size_ = 0;
  // The largest id held (0 when empty): ids arrive mostly above it, and
  // those need no search.
  uint64_t max_ = 0;
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_ID_SET_H_
