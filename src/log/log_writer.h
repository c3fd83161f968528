// LogWriter: appends batches of events to the log, durably by policy.
//
// Opening takes the log's lock (log_lock.h: one writer per log; a second
// opener fails at once naming the holder's pid) and recovers the log
// (RecoverLog): a write torn at the very tail of the last segment (bytes
// that never completed: a header or payload cut short by the end of the
// file) is cut off, with a warning naming the byte offset and the last good
// sequence; any other fault, a complete batch with a bad checksum at the
// tail included, and any proof that the log held more than its segments
// do (a snapshot past their end), is never repaired: Open fails naming
// segment, offset and sequence, and changes nothing. Indexes that disagree
// with their segment are rebuilt.
//
// Durability: with FsyncPolicy::kAlways, Append returns after fdatasync, so
// one fsync covers every event of the batch (group commit: callers gather
// events into large batches). kInterval syncs when the last sync is older
// than the interval (and on Sync/Close); kNever leaves it to the OS.
// durable_seq() is the last sequence known to be on stable storage.
//
// REQUIRES: external synchronization of calls. The lock is held until the
// writer is destroyed.
#ifndef BILLSIM_LOG_LOG_WRITER_H_
#define BILLSIM_LOG_LOG_WRITER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log/batch_codec.h"
#include "log/file.h"
#include "log/format.h"
#include "log/log_dir.h"
#include "log/log_lock.h"
#include "util/status.h"

namespace billsim::log {

struct FsyncPolicy {
  enum class Mode { kAlways, kInterval, kNever };
  Mode mode = Mode::kAlways;
  int64_t interval_ms = 0;

  // "always", "never" or "interval=MS".
  static Status Parse(const std::string& text, FsyncPolicy* out);
  std::string ToString() const;
};

struct LogOptions {
  uint64_t segment_bytes = kDefaultSegmentBytes;
  FsyncPolicy fsync;
  Env* env = nullptr;  // nullptr: Env::Default()
};

// What recovery found.
struct LogState {
  uint64_t next_seq = 1;        // the sequence the next event gets
  Chain chain{};                // of the last batch (zeros when empty)
  int64_t last_time_us = 0;
  std::vector<uint64_t> segments;
  bool cut_tail = false;        // a torn tail was (with repair: is) cut off
  std::string cut_reason;       // what, where
  std::string cut_path;         // the segment cut, and where
  uint64_t cut_offset = 0;
};

// Scans the log in `dir`: checks every batch header of every segment and
// every payload of the last, finds the last good batch, checks that nothing
// proves the log held more (log_check.h), and, when `repair`, cuts a torn
// tail (segment_reader.h: bytes that never completed) and rebuilds
// indexes. Any other fault, the last complete batch's included, is
// Corruption naming segment, offset and sequence, and nothing is cut.
Status RecoverLog(const std::string& dir, bool repair, LogState* state,
                  Env* env = nullptr);

struct SeqRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

class LogWriter {
 public:
  static Status Open(const std::string& dir, const LogOptions& options,
                     std::unique_ptr<LogWriter>* out, LogState* recovered = nullptr);
  ~LogWriter();

  // Appends the builder's events as one batch (REQUIRES count > 0) and
  // syncs by policy. On error nothing of the batch counts as appended (it
  // may or may not be in the log: its outcome is unknown), and after any
  // write, roll or sync error the writer is failed for good: every later
  // call returns that error (recovery on the next Open sorts out the tail).
  Status Append(const BatchBuilder& batch, SeqRange* range);

