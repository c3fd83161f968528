// PairNumbering: numbers the (account, campaign) pairs a stream of decoded
// batches names, the same way in every batch, so that whoever applies the
// batches (BatchApplier) can keep what it learnt about a pair across
// batches without touching a string. Replay's read-ahead thread numbers
// the log's batches with it, the server's network thread a connection's
// appends; in both the numbering runs on a thread other than the one that
// applies, whose one core bounds the rate.
//
// A pair new to it gets the next number, from kFirstOther, densely in
// order of first appearance. Optionally (NumberCreations) the pair a
// CampaignCreated names, if new, gets the next of a second series instead:
// replay's, where that number is the created campaign's index.
//
// Bounded when told (set_max_pairs): past that many pairs, a new pair gets
// kNoPair (no number; the applier looks it up by its strings, as it would
// without numbering), so a client naming pairs that do not exist cannot
// grow it past the bound.
//
// Not thread-safe: one owner.
#ifndef BILLSIM_LOG_PAIR_NUMBERING_H_
#define BILLSIM_LOG_PAIR_NUMBERING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log/batch_codec.h"
#include "util/interner.h"

namespace billsim::log {

class PairNumbering {
 public:
  // The first number of pairs not numbered as creations.
  static constexpr uint32_t kFirstOther = 0x80000000;
  // No number (not a creation's pair, or past the bound).
  static constexpr uint32_t kNoPair = UINT32_MAX;
  static_assert(kNoPair == Interner::kNotFound);

  PairNumbering() = default;
  PairNumbering(const PairNumbering&) = delete;
  PairNumbering& operator=(const PairNumbering&) = delete;

  // From now on the k-th creation numbered (counting from 0) gives its pair,
  // if new, first + k (below kFirstOther; past it, the next other number).
  void NumberCreations(uint32_t first) {
    number_creations_ = true;
    next_created_ = first;
  }
  // At most `n` pairs numbered; new pairs past that get kNoPair.
  void set_max_pairs(size_t n) { max_pairs_ = n; }

  // Numbers the pairs `batch` names: (*dictionary)[i] for its dictionary
  // entry i, and (*created)[j] for its other event j: the pair a
  // CampaignCreated at position `first_position` or
  // later names, kNoPair for any other event (a creation before
  // first_position is neither numbered nor counted). A creation's pair is
  // numbered before the dictionary's, so a row of the same batch naming it
  // gets the creation's number.
  void Number(const BatchDecoder& batch, uint32_t first_position,
              std::vector<uint32_t>* dictionary, std::vector<uint32_t>* created);

  size_t size() const { return pairs_.size(); }

 private:
  void AddKey(std::string_view account, std::string_view campaign);
  // ids_[i] for keys [begin, begin + n), with numbers (or null).
  void NumberKeys(size_t begin, size_t n, const uint32_t* numbers);

  // Every pair numbered, by PairKey: about 44 bytes a pair at 10^6.
  Interner pairs_{Interner::kDefaultBlockBits, kFirstOther};
  bool number_creations_ = false;
  uint32_t next_created_ = 0;
  size_t max_pairs_ = SIZE_MAX;
  // Reused from batch to batch.
  std::string keys_;  // the batch's keys (PairKey's), end to end
  std::vector<size_t> key_ends_;
  std::vector<std::string_view> key_views_;
  std::vector<uint32_t> numbers_;     // the creations' numbers, if new
  std::vector<uint32_t> ids_;         // the keys' numbers
  std::vector<uint32_t> created_at_;  // other-event index of each creation
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_PAIR_NUMBERING_H_
