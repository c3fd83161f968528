#include "http/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string_view>

#include "billsim/v1/events.pb.h"

namespace billsim::http {

namespace {

// One metric: its HELP and TYPE lines, then its samples.
class Writer {
 public:
  void Metric(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(const char* name, uint64_t value, const std::string& labels = {}) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  void One(const char* name, const char* type, const char* help, uint64_t value) {
    Metric(name, type, help);
    Sample(name, value);
  }
  void Histogram(const char* name, const char* help, const server::Histogram& h) {
    Metric(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h.bounds().size(); ++i) {
      cumulative += h.bucket(i);
      const std::string le = i < h.bounds().size() ? std::to_string(h.bounds()[i]) : "+Inf";
      Sample(bucket.c_str(), cumulative, "le=\"" + le + "\"");
    }
    Sample((std::string(name) + "_sum").c_str(), h.sum());
    Sample((std::string(name) + "_count").c_str(), h.count());
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// A label value: backslash, double quote and newline escaped.
std::string Label(const char* name, std::string_view value) {
  std::string out = std::string(name) + "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string MetricsText(const MetricsSnapshot& m) {
  Writer w;
  w.One("billsim_log_recovered_seq", "gauge",
        "The log's last sequence when the server started.", m.recovered_seq);
  w.One("billsim_log_acked_seq", "gauge",
        "The last sequence acknowledged to clients (durable under the fsync policy).",
        m.acked_seq);
  w.One("billsim_history_covered_seq", "gauge",
        "The last sequence the history index covers (history and as-of answers).",
        m.history_covered_seq);
  w.One("billsim_connections", "gauge", "Open client connections, binary protocol and HTTP.",
        m.connections);
  w.One("billsim_connections_max", "gauge", "The connection limit (--max-connections).",
        m.max_connections);
  w.One("billsim_output_bytes", "gauge",
        "Answers written and not yet taken by their clients, in bytes.", m.output_bytes);
  w.One("billsim_process_resident_memory_bytes", "gauge",
        "The server process's resident set, in bytes.", m.resident_bytes);
  w.One("billsim_committer_queued_events", "gauge",
        "Events in append requests waiting for the committer (--max-queued-events bounds it).",
        m.queued_events);
  w.One("billsim_numbered_pairs", "gauge",
        "(account, campaign) pairs of appends numbered for the committer (about 44 bytes each).",
        m.numbered_pairs);
  w.One("billsim_numbered_pairs_max", "gauge",
        "Their bound: the book's campaigns plus max(65536, an eighth of them); past it, pairs "
        "are looked up per request.",
        m.numbered_pairs_max);
  if (m.server != nullptr) {
    const server::ServerMetrics& s = *m.server;
    // By kind: received, and of those applied, refused and duplicate.
    const auto* event = v1::Event::descriptor();
    struct ByKind {
      const char* name;
      const char* help;
      int which;  // 0 received, 1 applied, 2 refused, 3 duplicate
    };
    const ByKind by_kind[] = {
        {"billsim_events_received_total", "Events in append requests the committer took, by kind.",
         0},
        {"billsim_events_applied_total", "Events applied and appended to the log, by kind.", 1},
        {"billsim_events_refused_total",
         "Events the ledger refused (other than duplicates), by kind.", 2},
        {"billsim_events_duplicate_total",
         "Events refused as already applied (R10): nothing to resend, by kind.", 3},
    };
    // Every payload has a counter (a new one must grow kKinds).
    static_assert(v1::Event::kCampaignUpdated + 1 == server::ServerMetrics::kKinds);
    for (const ByKind& b : by_kind) {
      w.Metric(b.name, "counter", b.help);
      for (size_t k = 1; k < server::ServerMetrics::kKinds; ++k) {
        const auto* field = event->FindFieldByNumber(static_cast<int>(k));
        if (field == nullptr || field->containing_oneof() == nullptr) continue;
        const uint64_t refused = s.refused_by_kind[k].load(std::memory_order_relaxed);
        const uint64_t duplicate = s.duplicate_by_kind[k].load(std::memory_order_relaxed);
        const uint64_t received = s.received_by_kind[k].load(std::memory_order_relaxed);
        const uint64_t value = b.which == 0   ? received
                               : b.which == 2 ? refused
                               : b.which == 3 ? duplicate
                                              : received - std::min(received, refused + duplicate);
        w.Sample(b.name, value, Label("kind", field->name()));
      }
    }
    w.Metric("billsim_events_refused_by_field_total", "counter",
             "Events the ledger refused (other than duplicates), by the field it named.");
    for (const auto& [field, n] : s.refused_by_field()) {
      w.Sample("billsim_events_refused_by_field_total", n, Label("field", field));
    }
    w.Histogram("billsim_ack_latency_microseconds",
                "From an append's arrival at the committer's queue to its answer (durable "
                "under the fsync policy).",
                s.ack_latency_us);
    w.Histogram("billsim_group_events", "Events the committer appended in one group commit.",
                s.group_events);
    w.Histogram("billsim_fsync_microseconds", "One fdatasync of the log (--fsync always).",
                s.fsync_us);
    w.One("billsim_log_written_bytes_total", "counter",
          "Bytes appended to the log since the server started.",
          s.log_bytes_written.load(std::memory_order_relaxed));
  }
  w.One("billsim_http_requests_total", "counter", "HTTP requests read whole.", m.http.requests);
  w.Metric("billsim_http_responses_total", "counter", "HTTP responses sent, by status class.");
  for (unsigned c = 1; c <= 5; ++c) {
    w.Sample("billsim_http_responses_total", m.http.responses_by_class[c],
             "class=\"" + std::to_string(c) + "xx\"");
  }
  return w.Take();
}

}  // namespace billsim::http
