#include "ledger/hold_flow.h"

#include <algorithm>
#include <deque>

#include "util/assert.h"

namespace billsim {

uint32_t HoldFlow::AddSource(int64_t micros) {
  BILLSIM_ASSERT(micros >= 0 && may_use_.empty());
  room_.push_back(micros);
  return static_cast<uint32_t>(room_.size() - 1);
}

int64_t HoldFlow::AddHold(const std::vector<uint32_t>& sources, int64_t micros) {
  BILLSIM_ASSERT(micros >= 0);
  for (uint32_t s : sources) BILLSIM_ASSERT(s < room_.size());
  may_use_.push_back(sources);
  flow_.emplace_back(room_.size(), 0);
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
  const uint32_t holds = static_cast<uint32_t>(may_use_.size());
  const uint32_t start = holds - 1;
  constexpr uint32_t kNone = UINT32_MAX;
  std::vector<uint32_t> hold_via(holds, kNone);        // source it was reached by
  std::vector<uint32_t> source_from(room_.size(), kNone);  // hold it was reached from
  std::deque<uint32_t> queue{start};
  hold_via[start] = kNone - 1;  // visited, the root
  uint32_t found = kNone;
  while (!queue.empty() && found == kNone) {
    const uint32_t h = queue.front();
    queue.pop_front();
    for (uint32_t s : may_use_[h]) {
      if (source_from[s] != kNone) continue;
      source_from[s] = h;
      if (room_[s] > 0) {
        found = s;
        break;
      }
      for (uint32_t other = 0; other < holds; ++other) {
        if (hold_via[other] == kNone && flow_[other][s] > 0) {
          hold_via[other] = s;
          queue.push_back(other);
        }
      }
    }
  }
  if (found == kNone) return 0;
  // The bottleneck: the room at the end, and each draw that moves.
  int64_t amount = std::min(want, room_[found]);
  for (uint32_t s = found, h = source_from[s]; h != start;
       s = hold_via[h], h = source_from[s]) {
    amount = std::min(amount, flow_[h][hold_via[h]]);
  }
  // Walk back: each hold on the path draws `amount` from the source after
  // it instead of the one it was reached by.
  room_[found] -= amount;
  uint32_t s = found;
  uint32_t h = source_from[s];
  while (true) {
    flow_[h][s] += amount;
    if (h == start) break;
    const uint32_t from = hold_via[h];
    flow_[h][from] -= amount;
    BILLSIM_ASSERT(flow_[h][from] >= 0);
    s = from;
    h = source_from[s];
  }
  return amount;
}

}  // namespace billsim
