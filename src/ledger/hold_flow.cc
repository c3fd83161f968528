#include "ledger/hold_flow.h"

#include <algorithm>

#include "util/assert.h"

namespace billsim {

void HoldFlow::Clear() {
  room_.clear();
  may_use_.clear();
  may_use_end_.clear();
  flow_.clear();
}

uint32_t HoldFlow::AddSource(int64_t micros) {
  BILLSIM_ASSERT(micros >= 0 && may_use_end_.empty());
  room_.push_back(micros);
  return static_cast<uint32_t>(room_.size() - 1);
}

int64_t HoldFlow::AddHold(std::span<const uint32_t> sources, int64_t micros) {
  BILLSIM_ASSERT(micros >= 0);
  for (uint32_t s : sources) BILLSIM_ASSERT(s < room_.size());
  may_use_.insert(may_use_.end(), sources.begin(), sources.end());
  may_use_end_.push_back(static_cast<uint32_t>(may_use_.size()));
  flow_.resize(flow_.size() + room_.size(), 0);
  int64_t placed = 0;
  while (placed < micros) {
    const int64_t got = Augment(micros - placed);
    if (got == 0) break;
    placed += got;
  }
  BILLSIM_ASSERT(placed >= 0 && placed <= micros);
  return placed;
}

int64_t HoldFlow::Augment(int64_t want) {
  // Breadth-first over holds: from a hold, to any source it may use; from
  // a source without room, on to a hold that draws on it (which may move
  // that draw to another of its sources).
  const uint32_t n = holds();
  const uint32_t start = n - 1;
  constexpr uint32_t kNone = UINT32_MAX;
  hold_via_.assign(n, kNone);
  source_from_.assign(room_.size(), kNone);
  queue_.assign(1, start);
  hold_via_[start] = kNone - 1;  // visited, the root
  uint32_t found = kNone;
  for (size_t next = 0; next < queue_.size() && found == kNone;) {
    const uint32_t h = queue_[next++];
    for (uint32_t s : MayUse(h)) {
      if (source_from_[s] != kNone) continue;
      source_from_[s] = h;
      if (room_[s] > 0) {
        found = s;
        break;
      }
      for (uint32_t other = 0; other < n; ++other) {
        if (hold_via_[other] == kNone && Flow(other, s) > 0) {
          hold_via_[other] = s;
          queue_.push_back(other);
        }
      }
    }
  }
  if (found == kNone) return 0;
  // The bottleneck: the room at the end, and each draw that moves.
  int64_t amount = std::min(want, room_[found]);
  for (uint32_t s = found, h = source_from_[s]; h != start;
       s = hold_via_[h], h = source_from_[s]) {
    amount = std::min(amount, Flow(h, hold_via_[h]));
  }
  // Walk back: each hold on the path draws `amount` from the source after
  // it instead of the one it was reached by.
  room_[found] -= amount;
  uint32_t s = found;
  uint32_t h = source_from_[s];
  while (true) {
    Flow(h, s) += amount;
    if (h == start) break;
    const uint32_t from = hold_via_[h];
    Flow(h, from) -= amount;
    BILLSIM_ASSERT(Flow(h, from) >= 0);
    s = from;
    h = source_from_[s];
  }
  return amount;
}

}  // namespace billsim
