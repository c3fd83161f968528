// billsim scenario run|report|history: recorded scenarios on the embedded
// ledger (no log, no server).
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/format.h"
#include "scenario/scenario_loader.h"
#include "scenario/scenario_runner.h"

namespace billsim::cli {

namespace {

constexpr const char* kScenarioUsage =
    "usage: billsim scenario SUBCOMMAND [OPTIONS] PATH...\n\n"
    "subcommands:\n"
    "  run       apply each scenario's events and check its expectations\n"
    "  report    apply each scenario's events and print the balance report\n"
    "  history   print the ledger entries of one scenario (audit history)\n\n"
    "PATH is a scenario file (.textproto in Protobuf text format, or .json)\n"
    "or a folder of them. billsim scenario SUBCOMMAND --help for options.\n";

// ParseArgs plus the positional PATHs every scenario subcommand needs.
bool Parse(const std::vector<std::string>& args, const char* usage,
           po::options_description& options, po::variables_map& vm, int* exit) {
  options.add_options()("path", po::value<std::vector<std::string>>(),
                        "scenario files or folders");
  if (!ParseArgs(args, usage, options, "path", &vm, exit)) return false;
  if (!vm.count("path")) {
    spdlog::error("no scenario file or folder given; see --help");
    *exit = kExitUsage;
    return false;
  }
  return true;
}

// --format, parsed; false (usage error logged) if it names no format.
bool FormatOption(const po::variables_map& vm, Format* format) {
  const Status st = ParseFormat(vm["format"].as<std::string>(), format);
  if (!st.ok()) spdlog::error("{}", st.message());
  return st.ok();
}

// Loads every scenario under `paths`. Files that fail to load are reported
// (file, line, field) and counted in *load_errors; the rest are returned.
std::vector<std::pair<std::string, v1::Scenario>> LoadAll(
    const std::vector<std::string>& paths, int* load_errors,
    std::vector<v1::ScenarioResult>* failures) {
  std::vector<std::pair<std::string, v1::Scenario>> loaded;
  std::vector<std::string> files;
  Status st = ExpandScenarioPaths(paths, &files);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    (*load_errors)++;
  }
  for (const std::string& f : files) {
    v1::Scenario s;
    st = LoadScenario(f, &s);
    if (!st.ok()) {
      spdlog::error("{}", st.message());
      (*load_errors)++;
      if (failures) {
        v1::ScenarioResult r;
        r.set_file(f);
        r.set_error(st.message());
        failures->push_back(std::move(r));
      }
      continue;
    }
    loaded.emplace_back(f, std::move(s));
  }
  return loaded;
}

void PrintResult(const v1::ScenarioResult& r, bool verbose) {
  std::cout << (r.passed() ? "PASS " : "FAIL ") << r.file() << ": " << r.title() << "\n";
  for (const auto& x : r.expectations()) {
    if (x.passed() && !verbose) continue;
    std::cout << "  " << (x.passed() ? "ok   " : "FAIL ") << x.name() << "\n";
    for (const auto& d : x.diff()) std::cout << "         " << d << "\n";
  }
  if (!r.error().empty()) std::cout << "  " << r.error() << "\n";
  if (verbose) {
    std::cout << "  events applied " << r.events() << ", rejected " << r.rejected()
              << ", duplicates " << r.duplicates() << "; state digest "
              << r.state_digest() << "\n";
  }
}

int RunCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim scenario run options");
  options.add_options()("json", "one JSON object per scenario (ScenarioResult)")(
      "verbose,v", "also list the expectations that passed");
  po::variables_map vm;
  int exit = kExitOk;
  if (!Parse(args,
             "usage: billsim scenario run [--json] [--verbose] PATH...\n\n"
             "Applies each scenario's events to a fresh ledger and checks its\n"
             "expectations. Exit 0: all passed; 1: an expectation failed; 2: a\n"
             "file could not be loaded (the error names file, line and field).\n",
             options, vm, &exit)) {
    return exit;
  }
  const bool json = vm.count("json") > 0;
  int load_errors = 0;
  std::vector<v1::ScenarioResult> failures;
  auto loaded = LoadAll(vm["path"].as<std::vector<std::string>>(), &load_errors,
                        &failures);
  int passed = 0, failed = 0;
  for (const auto& r : failures) {
    if (json) std::cout << ToJson(r) << "\n";
  }
  for (const auto& [file, scenario] : loaded) {
    const ScenarioOutcome out = RunScenario(scenario, file);
    (out.result.passed() ? passed : failed)++;
    if (json) {
      std::cout << ToJson(out.result) << "\n";
    } else {
      PrintResult(out.result, vm.count("verbose") > 0);
    }
  }
  if (!json) {
    std::cout << "scenarios: " << passed << " passed, " << failed << " failed";
    if (load_errors) std::cout << ", " << load_errors << " not loaded";
    std::cout << "\n";
  }
  if (load_errors) return kExitUsage;
  return failed ? kExitFailed : kExitOk;
}

int ReportCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim scenario report options");
  options.add_options()("format", po::value<std::string>()->default_value("table"),
                        "table, csv or json (one BalanceReport per line)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!Parse(args,
             "usage: billsim scenario report [--format table|csv|json] PATH...\n\n"
             "Applies each scenario's events and prints the balance of every\n"
             "account: cash, credit (grant), frozen (held), valid (available),\n"
             "spent, expired and adjusted. Money in the table is decimal; CSV\n"
             "and JSON carry exact micro-units.\n",
             options, vm, &exit)) {
    return exit;
  }
  Format format;
  if (!FormatOption(vm, &format)) return kExitUsage;
  int load_errors = 0;
  auto loaded = LoadAll(vm["path"].as<std::vector<std::string>>(), &load_errors, nullptr);
  bool first = true;
  for (const auto& [file, scenario] : loaded) {
    ScenarioOutcome out = RunScenario(scenario, file);
    out.report.set_source(file);
    if (format == Format::kTable) {
      std::cout << (first ? "" : "\n") << "== " << file << ": " << scenario.title() << "\n";
    }
    if (format == Format::kCsv && !first) {
      // One header for the whole CSV stream.
      std::ostringstream rows;
      WriteBalances(out.report, format, rows);
      const std::string s = rows.str();
      std::cout << s.substr(s.find('\n') + 1);
    } else {
      WriteBalances(out.report, format, std::cout);
    }
    first = false;
  }
  return load_errors ? kExitUsage : kExitOk;
}

int ScenarioHistoryCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim scenario history options");
  options.add_options()("account", po::value<std::string>(),
                        "only this account's entries (default: every entry)")(
      "format", po::value<std::string>()->default_value("table"),
      "table, csv or json (one LedgerEntry per line)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!Parse(args,
             "usage: billsim scenario history [--account ID] [--format F] FILE\n\n"
             "Prints every ledger entry of the scenario in order: sequence, time,\n"
             "cause event, kind, source, deltas, and the balances after it.\n",
             options, vm, &exit)) {
    return exit;
  }
  Format format;
  if (!FormatOption(vm, &format)) return kExitUsage;
  const auto paths = vm["path"].as<std::vector<std::string>>();
  if (paths.size() != 1) {
    spdlog::error("history takes exactly one scenario file, got {}", paths.size());
    return kExitUsage;
  }
  v1::Scenario scenario;
  const Status st = LoadScenario(paths[0], &scenario);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  ScenarioOutcome out = RunScenario(scenario, paths[0]);
  std::vector<v1::LedgerEntry> entries;
  if (vm.count("account")) {
    const std::string account = vm["account"].as<std::string>();
    bool known = false;
    for (const auto& a : out.report.accounts()) known |= a.account_id() == account;
    if (!known) {
      spdlog::error("--account: no account \"{}\" in {}", account, paths[0]);
      return kExitUsage;
    }
    for (auto& e : out.entries) {
      if (e.account_id() == account) entries.push_back(std::move(e));
    }
  } else {
    entries = std::move(out.entries);
  }
  WriteHistory(entries, format, std::cout);
  return kExitOk;
}

}  // namespace

int ScenarioMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kScenarioUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "run") return RunCommand(rest);
  if (args[0] == "report") return ReportCommand(rest);
  if (args[0] == "history") return ScenarioHistoryCommand(rest);
  spdlog::error("unknown scenario subcommand \"{}\"; see billsim scenario --help", args[0]);
  return kExitUsage;
}

}  // namespace billsim::cli
