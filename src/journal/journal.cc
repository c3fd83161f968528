#include "journal/journal.h"

#include <spdlog/spdlog.h>

#include "util/assert.h"

namespace billsim {

Status Journal::Open(const std::string& dir, const JournalOptions& options,
                     std::unique_ptr<Journal>* out) {
  std::unique_ptr<Journal> j(new Journal());
  Status st = log::LogWriter::Open(dir, options.log, &j->writer_);
  if (!st.ok()) return st;
  ReplayOptions replay;
  replay.env = options.log.env;
  replay.check_skipped = options.check_skipped;
  st = Replay(dir, replay, &j->ledger_, &j->replay_stats_);
  if (!st.ok()) return st;
  // The writer recovered the log and replay read it: they must agree, or
  // the ledger would judge new events against a state the log does not hold.
  if (j->replay_stats_.last_seq + 1 != j->writer_->next_seq()) {
    return Status::Corruption("replay of " + dir + " ended at sequence " +
                              std::to_string(j->replay_stats_.last_seq) +
                              " but the log continues at " +
                              std::to_string(j->writer_->next_seq()));
  }
  *out = std::move(j);
  return Status::Ok();
}

Journal::~Journal() = default;

bool Journal::Admitted(const Ledger::Result& r, uint64_t event_id, Refusal* refusal) {
  if (r.outcome == Ledger::Outcome::kApplied) return true;
  if (refusal == nullptr) return false;
  refusal->event_id = event_id;
  refusal->duplicate = r.outcome == Ledger::Outcome::kDuplicate;
  refusal->field = r.field.empty() ? "event_id" : r.field;
  refusal->reason = refusal->duplicate
                        ? "event " + std::to_string(event_id) +
                              ": event_id: already applied; ignored (R10)"
                        : r.reason;
  return false;
}

bool Journal::Apply(const v1::Event& event, Refusal* refusal) {
  if (!Admitted(ledger_.Apply(event, nullptr), event.event_id(), refusal)) return false;
  builder_.Add(event);
  return true;
}

uint32_t Journal::ApplyBatch(const log::BatchDecoder& batch, std::vector<Refusal>* refusals,
                             PairIds pairs) {
  // Rows go through the BatchApplier (no v1::Event per delivery) and into
  // the pending batch by dictionary index (no string hashing per row).
  class Visitor : public log::BatchVisitor {
   public:
    Visitor(Journal* j, const log::BatchDecoder& batch, std::vector<Refusal>* refusals,
            const std::vector<uint32_t>* created)
        : j_(j), batch_(batch), refusals_(refusals), created_(created) {}
    bool OnDelivery(uint32_t, const log::DeliveryRow& row) override {
      if (!Admit(j_->applier_.Apply(row, nullptr), row.event_id)) return true;
      uint32_t& d = j_->to_builder_[row.campaign];
      if (d == kNoIndex) {
        // A decoded batch's entries are distinct pairs (as its builder
        // made them; a client's duplicates only cost log bytes).
        d = j_->builder_.AppendDictionary(batch_.account(row.campaign),
                                          batch_.campaign(row.campaign));
      }
      j_->builder_.AddDeliveryTo(d, row.event_id, row.time_us, row.kind, row.count,
                                 row.platform_fault);
      ++accepted;
      return true;
    }
    bool OnEvent(uint32_t, const v1::Event& event) override {
      // Set-up events arrive many to a batch, each looking up an id or two
      // in a large book: their index slots are loaded 16 events ahead and
      // the entities they name 8 ahead, so lookups overlap (as deliveries'
      // do in BatchApplier).
      const uint32_t others = batch_.other_events();
      if (other_ + 16 < others) j_->ledger_.PrefetchLookups(batch_.other_event(other_ + 16), 1);
      if (other_ + 8 < others) j_->ledger_.PrefetchLookups(batch_.other_event(other_ + 8), 2);
      const uint32_t other = other_++;
      const size_t campaigns = j_->ledger_.campaigns().size();
      // Parsed from the request's bytes (BatchDecoder): its text is UTF-8.
      if (!Admit(j_->ledger_.Apply(event, nullptr, Ledger::Text::kParsed), event.event_id())) {
        return true;
      }
      if (created_ != nullptr && j_->ledger_.campaigns().size() != campaigns) {
        // A CampaignCreated: a delivery naming its pair later needs no lookup.
        j_->applier_.Created((*created_)[other], static_cast<uint32_t>(campaigns));
      }
      j_->builder_.Add(event);
      ++accepted;
      return true;
    }
    uint32_t accepted = 0;

   private:
    uint32_t other_ = 0;  // the other events visited
    bool Admit(const Ledger::Result& r, uint64_t event_id) {
      if (r.outcome == Ledger::Outcome::kApplied) return true;
      Refusal refusal;
      j_->Admitted(r, event_id, &refusal);
      if (refusals_ != nullptr) refusals_->push_back(std::move(refusal));
      return false;
    }
    Journal* j_;
    const log::BatchDecoder& batch_;
    std::vector<Refusal>* refusals_;
    const std::vector<uint32_t>* created_;
  };
  to_builder_.assign(batch.dictionary_size(), kNoIndex);
  applier_.Start(&batch, pairs.dictionary);
  Visitor visitor(this, batch, refusals, pairs.dictionary != nullptr ? pairs.created : nullptr);
  batch.Visit(&visitor);
  return visitor.accepted;
}

Status Journal::Append(log::SeqRange* range) {
  Status st = writer_->Append(builder_, range);
  builder_.Clear();
  return st;
}

Status Journal::Write(log::SeqRange* range) {
  Status st = writer_->Write(builder_, range);
  builder_.Clear();
  return st;
}

Status Journal::BeginStage() {
  BILLSIM_ASSERT(pending() == 0);
  return writer_->BeginStage();
}

Status Journal::CommitStage(log::SeqRange* range) {
  if (pending() > 0) {
    log::SeqRange last;
    Status st = Append(&last);
    if (!st.ok()) return st;
  }
  return writer_->CommitStage(range);
}

void Journal::AbortStage() {
  builder_.Clear();
  writer_->AbortStage();
}

Status Journal::Close() { return writer_->Close(); }

}  // namespace billsim
