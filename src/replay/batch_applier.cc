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

Ledger::Result BatchApplier::Apply(const log::DeliveryRow& row, EntrySink* sink) {
  if (row.row + kPrefetchRows < decoder_->delivery_rows()) {
    const Resolved& ahead = Resolve(decoder_->delivery_campaign(row.row + kPrefetchRows));
    if (ahead.campaign != kNoIndex) ledger_->PrefetchDelivery(ahead.campaign, ahead.account);
  }
  const uint32_t campaign = Resolve(row.campaign).campaign;
  if (campaign == kNoIndex) return ledger_->Apply(decoder_->ToEvent(row), sink);
  return ledger_->ApplyDelivery(
      {row.event_id, row.time_us, campaign, row.kind, row.count, row.platform_fault}, sink);
}

}  // namespace billsim
