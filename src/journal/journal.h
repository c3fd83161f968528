// Journal: the one place where the ledger and the log meet (LevelDB's
// DBImpl::Write). It owns the Ledger, the LogWriter and the BatchBuilder of
// the batch being gathered, and both writers of a log, `billsim log append`
// and `billsim serve`, go through it:
//
//   Open      take the log's lock and recover it (LogWriter::Open), replay
//             it into the ledger, and check that the two agree on the last
//             sequence;
//   Apply     the ledger judges one event (or one columnar batch, row by
//             row), after the journal refuses any event holding a field
//             the schema does not define (unknown_fields.h): an accepted
//             event is applied and goes into the pending batch; a refused
//             one changes nothing and comes back as a Refusal, worded the
//             same way for every caller;
//   Append    the pending batch goes to the log as one batch (a payload
//             kept whole, ApplyBatch, as a batch of its own), synced by
//             policy (or Write, with the caller syncing: the server's
//             pipelined fdatasync); the range tells the sequences it got.
//
// An event is in the ledger before it is in the log; if the write fails the
// writer is failed for good and so is the journal: nothing more is
// accepted, and the next Open recovers the log (the ledger is rebuilt from
// it, so the events of a failed write are not in it).
//
// REQUIRES: external synchronization (the server's committer thread owns it).
#ifndef BILLSIM_JOURNAL_JOURNAL_H_
#define BILLSIM_JOURNAL_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/log_writer.h"
#include "replay/batch_applier.h"
#include "replay/replayer.h"
#include "util/assert.h"
#include "util/status.h"

namespace billsim {

struct JournalOptions {
  log::LogOptions log;  // segment size, fsync policy, env
  // Scan what a snapshot lets replay skip (replayer.h). The server turns
  // it off and scrubs in the background instead.
  bool check_skipped = true;
};

// A refused event, as every writer reports it.
struct Refusal {
  uint64_t event_id = 0;
  std::string field;   // the offending field ("event_id" for a duplicate)
  std::string reason;  // names the event id, the field and why
  bool duplicate = false;  // already applied (R10): nothing to resend
};

class Journal {
 public:
  static Status Open(const std::string& dir, const JournalOptions& options,
                     std::unique_ptr<Journal>* out);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Judges one event; true if accepted (it is applied and pending), else
  // *refusal says why (may be null).
  bool Apply(const v1::Event& event, Refusal* refusal);
  // Judges every event of a decoded columnar batch, in order; each refused
  // one is appended to *refusals. Returns the number accepted. Given the
  // batch's pair numbers (log/pair_numbering.h: `dictionary` and `created`
  // of one numbering for every batch given to this journal), what it
  // learns of a pair is kept for later batches; else the batch's pairs are
  // looked up by their strings.
  struct PairIds {  // {} (both null): none
    const std::vector<uint32_t>* dictionary;
    const std::vector<uint32_t>* created;
  };
  //
  // `payload`, if given, holds the bytes `batch` was parsed from. When the
  // batch has at least kWholeFrom delivery rows and says nothing but its
  // events (BatchDecoder::PlainEvents), every event is accepted and every
  // dictionary entry is named by a row, the log gets those bytes as they
  // are (moved from *payload), as a batch of their own, not a re-encoding:
  // they say the same, and the server's columnar appends then cost no
  // encoding. Otherwise, and always without it, the accepted events join
  // the pending batch.
  uint32_t ApplyBatch(const log::BatchDecoder& batch, std::vector<Refusal>* refusals,
                      PairIds pairs = {}, std::string* payload = nullptr);
  // Below this many rows a payload is not kept whole: a log batch's
  // header, chain hash and index entry would cost more than encoding its
  // rows into the pending batch.
  static constexpr uint32_t kWholeFrom = 1024;
  // Whether `batch`'s payload may be kept whole, before judging its events:
  // kWholeFrom rows or more, no more dictionary entries than rows (each
  // must be named by one), and nothing but its events (PlainEvents).
  static bool MayKeepWhole(const log::BatchDecoder& batch) {
    const uint32_t rows = batch.delivery_rows();
    return rows >= kWholeFrom && batch.dictionary_size() <= rows && batch.PlainEvents();
  }

  // Payloads ApplyBatch kept whole, since Open.
  uint64_t kept_whole() const { return kept_whole_; }

