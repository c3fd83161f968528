// HoldFlow: which campaign holds an account's funding sources can back at
// once (R4 with coupons, R6).
//
// A hold is not tied to a source, but it must be fundable: with coupons
// (grants for some campaigns only), a campaign can be held only from cash,
// account-wide grants and its own coupons. Whether a set of holds fits is a
// flow problem: holds draw on the sources they may use, no source gives more
// than it has. HoldFlow answers it incrementally: holds are added one at a
// time, in priority order (earliest-enabled first), and each gets as much
// as still fits, moving earlier holds between their sources where that
// makes room but never shrinking them. Adding in priority order is what
// makes the answer right for every hold at once: a later hold never gets
// what an earlier one could have used.
//
// Sizes are an account's: a few sources and holding campaigns. Each Add is
// a breadth-first search for augmenting paths, O(holds * sources) a path.
#ifndef BILLSIM_LEDGER_HOLD_FLOW_H_
#define BILLSIM_LEDGER_HOLD_FLOW_H_

#include <cstdint>
#include <vector>

namespace billsim {

class HoldFlow {
 public:
  // A source with `micros` to give. Returns its index.
  uint32_t AddSource(int64_t micros);
  // A hold that may draw on `sources` (indexes from AddSource) and wants
  // `micros`. Returns how much of it fits, 0 .. micros.
  int64_t AddHold(const std::vector<uint32_t>& sources, int64_t micros);

 private:
  // One augmenting path from the newest hold to a source with room, as much
  // as fits along it (at most `want`); 0 when there is none.
  int64_t Augment(int64_t want);

  std::vector<int64_t> room_;                   // per source
  std::vector<std::vector<uint32_t>> may_use_;  // per hold: its sources
  std::vector<std::vector<int64_t>> flow_;      // per hold, per source
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_HOLD_FLOW_H_
