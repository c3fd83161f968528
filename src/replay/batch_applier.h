// BatchApplier: applies the delivery rows of decoded batches (the log's
// columnar encoding, log/batch_codec.h) to a ledger, without building a
// v1::Event per row. Replay and the server's columnar appends both go
// through it, so a row means the same to both.
//
// Per batch it resolves the batch's campaign dictionary to ledger campaigns:
// without stable ids (log append), all of it at Start, with the lookups'
// loads overlapped; with them (replay, what-if, the server: numbers that
// name a pair the same way in every batch, log/pair_numbering.h), only
// the pairs not known yet, the same way, so each pair is looked up once
// per stream. Only a campaign found is remembered: it stays found
// (campaigns are never removed, nor moved to another account), while one
// not found yet may be created by an event later in the same batch. A row
// whose campaign is not found (or not of the account the dictionary names)
// goes through Ledger::Apply as the event it records, so the ledger refuses
// it with its usual reason. In replay, whose ledger applies every creation
// or stops, the stable id of a pair created in the stream is its
// campaign's index (CreatedIdsAreIndexes): no lookup and nothing kept.
//
// It also loads, in stages, the state the rows ahead will touch, since
// applying a delivery is bound by memory latency: what it knows of the pair
// of the row 2 * kPrefetchRows ahead; the campaign's and the account's
// lines kPrefetchRows ahead; and in a large book, the lists in them (live
// grants, not-billed counters, holds to renew) half as far, the grants and
// holds in those lists a quarter as far. A row's campaign is resolved once,
// when its lines are loaded; the later stages and the row's own
// application take it from there.
#ifndef BILLSIM_REPLAY_BATCH_APPLIER_H_
#define BILLSIM_REPLAY_BATCH_APPLIER_H_

#include <array>
#include <cstdint>
#include <vector>

#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/pair_numbering.h"

namespace billsim {

class BatchApplier {
 public:
  explicit BatchApplier(Ledger* ledger) : ledger_(ledger) {}

  // Starts a batch: `decoder` holds it until the next Start. With
  // `stable_ids` (a PairNumbering's, one numbering for every batch given
  // to this applier), what was found for a pair is kept across batches,
  // and a batch naming campaigns seen before costs no lookup at all. An
  // id may be kNoPair (not numbered): that pair is looked up each batch.
  void Start(const log::BatchDecoder* decoder,
             const std::vector<uint32_t>* stable_ids = nullptr);

  // Forgets what it learnt across batches: for a ledger that was changed
  // other than through this applier (a restore).
  void Forget() {
    by_created_.clear();
    by_other_.clear();
    ahead_ = {};
  }

  // Stable ids below PairNumbering::kFirstOther are campaign indexes (the
  // stream was opened with the ledger's campaign count as first_created,
  // and the caller stops at the first event the ledger refuses). Checked at
  // each creation (Created); a mismatch, which such a caller cannot see,
  // goes back to looking pairs up.
  void CreatedIdsAreIndexes() { created_are_indexes_ = true; }

  // Tells it that `campaign` was just created from a CampaignCreated whose
  // pair has stable id `stable_id` (PairNumbering's `created`): a
  // delivery naming that pair later needs no lookup. Campaigns are never
  // removed nor moved, so what is learnt stays true.
  void Created(uint32_t stable_id, uint32_t campaign) {
    if (stable_id == log::PairNumbering::kNoPair) return;  // not numbered
    if (IsIndex(stable_id)) {
      if (stable_id == campaign) [[likely]] return;
      // Nothing was kept of the pairs whose ids were indexes: they are
      // looked up again as rows name them.
      created_are_indexes_ = false;
    }
    Slot(stable_id) = Resolved{campaign, ledger_->campaigns()[campaign].account};
  }

  // Applies one delivery row of the current batch. Inline: it runs for
  // every delivery of a replay.
  Ledger::Result Apply(const log::DeliveryRow& row, EntrySink* sink) {
    if (stable_ids_ != nullptr && row.row + 2 * kPrefetchRows < decoder_->delivery_rows()) {
      // What is known of that row's pair: a cache miss in a large book,
      // loaded now so the resolution below, kPrefetchRows on, finds it.
      // (A campaign's index is its line, whose account the next stage reads.)
      const uint32_t id = (*stable_ids_)[decoder_->delivery_campaign(row.row + 2 * kPrefetchRows)];
      if (IsIndex(id)) {
        if (id < ledger_->campaigns().size()) __builtin_prefetch(&ledger_->campaigns()[id]);
      } else if (id != log::PairNumbering::kNoPair) {
        __builtin_prefetch(&Slot(id));
      }
    }
    if (row.row + kPrefetchRows < decoder_->delivery_rows()) {
      const uint32_t at = row.row + kPrefetchRows;
      const Resolved ahead = Resolve(decoder_->delivery_campaign(at));
      ahead_[at % kAhead] = Ahead{at, ahead};
      if (ahead.campaign != kNoIndex) ledger_->PrefetchDelivery(ahead.campaign, ahead.account);
    }
    if (deep_) PrefetchDeep(row);
    uint32_t campaign = Known(row.row).campaign;
    if (campaign == kNoIndex) campaign = Resolve(row.campaign).campaign;
    if (campaign == kNoIndex) return ledger_->Apply(decoder_->ToEvent(row), sink);  // it refuses
    return ledger_->ApplyDelivery(
        {row.event_id, row.time_us, campaign, row.kind, row.count, row.platform_fault}, sink);
  }

