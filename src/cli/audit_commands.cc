// billsim audit history|balance|check|evidence: explanations straight from
// the log. History answers from the log's history index (src/history); the
// others replay the log from sequence 1 (the ledger keeps no history). The
// logic lives in src/audit.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

#include "audit/audit.h"
#include "audit/checker.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "report/format.h"

namespace billsim::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kAuditUsage =
    "usage: billsim audit SUBCOMMAND --log DIR [OPTIONS]\n\n"
    "subcommands:\n"
    "  history    every ledger entry of one account, with the log sequence of its cause\n"
    "  balance    one account's balance at a moment, and the entries that made it\n"
    "  check      replay everything and check the rules after every entry and event\n"
    "  evidence   write a dispute's spend report and delivery data as CSV\n\n"
    "billsim audit SUBCOMMAND --help for options.\n";

// --log must name an existing directory: a typo would otherwise read as an
// empty log.
bool LogDirOption(const po::variables_map& vm, std::string* dir) {
  *dir = vm["log"].as<std::string>();
  std::error_code ec;
  if (!fs::is_directory(*dir, ec)) {
    spdlog::error("--log: \"{}\" is not a directory", *dir);
    return false;
  }
  return true;
}

// An audit query that failed: an unknown account or dispute is bad input
// (2), a log that cannot be replayed is a failure (1).
int QueryFailed(const Status& st) {
  if (st.code() == Status::Code::kNotFound) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  spdlog::error("{}", st.ToString());
  return kExitFailed;
}

// --- history ------------------------------------------------------------------

int AuditHistoryCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim audit history options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "account", po::value<std::string>()->required(), "the account")(
      "from", po::value<std::string>(), "entries at or after TIME (us or ISO 8601 UTC)")(
      "to", po::value<std::string>(), "entries at or before TIME (us or ISO 8601 UTC)")(
      "since", po::value<uint64_t>()->default_value(0),
      "only entries of events after log sequence SEQ")(
      "cursor", po::value<uint64_t>()->default_value(0),
      "only entries with entry seq after C (a page's next cursor)")(
      "limit", po::value<uint32_t>()->default_value(0), "at most N entries (0: all)")(
      "format", po::value<std::string>()->default_value("table"),
      "table, csv or json (one {\"log_seq\":N,\"entry\":{...}} per line)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim audit history --log DIR --account ID [--from TIME] [--to TIME]\n"
                 "                             [--since SEQ] [--cursor C] [--limit N]\n"
                 "                             [--format table|csv|json]\n\n"
                 "Prints every ledger entry of the account in order: the log sequence of\n"
                 "its cause event (log_seq), the entry sequence, time, cause event id, kind,\n"
                 "campaign, source (cash or grant), deltas, units and the balances after it\n"
                 "(cash, grant, frozen = held, valid = available).\n\n"
                 "It answers from the log's history index, DIR/history/ (derived data:\n"
                 "built from the log on first use, then brought up to the log's end; a\n"
                 "damaged or stale index is rebuilt). If no writer holds the log, it takes\n"
                 "the log's lock and updates the index on disk; beside a writer (a server)\n"
                 "it reads the index without writing it and catches up in memory (memory\n"
                 "then grows with the part of the log the index's last checkpoint misses).\n"
                 "With --limit, one page: when more entries match, the next cursor is\n"
                 "printed on stderr (pass it as --cursor).\n"
                 "Exit 2 if the log has no such account.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  Format format;
  Status st = ParseFormat(vm["format"].as<std::string>(), &format);
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t to = std::numeric_limits<int64_t>::max();
  if (st.ok() && vm.count("from")) st = ParseTime(vm["from"].as<std::string>(), "--from", &from);
  if (st.ok() && vm.count("to")) st = ParseTime(vm["to"].as<std::string>(), "--to", &to);
  if (st.ok() && from > to) st = Status::InvalidArgument("--from: after --to");
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  std::string dir;
  if (!LogDirOption(vm, &dir)) return kExitUsage;
  audit::HistoryPaging paging;
  paging.since_seq = vm["since"].as<uint64_t>();
  paging.cursor = vm["cursor"].as<uint64_t>();
  paging.limit = vm["limit"].as<uint32_t>();
  std::vector<audit::AuditEntry> entries;
  audit::HistoryPaged paged;
  st = audit::IndexedAccountHistory(dir, vm["account"].as<std::string>(), from, to, paging,
                                    &entries, &paged);
  if (!st.ok()) return QueryFailed(st);
  audit::WriteAuditHistory(entries, format, std::cout);
  if (paged.truncated) {
    std::cerr << "more entries: next page with --cursor " << paged.next_cursor << "\n";
  }
  return kExitOk;
}

// --- balance ------------------------------------------------------------------

int BalanceCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim audit balance options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "account", po::value<std::string>()->required(), "the account")(
      "as-of", po::value<std::string>()->required(), "the moment (us or ISO 8601 UTC)")(
      "format", po::value<std::string>()->default_value("table"), "table or json");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim audit balance --log DIR --account ID --as-of TIME\n"
                 "                             [--format table|json]\n\n"
                 "Replays the events stamped at or before TIME, advances the clock to TIME\n"
                 "(expiries due by then fire) and prints the account's balance then, and\n"
                 "the entries that made it. Exit 2 if the account is not open by then.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  Format format;
  Status st = ParseFormat(vm["format"].as<std::string>(), &format);
  if (st.ok() && format == Format::kCsv) {
    st = Status::InvalidArgument("--format: expected table or json, got \"csv\"");
  }
  int64_t as_of = 0;
  if (st.ok()) st = ParseTime(vm["as-of"].as<std::string>(), "--as-of", &as_of);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  std::string dir;
  if (!LogDirOption(vm, &dir)) return kExitUsage;
  audit::BalanceAsOf balance;
  st = audit::AccountBalanceAt(dir, vm["account"].as<std::string>(), as_of, &balance);
  if (!st.ok()) return QueryFailed(st);
  audit::WriteBalanceAsOf(balance, format, std::cout);
  return kExitOk;
}

// --- check ----------------------------------------------------------------------

int CheckCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim audit check options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "json", "print the result as one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim audit check --log DIR [--json]\n\n"
                 "Replays the log from sequence 1, event by event, and checks:\n"
                 "  the ledger's invariants (CheckInvariants) after every event;\n"
                 "  that no event holds a field number the schema does not define (a log\n"
                 "  written before the journal refused them, or by a build that defines\n"
                 "  more): counted, the first named, and the replay goes on;\n"
                 "  after every entry, from the entries alone: entry order, conservation\n"
                 "  (R12: deposited + granted + adjusted = spent + expired + cash + grant,\n"
                 "  valid + frozen = cash + grant), no negative balance (R5), each grant\n"
                 "  expired at most once and exactly at its expiry (R6), refunds never above\n"
                 "  what was charged in error, per dispute and per campaign (R9);\n"
                 "  that the accounts' totals equal the sums of their entries;\n"
                 "  that replaying again (from sequence 1, from the newest snapshot) gives\n"
                 "  the same state digest.\n"
                 "Prints each check with its count; exit 1 naming the first violation\n"
                 "(log sequence, account, what).\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  std::string dir;
  if (!LogDirOption(vm, &dir)) return kExitUsage;
  audit::CheckReport report;
  Status st = audit::CheckLog(dir, &report);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  if (!report.tail_fault.empty()) spdlog::warn("torn tail ignored: {}", report.tail_fault);
  audit::WriteCheckReport(report, vm.count("json") > 0, std::cout);
  return report.ok() ? kExitOk : kExitFailed;
}

// --- evidence -------------------------------------------------------------------

int EvidenceCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim audit evidence options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "dispute", po::value<std::string>()->required(), "the dispute")(
      "out", po::value<std::string>()->default_value("."), "directory to write the CSV files to");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim audit evidence --log DIR --dispute ID [--out DIR]\n\n"
                 "Writes the evidence an advertiser attaches to a billing dispute (R9),\n"
                 "straight from the log, as CSV, and prints the paths written:\n"
                 "  spend_report.csv   every COST entry of the dispute's campaign in the\n"
                 "                     window [window_start, window_end): log_seq, time,\n"
                 "                     event_id, source, grant_id, amount_micros, units,\n"
                 "                     fault_marked\n"
                 "  delivery_data.csv  every delivery event of that campaign stamped in the\n"
                 "                     window: log_seq, time, event_id, kind, count,\n"
                 "                     platform_fault\n"
                 "Exit 2 if the log has no such dispute.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  std::string dir;
  if (!LogDirOption(vm, &dir)) return kExitUsage;
  const fs::path out_dir = vm["out"].as<std::string>();
  audit::Evidence evidence;
  Status st = audit::CollectEvidence(dir, vm["dispute"].as<std::string>(), &evidence);
  if (!st.ok()) return QueryFailed(st);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    spdlog::error("--out: cannot create \"{}\": {}", out_dir.string(), ec.message());
    return kExitUsage;
  }
  struct File {
    const char* name;
    void (*write)(const audit::Evidence&, std::ostream&);
  };
  for (const File& f : {File{"spend_report.csv", audit::WriteSpendReport},
                        File{"delivery_data.csv", audit::WriteDeliveryData}}) {
    const std::string path = (out_dir / f.name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (out) f.write(evidence, out);
    out.close();
    if (!out) {
      spdlog::error("--out: cannot write \"{}\"", path);
      return kExitFailed;
    }
    std::cout << path << "\n";
  }
  spdlog::info("dispute {}: campaign {}, window [{}, {}): {} charges, {} delivery events",
               evidence.dispute.dispute_id(), evidence.dispute.campaign_id(),
               evidence.dispute.window_start_us(), evidence.dispute.window_end_us(),
               evidence.spend.size(), evidence.delivery.size());
  return kExitOk;
}

}  // namespace

int AuditMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kAuditUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "history") return AuditHistoryCommand(rest);
  if (args[0] == "balance") return BalanceCommand(rest);
  if (args[0] == "check") return CheckCommand(rest);
  if (args[0] == "evidence") return EvidenceCommand(rest);
  spdlog::error("unknown audit subcommand \"{}\"; see billsim audit --help", args[0]);
  return kExitUsage;
}

}  // namespace billsim::cli
