#include "bulk/exporter.h"

#include <csv.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <charconv>
#include <cstring>

#include "bulk/csv_events.h"
#include "ledger/ledger.h"
#include "log/event_stream.h"
#include "replay/replayer.h"
#include "report/format.h"
#include "report/proto_json.h"
#include "util/thread_name.h"

namespace billsim::bulk {

namespace {

constexpr size_t kFlushBytes = size_t{1} << 20;

// A file or standard output, written a megabyte at a time by a thread of
// its own: the write system calls (copying into the page cache) overlap
// the formatting of the next megabyte. One buffer is written while the
// other fills: memory is two buffers.
class Output {
 public:
  Status Open(const std::string& path) {
    name_ = path == "-" ? "standard output" : path;
    if (path == "-") {
      fd_ = 1;
    } else {
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd_ < 0) {
        return Status::IOError(path + ": cannot open for writing: " + std::strerror(errno));
      }
      owned_ = true;
    }
    writer_ = std::thread([this] {
      SetThreadName("bs-export");
      Run();
    });
    return Status::Ok();
  }
  ~Output() {
    Stop();
    if (owned_) ::close(fd_);
  }
  std::string& buf() { return buf_; }
  Status MaybeFlush() { return buf_.size() >= kFlushBytes ? Flush() : Status::Ok(); }
  // Hands the buffer to the writer (waiting for the one before it).
  Status Flush() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !full_; });
    if (!status_.ok()) return status_;
    bytes_ += buf_.size();
    writing_.swap(buf_);
    buf_.clear();
    full_ = true;
    cv_.notify_all();
    return Status::Ok();
  }
  Status Close() {
    Status st = Flush();
    Stop();
    if (st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      st = status_;
    }
    if (st.ok() && owned_) {
      owned_ = false;
      if (::close(fd_) != 0) return Status::IOError(name_ + ": close: " + std::strerror(errno));
    }
    return st;
  }
  uint64_t bytes() const { return bytes_ + buf_.size(); }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return full_ || stop_; });
      if (!full_) return;  // stopped, nothing left
      lock.unlock();
      Status st = WriteAll(writing_);
      lock.lock();
      if (!st.ok() && status_.ok()) status_ = st;
      full_ = false;
      cv_.notify_all();
    }
  }
  Status WriteAll(const std::string& data) {
    size_t at = 0;
    while (at < data.size()) {
      const ssize_t w = ::write(fd_, data.data() + at, data.size() - at);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::IOError(name_ + ": write: " + std::strerror(errno));
      }
      at += static_cast<size_t>(w);
    }
    return Status::Ok();
  }
  void Stop() {
    if (!writer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }

  std::string name_;
  int fd_ = -1;
  bool owned_ = false;
  std::string buf_;      // filling (the formatting thread's)
  uint64_t bytes_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string writing_;  // being written; guarded by full_
  bool full_ = false;    // guarded by mu_
  bool stop_ = false;    // guarded by mu_
  Status status_;        // the first write error; guarded by mu_
  std::thread writer_;
};

// A delivery as the JSON line ToJson gives its Event, without building
// one; false, with `b` as it was, for an id Protobuf escapes by Unicode
// tables (a byte past 0x7F) or a kind it prints by number.
bool AppendDeliveryJson(const log::DeliveryRow& row, std::string_view account,
                        std::string_view campaign, std::string* b) {
  if (!v1::DeliveryReported::Kind_IsValid(row.kind)) return false;
  const size_t before = b->size();
  *b += "{\"event_id\":\"";
  AppendDecimal(b, row.event_id);
  *b += "\",\"time_us\":\"";
  AppendDecimal(b, row.time_us);
  *b += "\",\"delivery_reported\":{\"account_id\":";
  if (!AppendJsonString(account, b)) {
    b->resize(before);
    return false;
  }
  *b += ",\"campaign_id\":";
  if (!AppendJsonString(campaign, b)) {
    b->resize(before);
    return false;
  }
  *b += ",\"kind\":\"";
  *b += v1::DeliveryReported::Kind_Name(row.kind);
  *b += "\",\"count\":\"";
  AppendDecimal(b, row.count);
  *b += row.platform_fault ? "\",\"platform_fault\":true}}\n" : "\",\"platform_fault\":false}}\n";
  return true;
}

// A CSV cell: as it is, or quoted by libcsv when it holds a delimiter, a
// quote or a line end.
enum class CsvCell { kPlain, kQuoted, kLineBreak };

