#include "journal/journal.h"

#include <spdlog/spdlog.h>

#include <string>

#include "journal/unknown_fields.h"
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
  if (const std::string w = UnknownFieldWarning(dir, j->replay_stats_); !w.empty()) {
    spdlog::warn("{}", w);
  }
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

Ledger::Result Journal::Judge(const v1::Event& event, Ledger::Text text) {
  std::string path;
  if (FindUnknownField(event, &path)) [[unlikely]] {
    Ledger::Result r;
    r.outcome = Ledger::Outcome::kRejected;
    r.field = path;
    r.reason = "event " + std::to_string(event.event_id()) + ": " + path +
               ": a field number this billsim's schema does not define; refused, "
               "so that the log holds only what the ledger judged";
    return r;
  }
  return ledger_.Apply(event, nullptr, text);
}

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
  if (!Admitted(Judge(event, Ledger::Text::kUnchecked), event.event_id(), refusal)) return false;
  builder_.Add(event);
  return true;
}

uint32_t Journal::ApplyBatch(const log::BatchDecoder& batch, std::vector<Refusal>* refusals,
                             PairIds pairs, std::string* payload) {
  // Rows go through the BatchApplier (no v1::Event per delivery) and into
  // the pending batch by dictionary index (no string hashing per row); or,
  // for a payload that may be kept whole, nowhere until all are judged.
  class Visitor : public log::BatchVisitor {
   public:
    Visitor(Journal* j, const log::BatchDecoder& batch, std::vector<Refusal>* refusals,
            const std::vector<uint32_t>* created, bool whole)
        : j_(j), batch_(batch), refusals_(refusals), created_(created), keep_whole_(whole) {}
    bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
      if (!Admit(j_->applier_.Apply(row, nullptr), row.event_id)) {
        if (keep_whole_) refused.push_back(position);
        return true;
      }
      ++accepted;
      if (keep_whole_) {
        // Only noted: the payload holds the row already.
        if (j_->to_builder_[row.campaign] == kNoIndex) {
          j_->to_builder_[row.campaign] = 0;
          ++named;
        }
        Stamp(row.time_us);
        return true;
      }
      j_->CopyRow(batch_, row);
      return true;
    }
    bool OnEvent(uint32_t position, const v1::Event& event) override {
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
      if (!Admit(j_->Judge(event, Ledger::Text::kParsed), event.event_id())) {
        if (keep_whole_) refused.push_back(position);
        return true;
      }
      if (created_ != nullptr && j_->ledger_.campaigns().size() != campaigns) {
        // A CampaignCreated: a delivery naming its pair later needs no lookup.
        j_->applier_.Created((*created_)[other], static_cast<uint32_t>(campaigns));
      }
      ++accepted;
      if (keep_whole_) {
        Stamp(event.time_us());
        return true;
      }
      j_->builder_.Add(event);
      return true;
    }
    uint32_t accepted = 0;
    // Kept whole: the positions refused, the dictionary entries named by an
    // accepted row, and the accepted events' first and last times.
    std::vector<uint32_t> refused;
    uint32_t named = 0;
    int64_t first_time_us = 0;
    int64_t last_time_us = 0;

   private:
    void Stamp(int64_t time_us) {
      if (accepted == 1) first_time_us = time_us;
      last_time_us = time_us;
    }
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
    const bool keep_whole_;  // the payload may be kept whole: copy nothing
  };
  BILLSIM_ASSERT(uint64_t{pending()} + batch.delivery_rows() + batch.other_events() <=
                 UINT32_MAX);
  const uint32_t rows = batch.delivery_rows();
  const uint32_t events = rows + batch.other_events();
  const bool whole =
      payload != nullptr && builder_.stream_sequence() == 0 && MayKeepWhole(batch);
  to_builder_.assign(batch.dictionary_size(), kNoIndex);
  applier_.Start(&batch, pairs.dictionary);
  Visitor visitor(this, batch, refusals, pairs.dictionary != nullptr ? pairs.created : nullptr,
                  whole);
  batch.Visit(&visitor);
  if (!whole || visitor.accepted == 0) return visitor.accepted;
  if (visitor.accepted == events && visitor.named == batch.dictionary_size()) {
    // The payload says exactly what its events, re-encoded, would.
    Seal();
    whole_.push_back(
        {std::move(*payload), events, visitor.first_time_us, visitor.last_time_us});
    whole_events_ += events;
    ++kept_whole_;
    return visitor.accepted;
  }
  // Not whole after all: the accepted events join the pending batch.
  to_builder_.assign(batch.dictionary_size(), kNoIndex);
  class Copier : public log::BatchVisitor {
   public:
    Copier(Journal* j, const log::BatchDecoder& batch, const std::vector<uint32_t>& refused)
        : j_(j), batch_(batch), refused_(refused) {}
    bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
      if (!Refused(position)) j_->CopyRow(batch_, row);
      return true;
    }
    bool OnEvent(uint32_t position, const v1::Event& event) override {
      if (!Refused(position)) j_->builder_.Add(event);
      return true;
    }

   private:
    bool Refused(uint32_t position) {  // positions come in order
      if (next_ == refused_.size() || refused_[next_] != position) return false;
      ++next_;
      return true;
    }
    Journal* j_;
    const log::BatchDecoder& batch_;
    const std::vector<uint32_t>& refused_;
    size_t next_ = 0;
  };
  Copier copier(this, batch, visitor.refused);
  batch.Visit(&copier);
  return visitor.accepted;
}

