#include "replay/batch_applier.h"

#include "util/assert.h"

namespace billsim {

void BatchApplier::Start(const log::BatchDecoder* decoder,
                         const std::vector<uint32_t>* stable_ids) {
  decoder_ = decoder;
  stable_ids_ = stable_ids;
  if (stable_ids_ == nullptr) {
    resolved_.assign(decoder->dictionary_size(), Resolved{});
    return;
  }
  BILLSIM_ASSERT(stable_ids_->size() == decoder->dictionary_size());
  for (uint32_t id : *stable_ids_) {
    if (id >= by_stable_.size()) by_stable_.resize(id + 1);
  }
}

const BatchApplier::Resolved& BatchApplier::Find(uint32_t dict, Resolved& r) {
  const uint32_t c = ledger_->FindCampaign(decoder_->campaign(dict));
  if (c == kNoIndex) return r;
  const uint32_t a = ledger_->campaigns()[c].account;
  if (ledger_->accounts()[a].id == decoder_->account(dict)) r = Resolved{c, a};
  return r;
}

}  // namespace billsim
