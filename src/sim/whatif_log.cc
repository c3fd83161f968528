#include "sim/whatif_log.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <vector>

#include "log/log_check.h"
#include "log/read_ahead.h"
#include "replay/batch_applier.h"
#include "replay/snapshot_store.h"

namespace billsim::sim {

namespace {

// Applies one decoded batch to both sides: deliveries through a BatchApplier
// each (the what-if's skips those its drop filters match), other events
// through WhatIf::Apply.
class WhatIfVisitor final : public log::BatchVisitor {
 public:
  explicit WhatIfVisitor(WhatIf* w)
      : w_(w), actual_(&w->actual()), what_if_(&w->what_if()) {}

  void Start(uint64_t first_seq, const log::BatchDecoder* decoder,
             const std::vector<uint32_t>* stable_ids, const std::vector<uint32_t>* created_ids) {
    first_seq_ = first_seq;
    decoder_ = decoder;
    created_ids_ = created_ids;
    other_ = 0;
    actual_.Start(decoder, stable_ids);
    what_if_.Start(decoder, stable_ids);
  }

  bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
    const uint64_t seq = first_seq_ + position;
    if (seq <= last_seq) return true;  // the snapshot holds it
    if (!Ok(w_->Before(seq, row.time_us))) return false;
    if (!Ok(w_->CheckActual(actual_.Apply(row, w_->actual_sink())))) return false;
    Counterfactual& cf = w_->counterfactual();
    if (cf.drops_any() && cf.Active(seq, row.time_us) &&
        cf.DropsDelivery(row.time_us, decoder_->campaign(row.campaign), row.kind,
                         row.platform_fault)) {
      cf.CountDroppedDelivery();
    } else {
      w_->NoteWhatIf(what_if_.Apply(row, w_->what_if_sink()));
    }
    w_->After();
    last_seq = seq;
    return true;
  }

  bool OnEvent(uint32_t position, const v1::Event& event) override {
    const uint32_t other = other_++;
    const uint64_t seq = first_seq_ + position;
    if (seq <= last_seq) return true;
    const size_t campaigns = w_->actual().campaigns().size();
    uint32_t created = kNoIndex;
    if (!Ok(w_->Apply(seq, event, &created))) return false;
    // A CampaignCreated's pair: a later delivery naming it needs no lookup.
    const uint32_t pair = (*created_ids_)[other];
    if (pair != log::ReadAheadStream::kNoPair) {
      if (w_->actual().campaigns().size() != campaigns) {
        actual_.Created(pair, static_cast<uint32_t>(campaigns));
      }
      if (created != kNoIndex) what_if_.Created(pair, created);
    }
    last_seq = seq;
    return true;
  }

  const Status& error() const { return error_; }
  uint64_t last_seq = 0;

 private:
  bool Ok(const Status& st) {
    if (st.ok()) return true;
    error_ = st;
    return false;
  }

  WhatIf* w_;
  BatchApplier actual_;
  BatchApplier what_if_;
  const log::BatchDecoder* decoder_ = nullptr;
  uint64_t first_seq_ = 0;
  const std::vector<uint32_t>* created_ids_ = nullptr;
  uint32_t other_ = 0;
  Status error_;
};

}  // namespace

Status RunWhatIf(const std::string& dir, const ChangeSet& changes, const WhatIfLogOptions& options,
                 WhatIfResult* result) {
  const bool from_given = options.from_seq > 0 || options.from_us != INT64_MAX;
  const uint64_t from_seq = from_given ? (options.from_seq > 0 ? options.from_seq : UINT64_MAX) : 1;
  WhatIf w(changes, from_seq, options.from_us, /*strict=*/true);
  uint64_t snapshot_seq = 0;
  if (from_given) {
    // The newest snapshot before the start point, into both sides.
    const uint64_t max_seq =
        options.from_seq > 0 ? options.from_seq - 1 : std::numeric_limits<uint64_t>::max();
    const int64_t max_us = options.from_us != INT64_MAX ? options.from_us - 1 : INT64_MAX;
    Status st = LoadNewestSnapshot(dir, max_seq, max_us, &w.actual(), &snapshot_seq);
    uint64_t again = 0;
    if (st.ok() && snapshot_seq > 0) st = LoadNewestSnapshot(dir, max_seq, max_us, &w.what_if(), &again);
    if (st.ok() && snapshot_seq > 0) {
      uint64_t checked = 0;
      st = log::CheckBatches(dir, snapshot_seq, nullptr, &checked);
      if (!st.ok()) {
        st = Status::Corruption("damage in the part of the log behind the snapshot at sequence " +
                                std::to_string(snapshot_seq) + ": " + st.message());
      }
    }
    if (!st.ok()) return st;
    if (snapshot_seq > 0) spdlog::info("what-if from the snapshot at sequence {}", snapshot_seq);
  }
  log::ReadAheadStream stream;
  Status st = stream.Open(dir, log::LogReader::Options{}, snapshot_seq + 1);
  if (!st.ok()) return st;
  WhatIfVisitor visitor(&w);
  visitor.last_seq = snapshot_seq;
  for (;;) {
    bool done = false;
    st = stream.Next(&done);
    if (!st.ok()) return st;
    if (done) break;
    visitor.Start(stream.header().first_seq, &stream.decoder(), &stream.stable_ids(),
                  &stream.created_ids());
    stream.decoder().VisitWith(&visitor);
    if (!visitor.error().ok()) return visitor.error();
    if (options.progress) options.progress(visitor.last_seq);
  }
  if (!stream.tail_fault().empty()) spdlog::warn("torn tail ignored: {}", stream.tail_fault());
  st = w.Finish(options.account, result);
  if (!st.ok()) return st;
  result->changes = changes.described;
  return Status::Ok();
}

}  // namespace billsim::sim
