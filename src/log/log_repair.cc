#include "log/log_repair.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "log/file.h"
#include "log/log_dir.h"
#include "log/log_lock.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "log/segment_reader.h"
#include "util/money.h"

namespace billsim::log {

namespace {

namespace fs = std::filesystem;

// What reading the log from sequence 1 (checksums and chain) found.
struct Reading {
  uint64_t last_seq = 0;
  Chain chain{};
  std::string fault;
  // The batch that ends at the sequence kept, if one does.
  bool found = false;
  uint64_t keep_segment = 0;     // first sequence of its segment
  uint64_t cut_offset = 0;       // where the discarded bytes start in it
  Chain keep_chain{};
  std::vector<IndexEntry> keep_index;  // that segment's batches kept
  // A batch that holds the sequence kept without ending there.
  uint64_t straddle_first = 0, straddle_last = 0;
};

Status ReadForRepair(const std::string& dir, uint64_t keep, Reading* r) {
  LogReader reader;
  Status st = reader.Open(dir, LogReader::Options{/*verify_chain=*/true});
  std::string segment;
  std::vector<IndexEntry> entries;
  while (st.ok()) {
    BatchView batch;
    bool done = false;
    st = reader.Next(&batch, &done);
    if (!st.ok() || done) break;
    if (reader.segment_path() != segment) {
      segment = reader.segment_path();
      entries.clear();
    }
    entries.push_back({batch.header.first_seq, batch.offset});
    r->last_seq = batch.header.last_seq();
    r->chain = batch.header.chain;
    if (r->last_seq == keep) {
      r->found = true;
      if (!ParseSegmentName(fs::path(segment).filename().string(), &r->keep_segment)) {
        return Status::Corruption(segment + ": not a segment name");
      }
      r->cut_offset = batch.offset + kHeaderSize + batch.payload.size();
      r->keep_chain = batch.header.chain;
      r->keep_index = entries;
    } else if (batch.header.first_seq <= keep && keep < r->last_seq) {
      r->straddle_first = batch.header.first_seq;
      r->straddle_last = r->last_seq;
    }
  }
  if (!st.ok()) {
    r->fault = st.message();
  } else if (!reader.tail_fault().empty()) {
    r->fault = "torn tail: " + reader.tail_fault();
  }
  return Status::Ok();
}

// Why `keep` cannot be the new end, or OK.
Status CheckKeep(uint64_t keep, const Reading& r) {
  if (keep == 0 || r.found) return Status::Ok();
  if (r.straddle_last != 0) {
    return Status::InvalidArgument(
        "--truncate-after " + std::to_string(keep) + ": sequence " + std::to_string(keep) +
        " is inside the batch of sequences " + std::to_string(r.straddle_first) + ".." +
        std::to_string(r.straddle_last) + "; batches are cut whole: give " +
        std::to_string(r.straddle_first - 1) + " or " + std::to_string(r.straddle_last));
  }
  return Status::InvalidArgument(
      "--truncate-after " + std::to_string(keep) + ": the log reads good only through "
      "sequence " + std::to_string(r.last_seq) +
      (r.fault.empty() ? std::string(" (its end)") : " (then: " + r.fault + ")") +
      "; a repair keeps only what verifies: give at most " + std::to_string(r.last_seq));
}

// "sequences A..B by their headers[, then unreadable from offset X: why]"
// for the bytes of a segment from `offset`, where sequence `seq` should be.
std::string DescribeBytes(const std::string& path, uint64_t offset, uint64_t seq) {
  SegmentReader reader;
  if (!reader.Open(path, offset, seq, Chain{}, SegmentReader::Options{}).ok()) {
    return "unreadable";
  }
  uint64_t first = 0, last = 0;
  BatchView batch;
  SegmentReader::Next next;
  while ((next = reader.Read(&batch)) == SegmentReader::Next::kBatch) {
    if (first == 0) first = batch.header.first_seq;
    last = batch.header.last_seq();
  }
  std::string out = first == 0 ? "no whole batch"
                               : "sequences " + std::to_string(first) + ".." +
                                     std::to_string(last) + " by their headers";
  if (next != SegmentReader::Next::kEnd) {
    out += ", then unreadable from offset " + std::to_string(reader.fault_offset()) + ": " +
           reader.fault();
  }
  return out;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

// What goes, one line each, and the files to remove.
struct Plan {
  std::vector<std::string> lines;
  std::vector<std::string> remove;     // indexes before their segments
  std::vector<std::string> snapshots;
  bool truncate = false;               // the kept segment's tail
};

Status MakePlan(const std::string& dir, uint64_t keep, const Reading& r, Plan* plan) {
  std::vector<uint64_t> segments;
  Status st = ListSegments(dir, &segments);
  if (!st.ok()) return st;
  if (keep > 0) {
    const std::string path = SegmentPath(dir, r.keep_segment);
    const uint64_t size = FileSize(path);
    if (r.cut_offset < size) {
      plan->truncate = true;
      plan->lines.push_back(path + " bytes " + std::to_string(r.cut_offset) + ".." +
                            std::to_string(size) + " (" + std::to_string(size - r.cut_offset) +
                            " bytes): " + DescribeBytes(path, r.cut_offset, keep + 1));
    }
  }
  for (uint64_t first : segments) {
    if (first <= keep) continue;
    const std::string path = SegmentPath(dir, first);
    plan->lines.push_back(path + " (whole segment, " + std::to_string(FileSize(path)) +
                          " bytes): " + DescribeBytes(path, 0, first));
    plan->remove.push_back(IndexPath(dir, first));
    plan->remove.push_back(path);
  }
  // Indexes of segments already gone.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t first = 0;
    if (!ParseIndexName(name, &first) || first <= keep ||
        fs::exists(SegmentPath(dir, first))) {
      continue;
    }
    plan->lines.push_back(IndexPath(dir, first) + " (an index whose segment is missing)");
    plan->remove.insert(plan->remove.begin(), IndexPath(dir, first));
  }
  if (ec) return Status::IOError(dir + ": cannot list: " + ec.message());
  std::vector<uint64_t> snapshots;
  st = ListSnapshotSeqs(dir, &snapshots);
  if (!st.ok()) return st;
  for (uint64_t seq : snapshots) {
    if (seq <= keep) continue;
    plan->lines.push_back(SnapshotPath(dir, seq) + " (snapshot at sequence " +
                          std::to_string(seq) + ")");
    plan->snapshots.push_back(SnapshotPath(dir, seq));
  }
  return Status::Ok();
}

std::string Record(const std::string& dir, uint64_t keep, const Reading& r, const Plan& plan) {
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::string text = FormatTime(now_us) + " repair by pid " + std::to_string(::getpid()) +
                     ": truncate-after " + std::to_string(keep) + " in " + dir + "\n";
  text += "  old head: sequence " + std::to_string(r.last_seq) + ", chain " + ChainHex(r.chain);
  text += r.fault.empty() ? "\n" : "; reading stopped at: " + r.fault + "\n";
  text += "  new head: sequence " + std::to_string(keep) + ", chain " +
          ChainHex(keep == 0 ? Chain{} : r.keep_chain) + "\n";
  for (const std::string& line : plan.lines) text += "  discard: " + line + "\n";
  return text;
}

Status AppendDurably(const std::string& dir, const std::string& text) {
  AppendFile f;
  const std::string path = (fs::path(dir) / kRepairsFileName).string();
  Status st = f.Open(path);
  if (st.ok()) st = f.Append(text);
  if (st.ok()) st = f.Sync();
  if (st.ok()) st = f.Close();
  if (st.ok()) st = SyncDir(dir);
  return st;
}

Status Execute(const std::string& dir, uint64_t keep, const Reading& r, const Plan& plan) {
  // Snapshots first: they prove the most. A crash anywhere in here leaves a
  // log the same command completes.
  for (const std::string& path : plan.snapshots) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) return Status::IOError(path + ": cannot remove: " + ec.message());
  }
  if (!plan.snapshots.empty()) {
    Status st = SyncDir(SnapshotDir(dir));
    if (!st.ok()) return st;
  }
  for (const std::string& path : plan.remove) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) return Status::IOError(path + ": cannot remove: " + ec.message());
  }
  if (plan.truncate) {
    Status st = TruncateFile(SegmentPath(dir, r.keep_segment), r.cut_offset);
    if (!st.ok()) return st;
  }
  if (keep > 0) {
    Status st = WriteIndex(IndexPath(dir, r.keep_segment), r.keep_index);
    if (!st.ok()) return st;
  }
  return SyncDir(dir);
}

}  // namespace

