// The files of a log directory: listing segments, and reading and writing
// their sparse indexes (first sequence of each batch -> byte offset).
#ifndef BILLSIM_LOG_LOG_DIR_H_
#define BILLSIM_LOG_LOG_DIR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log/env.h"
#include "util/status.h"

namespace billsim::log {

struct IndexEntry {
  uint64_t first_seq = 0;
  uint64_t offset = 0;
  bool operator==(const IndexEntry&) const = default;
};

// First sequences of the segments in `dir`, ascending. A missing directory
// is NotFound naming it (a reader given a wrong path must not report an
// empty, good log); writers create the directory before they list it.
Status ListSegments(const std::string& dir, std::vector<uint64_t>* firsts,
                    Env* env = nullptr);

std::string SegmentPath(const std::string& dir, uint64_t first_seq);
std::string IndexPath(const std::string& dir, uint64_t first_seq);

// A stage (LogWriter::BeginStage: an append that lands whole or not at all)
// is written to its segment's and index's paths with this suffix appended,
// and renamed into place when it commits. No reader lists a staged file: it
// is not part of the log.
inline constexpr std::string_view kStagedSuffix = ".staged";
std::string StagedPath(const std::string& path);
// Removes the staged files in `dir` (stages a crash or a failure left
// uncommitted), warning for each. Only a writer holding the log's lock may
// call it.
Status RemoveStagedFiles(const std::string& dir, Env* env = nullptr);

// Reads the entries of an index file, stopping at the first entry whose
// checksum fails (an index is derived data: a damaged one is rebuilt).
// *clean says whether the whole file was good.
Status ReadIndex(const std::string& path, std::vector<IndexEntry>* entries,
                 bool* clean, Env* env = nullptr);
std::string EncodeIndexEntry(const IndexEntry& e);
Status WriteIndex(const std::string& path, const std::vector<IndexEntry>& entries,
                  Env* env = nullptr);

// Snapshots (src/replay/snapshot_store.h writes them) live in DIR/snapshots,
// named "snapshot-<sequence, 20 digits>.bin". The log itself reads only
// their names: a snapshot at sequence N is written after replaying the
// durable log through N, so its name proves the log once held N events.
std::string SnapshotDir(const std::string& dir);
std::string SnapshotPath(const std::string& dir, uint64_t seq);
// Sequences of the snapshot files present, ascending (their contents
// unchecked). No snapshot directory: none.
Status ListSnapshotSeqs(const std::string& dir, std::vector<uint64_t>* seqs,
                        Env* env = nullptr);

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_DIR_H_