  // Pipelined durability, for a caller that goes on writing while what it
  // wrote before is being synced (the server applies and writes the next
  // group during the last group's fdatasync). Write is Append without any
  // sync, whatever the policy. StartSync captures everything written so
  // far in a ticket; the ticket's Run() makes it durable and may run on
  // another thread while this writer goes on writing: it holds its own
  // descriptor of the segment, and a roll syncs the segment it leaves.
  // durable_seq() does not follow tickets; their owner knows what is
  // durable.
  struct SyncTicket {
    SyncHandle segment;
    uint64_t seq = 0;  // durable up to here once Run() returned OK
    Status Run() { return segment.Sync(); }
  };
  Status Write(const BatchBuilder& batch, SeqRange* range);
  // Write of a batch already encoded: `payload` (an EventBatch, not
  // necessarily as BatchBuilder::Finish would encode it) holding `count`
  // events (REQUIRES count > 0) stamped first and last (in order) at the
  // times given. For a caller that checked it decodes to those events
  // (Journal::ApplyBatch). Outside CheckBounds is InvalidArgument, and
  // nothing is written.
  Status WritePayload(std::string_view payload, uint32_t count, int64_t first_time_us,
                      int64_t last_time_us, SeqRange* range);
  // Whether a batch of `count` events in `payload_bytes` bytes is within a
  // log batch's bounds (kMaxBatchEvents, kMaxPayloadBytes); else
  // InvalidArgument saying which. For a caller that writes several batches
  // and checks them all before the first.
  static Status CheckBounds(uint32_t count, size_t payload_bytes);
  // Append's sync: by policy, after Writes (nothing while staging).
  Status SyncByPolicy();
  Status StartSync(SyncTicket* ticket);
  Status Sync();   // everything appended so far becomes durable
  Status Close();  // syncs, closes, releases the lock; no writes after

  // Stages: an append of any size that joins the log whole or not at all
  // (`log append --atomic`), without being held in memory.
  //
  // After BeginStage, batches (Append or Write) go to a segment of their
  // own, under its staged name (StagedPath in log_dir.h), which no reader
  // lists; it does not roll, whatever its size, and nothing is synced.
  // The sequences and the chain go on from the log's, as if the batches
  // were in it. CommitStage syncs the staged segment and renames it into
  // place, then makes the rename durable (a directory sync): the stage
  // joins the log in that one rename, synced whatever the fsync policy.
  // Until then, AbortStage, Close, a failure or a crash leaves the log
  // exactly as it was before BeginStage (an abort puts the sequences and
  // the chain back; the next Open removes a staged file a crash left). A
  // failed commit fails the writer for good: if staging() is still true,
  // nothing of the stage is in the log (Close removes it); if not, the
  // rename was done and the stage is in the log unless a crash undoes it,
  // as after a failed Append. Every stage is a segment of its own, and the
  // log goes on in a new one after it.
  //
  // REQUIRES: BeginStage without a stage open; CommitStage and AbortStage
  // with one; no Sync or StartSync while staging.
  Status BeginStage();
  // *range: the stage's sequences (first > last when it holds none).
  Status CommitStage(SeqRange* range);
  void AbortStage();
  bool staging() const { return staging_; }

  uint64_t next_seq() const { return next_seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  const Chain& chain() const { return chain_; }
  const std::string& dir() const { return dir_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  LogWriter() = default;
  Status Roll();  // starts a new segment at next_seq_
  Status CloseSegment();  // syncs and closes the current segment, if open
  // Removes the segment (and index) named for `first` if it is empty, else
  // Corruption.
  Status RemoveEmptySegment(uint64_t first);
  Env* env() const { return EnvOrDefault(options_.env); }

  std::unique_ptr<LogLock> lock_;
  std::string dir_;
  LogOptions options_;
  AppendFile segment_;
  AppendFile index_;
  uint64_t next_seq_ = 1;
  uint64_t durable_seq_ = 0;
  Chain chain_{};
  uint64_t bytes_written_ = 0;
  std::string payload_;  // reused
  // After a failed write the file may end in a partial batch, after a failed
  // sync nothing is known to be durable, after a failed index write the
  // batch is in the segment though its caller was told it failed: the
  // writer refuses everything after (recovery on the next Open cuts a torn
  // tail and rebuilds the index).
  Status failed_;
  // The open stage: where the log stood at BeginStage.
  bool staging_ = false;
  uint64_t stage_seq_ = 0;
  Chain stage_chain_{};
  uint64_t stage_bytes_written_ = 0;
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_LOG_WRITER_H_
