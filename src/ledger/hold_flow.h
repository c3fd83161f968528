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
//
// One problem at a time, started by Clear: an object kept for reuse (the
// ledger keeps one) allocates nothing once its vectors have grown to an
// account's size, so an expiry or a day's turn that fits holds does not
// go to malloc.
#ifndef BILLSIM_LEDGER_HOLD_FLOW_H_
#define BILLSIM_LEDGER_HOLD_FLOW_H_

#include <cstdint>
#include <span>
#include <vector>

namespace billsim {

class HoldFlow {
 public:
  // Starts a new problem: no sources, no holds. Keeps the memory.
  void Clear();
  // A source with `micros` to give. Returns its index.
  // REQUIRES: no hold added since Clear.
  uint32_t AddSource(int64_t micros);
  // A hold that may draw on `sources` (indexes from AddSource) and wants
  // `micros`. Returns how much of it fits, 0 .. micros.
  int64_t AddHold(std::span<const uint32_t> sources, int64_t micros);

 private:
  // One augmenting path from the newest hold to a source with room, as much
  // as fits along it (at most `want`); 0 when there is none.
  int64_t Augment(int64_t want);
  uint32_t holds() const { return static_cast<uint32_t>(may_use_end_.size()); }
  // The sources hold `h` may use.
  std::span<const uint32_t> MayUse(uint32_t h) const {
    const uint32_t begin = h == 0 ? 0 : may_use_end_[h - 1];
    return std::span<const uint32_t>(may_use_).subspan(begin, may_use_end_[h] - begin);
  }
  // What hold `h` draws from source `s`.
  int64_t& Flow(uint32_t h, uint32_t s) { return flow_[size_t{h} * room_.size() + s]; }

  std::vector<int64_t> room_;           // per source
  std::vector<uint32_t> may_use_;       // every hold's sources, end to end
  std::vector<uint32_t> may_use_end_;   // per hold: where its sources end
  std::vector<int64_t> flow_;           // per hold, per source
  // Augment's, kept for their capacity.
  std::vector<uint32_t> hold_via_;      // per hold: the source it was reached by
  std::vector<uint32_t> source_from_;   // per source: the hold it was reached from
  std::vector<uint32_t> queue_;         // holds to visit (each at most once)
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_HOLD_FLOW_H_
