#include "ledger/id_set.h"

#include "util/assert.h"

namespace billsim {

bool IdSet::ContainsSlow(uint64_t id) const {
  if (ranges_.empty()) return false;
  auto next = ranges_.upper_bound(id);  // first run starting after id
  if (next == ranges_.begin()) return false;
  return std::prev(next)->second >= id;
}

void IdSet::InsertSlow(uint64_t id) {
  BILLSIM_ASSERT(!Contains(id));
  size_++;
  InsertRun(id);
  Retail();
}

void IdSet::InsertRun(uint64_t id) {
  if (id > max_ && !ranges_.empty()) {  // above everything: no search
    auto last = tail_;
    if (last->second + 1 == id) {
      last->second = id;
    } else {
      ranges_.emplace_hint(ranges_.end(), id, id);
    }
    max_ = id;
    return;
  }
  if (id > max_) max_ = id;
  auto next = ranges_.upper_bound(id);
  const bool joins_next = next != ranges_.end() && next->first == id + 1;
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->second + 1 == id) {  // extends the run before it: the usual case
      if (joins_next) {
        prev->second = next->second;
        ranges_.erase(next);
      } else {
        prev->second = id;
      }
      return;
    }
  }
  if (joins_next) {
    const uint64_t last = next->second;
    ranges_.erase(next);
    ranges_.emplace(id, last);
    return;
  }
  ranges_.emplace(id, id);
}

void IdSet::InsertRange(uint64_t first, uint64_t last) {
  BILLSIM_ASSERT(first <= last);
  BILLSIM_ASSERT(!Contains(first) && !Contains(last));
  ranges_.emplace(first, last);
  size_ += last - first + 1;
  if (last > max_) max_ = last;
  Retail();
}

}  // namespace billsim