void Journal::CopyRow(const log::BatchDecoder& batch, const log::DeliveryRow& row) {
  uint32_t& d = to_builder_[row.campaign];
  if (d == kNoIndex) {
    // A decoded batch's entries are distinct pairs (as its builder made
    // them; a client's duplicates only cost log bytes).
    d = builder_.AppendDictionary(batch.account(row.campaign), batch.campaign(row.campaign));
  }
  builder_.AddDeliveryTo(d, row.event_id, row.time_us, row.kind, row.count, row.platform_fault);
}

void Journal::Seal() {
  if (builder_.count() == 0) return;
  Whole& w = whole_.emplace_back();
  builder_.Finish(&w.payload);
  w.count = builder_.count();
  w.first_time_us = builder_.first_time_us();
  w.last_time_us = builder_.last_time_us();
  whole_events_ += w.count;
  builder_.Clear();
}

Status Journal::WritePending(log::SeqRange* range) {
  BILLSIM_ASSERT(pending() > 0);
  // The payloads kept whole are within a batch's bounds (a request is at
  // most a frame, a sealed batch what the caller let pend), checked here
  // before any is written, so that a refusal leaves none of them behind.
  for (const Whole& w : whole_) {
    Status st = log::LogWriter::CheckBounds(w.count, w.payload.size());
    if (!st.ok()) return st;
  }
  log::SeqRange all{0, 0};
  log::SeqRange one;
  auto cover = [&] {  // all grows to cover `one`, just written
    if (all.first == 0) all.first = one.first;
    all.last = one.last;
  };
  for (const Whole& w : whole_) {
    Status st = writer_->WritePayload(w.payload, w.count, w.first_time_us, w.last_time_us, &one);
    if (!st.ok()) return st;
    cover();
  }
  if (builder_.count() > 0) {
    Status st = writer_->Write(builder_, &one);
    if (!st.ok()) return st;
    cover();
  }
  *range = all;
  return Status::Ok();
}

Status Journal::Append(log::SeqRange* range) {
  Status st = WritePending(range);
  DropPending();
  if (!st.ok()) return st;
  return writer_->SyncByPolicy();
}

Status Journal::Write(log::SeqRange* range) {
  Status st = WritePending(range);
  DropPending();
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
  DropPending();
  writer_->AbortStage();
}

Status Journal::Close() { return writer_->Close(); }

}  // namespace billsim
