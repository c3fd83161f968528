// billsim import tiktok-report: an Ads Manager export replayed against an
// account's credits and budgets (src/import/).
#include <google/protobuf/text_format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "billsim/v1/scenario.pb.h"
#include "import/report_importer.h"
#include "import/tiktok_report.h"
#include "journal/journal.h"
#include "log/format.h"
#include "bulk/event_reader.h"
#include "util/money.h"

namespace billsim::cli {

namespace {

using import::Finding;
using import::ImportResult;

constexpr const char* kUsage =
    "usage: billsim import tiktok-report --account ID --file REPORT.csv\n"
    "           (--out SCENARIO.textproto [--base SCENARIO] | --log DIR)\n"
    "           [--disputes] [--currency C] [--utc-offset-minutes N] [--json]\n\n"
    "Reads a TikTok Ads Manager campaign-by-day export (CSV; English, Spanish,\n"
    "German or French headers) and replays it against the account: each row's\n"
    "delivery at noon of that day in the account's zone, priced so that\n"
    "billsim's charge is the row's Cost exactly; campaigns it does not know are\n"
    "created (CPM, no budget) and enabled. Then reports what billsim finds:\n"
    "credit used and expiring, cost over a daily or lifetime budget or beyond\n"
    "the balance, and delivery charged while a campaign was paused, deleted or\n"
    "rejected. --disputes files a charged-in-error dispute for each finding,\n"
    "with the report as its evidence.\n\n"
    "--log DIR appends the events to a log whose account exists (nothing is\n"
    "written when any row is refused; rows imported before are skipped).\n"
    "--out writes a scenario: the --base scenario's events (the account's\n"
    "deposits, grants, campaigns) merged by time with the report's, or, without\n"
    "a base, the account opened (--currency, --utc-offset-minutes) with the\n"
    "report's total cost deposited; each row's charge is an expectation, so\n"
    "`billsim scenario run` checks it.\n\n"
    "Exit: 0 imported (findings or not); 2 bad usage or a bad report (the error\n"
    "names the line and column).";

Status ReadReport(const std::string& path, std::string* text) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::InvalidArgument("--file " + path + ": " + ec.message());
  if (size > import::kReportBytesMax) {
    return Status::InvalidArgument("--file " + path + ": " + std::to_string(size) +
                                   " bytes: a report holds at most " +
                                   std::to_string(import::kReportBytesMax));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in && !in.eof()) return Status::IOError("--file " + path + ": cannot read");
  *text = buf.str();
  return Status::Ok();
}

std::string Money(int64_t micros) { return FormatMicros(micros); }

nlohmann::json ToJson(const ImportResult& r, const std::string& account) {
  nlohmann::json j;
  j["account_id"] = account;
  j["rows"] = r.rows.size();
  size_t skipped = 0;
  for (const auto& row : r.rows) skipped += row.skipped;
  j["rows_skipped"] = skipped;
  j["events_new"] = r.new_events;
  j["campaigns_created"] = r.campaigns_created;
  j["account_opened"] = r.account_opened;
  j["report_cost_micros"] = r.report_micros;
  j["charged_micros"] = r.charged_micros;
  j["credit_used_micros"] = r.credit_used_micros;
  j["cash_used_micros"] = r.cash_used_micros;
  j["grants"] = nlohmann::json::array();
  for (const auto& g : r.grants) {
    j["grants"].push_back({{"grant_id", g.grant_id},
                           {"used_micros", g.used_micros},
                           {"expired_micros", g.expired_micros},
                           {"remaining_micros", g.remaining_micros},
                           {"expires_at_us", g.expires_at_us},
                           {"expired", g.expired}});
  }
  j["findings"] = nlohmann::json::array();
  for (const auto& f : r.findings) {
    nlohmann::json x = {{"kind", import::FindingName(f.kind)},
                        {"line", f.line},
                        {"campaign_id", f.campaign_id},
                        {"day", import::FormatDay(f.day)},
                        {"report_micros", f.report_micros},
                        {"charged_micros", f.charged_micros},
                        {"amount_micros", f.amount_micros},
                        {"explanation", f.explanation}};
    if (!f.dispute_id.empty()) x["dispute_id"] = f.dispute_id;
    j["findings"].push_back(std::move(x));
  }
  return j;
}

void PrintText(const ImportResult& r, const std::string& account, const Ledger& ledger) {
  size_t skipped = 0;
  for (const auto& row : r.rows) skipped += row.skipped;
  std::cout << "account " << account << ": " << r.rows.size() << " rows";
  if (skipped > 0) std::cout << " (" << skipped << " imported before, skipped)";
  std::cout << ", " << r.new_events << " new events";
  if (r.account_opened) std::cout << ", account opened";
  if (r.campaigns_created > 0) std::cout << ", " << r.campaigns_created << " campaigns created";
  std::cout << "\n"
            << "report cost " << Money(r.report_micros) << ", billsim charged "
            << Money(r.charged_micros) << " (credit " << Money(r.credit_used_micros) << ", cash "
            << Money(r.cash_used_micros) << ")\n";
  if (!r.grants.empty()) std::cout << "credit:\n";
  for (const auto& g : r.grants) {
    std::cout << "  grant " << g.grant_id << ": used " << Money(g.used_micros);
    if (g.expired_micros > 0) std::cout << ", expired " << Money(g.expired_micros);
    std::cout << ", remaining " << Money(g.remaining_micros)
              << (g.expired ? ", expired at " : ", expires at ") << FormatTime(g.expires_at_us) << "\n";
  }
  std::cout << r.findings.size() << " findings" << (r.findings.empty() ? "\n" : ":\n");
  for (const auto& f : r.findings) {
    std::cout << "  line " << f.line << ": " << import::FindingName(f.kind) << ": campaign "
              << f.campaign_id << " on " << import::FormatDay(f.day) << ": report "
              << Money(f.report_micros) << ", billsim " << Money(f.charged_micros) << ": "
              << f.explanation;
    if (!f.dispute_id.empty()) {
      std::cout << "; dispute " << f.dispute_id;
      if (auto d = ledger.DisputeState(f.dispute_id)) {
        std::cout << " " << v1::DisputeStatus_Name(d->status());
      }
    }
    std::cout << "\n";
  }
}

// The scenario --out writes: the events, and each row's charge as an
// expectation on its campaign's billed total.
v1::Scenario ToScenario(const ImportResult& r, const std::string& file,
                        const std::string& account) {
  v1::Scenario s;
  s.set_title("TikTok report " + std::filesystem::path(file).filename().string() +
              " for account " + account);
  s.set_description("Imported by billsim import tiktok-report: " + std::to_string(r.rows.size()) +
                    " campaign-day rows, report cost " + Money(r.report_micros) +
                    ", billsim charged " + Money(r.charged_micros) + ", " +
                    std::to_string(r.findings.size()) + " findings.");
  for (const auto& e : r.events) *s.add_events() = e;
  for (const auto& row : r.rows) {
    if (row.skipped || row.last_event_id == 0) continue;
    v1::Expectation* x = s.add_expect();
    x->set_name("line " + std::to_string(row.line) + ": campaign " + row.campaign_id + " on " +
                import::FormatDay(row.day) + ": report " + Money(row.report_micros) +
                ", charged " + Money(row.charged_micros));
    x->set_after_event_id(row.last_event_id);
    x->mutable_campaign()->set_campaign_id(row.campaign_id);
    x->mutable_campaign()->set_billed_micros(row.billed_after_micros);
  }
  return s;
}

Status WriteLog(Journal* journal, const ImportResult& r) {
  Status st;
  size_t next_row = 0;
  for (size_t i = 0; i < r.events.size() && st.ok(); ++i) {
    // Batches end between rows: a crash keeps whole rows, which a second
    // import then skips.
    while (next_row < r.row_starts.size() && r.row_starts[next_row] < i) ++next_row;
    if (next_row < r.row_starts.size() && r.row_starts[next_row] == i) {
      const size_t row_end =
          next_row + 1 < r.row_starts.size() ? r.row_starts[next_row + 1] : r.events.size();
      if (journal->pending() > 0 && journal->pending() + (row_end - i) > log::kMaxBatchEvents) {
        log::SeqRange range;
        st = journal->Append(&range);
        if (!st.ok()) break;
      }
    }
    Refusal refusal;
    if (!journal->Apply(r.events[i], &refusal)) {
      st = Status::Corruption("the log refused event " + std::to_string(r.events[i].event_id()) +
                              " that its own ledger accepted: " + refusal.reason);
    }
  }
  if (st.ok() && journal->pending() > 0) {
    log::SeqRange range;
    st = journal->Append(&range);
  }
  return st;
}

int TikTokReport(const std::vector<std::string>& args) {
  po::options_description options("billsim import tiktok-report options");
  auto add = options.add_options();
  add("account", po::value<std::string>()->required(), "the advertiser account the report is of");
  add("file", po::value<std::string>()->required(), "the report (CSV)");
  add("out", po::value<std::string>(), "write a scenario (textproto) here");
  add("base", po::value<std::string>(), "with --out: the account's setup events (a scenario)");
  add("log", po::value<std::string>(), "append to this log instead");
  add("disputes", "file a charged-in-error dispute for each finding");
  add("currency", po::value<std::string>(), "a new account's currency (default: the report's)");
  add("utc-offset-minutes", po::value<int32_t>(), "a new account's zone (default 0)");
  add("json", "print the result as JSON");
  po::variables_map vm;
  int exit = 0;
  if (!ParseArgs(args, kUsage, options, nullptr, &vm, &exit)) return exit;
  const bool to_log = vm.count("log") > 0;
  if (to_log == (vm.count("out") > 0)) {
    spdlog::error("give one of --out and --log; see --help");
    return kExitUsage;
  }
  if (to_log && vm.count("base")) {
    spdlog::error("--base: only with --out (a log holds its own setup)");
    return kExitUsage;
  }
  const std::string file = vm["file"].as<std::string>();
  import::ImportOptions o;
  o.account_id = vm["account"].as<std::string>();
  o.disputes = vm.count("disputes") > 0;
  o.open_account = !to_log;
  if (vm.count("currency")) o.currency = vm["currency"].as<std::string>();
  if (vm.count("utc-offset-minutes")) {
    o.utc_offset_given = true;
    o.utc_offset_minutes = vm["utc-offset-minutes"].as<int32_t>();
  }

  std::string text;
  import::Report report;
  Status st = ReadReport(file, &text);
  if (st.ok()) st = import::ParseReport(text, file, &report);
  std::vector<v1::Event> base;
  if (st.ok() && vm.count("base")) {
    st = bulk::ForEachEventIn(vm["base"].as<std::string>(), bulk::ReaderOptions{},
                              [&](const v1::Event& e) {
                                base.push_back(e);
                                return Status::Ok();
                              });
  }
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }

