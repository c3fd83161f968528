#include "bulk/appender.h"

#include <ostream>

#include "bulk/chunk_reader.h"
#include "log/format.h"

namespace billsim::bulk {

namespace {
std::ostream& Discard() {
  static std::ostream* const discard = new std::ostream(nullptr);
  return *discard;
}
}  // namespace

Status AppendFiles(Journal* journal, const std::vector<std::string>& files,
                   const AppendOptions& options, AppendResult* result) {
  *result = AppendResult();
  std::ostream* out = options.report != nullptr ? options.report : &Discard();
  const uint32_t batch_max = options.batch_max;
  const bool atomic = options.atomic;
  uint64_t appended = 0, refused = 0;
  Status st;
  // Bytes of the chunks applied since the last write: a batch is at most
  // log::kMaxPayloadBytes, and the journal's re-encoding of a chunk's
  // accepted events is about the chunk's size, so half of it leaves room.
  constexpr uint64_t kPendingBytesMax = log::kMaxPayloadBytes / 2;
  uint64_t pending_bytes = 0;
  auto flush = [&]() -> Status {
    pending_bytes = 0;
    if (journal->pending() == 0) return Status::Ok();
    log::SeqRange range;
    return journal->Append(&range);
  };
  ChunkReader::Chunk chunk;
  log::BatchDecoder decoder;
  std::vector<Refusal> refusals;
  bool bad_input = false;
  for (const std::string& file : files) {
    std::unique_ptr<EventReader> reader;
    st = EventReader::Open(file, options.reader, &reader);
    if (!st.ok()) {
      bad_input = true;
      break;
    }
    const std::string name = reader->name();
    ChunkReader chunks(std::move(reader), batch_max);
    // --atomic: the file goes to a stage of the log (Journal::BeginStage)
    // and the ledger's state is saved; the stage joins the log once the
    // whole file is read and none of it refused, else it is dropped and
    // the ledger restored. Only the ledger's state is held, never the file.
    v1::LedgerState before;
    if (atomic) {
      st = flush();
      if (st.ok()) st = journal->BeginStage();
      if (!st.ok()) break;
      journal->ledger().SaveState(&before);
    }
    uint64_t file_refused = 0, file_accepted = 0, file_events = 0;
    for (bool done = false; st.ok();) {
      st = chunks.Next(&chunk, &done);
      if (!st.ok()) {
        bad_input = true;
        break;
      }
      if (done) break;
      // The pending batch stays within a log batch's bounds: at most
      // batch_max events and kPendingBytesMax bytes (counted as the chunks'
      // payloads, which hold at least what is accepted of them).
      if (journal->pending() + chunk.count > batch_max ||
          pending_bytes + chunk.payload.size() > kPendingBytesMax) {
        st = flush();
        if (!st.ok()) break;
      }
      st = decoder.Parse(chunk.payload, chunk.count);
      if (!st.ok()) break;
      file_events += chunk.count;
      pending_bytes += chunk.payload.size();
      refusals.clear();
      file_accepted += journal->ApplyBatch(decoder, &refusals);
      for (const Refusal& r : refusals) {
        *out << name << ": refused " << r.event_id << ": " << r.reason << "\n";
      }
      file_refused += refusals.size();
      if (options.progress) options.progress(name, file_events, false);
    }
    if (options.progress) options.progress(name, file_events, true);
    if (atomic && (!st.ok() || file_refused > 0)) {
      // Nothing of the file: the stage goes, the ledger goes back.
      journal->AbortStage();
      pending_bytes = 0;
      const Status restored = journal->mutable_ledger().RestoreState(before);
      *out << name << ": nothing appended (--atomic)";
      if (st.ok() && file_refused > 0) {
        *out << ": " << file_refused << " of " << file_events << " events refused";
      }
      *out << "\n";
      refused += file_refused;
      if (!st.ok() || !restored.ok()) {
        if (st.ok()) st = restored;
        break;
      }
      continue;
    }
    if (!st.ok()) {
      if (bad_input) {
        *out << name << ": " << file_accepted
                  << " events before the failing line's batch were appended\n";
        appended += file_accepted;
        refused += file_refused;
      }
      break;
    }
    refused += file_refused;
    if (atomic) {  // the whole file joins the log, now
      pending_bytes = 0;
      log::SeqRange range;
      st = journal->CommitStage(&range);
      if (!st.ok() && journal->staging()) {
        journal->AbortStage();  // never renamed into the log
        const Status restored = journal->mutable_ledger().RestoreState(before);
        if (!restored.ok()) st = restored;
        *out << name << ": nothing appended (--atomic): the commit failed\n";
        break;
      }
      if (!st.ok()) {
        *out << name << ": the commit failed after the stage was renamed into the log: its "
             << file_accepted << " events are in the log unless a crash undoes the rename "
             << "(`billsim log verify` tells)\n";
        break;
      }
    }
    appended += file_accepted;
  }
  // What was accepted before a bad line is in the ledger: it goes to the
  // log too (the message above counted it).
  result->appended = appended;
  result->refused = refused;
  result->bad_input = bad_input;
  Status written = flush();
  return st.ok() ? written : st;
}

}  // namespace billsim::bulk