 private:
  static constexpr uint32_t kPrefetchRows = 8;
  // From this many campaigns on, the state outgrows the caches and the
  // later stages pay for themselves; in a smaller book they only cost
  // instructions (at 10^3 campaigns they took a fifth of replay's speed).
  static constexpr size_t kDeepPrefetchFrom = size_t{1} << 15;

  // The later stages of the prefetch: the lists in the account and the
  // campaign half as far ahead, the grants and holds in them a quarter as
  // far. Out of line, so the rest of Apply stays small for small books.
  [[gnu::noinline]] void PrefetchDeep(const log::DeliveryRow& row);

  struct Resolved {
    uint32_t campaign = kNoIndex;
    uint32_t account = kNoIndex;
  };
  // What was resolved for the rows ahead when their lines were loaded, by
  // row modulo kAhead, so that the later stages and the row's own
  // application do not resolve it again. Only a campaign found is used (a
  // found one stays found); one not found yet is resolved again, as it may
  // have been created since. A row number that differs (a caller that
  // skipped rows, or none stored) means nothing is known.
  struct Ahead {
    uint32_t row = UINT32_MAX;
    Resolved resolved;
  };
  static constexpr uint32_t kAhead = 16;
  static_assert(kAhead > kPrefetchRows, "every row from its lines' stage to its own");
  Resolved Known(uint32_t row) const {
    const Ahead& a = ahead_[row % kAhead];
    return a.row == row ? a.resolved : Resolved{};
  }
  // Inline for the usual cases, a pair found before or created in the
  // stream.
  Resolved Resolve(uint32_t dict) {
    if (stable_ids_ == nullptr) {
      Resolved& r = resolved_[dict];
      return r.campaign != kNoIndex ? r : Find(dict, r);
    }
    const uint32_t id = (*stable_ids_)[dict];
    if (IsIndex(id)) {
      if (id < ledger_->campaigns().size()) [[likely]] {
        return Resolved{id, ledger_->campaigns()[id].account};
      }
      Resolved not_yet;  // its creation is ahead: nothing to keep
      return Find(dict, not_yet);
    }
    // Unnumbered (past the numbering's bound): remembered for this batch.
    Resolved& r = id != log::PairNumbering::kNoPair ? Slot(id) : resolved_[dict];
    return r.campaign != kNoIndex ? r : Find(dict, r);
  }
  const Resolved& Find(uint32_t dict, Resolved& r);  // asks the ledger
  bool IsIndex(uint32_t stable_id) const {
    return created_are_indexes_ && stable_id < log::PairNumbering::kFirstOther;
  }
  // What is known of a pair by stable id (not IsIndex), made room for.
  Resolved& Slot(uint32_t stable_id) {
    std::vector<Resolved>& v = stable_id < log::PairNumbering::kFirstOther ? by_created_ : by_other_;
    const uint32_t i = stable_id & ~log::PairNumbering::kFirstOther;
    if (i >= v.size()) [[unlikely]] v.resize(i + 1);
    return v[i];
  }
  // Sets r to `campaign` if it is one (not kNoIndex) of the account the
  // dictionary entry names.
  void Accept(uint32_t dict, uint32_t campaign, Resolved& r) const;
  void ResolveAll();  // resolved_ for the whole dictionary
  void ResolveNew();  // with stable ids: what is not known of the dictionary

  Ledger* ledger_;
  const log::BatchDecoder* decoder_ = nullptr;
  const std::vector<uint32_t>* stable_ids_ = nullptr;
  bool deep_ = false;  // PrefetchDeep: the book had kDeepPrefetchFrom campaigns at Start
  bool created_are_indexes_ = false;
  std::vector<Resolved> resolved_;  // by dictionary index, for this batch
  std::array<Ahead, kAhead> ahead_{};  // the current batch's rows ahead
  std::vector<std::string_view> names_;  // ResolveAll's, reused
  std::vector<uint32_t> found_;
  std::vector<uint32_t> missing_;  // ResolveNew's dictionary entries
  // By stable id, across batches: those below kFirstOther (when they are
  // not indexes), and the others less kFirstOther.
  std::vector<Resolved> by_created_;
  std::vector<Resolved> by_other_;
};

}  // namespace billsim

#endif  // BILLSIM_REPLAY_BATCH_APPLIER_H_
