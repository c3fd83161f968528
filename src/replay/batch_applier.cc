#include "replay/batch_applier.h"

#include "util/assert.h"

namespace billsim {

void BatchApplier::Start(const log::BatchDecoder* decoder) {
  decoder_ = decoder;
  resolved_.assign(decoder->dictionary_size(), Resolved{});
}

const BatchApplier::Resolved& BatchApplier::Resolve(uint32_t dict) {
  BILLSIM_ASSERT(dict < resolved_.size());
  Resolved& r = resolved_[dict];
  if (r.campaign != kNoIndex) return r;
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
