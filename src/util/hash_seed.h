// ProcessHashSeed: a random seed, the same for the whole process, for the
// hashes of in-memory tables keyed by input (IdIndex, Interner). A fixed
// hash would let a client choose ids that all land in one probe run and
// make every lookup walk it; with a seed it cannot know, it cannot. Nothing
// observable depends on it: no table's order is ever shown or stored.
#ifndef BILLSIM_UTIL_HASH_SEED_H_
#define BILLSIM_UTIL_HASH_SEED_H_

#include <cstdint>
#include <random>

namespace billsim {

inline uint64_t ProcessHashSeed() {
  static const uint64_t seed = [] {
    std::random_device rd;
    return uint64_t{rd()} << 32 | rd();
  }();
  return seed;
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_HASH_SEED_H_
