#include "replay/replayer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "journal/unknown_fields.h"
#include "log/log_check.h"
#include "log/read_ahead.h"
#include "replay/batch_applier.h"
#include "replay/snapshot_store.h"

namespace billsim {

namespace {

// Applies one decoded batch to the ledger, in order: deliveries through a
// BatchApplier, other events through Ledger::Apply.
class ApplyVisitor final : public log::BatchVisitor {
 public:
  ApplyVisitor(Ledger* ledger, const ReplayOptions& options)
      : ledger_(ledger), applier_(ledger), options_(options) {
    // Replay stops at the first event the ledger refuses (Check), so every
    // creation it goes past was applied: the stream's numbers for the
    // pairs created are their campaigns' indexes (Replay opens it so).
    applier_.CreatedIdsAreIndexes();
  }

  void Start(uint64_t first_seq, const log::BatchDecoder* decoder,
             const std::vector<uint32_t>* stable_ids, const std::vector<uint32_t>* created_ids) {
    first_seq_ = first_seq;
    created_ids_ = created_ids;
    other_ = 0;
    applier_.Start(decoder, stable_ids);
  }

  bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
    switch (Admit(position, row.time_us)) {
      case kSkip: return true;
      case kStop: return false;
      case kApply: break;
    }
    return Check(applier_.Apply(row, options_.sink));
  }

  bool OnEvent(uint32_t position, const v1::Event& event) override {
    const uint32_t other = other_++;
    switch (Admit(position, event.time_us())) {
      case kSkip: return true;
      case kStop: return false;
      case kApply: break;
    }
    if (FindUnknownField(event, &path_)) [[unlikely]] NoteUnknownField(event);
    const size_t campaigns = ledger_->campaigns().size();
    const Ledger::Result r = ledger_->Apply(event, options_.sink, Ledger::Text::kParsed);
    if (ledger_->campaigns().size() != campaigns) {  // a CampaignCreated applied
      const uint32_t pair = (*created_ids_)[other];
      BILLSIM_ASSERT(pair != log::ReadAheadStream::kNoPair);
      applier_.Created(pair, static_cast<uint32_t>(campaigns));
    }
    return Check(r);
  }

  bool stopped() const { return stopped_; }
  uint64_t unknown_field_events() const { return unknown_field_events_; }
  const std::string& first_unknown_field() const { return first_unknown_field_; }
  uint64_t last_seq() const { return last_seq_; }
  uint64_t applied() const { return applied_; }
  const Status& error() const { return error_; }

 private:
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
    if (r.outcome == Ledger::Outcome::kApplied) [[likely]] return true;
    return Refused(r);
  }

  [[gnu::noinline, gnu::cold]] void NoteUnknownField(const v1::Event& event) {
    if (unknown_field_events_++ == 0) {
      first_unknown_field_ = "sequence " + std::to_string(seq_) + ": event " +
                             std::to_string(event.event_id()) + ": " + path_;
    }
  }

  [[gnu::noinline, gnu::cold]] bool Refused(const Ledger::Result& r) {
    error_ = Status::Corruption(
        "sequence " + std::to_string(seq_) + ": the log holds an event the ledger refuses (" +
        (r.outcome == Ledger::Outcome::kDuplicate ? std::string("duplicate id")
                                                  : r.reason) +
        "); the log was not written by this ledger");
    return false;
  }


 public:
  uint64_t last_seq_ = 0;  // set to the snapshot's sequence before starting

 private:
  Ledger* ledger_;
  BatchApplier applier_;
  const ReplayOptions& options_;
  uint64_t first_seq_ = 0;
  const std::vector<uint32_t>* created_ids_ = nullptr;  // by other event
  uint32_t other_ = 0;  // the next other event's index in the batch
  uint64_t seq_ = 0;
  uint64_t applied_ = 0;
  bool stopped_ = false;
  Status error_;
  std::string path_;  // FindUnknownField's, for the first
  uint64_t unknown_field_events_ = 0;
  std::string first_unknown_field_;
};

