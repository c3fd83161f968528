// billsim whatif | forecast: the simulator's counterfactuals (issue 13).
#include <spdlog/spdlog.h>

#include <charconv>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "report/format.h"
#include "bulk/event_reader.h"
#include "replay/replayer.h"
#include "sim/forecast.h"
#include "sim/whatif_log.h"

namespace billsim::cli {

namespace {

// The change flags of `whatif`, in the order ChangeSet::Add knows them.
constexpr const char* kChangeFlags[] = {"funding-order", "grant-amount", "grant-expiry",
                                        "campaign-budget", "campaign-mode", "campaign-price",
                                        "pause", "enable", "drop"};

// --from N (a sequence) or --from TIME (ISO 8601 with its zone).
Status ParseFrom(const std::string& text, uint64_t* seq, int64_t* us) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *seq);
  if (ec == std::errc() && p == end) {
    if (*seq == 0) return Status::InvalidArgument("--from 0: sequences start at 1");
    return Status::Ok();
  }
  *seq = 0;
  if (text.find('-') == std::string::npos) {
    return Status::InvalidArgument("--from " + text +
                                   ": expected a sequence number or an ISO 8601 time");
  }
  return ParseTime(text, "--from", us);
}

// --pace budget | history | history=DAYS
Status ParsePace(const std::string& text, sim::ForecastOptions* o) {
  if (text == "budget") {
    o->pace = sim::ForecastOptions::Pace::kBudget;
    return Status::Ok();
  }
  if (text.rfind("history", 0) != 0) {
    return Status::InvalidArgument("--pace " + text + ": expected budget, history or history=DAYS");
  }
  o->pace = sim::ForecastOptions::Pace::kHistory;
  if (text == "history") return Status::Ok();
  const std::string days = text.substr(std::string("history").size());
  int n = 0;
  const char* end = days.data() + days.size();
  auto [p, ec] = std::from_chars(days.data() + 1, end, n);
  if (days[0] != '=' || ec != std::errc() || p != end || n < 1 || n > 366) {
    return Status::InvalidArgument("--pace " + text + ": DAYS must be a whole number from 1 to 366");
  }
  o->history_days = n;
  return Status::Ok();
}

}  // namespace

int WhatIfMain(const std::vector<std::string>& args) {
  po::options_description options("billsim whatif options");
  auto add = options.add_options();
  add("log", po::value<std::string>()->required(), "log directory (read only)");
  add("from", po::value<std::string>(),
      "the changes act from sequence N, or from TIME (ISO 8601); the replay starts from the "
      "newest snapshot before it");
  add("account", po::value<std::string>(), "report only this account and its campaigns");
  add("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  add("funding-order", po::value<std::vector<std::string>>()->composing(),
      "ACCOUNT=cash_first|credit_first");
  add("grant-amount", po::value<std::vector<std::string>>()->composing(), "GRANT=MICROS");
  add("grant-expiry", po::value<std::vector<std::string>>()->composing(),
      "GRANT=+DURATION|-DURATION|TIME (DURATION: 7d, 36h, 90m, 30s)");
  add("campaign-budget", po::value<std::vector<std::string>>()->composing(),
      "CAMPAIGN=MICROS[@TIME]");
  add("campaign-mode", po::value<std::vector<std::string>>()->composing(),
      "CAMPAIGN=day|total|infinite[@TIME]");
  add("campaign-price", po::value<std::vector<std::string>>()->composing(),
      "CAMPAIGN=MICROS[@TIME]");
  add("pause", po::value<std::vector<std::string>>()->composing(), "CAMPAIGN@TIME");
  add("enable", po::value<std::vector<std::string>>()->composing(), "CAMPAIGN@TIME");
  add("drop", po::value<std::vector<std::string>>()->composing(),
      "KEY=VALUE[,...]: drop the events that match (keys kind, campaign, from, to, fault)");
  add("insert", po::value<std::vector<std::string>>()->composing(),
      "FILE: add its events (scenario or JSON lines) at their times");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(
          args,
          "usage: billsim whatif --log DIR [--from SEQ|TIME] CHANGE... [--account ID]\n"
          "                      [--format table|json|csv]\n\n"
          "Replays the log twice side by side, as it is and with the changes, and prints\n"
          "every figure that differs per account and per campaign (spent by source,\n"
          "expired, refunded, billed and not-billed units and amounts by reason, final\n"
          "balances) and the first ledger entry where the two histories part. The\n"
          "changes are billed by the ledger's own rules: each becomes events (a rewritten\n"
          "creation, an inserted CampaignUpdated or status change, dropped events). The\n"
          "log is never written. Exit 2 for a malformed change or one that finds nothing\n"
          "to change, 1 if the log cannot be read.\n\n"
          "changes (each flag may repeat; they combine):\n"
          "  --funding-order ACCOUNT=cash_first|credit_first\n"
          "  --grant-amount GRANT=MICROS      --grant-expiry GRANT=+7d|-36h|TIME\n"
          "  --campaign-budget CAMPAIGN=MICROS[@TIME]   (no @TIME: from its creation)\n"
          "  --campaign-mode CAMPAIGN=day|total|infinite[@TIME]\n"
          "  --campaign-price CAMPAIGN=MICROS[@TIME]\n"
          "  --pause CAMPAIGN@TIME            --enable CAMPAIGN@TIME\n"
          "  --drop kind=click,campaign=C,from=TIME,to=TIME,fault=true\n"
          "  --insert FILE\n",
          options, nullptr, &vm, &exit)) {
    return exit;
  }
  Format format;
  Status st = ParseFormat(vm["format"].as<std::string>(), &format);
  sim::ChangeSet changes;
  for (const char* flag : kChangeFlags) {
    if (!st.ok() || !vm.count(flag)) continue;
    for (const std::string& v : vm[flag].as<std::vector<std::string>>()) {
      st = changes.Add(std::string("--") + flag, v);
      if (!st.ok()) break;
    }
  }
  if (st.ok() && vm.count("insert")) {
    for (const std::string& file : vm["insert"].as<std::vector<std::string>>()) {
      std::vector<v1::Event> events;
      st = bulk::ForEachEventIn(file, bulk::ReaderOptions{}, [&](const v1::Event& e) {
        events.push_back(e);
        return Status::Ok();
      });
      if (!st.ok()) {
        st = Status::InvalidArgument("--insert " + file + ": " + st.message());
        break;
      }
      changes.AddInserted(file, std::move(events));
    }
  }
  sim::WhatIfLogOptions wo;
  if (st.ok() && vm.count("from")) st = ParseFrom(vm["from"].as<std::string>(), &wo.from_seq, &wo.from_us);
  if (vm.count("account")) wo.account = vm["account"].as<std::string>();
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  if (changes.empty()) spdlog::warn("no change given: the what-if is the log itself");
  const bool progress = StderrIsTerminal();
  if (progress) {
    wo.progress = [](uint64_t seq) { std::cerr << "\rwhat-if: sequence " << seq << std::flush; };
  }
  sim::WhatIfResult result;
  st = sim::RunWhatIf(vm["log"].as<std::string>(), changes, wo, &result);
  if (progress) std::cerr << "\r" << std::string(40, ' ') << "\r";
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return st.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  sim::WriteWhatIf(result, format, std::cout);
  return kExitOk;
}

