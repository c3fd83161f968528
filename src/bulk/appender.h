// AppendFiles: the events of files, judged by the ledger and appended to
// the log through a Journal, a chunk at a time (what `log append` does).
//
// Each file is read as a stream (event_reader.h), parsed a few chunks
// ahead on a thread (chunk_reader.h) and applied as columnar batches; the
// journal's pending batch is written whenever the next chunk would take it
// past batch_max events or 32 MiB. Refused events are reported, one line
// each ("FILE: refused ID: reason"), and not appended.
//
// A malformed line ends the append with its error (result->bad_input):
// without `atomic` the events of the chunks before its chunk are in the
// log, and the report says how many; with `atomic` nothing of that file
// is. With `atomic` a file also goes in whole or not at all when events
// are refused, and across a crash: it is written to a stage of the log
// (Journal::BeginStage), which joins the log in one rename once the file
// is read and judged. Memory is bounded by a chunk and a log batch, with
// or without `atomic` (which also saves the ledger's state, to restore it).
#ifndef BILLSIM_BULK_APPENDER_H_
#define BILLSIM_BULK_APPENDER_H_

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "bulk/event_reader.h"
#include "journal/journal.h"
#include "util/status.h"

namespace billsim::bulk {

struct AppendOptions {
  uint32_t batch_max = 10000;  // events per log batch, 1..1000000
  bool atomic = false;
  ReaderOptions reader;
  std::ostream* report = nullptr;  // refusals and per-file notes; null: none
  // (file name, events read so far, whether the file is done).
  std::function<void(const std::string&, uint64_t, bool)> progress;
};

struct AppendResult {
  uint64_t appended = 0;
  uint64_t refused = 0;
  bool bad_input = false;  // the error is the input's (a file, a line)
};

// Appends the files' events in order. What was accepted before an error is
// written (the journal is not closed; after a failed write or commit it is
// failed for good, and its ledger may hold events the log does not). REQUIRES: 1 <= batch_max <= 10^6.
Status AppendFiles(Journal* journal, const std::vector<std::string>& files,
                   const AppendOptions& options, AppendResult* result);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_APPENDER_H_
