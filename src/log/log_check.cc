#include "log/log_check.h"

#include <vector>

#include "log/format.h"
#include "log/log_dir.h"
#include "log/log_reader.h"

namespace billsim::log {

namespace {

std::string RepairHint(const std::string& dir, uint64_t last_seq) {
  return "; if they are lost for good, `billsim log repair --log " + dir +
         " --truncate-after " + std::to_string(last_seq) +
         "` records the loss and removes what proves them";
}

// An index whose segment is gone, if it lists a batch.
Status CheckOrphanIndexes(const std::string& dir, uint64_t last_seq, Env* env) {
  env = EnvOrDefault(env);
  std::vector<std::string> names;
  Status listed = env->GetChildren(dir, &names);
  if (!listed.ok()) return listed;
  for (const std::string& name : names) {
    uint64_t first = 0;
    if (!ParseIndexName(name, &first)) continue;
    if (env->FileExists(SegmentPath(dir, first))) continue;
    std::vector<IndexEntry> entries;
    bool clean = false;
    Status st = ReadIndex(IndexPath(dir, first), &entries, &clean, env);
    if (!st.ok()) return st;
    if (entries.empty()) continue;  // created, never written to: proves nothing
    return Status::Corruption(
        IndexPath(dir, first) + ": segment " + SegmentName(first) +
        " is missing, but its index lists " + std::to_string(entries.size()) +
        " batches from sequence " + std::to_string(entries.front().first_seq) +
        " (the log's segments end at sequence " + std::to_string(last_seq) + ")" +
        RepairHint(dir, last_seq));
  }
  return Status::Ok();
}

}  // namespace

Status CheckNothingBeyond(const std::string& dir, uint64_t last_seq, Env* env) {
  std::vector<uint64_t> snapshots;
  Status st = ListSnapshotSeqs(dir, &snapshots, env);
  if (!st.ok()) return st;
  if (!snapshots.empty() && snapshots.back() > last_seq) {
    const uint64_t n = snapshots.back();
    return Status::Corruption(
        SnapshotPath(dir, n) + " proves the log held sequences through " + std::to_string(n) +
        ", but its segments end at sequence " + std::to_string(last_seq) + ": sequences " +
        std::to_string(last_seq + 1) + ".." + std::to_string(n) +
        " are missing (a segment deleted or cut short)" + RepairHint(dir, last_seq));
  }
  return CheckOrphanIndexes(dir, last_seq, env);
}

Status CheckBatches(const std::string& dir, uint64_t through_seq,
                    const std::function<bool(uint64_t bytes, uint64_t checked_seq)>& pace, uint64_t* checked_seq) {
  *checked_seq = 0;
  if (through_seq == 0) return Status::Ok();
  LogReader reader;
  Status st = reader.Open(dir, LogReader::Options{});
  uint64_t bytes = 0;
  while (st.ok()) {
    BatchView batch;
    bool done = false;
    st = reader.Next(&batch, &done);
    if (!st.ok()) break;
    if (done) {
      const std::string torn =
          reader.tail_fault().empty() ? "" : " (then a torn tail: " + reader.tail_fault() + ")";
      return Status::Corruption(dir + ": the log ends at sequence " +
                                std::to_string(*checked_seq) + torn + ", before sequence " +
                                std::to_string(through_seq) + " that was expected there");
    }
    *checked_seq = batch.header.last_seq();
    if (*checked_seq >= through_seq) return Status::Ok();
    bytes += kHeaderSize + batch.payload.size();
    if (pace && !pace(bytes, *checked_seq)) return Status::Ok();
  }
  return st;
}

}  // namespace billsim::log