// What writing `s` as a cell takes (one pass; find_first_of would call
// memchr once per byte).
CsvCell Classify(std::string_view s) {
  CsvCell c = CsvCell::kPlain;
  for (const char ch : s) {
    if (ch == '\r' || ch == '\n') return CsvCell::kLineBreak;
    if (ch == ',' || ch == '"') c = CsvCell::kQuoted;
  }
  return c;
}

void AppendCsvCell(std::string* out, std::string_view s) {
  if (Classify(s) == CsvCell::kPlain) {
    out->append(s);
    return;
  }
  const size_t at = out->size();
  out->resize(at + 2 * s.size() + 2);
  const size_t n = csv_write(out->data() + at, out->size() - at, s.data(), s.size());
  out->resize(at + n);
}

class EventWriter : public log::BatchVisitor {
 public:
  EventWriter(const ExportOptions& o, const log::BatchDecoder& d, uint64_t first_seq,
              Output* out, ExportStats* stats)
      : o_(o), d_(d), first_seq_(first_seq), out_(out), stats_(stats) {}

  bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
    if (!InRange(position)) return true;
    return Delivery(position, row.event_id, row.time_us, d_.account(row.campaign),
                    d_.campaign(row.campaign), row.kind, row.count, row.platform_fault);
  }

  bool Delivery(uint32_t position, uint64_t event_id, int64_t time_us,
                std::string_view account, std::string_view campaign,
                v1::DeliveryReported::Kind kind, int64_t count, bool platform_fault) {
    log::DeliveryRow row{0, event_id, time_us, 0, kind, count, platform_fault};
    std::string& b = out_->buf();
    if (o_.csv) {
      // A record is one line (csv_events.h): an id holding a line end
      // cannot be written so that it reads back.
      for (const std::string_view id : {account, campaign}) {
        if (Classify(id) == CsvCell::kLineBreak) {
          status = Status::InvalidArgument(
              "event " + std::to_string(event_id) + " (sequence " +
              std::to_string(first_seq_ + position) +
              "): an id holds a line break, which CSV records of one line cannot carry; "
              "export with --format jsonl");
          return false;
        }
      }
      AppendDecimal(&b, row.event_id);
      b += ',';
      AppendCsvCell(&b, account);
      b += ',';
      AppendCsvCell(&b, campaign);
      b += ',';
      b += v1::DeliveryReported::Kind_Name(row.kind);
      b += ',';
      AppendDecimal(&b, row.count);
      b += ',';
      AppendDecimal(&b, row.time_us);
      b += row.platform_fault ? ",true\n" : ",false\n";
    } else if (!AppendDeliveryJson(row, account, campaign, &b)) {
      // An id with a byte past 0x7F, or a kind printed by number: through
      // the Event, as Protobuf's printer writes it.
      v1::Event e;
      e.set_event_id(row.event_id);
      e.set_time_us(row.time_us);
      auto* d = e.mutable_delivery_reported();
      d->set_account_id(std::string(account));
      d->set_campaign_id(std::string(campaign));
      d->set_kind(row.kind);
      d->set_count(row.count);
      d->set_platform_fault(row.platform_fault);
      b += ToJson(e);
      b += '\n';
    }
    stats_->written++;
    return Done();
  }

  bool OnEvent(uint32_t position, const v1::Event& event) override {
    if (!InRange(position)) return true;
    if (o_.csv && event.has_delivery_reported()) {  // one the columns could not hold
      const auto& d = event.delivery_reported();
      return Delivery(position, event.event_id(), event.time_us(), d.account_id(),
                      d.campaign_id(), d.kind(), d.count(), d.platform_fault());
    }
    if (o_.csv) {
      stats_->skipped++;
    } else {
      out_->buf() += ToJson(event);
      out_->buf() += '\n';
      stats_->written++;
    }
    return Done();
  }

  Status status;

 private:
  bool InRange(uint32_t position) {
    const uint64_t seq = first_seq_ + position;
    if (seq < o_.from_seq || seq > o_.to_seq) return false;
    stats_->events++;
    stats_->last_seq = seq;
    return true;
  }
  bool Done() {
    status = out_->MaybeFlush();
    return status.ok();
  }

  const ExportOptions& o_;
  const log::BatchDecoder& d_;
  uint64_t first_seq_;
  Output* out_;
  ExportStats* stats_;
};

