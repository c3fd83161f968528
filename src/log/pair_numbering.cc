#include "log/pair_numbering.h"

namespace billsim::log {

void PairNumbering::AddKey(std::string_view account, std::string_view campaign) {
  AppendPairKey(account, campaign, &keys_);
  key_ends_.push_back(keys_.size());
}

void PairNumbering::NumberKeys(size_t begin, size_t n, const uint32_t* numbers) {
  if (pairs_.size() + n <= max_pairs_) {
    // Every key at once, so that the lookups overlap their loads: a large
    // book's pairs are all cache misses.
    pairs_.InternAll(key_views_.data() + begin, n, numbers, ids_.data() + begin);
    return;
  }
  // At the bound: one at a time, the new ones numbered while there is room.
  for (size_t i = 0; i < n; ++i) {
    const std::string_view key = key_views_[begin + i];
    if (pairs_.size() < max_pairs_) {
      pairs_.InternAll(&key, 1, numbers != nullptr ? numbers + i : nullptr, &ids_[begin + i]);
    } else {
      ids_[begin + i] = pairs_.Find(key);  // kNoPair if new
    }
  }
}

void PairNumbering::Number(const BatchDecoder& batch, uint32_t first_position,
                           std::vector<uint32_t>* dictionary, std::vector<uint32_t>* created) {
  keys_.clear();
  key_ends_.clear();
  created_at_.clear();
  numbers_.clear();
  const uint32_t others = batch.other_events();
  for (uint32_t i = 0; i < others; ++i) {
    const v1::Event& e = batch.other_event(i);
    if (!e.has_campaign_created() || batch.other_position(i) < first_position) continue;
    AddKey(e.campaign_created().account_id(), e.campaign_created().campaign_id());
    created_at_.push_back(i);
    // (Past kFirstOther - 1 creations, which no book reaches, a new pair
    // takes the next other number instead.)
    const bool indexed = number_creations_ && next_created_ < kFirstOther;
    numbers_.push_back(indexed ? next_created_++ : Interner::kNotFound);
  }
  const size_t creations = created_at_.size();
  const uint32_t n = batch.dictionary_size();
  for (uint32_t i = 0; i < n; ++i) AddKey(batch.account(i), batch.campaign(i));
  key_views_.clear();
  for (size_t i = 0; i < key_ends_.size(); ++i) {
    const size_t begin = i == 0 ? 0 : key_ends_[i - 1];
    key_views_.push_back(std::string_view(keys_).substr(begin, key_ends_[i] - begin));
  }
  ids_.resize(key_views_.size());
  NumberKeys(0, creations, numbers_.data());
  NumberKeys(creations, n, nullptr);
  dictionary->assign(ids_.begin() + static_cast<ptrdiff_t>(creations), ids_.end());
  created->assign(others, kNoPair);
  for (size_t k = 0; k < creations; ++k) (*created)[created_at_[k]] = ids_[k];
}

}  // namespace billsim::log
