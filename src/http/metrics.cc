#include "http/metrics.h"

#include <unistd.h>

#include <fstream>

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
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

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
  w.One("billsim_http_requests_total", "counter", "HTTP requests read whole.", m.http.requests);
  w.Metric("billsim_http_responses_total", "counter", "HTTP responses sent, by status class.");
  for (unsigned c = 1; c <= 5; ++c) {
    w.Sample("billsim_http_responses_total", m.http.responses_by_class[c],
             "class=\"" + std::to_string(c) + "xx\"");
  }
  return w.Take();
}

}  // namespace billsim::http