Status ExportEvents(const std::string& dir, const ExportOptions& o, Output* out,
                    ExportStats* stats) {
  log::EventStream stream;
  Status st = stream.Open(dir);
  if (!st.ok()) return st;
  if (o.from_seq > 1) st = stream.Seek(o.from_seq);
  if (!st.ok()) return st;
  if (o.csv) out->buf() += std::string(kCsvHeader) + "\n";
  for (;;) {
    bool done = false;
    st = stream.Next(&done);
    if (!st.ok() || done) break;
    const log::BatchHeader& h = stream.batch().header;
    if (h.first_seq > o.to_seq) break;
    if (h.last_seq() < o.from_seq) continue;
    EventWriter writer(o, stream.decoder(), h.first_seq, out, stats);
    stream.Visit(&writer);
    if (!writer.status.ok()) return writer.status;
    if (o.progress) o.progress(stats->last_seq);
  }
  if (!st.ok()) return st;
  stats->tail_fault = stream.tail_fault();
  return Status::Ok();
}

// Entries, each written as it is made.
class EntryWriter : public SeqEntrySink {
 public:
  EntryWriter(const ExportOptions& o, const Ledger* ledger, Output* out, ExportStats* stats)
      : o_(o), ledger_(ledger), out_(out), stats_(stats) {}
  void Add(const Entry& entry) override {
    if (!status.ok() || seq < o_.from_seq || seq > o_.to_seq) return;
    const v1::LedgerEntry e = ledger_->ToProto(entry);
    std::string& b = out_->buf();
    if (o_.csv) {
      AppendDecimal(&b, seq);
      for (const uint64_t v : {e.seq(), static_cast<uint64_t>(e.time_us()), e.event_id()}) {
        b += ',';
        AppendDecimal(&b, v);
      }
      b += ',';
      AppendCsvCell(&b, e.account_id());
      b += ',';
      b += v1::EntryKind_Name(e.kind());
      b += ',';
      AppendCsvCell(&b, e.campaign_id());
      b += ',';
      b += e.funds_type() == v1::FUNDS_TYPE_CASH    ? "CASH"
           : e.funds_type() == v1::FUNDS_TYPE_GRANT ? "GRANT"
                                                    : "";
      b += ',';
      AppendCsvCell(&b, e.grant_id());
      b += ',';
      AppendCsvCell(&b, e.dispute_id());
      for (const int64_t v : {e.balance_delta_micros(), e.frozen_delta_micros(), e.units(),
                              e.cash_balance(), e.grant_balance(), e.frozen_balance(),
                              e.valid_balance()}) {
        b += ',';
        AppendDecimal(&b, v);
      }
      b += ',';
      AppendCsvCell(&b, e.note());
      b += '\n';
    } else {
      b += "{\"log_seq\":";
      AppendDecimal(&b, seq);
      b += ",\"entry\":";
      b += ToJson(e);
      b += "}\n";
    }
    stats_->written++;
    status = out_->MaybeFlush();
  }
  Status status;

 private:
  const ExportOptions& o_;
  const Ledger* ledger_;
  Output* out_;
  ExportStats* stats_;
};

Status ExportEntries(const std::string& dir, const ExportOptions& o, Output* out,
                     ExportStats* stats) {
  Ledger ledger;
  EntryWriter writer(o, &ledger, out, stats);
  if (o.csv) out->buf() += std::string(kEntriesCsvHeader) + "\n";
  ReplayOptions replay;
  replay.to_seq = o.to_seq;
  replay.use_snapshots = false;  // entries start at sequence 1
  replay.sink = &writer;
  replay.batch_end = [&writer](const log::BatchHeader&) { return writer.status; };
  if (o.progress) replay.progress = o.progress;
  ReplayStats rs;
  Status st = Replay(dir, replay, &ledger, &rs);
  if (!writer.status.ok()) return writer.status;
  if (!st.ok()) return st;
  stats->last_seq = rs.last_seq;
  stats->tail_fault = rs.tail_fault;
  stats->events = rs.last_seq >= o.from_seq ? rs.last_seq - o.from_seq + 1 : 0;
  return Status::Ok();
}

}  // namespace

Status Export(const std::string& log_dir, const ExportOptions& options,
              const std::string& out_path, ExportStats* stats) {
  *stats = ExportStats();
  if (options.from_seq == 0 || options.from_seq > options.to_seq) {
    return Status::InvalidArgument("--from-seq/--to-seq: an empty range (" +
                                   std::to_string(options.from_seq) + ".." +
                                   std::to_string(options.to_seq) + ")");
  }
  {
    // The log first: a wrong --log must not empty an existing output file.
    log::EventStream probe;
    Status st = probe.Open(log_dir);
    if (!st.ok()) return st;
  }
  Output out;
  Status st = out.Open(out_path);
  if (!st.ok()) return st;
  st = options.entries ? ExportEntries(log_dir, options, &out, stats)
                       : ExportEvents(log_dir, options, &out, stats);
  Status closed = out.Close();
  stats->bytes = out.bytes();
  return st.ok() ? closed : st;
}

}  // namespace billsim::bulk
