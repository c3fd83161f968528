#include "replay/replayer.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "log/event_stream.h"
#include "replay/snapshot_store.h"

namespace billsim {

namespace {

// Applies one decoded batch to the ledger, in order, resolving the batch's
// campaign dictionary to ledger indexes as rows first name them.
class ApplyVisitor : public log::BatchVisitor {
 public:
  ApplyVisitor(Ledger* ledger, const log::BatchDecoder* decoder,
               const ReplayOptions& options)
      : ledger_(ledger), decoder_(decoder), options_(options) {}

  void Start(uint64_t first_seq) {
    first_seq_ = first_seq;
    resolved_.assign(decoder_->dictionary_size(), kUnresolved);
  }

  bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
    switch (Admit(position, row.time_us)) {
      case kSkip: return true;
      case kStop: return false;
      case kApply: break;
    }
    uint32_t& campaign = resolved_[row.campaign];
    if (campaign == kUnresolved) campaign = Resolve(row.campaign);
    Ledger::Result r;
    if (campaign == kNoIndex) {
      r = ledger_->Apply(decoder_->ToEvent(row), options_.sink);  // it refuses
    } else {
      r = ledger_->ApplyDelivery({row.event_id, row.time_us, campaign, row.kind,
                                  row.count, row.platform_fault},
                                 options_.sink);
    }
    return Check(r);
  }

  bool OnEvent(uint32_t position, const v1::Event& event) override {
    switch (Admit(position, event.time_us())) {
      case kSkip: return true;
      case kStop: return false;
      case kApply: break;
    }
    return Check(ledger_->Apply(event, options_.sink));
  }

  bool stopped() const { return stopped_; }
  uint64_t last_seq() const { return last_seq_; }
  uint64_t applied() const { return applied_; }
  const Status& error() const { return error_; }

 private:
  static constexpr uint32_t kUnresolved = kNoIndex - 1;

  enum Admission { kApply, kSkip, kStop };

  // Events a snapshot already holds (a batch can straddle it) are skipped;
  // the target ends the replay.
  Admission Admit(uint32_t position, int64_t time_us) {
    seq_ = first_seq_ + position;
    if (seq_ <= last_seq_) return kSkip;
    if (seq_ > options_.to_seq || time_us > options_.as_of_us) {
      stopped_ = true;
      return kStop;
    }
    if (options_.sink) options_.sink->seq = seq_;
    return kApply;
  }

  bool Check(const Ledger::Result& r) {
    last_seq_ = seq_;
    applied_++;
    if (r.outcome == Ledger::Outcome::kApplied) return true;
    error_ = Status::Corruption(
        "sequence " + std::to_string(seq_) + ": the log holds an event the ledger refuses (" +
        (r.outcome == Ledger::Outcome::kDuplicate ? std::string("duplicate id")
                                                  : r.reason) +
        "); the log was not written by this ledger");
    return false;
  }

  uint32_t Resolve(uint32_t dict) {
    const uint32_t c = ledger_->FindCampaign(decoder_->campaign(dict));
    if (c == kNoIndex) return kNoIndex;
    const uint32_t a = ledger_->campaigns()[c].account;
    return ledger_->accounts()[a].id == decoder_->account(dict) ? c : kNoIndex;
  }

 public:
  uint64_t last_seq_ = 0;  // set to the snapshot's sequence before starting

 private:
  Ledger* ledger_;
  const log::BatchDecoder* decoder_;
  const ReplayOptions& options_;
  std::vector<uint32_t> resolved_;
  uint64_t first_seq_ = 0;
  uint64_t seq_ = 0;
  uint64_t applied_ = 0;
  bool stopped_ = false;
  Status error_;
};

}  // namespace

Status Replay(const std::string& dir, const ReplayOptions& options, Ledger* ledger,
              ReplayStats* stats) {
  *stats = ReplayStats{};
  if (options.use_snapshots && !options.verify_chain && options.sink == nullptr) {
    uint64_t seq = 0;
    Status st = LoadNewestSnapshot(dir, options.to_seq, options.as_of_us, ledger, &seq);
    if (!st.ok()) return st;
    stats->snapshot_seq = seq;
  }
  log::EventStream stream;
  Status st = stream.Open(dir, log::LogReader::Options{options.verify_chain});
  if (st.ok() && stats->snapshot_seq > 0) st = stream.Seek(stats->snapshot_seq + 1);
  if (!st.ok()) return st;

  ApplyVisitor visitor(ledger, &stream.decoder(), options);
  visitor.last_seq_ = stats->snapshot_seq;
  for (;;) {
    bool done = false;
    st = stream.Next(&done);
    if (!st.ok()) return st;
    if (done) break;
    stats->batches++;
    stats->bytes += stream.batch().payload.size();
    visitor.Start(stream.batch().header.first_seq);
    stream.Visit(&visitor);
    if (!visitor.error().ok()) return visitor.error();
    if (options.progress) options.progress(visitor.last_seq());
    if (visitor.stopped()) break;
  }
  stats->tail_fault = stream.tail_fault();
  stats->last_seq = visitor.last_seq();
  stats->events = visitor.applied();
  if (options.as_of_us != std::numeric_limits<int64_t>::max() &&
      options.as_of_us > ledger->clock_us()) {
    ledger->AdvanceTo(options.as_of_us, options.sink);
  }
  return Status::Ok();
}

}  // namespace billsim
