#include "log/log_writer.h"

#include <spdlog/spdlog.h>

#include "log/log_check.h"
#include "log/segment_reader.h"
#include "util/assert.h"

namespace billsim::log {

Status FsyncPolicy::Parse(const std::string& text, FsyncPolicy* out) {
  if (text == "always") {
    *out = FsyncPolicy{Mode::kAlways, 0};
  } else if (text == "never") {
    *out = FsyncPolicy{Mode::kNever, 0};
  } else if (text.starts_with("interval=")) {
    const std::string ms = text.substr(9);
    char* end = nullptr;
    const long long v = std::strtoll(ms.c_str(), &end, 10);
    if (ms.empty() || *end != '\0' || v <= 0 || v > 60'000) {
      return Status::InvalidArgument("--fsync interval=MS: MS must be 1..60000, got \"" +
                                     ms + "\"");
    }
    *out = FsyncPolicy{Mode::kInterval, v};
  } else {
    return Status::InvalidArgument(
        "--fsync: expected always, never or interval=MS, got \"" + text + "\"");
  }
  return Status::Ok();
}

std::string FsyncPolicy::ToString() const {
  switch (mode) {
    case Mode::kAlways: return "always";
    case Mode::kNever: return "never";
    case Mode::kInterval: return "interval=" + std::to_string(interval_ms);
  }
  return "";
}

namespace {

std::string Where(const SegmentReader& r) {
  return r.path() + " at offset " + std::to_string(r.fault_offset());
}

// Walks one segment; fills its index entries. The last segment's payloads
// are checked too; a torn tail there is noted in *state, not cut.
Status ScanSegment(const std::string& dir, uint64_t first, bool last_segment,
                   LogState* state, std::vector<IndexEntry>* index, Env* env) {
  SegmentReader reader;
  SegmentReader::Options options;
  options.verify_payload = last_segment;
  options.env = env;
  Status st = reader.Open(SegmentPath(dir, first), 0, state->next_seq, state->chain,
                          options);
  if (!st.ok()) return st;
  if (first != state->next_seq) {
    return Status::Corruption(reader.path() + ": segment named for sequence " +
                              std::to_string(first) + " but the log continues at " +
                              std::to_string(state->next_seq));
  }
  BatchView batch;
  for (;;) {
    const auto next = reader.Read(&batch);
    if (next == SegmentReader::Next::kBatch) {
      index->push_back({batch.header.first_seq, batch.offset});
      state->next_seq = batch.header.last_seq() + 1;
      state->chain = batch.header.chain;
      state->last_time_us = batch.header.last_time_us;
      continue;
    }
    if (next == SegmentReader::Next::kEnd) return Status::Ok();
    if (next == SegmentReader::Next::kTail && last_segment) {
      // Only noted here: nothing is cut before the whole log was scanned
      // and nothing proves the torn batch's events were there (RecoverLog).
      state->cut_tail = true;
      state->cut_path = reader.path();
      state->cut_offset = reader.fault_offset();
      state->cut_reason = reader.fault() + " in " + Where(reader) +
                          "; last good sequence " +
                          std::to_string(state->next_seq - 1);
      return Status::Ok();
    }
    return Status::Corruption(Where(reader) + ": " + reader.fault() +
                              "; the log is damaged (not a write torn at its tail) and is "
                              "not repaired: last good sequence " +
                              std::to_string(state->next_seq - 1) +
                              " (`billsim log repair --truncate-after` discards the rest)");
  }
}

}  // namespace

Status RecoverLog(const std::string& dir, bool repair, LogState* state, Env* env) {
  *state = LogState{};
  env = EnvOrDefault(env);
  Status st = ListSegments(dir, &state->segments, env);
  if (!st.ok()) return st;
  for (size_t i = 0; i < state->segments.size(); ++i) {
    const uint64_t first = state->segments[i];
    const bool last = i + 1 == state->segments.size();
    std::vector<IndexEntry> entries;
    st = ScanSegment(dir, first, last, state, &entries, env);
    if (!st.ok()) return st;
    if (!repair) continue;
    std::vector<IndexEntry> on_disk;
    bool clean = false;
    st = ReadIndex(IndexPath(dir, first), &on_disk, &clean, env);
    if (!st.ok()) return st;
    if (!clean || on_disk != entries) {
      spdlog::warn("log recovery: rebuilding index {} ({} entries were good, the "
                   "segment has {} batches)",
                   IndexPath(dir, first), on_disk.size(), entries.size());
      st = WriteIndex(IndexPath(dir, first), entries, env);
      if (!st.ok()) return st;
    }
  }
  // The segments end at next_seq - 1: refuse if anything proves the log
  // held more (a snapshot past it, an index whose segment is gone), before
  // anything is changed.
  st = CheckNothingBeyond(dir, state->next_seq - 1, env);
  if (!st.ok()) return st;
  // Stages never committed were never part of the log (LogWriter::BeginStage).
  if (repair) {
    st = RemoveStagedFiles(dir, env);
    if (!st.ok()) return st;
  }
  if (repair && state->cut_tail) {
    spdlog::warn("log recovery: cutting a torn tail: {}", state->cut_reason);
    st = TruncateFile(state->cut_path, state->cut_offset);
    if (!st.ok()) return st;
  }
  // A last segment left empty by a cut holds nothing: drop it, so that
  // segment names stay the first sequence they hold.
  if (repair && !state->segments.empty()) {
    const uint64_t first = state->segments.back();
    if (first == state->next_seq) {
      // The index first: a crash between the two leaves a segment without
      // an index (rebuilt), never an index without its segment (refused).
      (void)env->RemoveFile(IndexPath(dir, first));
      (void)env->RemoveFile(SegmentPath(dir, first));
      state->segments.pop_back();
      st = SyncDir(dir, env);
      if (!st.ok()) return st;
    }
  }
  return Status::Ok();
}

Status LogWriter::Open(const std::string& dir, const LogOptions& options,
                       std::unique_ptr<LogWriter>* out, LogState* recovered) {
  Status st = CreateDir(dir, options.env);
  if (!st.ok()) return st;
  // One writer per log: the lock comes before recovery reads or cuts
  // anything, and is held until this writer is destroyed.
  std::unique_ptr<LogLock> lock;
  st = LogLock::Acquire(dir, &lock);
  if (!st.ok()) return st;
  LogState state;
  st = RecoverLog(dir, /*repair=*/true, &state, options.env);
  if (!st.ok()) return st;
  std::unique_ptr<LogWriter> w(new LogWriter());
  w->lock_ = std::move(lock);
  w->dir_ = dir;
  w->options_ = options;
  w->next_seq_ = state.next_seq;
  w->durable_seq_ = state.next_seq - 1;  // recovered data was synced above or before
  w->chain_ = state.chain;
  w->last_sync_ = std::chrono::steady_clock::now();
  if (!state.segments.empty()) {
    const uint64_t first = state.segments.back();
    st = w->segment_.Open(SegmentPath(dir, first), options.env);
    if (st.ok()) st = w->index_.Open(IndexPath(dir, first), options.env);
    if (st.ok()) st = w->segment_.Sync();  // what recovery found is now durable
    if (!st.ok()) return st;
  }
  if (recovered) *recovered = state;
  *out = std::move(w);
  return Status::Ok();
}

LogWriter::~LogWriter() { (void)Close(); }

Status LogWriter::CloseSegment() {
  if (!segment_.is_open()) return Status::Ok();
  Status st = segment_.Sync();
  if (st.ok()) st = segment_.Close();
  if (st.ok()) st = index_.Close();
  return st;
}

Status LogWriter::Roll() {
  Status st = CloseSegment();
  if (!st.ok()) return st;
  st = segment_.Open(SegmentPath(dir_, next_seq_), options_.env);
  if (st.ok()) st = index_.Open(IndexPath(dir_, next_seq_), options_.env);
  if (st.ok()) st = SyncDir(dir_, options_.env);  // the new file's name is durable too
  return st;
}

Status LogWriter::Append(const BatchBuilder& batch, SeqRange* range) {
  Status st = Write(batch, range);
  if (!st.ok()) return st;
  return SyncByPolicy();
}

Status LogWriter::SyncByPolicy() {
  if (!failed_.ok()) return failed_;
  if (staging_) return Status::Ok();  // a stage is synced when it commits
  using Mode = FsyncPolicy::Mode;
  const auto now = std::chrono::steady_clock::now();
  if (options_.fsync.mode == Mode::kAlways ||
      (options_.fsync.mode == Mode::kInterval &&
       now - last_sync_ >= std::chrono::milliseconds(options_.fsync.interval_ms))) {
    return Sync();
  }
  return Status::Ok();
}

Status LogWriter::StartSync(SyncTicket* ticket) {
  BILLSIM_ASSERT(!staging_);
  if (!failed_.ok()) return failed_;
  ticket->seq = next_seq_ - 1;
  if (!segment_.is_open()) {
    ticket->segment = SyncHandle();
    return Status::Ok();
  }
  return segment_.Duplicate(&ticket->segment);
}

Status LogWriter::Write(const BatchBuilder& batch, SeqRange* range) {
  BILLSIM_ASSERT(batch.count() > 0);
  if (!failed_.ok()) return failed_;
  batch.Finish(&payload_);
  return WritePayload(payload_, batch.count(), batch.first_time_us(), batch.last_time_us(),
                      range);
}

Status LogWriter::CheckBounds(uint32_t count, size_t payload_bytes) {
  if (count > kMaxBatchEvents) {
    return Status::InvalidArgument("batch of " + std::to_string(count) + " events, over the " +
                                   std::to_string(kMaxBatchEvents) + "-event limit");
  }
  if (payload_bytes > kMaxPayloadBytes) {
    return Status::InvalidArgument("batch of " + std::to_string(count) +
                                   " events encodes to " + std::to_string(payload_bytes) +
                                   " bytes, over the " +
                                   std::to_string(kMaxPayloadBytes) + "-byte limit");
  }
  return Status::Ok();
}

Status LogWriter::WritePayload(std::string_view payload, uint32_t count, int64_t first_time_us,
                               int64_t last_time_us, SeqRange* range) {
  BILLSIM_ASSERT(count > 0);
  if (!failed_.ok()) return failed_;
  Status st = CheckBounds(count, payload.size());
  if (!st.ok()) return st;
  const uint64_t batch_bytes = kHeaderSize + payload.size();
  BILLSIM_ASSERT(!staging_ || segment_.is_open());
  if (!segment_.is_open() || (!staging_ && segment_.size() > 0 &&
                              segment_.size() + batch_bytes > options_.segment_bytes)) {
    // A failed roll leaves the segment it left unsynced (fsyncgate) or the
    // new one's name not durable: nothing more may be written.
    Status st = Roll();
    if (!st.ok()) return failed_ = st;
  }
  BatchHeader h;
  h.first_seq = next_seq_;
  h.count = count;
  h.payload_len = static_cast<uint32_t>(payload.size());
  h.first_time_us = first_time_us;
  h.last_time_us = last_time_us;
  h.payload_xxh3 = PayloadChecksum(payload);
  uint8_t header[kHeaderSize];
  EncodeHeader(h, header);  // chain bytes zero for now: not in bytes 0..40
  h.chain = ComputeChain(chain_, header, payload);
  EncodeHeader(h, header);
  const uint64_t offset = segment_.size();
  st = segment_.Append(
      std::string_view(reinterpret_cast<const char*>(header), kHeaderSize), payload);
  if (!st.ok()) return failed_ = st;
  // The batch is in the segment now, and the segment is the truth: the
  // writer's state follows it whatever happens to the index.
  chain_ = h.chain;
  next_seq_ = h.last_seq() + 1;
  bytes_written_ += batch_bytes;
  // The index is derived: written after, never synced on its own; recovery
  // rebuilds it from the segment if a crash leaves them apart. A failed
  // index write still fails the writer for good: the caller is told the
  // batch failed, and a retry must not write its events again.
  st = index_.Append(EncodeIndexEntry({h.first_seq, offset}));
  if (!st.ok()) return failed_ = st;
  range->first = h.first_seq;
  range->last = h.last_seq();
  return Status::Ok();
}

Status LogWriter::Sync() {
  BILLSIM_ASSERT(!staging_);  // a stage is synced by its commit
  if (!failed_.ok()) return failed_;
  if (!segment_.is_open()) return Status::Ok();
  Status st = segment_.Sync();
  // A failed fsync leaves the page cache's state unknown (fsyncgate): stop.
  if (!st.ok()) return failed_ = st;
  durable_seq_ = next_seq_ - 1;
  last_sync_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status LogWriter::BeginStage() {
  BILLSIM_ASSERT(!staging_);
  if (!failed_.ok()) return failed_;
  // The stage is a segment of its own: the one it follows is left synced.
  Status st = CloseSegment();
  if (!st.ok()) return failed_ = st;
  durable_seq_ = next_seq_ - 1;
  // The commit's rename must never replace a segment. One named for a
  // sequence the log has not reached holds nothing (recovery proved it),
  // unless it is an empty one whose removal failed: removed here.
  if (env()->FileExists(SegmentPath(dir_, next_seq_))) {
    st = RemoveEmptySegment(next_seq_);
    if (!st.ok()) return failed_ = st;
  }
  const std::string segment = StagedPath(SegmentPath(dir_, next_seq_));
  const std::string index = StagedPath(IndexPath(dir_, next_seq_));
  // Open removed the stages a crash left, and an abort removes its own; a
  // file of that name could only be one whose removal failed: start empty.
  for (const std::string& path : {segment, index}) {
    if (env()->FileExists(path)) st = env()->RemoveFile(path);
    if (!st.ok()) return failed_ = st;
  }
  st = segment_.Open(segment, options_.env);
  if (st.ok()) st = index_.Open(index, options_.env);
  if (!st.ok()) {
    (void)segment_.Close();
    (void)index_.Close();
    return failed_ = st;
  }
  staging_ = true;
  stage_seq_ = next_seq_;
  stage_chain_ = chain_;
  stage_bytes_written_ = bytes_written_;
  return Status::Ok();
}

Status LogWriter::RemoveEmptySegment(uint64_t first) {
  const std::string path = SegmentPath(dir_, first);
  std::unique_ptr<RandomAccessFile> file;
  Status st = env()->NewRandomAccessFile(path, &file);
  if (!st.ok()) return st;
  if (file->size() != 0) {
    return Status::Corruption(path + ": a segment of " + std::to_string(file->size()) +
                              " bytes is named for sequence " + std::to_string(first) +
                              ", where the log continues");
  }
  file.reset();
  (void)env()->RemoveFile(IndexPath(dir_, first));
  return env()->RemoveFile(path);
}

Status LogWriter::CommitStage(SeqRange* range) {
  BILLSIM_ASSERT(staging_);
  range->first = stage_seq_;
  range->last = next_seq_ - 1;
  if (!failed_.ok()) return failed_;
  if (next_seq_ == stage_seq_) {  // nothing staged: nothing to commit
    AbortStage();
    return Status::Ok();
  }
  // Bytes durable before the name that makes them part of the log.
  Status st = segment_.Sync();
  if (st.ok()) st = segment_.Close();
  if (st.ok()) st = index_.Close();
  const std::string segment = SegmentPath(dir_, stage_seq_);
  if (st.ok()) st = env()->RenameFile(StagedPath(segment), segment);
  if (!st.ok()) return failed_ = st;  // still staged: Close removes it
  // The stage is in the log now; durably so once the directory is synced
  // (a failure there fails the writer: the stage may or may not survive a
  // crash, as a failed append's batch may).
  staging_ = false;
  st = SyncDir(dir_, options_.env);
  if (!st.ok()) return failed_ = st;
  durable_seq_ = next_seq_ - 1;
  last_sync_ = std::chrono::steady_clock::now();
  // The index after the segment's rename is durable, so no crash leaves an
  // index without its segment. It is derived data: if this rename fails or
  // a crash undoes it, recovery rebuilds the index from the segment (and
  // removes the staged one), and a reader meanwhile walks the segment.
  const std::string index = IndexPath(dir_, stage_seq_);
  st = env()->RenameFile(StagedPath(index), index);
  if (!st.ok()) {
    spdlog::warn("log: the stage from sequence {} is committed, but its index stays "
                 "staged ({}); the next open rebuilds it",
                 stage_seq_, st.ToString());
  }
  return Status::Ok();
}

void LogWriter::AbortStage() {
  BILLSIM_ASSERT(staging_);
  (void)segment_.Close();
  (void)index_.Close();
  for (const std::string& path : {StagedPath(SegmentPath(dir_, stage_seq_)),
                                  StagedPath(IndexPath(dir_, stage_seq_))}) {
    // Not part of the log either way; a file left here is removed by the
    // next Open, or by the next BeginStage at this sequence.
    const Status st = env()->RemoveFile(path);
    if (!st.ok()) spdlog::warn("log: cannot remove an aborted stage: {}", st.ToString());
  }
  next_seq_ = stage_seq_;
  chain_ = stage_chain_;
  bytes_written_ = stage_bytes_written_;
  staging_ = false;
}

Status LogWriter::Close() {
  if (staging_) AbortStage();  // never committed: not part of the log
  Status st;
  if (segment_.is_open()) {
    st = Sync();
    Status closed = segment_.Close();
    (void)index_.Close();
    if (st.ok()) st = closed;
  }
  // Closed for good: the lock goes (another writer may open the log now),
  // and with it the right to write.
  if (lock_) {
    lock_.reset();
    if (failed_.ok()) failed_ = Status::IOError(dir_ + ": the log writer is closed");
  }
  return st;
}

}  // namespace billsim::log