Status RepairLog(const std::string& dir, uint64_t truncate_after, RepairReport* report) {
  *report = RepairReport{};
  std::vector<uint64_t> segments;
  Status st = ListSegments(dir, &segments);  // NotFound for a missing directory
  if (!st.ok()) return st;
  std::unique_ptr<LogLock> lock;
  st = LogLock::Acquire(dir, &lock);
  if (!st.ok()) return st;
  Reading r;
  st = ReadForRepair(dir, truncate_after, &r);
  if (!st.ok()) return st;
  report->old_last_seq = r.last_seq;
  report->old_chain = r.chain;
  report->old_fault = r.fault;
  st = CheckKeep(truncate_after, r);
  if (!st.ok()) return st;
  report->new_last_seq = truncate_after;
  report->new_chain = truncate_after == 0 ? Chain{} : r.keep_chain;
  Plan plan;
  st = MakePlan(dir, truncate_after, r, &plan);
  if (!st.ok()) return st;
  report->discarded = plan.lines;
  if (plan.lines.empty()) return Status::Ok();
  report->record = Record(dir, truncate_after, r, plan);
  st = AppendDurably(dir, report->record);
  if (!st.ok()) return st;
  st = Execute(dir, truncate_after, r, plan);
  if (!st.ok()) return st;
  // What is left must recover as it is, without a cut, and end at the kept
  // sequence with the kept chain.
  LogState state;
  st = RecoverLog(dir, /*repair=*/true, &state);
  if (!st.ok()) return Status::Corruption("after the repair: " + st.message());
  if (state.cut_tail || state.next_seq != truncate_after + 1 || state.chain != report->new_chain) {
    return Status::Corruption("after the repair the log ends at sequence " +
                              std::to_string(state.next_seq - 1) + ", expected " +
                              std::to_string(truncate_after));
  }
  return AppendDurably(dir, "  done: the log ends at sequence " +
                                std::to_string(truncate_after) + "\n");
}

}  // namespace billsim::log