// The part of the log a snapshot at `snapshot_seq` stands for is read
// nowhere else: check its checksums (the snapshot's own chain was matched
// against the batch that ends at snapshot_seq when it was loaded).
Status CheckSkipped(const std::string& dir, uint64_t snapshot_seq, bool allow_damage,
                    ReplayStats* stats) {
  uint64_t checked = 0;
  const Status st = log::CheckBatches(dir, snapshot_seq, nullptr, &checked);
  if (st.ok()) return st;
  const std::string what = "damage in the part of the log behind the snapshot at sequence " +
                           std::to_string(snapshot_seq) + ": " + st.message();
  if (!allow_damage) {
    return Status::Corruption(what + " (checked through sequence " + std::to_string(checked) +
                              "; --allow-damage replays from the snapshot anyway)");
  }
  spdlog::warn("{} (allowed: replaying from the snapshot)", what);
  stats->skipped_damage = st.message();
  return Status::Ok();
}

}  // namespace

std::string UnknownFieldWarning(const std::string& dir, const ReplayStats& stats) {
  if (stats.unknown_field_events == 0) return "";
  return dir + ": " + std::to_string(stats.unknown_field_events) +
         " events hold a field number this billsim's schema does not define, first at " +
         stats.first_unknown_field +
         "; the ledger judged them without it (billsim audit check names them)";
}

Status Replay(const std::string& dir, const ReplayOptions& options, Ledger* ledger,
              ReplayStats* stats) {
  *stats = ReplayStats{};
  if (options.use_snapshots && !options.verify_chain && options.sink == nullptr &&
      options.resume_after_seq == 0) {
    uint64_t seq = 0;
    Status st = LoadNewestSnapshot(dir, options.to_seq, options.as_of_us, ledger, &seq,
                                   options.env);
    if (!st.ok()) return st;
    stats->snapshot_seq = seq;
    if (seq > 0 && options.check_skipped) {
      st = CheckSkipped(dir, seq, options.allow_damage, stats);
      if (!st.ok()) return st;
    }
  }
  // Decoding runs a few batches ahead on a second thread (read_ahead.h).
  log::ReadAheadStream stream;
  const uint64_t start_after = std::max(stats->snapshot_seq, options.resume_after_seq);
  Status st = stream.Open(dir, log::LogReader::Options{options.verify_chain, options.env},
                          start_after + 1, static_cast<uint32_t>(ledger->campaigns().size()));
  if (!st.ok()) return st;

  ApplyVisitor visitor(ledger, options);
  visitor.last_seq_ = start_after;
  for (;;) {
    bool done = false;
    st = stream.Next(&done);
    if (!st.ok()) return st;
    if (done) break;
    stats->batches++;
    stats->bytes += stream.payload_bytes();
    visitor.Start(stream.header().first_seq, &stream.decoder(), &stream.stable_ids(),
                  &stream.created_ids());
    if (options.batch_start) options.batch_start(stream.header());
    stream.decoder().VisitWith(&visitor);
    if (!visitor.error().ok()) return visitor.error();
    if (options.batch_end) {
      st = options.batch_end(stream.header());
      if (!st.ok()) return st;
    }
    if (options.progress) options.progress(visitor.last_seq());
    if (visitor.stopped()) break;
  }
  stats->tail_fault = stream.tail_fault();
  stats->last_seq = visitor.last_seq();
  stats->events = visitor.applied();
  stats->unknown_field_events = visitor.unknown_field_events();
  stats->first_unknown_field = visitor.first_unknown_field();
  // Every account's clock to the as-of time (R6: each account keeps its
  // own, so accounts behind the latest event still fire their expiries).
  if (options.as_of_us != std::numeric_limits<int64_t>::max()) {
    ledger->AdvanceTo(options.as_of_us, options.sink);
  }
  return Status::Ok();
}

}  // namespace billsim