  // Events accepted and not yet written.
  uint32_t pending() const { return whole_events_ + builder_.count(); }
  // Records in the pending batch the stream sequence its events came from
  // (a cluster shard's; EventBatch.stream_sequence). REQUIRES: no payload
  // is kept whole (one would be written without it).
  void SetStreamSequence(uint64_t seq) {
    BILLSIM_ASSERT(whole_.empty());
    builder_.set_stream_sequence(seq);
  }
  // Writes the pending events and syncs by policy: as one batch, but for
  // the payloads ApplyBatch kept whole, each a batch of its own (in order:
  // what was pending before one is a batch before it). REQUIRES:
  // pending() > 0. On error the journal is failed for good.
  Status Append(log::SeqRange* range);
  // The same without any sync: the caller makes it durable (StartSync).
  Status Write(log::SeqRange* range);
  Status StartSync(log::LogWriter::SyncTicket* ticket) { return writer_->StartSync(ticket); }
  Status Sync() { return writer_->Sync(); }
  // Drops what is pending without writing it (its events stay in the
  // ledger): for a caller that then restores the ledger, or whose Write
  // failed (the journal is failed for good then). After a Write that
  // succeeded nothing is pending, and this does nothing.
  void DropPending() {
    builder_.Clear();
    whole_.clear();
    whole_events_ = 0;
  }
  // Stages (LogWriter::BeginStage): what is appended between BeginStage
  // and CommitStage joins the log whole or not at all, in one rename,
  // whatever its size. CommitStage writes what is pending first.
  // AbortStage drops what is pending and what was staged; the events stay
  // in the ledger, which the caller then restores (`log append --atomic`
  // saves its state at BeginStage). REQUIRES: BeginStage with nothing
  // pending and no stage open; the others with a stage open.
  Status BeginStage();
  Status CommitStage(log::SeqRange* range);
  void AbortStage();
  bool staging() const { return writer_->staging(); }
  Status Close();

  const Ledger& ledger() const { return ledger_; }
  // The ledger, to change other than through the journal (a restore): what
  // was learnt of pairs across batches is forgotten.
  Ledger& mutable_ledger() {
    applier_.Forget();
    return ledger_;
  }
  // The last sequence in the log (written, not necessarily durable).
  uint64_t last_seq() const { return writer_->next_seq() - 1; }
  uint64_t durable_seq() const { return writer_->durable_seq(); }
  uint64_t bytes_written() const { return writer_->bytes_written(); }  // since Open
  const ReplayStats& replay_stats() const { return replay_stats_; }

 private:
  Journal() : applier_(&ledger_) {}
  bool Admitted(const Ledger::Result& r, uint64_t event_id, Refusal* refusal);
  // The ledger's judgement of an event bound for the log, after the
  // journal's own check: a field of the event (or of a message in it)
  // that this build's schema does not know is refused. Protobuf keeps
  // such a field and would write it back, so the log would hold what no
  // ledger judged, and what a later schema might read as a field it
  // knows. (JSON input is refused the same way by its parser; replay
  // does not refuse them, so a log written before this check still
  // replays: it counts them, ReplayStats.)
  Ledger::Result Judge(const v1::Event& event, Ledger::Text text);
  // builder_'s events, if any, become the next batch of whole_.
  void Seal();
  // A row of `batch` into builder_, its dictionary entry copied once.
  void CopyRow(const log::BatchDecoder& batch, const log::DeliveryRow& row);
  // Writes whole_, then builder_'s events; *range covers them all.
  Status WritePending(log::SeqRange* range);

  // Batches encoded already, written before builder_'s events, in order:
  // payloads kept whole (ApplyBatch), and what builder_ held before one.
  struct Whole {
    std::string payload;
    uint32_t count = 0;
    int64_t first_time_us = 0;
    int64_t last_time_us = 0;
  };

  Ledger ledger_;
  BatchApplier applier_;
  std::unique_ptr<log::LogWriter> writer_;
  log::BatchBuilder builder_;
  ReplayStats replay_stats_;
  std::vector<uint32_t> to_builder_;  // a request's dictionary -> builder_'s
  std::vector<Whole> whole_;
  uint32_t whole_events_ = 0;
  uint64_t kept_whole_ = 0;
};

}  // namespace billsim

#endif  // BILLSIM_JOURNAL_JOURNAL_H_
