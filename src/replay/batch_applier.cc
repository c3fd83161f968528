#include "replay/batch_applier.h"

#include "util/assert.h"

namespace billsim {

void BatchApplier::Start(const log::BatchDecoder* decoder,
                         const std::vector<uint32_t>* stable_ids) {
  decoder_ = decoder;
  stable_ids_ = stable_ids;
  ahead_ = {};  // rows of another batch
  deep_ = ledger_->campaigns().size() >= kDeepPrefetchFrom;
  if (stable_ids_ == nullptr) {
    ResolveAll();
    return;
  }
  BILLSIM_ASSERT(stable_ids_->size() == decoder->dictionary_size());
  ResolveNew();
}

void BatchApplier::ResolveNew() {
  // The pairs of the dictionary not known yet (not indexes, not found in
  // an earlier batch), looked up together with their loads overlapped, as
  // ResolveAll does: after a server's restart, or a replay's snapshot,
  // every pair is new once.
  const uint32_t n = decoder_->dictionary_size();
  resolved_.assign(n, Resolved{});
  names_.clear();
  missing_.clear();
  const std::vector<uint32_t>& ids = *stable_ids_;
  auto kept = [this](uint32_t id) {  // a pair remembered across batches
    return !IsIndex(id) && id != log::PairNumbering::kNoPair;
  };
  constexpr uint32_t kAhead = 16;
  for (uint32_t i = 0; i < n; ++i) {
    if (i + kAhead < n && kept(ids[i + kAhead])) __builtin_prefetch(&Slot(ids[i + kAhead]));
    const uint32_t id = ids[i];
    if (IsIndex(id) || (kept(id) && Slot(id).campaign != kNoIndex)) continue;
    names_.push_back(decoder_->campaign(i));
    missing_.push_back(i);
  }
  found_.resize(names_.size());
  ledger_->FindCampaigns(names_.data(), names_.size(), found_.data());
  for (size_t k = 0; k < missing_.size(); ++k) {
    const uint32_t i = missing_[k];
    Accept(i, found_[k], kept(ids[i]) ? Slot(ids[i]) : resolved_[i]);
  }
}

void BatchApplier::ResolveAll() {
  // Every pair of the dictionary at once (a server's batch names thousands
  // of campaigns, each lookup three cache misses in a large book), with
  // the loads overlapped: the campaigns by id, then each found campaign's
  // account (its line 8 pairs ahead, the account's id 4 ahead). What is
  // not found now is looked up again when a row needs it (Resolve): an
  // event of this batch may create it.
  const uint32_t n = decoder_->dictionary_size();
  resolved_.assign(n, Resolved{});
  names_.resize(n);
  for (uint32_t i = 0; i < n; ++i) names_[i] = decoder_->campaign(i);
  found_.resize(n);
  ledger_->FindCampaigns(names_.data(), n, found_.data());
  const auto& campaigns = ledger_->campaigns();
  const auto& accounts = ledger_->accounts();
  for (uint32_t i = 0; i < n; ++i) {
    if (i + 8 < n && found_[i + 8] != kNoIndex) __builtin_prefetch(&campaigns[found_[i + 8]]);
    if (i + 4 < n && found_[i + 4] != kNoIndex) {
      __builtin_prefetch(&accounts[campaigns[found_[i + 4]].account].id_and_name);
    }
    Accept(i, found_[i], resolved_[i]);
  }
}

void BatchApplier::PrefetchDeep(const log::DeliveryRow& row) {
  // Rows are a few seconds apart: a timer due by this row's time is
  // (almost always) due by that row's.
  const uint32_t rows = decoder_->delivery_rows();
  // (A row whose campaign was not found when its lines were loaded is not
  // loaded here.)
  if (row.row + kPrefetchRows / 2 < rows) {
    const Resolved ahead = Known(row.row + kPrefetchRows / 2);
    if (ahead.campaign != kNoIndex) ledger_->PrefetchDeliveryLists(ahead.campaign, row.time_us);
  }
  if (row.row + kPrefetchRows / 4 < rows) {
    const Resolved ahead = Known(row.row + kPrefetchRows / 4);
    if (ahead.campaign != kNoIndex) {
      ledger_->PrefetchDeliveryItems(ahead.account, row.time_us);
    }
  }
}

const BatchApplier::Resolved& BatchApplier::Find(uint32_t dict, Resolved& r) {
  Accept(dict, ledger_->FindCampaign(decoder_->campaign(dict)), r);
  return r;
}

void BatchApplier::Accept(uint32_t dict, uint32_t campaign, Resolved& r) const {
  if (campaign == kNoIndex) return;
  const uint32_t a = ledger_->campaigns()[campaign].account;
  if (ledger_->account_id(a) == decoder_->account(dict)) r = Resolved{campaign, a};
}

}  // namespace billsim
