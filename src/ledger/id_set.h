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
#include <map>

namespace billsim {

class IdSet {
 public:
  bool Contains(uint64_t id) const;
  // REQUIRES: !Contains(id).
  void Insert(uint64_t id);
  // Adds the closed range [first, last]; for restoring a snapshot.
  // REQUIRES: first <= last, disjoint from and not adjacent to what is held.
  void InsertRange(uint64_t first, uint64_t last);

  uint64_t size() const { return size_; }           // ids
  size_t ranges() const { return ranges_.size(); }  // runs
  // Runs in increasing order, as first -> last (inclusive).
  const std::map<uint64_t, uint64_t>& runs() const { return ranges_; }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // first -> last, disjoint, sorted
  uint64_t size_ = 0;
  // The largest id held (0 when empty): ids arrive mostly above it, and
  // those need no search.
  uint64_t max_ = 0;
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_ID_SET_H_