int ForecastMain(const std::vector<std::string>& args) {
  po::options_description options("billsim forecast options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory (read only)")(
      "account", po::value<std::string>()->required(), "the account to project")(
      "as-of", po::value<std::string>(),
      "project from the state at TIME instead of the end of the log (the log's events "
      "after it are not read: compare the forecast with what happened)")(
      "until", po::value<std::string>(),
      "the last time projected (default: its last grant's expiry, at least 30 days)")(
      "pace", po::value<std::string>()->default_value("budget"),
      "budget (daily budgets spend in full, other campaigns at their 7-day history), "
      "history or history=DAYS (every campaign at its recent pace per local day)")(
      "no-advice", "skip the daily spend that would use each grant by its expiry")(
      "format", po::value<std::string>()->default_value("table"),
      "table, csv (the day-by-day balances) or json");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(
          args,
          "usage: billsim forecast --log DIR --account ID [--as-of TIME] [--until TIME]\n"
          "                        [--pace budget|history[=DAYS]] [--format table|json|csv]\n\n"
          "Projects the account's spend from the end of the log, day by day in its time\n"
          "zone: each enabled campaign delivers its daily spend at local noon, applied by\n"
          "the ledger itself to a copy of the state (funding order, coupons, holds, daily\n"
          "budgets and expiry all as billing does them). Prints when each grant runs out\n"
          "or how much of it expires unused, when the valid balance reaches zero, which\n"
          "campaigns stop for insufficient funds, the balances per day, and for each grant\n"
          "the daily budgets that would use it by its expiry (checked by simulating them).\n"
          "The log is never written.\n",
          options, nullptr, &vm, &exit)) {
    return exit;
  }
  Format format;
  sim::ForecastOptions fo;
  fo.account = vm["account"].as<std::string>();
  fo.recommend = vm.count("no-advice") == 0;
  Status st = ParseFormat(vm["format"].as<std::string>(), &format);
  if (st.ok()) st = ParsePace(vm["pace"].as<std::string>(), &fo);
  if (st.ok() && vm.count("until")) st = ParseTime(vm["until"].as<std::string>(), "--until", &fo.until_us);
  ReplayOptions ro;
  if (st.ok() && vm.count("as-of")) st = ParseTime(vm["as-of"].as<std::string>(), "--as-of", &ro.as_of_us);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  // The whole log, with the account's billing per local day for the pace.
  Ledger ledger;
  struct PaceSink : SeqEntrySink {
    explicit PaceSink(sim::ForecastPaceSink* s) : inner(s) {}
    void Add(const Entry& e) override { inner->Add(e); }
    sim::ForecastPaceSink* inner;
  };
  sim::ForecastPaceSink pace(&ledger, fo.account);
  PaceSink sink(&pace);
  ro.sink = &sink;
  ReplayStats stats;
  st = Replay(vm["log"].as<std::string>(), ro, &ledger, &stats);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  fo.billed_recently = pace.Recent(fo.history_days);
  sim::ForecastResult result;
  st = sim::Forecast(ledger, fo, &result);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return st.code() == Status::Code::kCorruption ? kExitFailed : kExitUsage;
  }
  sim::WriteForecast(result, format, std::cout);
  return kExitOk;
}

}  // namespace billsim::cli