  // The import runs on a scratch ledger (the log's state, or a new one),
  // so that a refused row leaves the log as it was. The log stays locked
  // from the read to the write.
  std::unique_ptr<Journal> journal;
  std::unique_ptr<Ledger> scratch;
  if (to_log) {
    st = Journal::Open(vm["log"].as<std::string>(), JournalOptions{}, &journal);
    v1::LedgerState state;
    if (st.ok()) {
      scratch = std::make_unique<Ledger>(journal->ledger().options());
      journal->ledger().SaveState(&state);
      st = scratch->RestoreState(state);
    }
    if (!st.ok()) {
      spdlog::error("{}", st.ToString());
      return kExitUsage;
    }
  } else {
    scratch = std::make_unique<Ledger>();
  }
  ImportResult result;
  st = import::ImportReport(report, o, base, scratch.get(), &result);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    if (journal) (void)journal->Close();
    return kExitUsage;
  }
  if (to_log) {
    st = WriteLog(journal.get(), result);
    const Status closed = journal->Close();
    if (st.ok()) st = closed;
  } else {
    std::string out;
    google::protobuf::TextFormat::PrintToString(ToScenario(result, file, o.account_id), &out);
    std::ofstream f(vm["out"].as<std::string>(), std::ios::binary | std::ios::trunc);
    f << "# Written by billsim import tiktok-report from " << file << "\n" << out;
    f.close();
    if (!f) st = Status::IOError("--out " + vm["out"].as<std::string>() + ": cannot write");
  }
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitUsage;
  }
  if (vm.count("json")) {
    std::cout << ToJson(result, o.account_id).dump(2) << "\n";
  } else {
    PrintText(result, o.account_id, *scratch);
  }
  return kExitOk;
}

}  // namespace

int ImportMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout)
        << "usage: billsim import tiktok-report ...   (see billsim import tiktok-report --help)\n\n"
           "  tiktok-report   an Ads Manager campaign-by-day export against an account\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "tiktok-report") return TikTokReport(rest);
  spdlog::error("unknown import '{}'; see billsim import --help", args[0]);
  return kExitUsage;
}

}  // namespace billsim::cli
