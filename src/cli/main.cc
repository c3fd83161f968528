// billsim: one program, many subcommands. This file only dispatches; each
// subcommand parses its own options (Boost.Program_options).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*main)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"scenario", "run recorded scenarios, print their balances or history",
     billsim::cli::ScenarioMain},
    {"log", "append events to the durable log, verify, dump or repair it",
     billsim::cli::LogMain},
    {"replay", "rebuild every projection from the log and print balances",
     billsim::cli::ReplayMain},
    {"whatif", "replay the log with changed facts; print what differs",
     billsim::cli::WhatIfMain},
    {"forecast", "project an account's spend: when credit runs out or expires",
     billsim::cli::ForecastMain},
    {"snapshot", "write the projections' state at the end of the log",
     billsim::cli::SnapshotMain},
    {"audit", "explain balances: history, as-of balance, checks, evidence",
     billsim::cli::AuditMain},
    {"bench", "benchmarks that print figures (events/s, MB/s, RSS)",
     billsim::cli::BenchMain},
    {"serve", "run the ingest server: events in over TCP, durable acks",
     billsim::cli::ServeMain},
    {"console", "serve a log's HTTP/JSON API read-only, for auditing it",
     billsim::cli::ConsoleMain},
    {"client", "send event files to a server, print acks and rejections",
     billsim::cli::ClientMain},
    {"query", "ask a server for a balance, spend, dispute or history",
     billsim::cli::QueryMain},
    {"import", "replay a TikTok Ads Manager report against an account",
     billsim::cli::ImportMain},
    {"stress", "drive a server hard, then check nothing was lost",
     billsim::cli::StressMain},
    {"cluster", "create a NATS JetStream cluster, publish events to it",
     billsim::cli::ClusterMain},
    {"shard", "apply one cluster partition, keeping its own audit log",
     billsim::cli::ShardMain},
};

void Usage(std::ostream& out) {
  out << "billsim: an event-sourced billing simulator for advertising credit\n\n"
         "usage: billsim COMMAND [ARGS...]\n"
         "       billsim COMMAND --help\n\n"
         "commands:\n";
  for (const Command& c : kCommands) {
    out << "  " << c.name << std::string(12 - std::string(c.name).size(), ' ')
        << c.summary << "\n";
  }
  out << "\nMoney is integer micro-units of the account currency; time is\n"
         "integer microseconds UTC. Results go to stdout, logs to stderr.\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Logs to stderr, so that stdout carries only results.
  auto logger = spdlog::stderr_color_mt("billsim");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    Usage(std::cerr);
    return billsim::cli::kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    Usage(std::cout);
    return billsim::cli::kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "billsim 0.1.0\n";
    return billsim::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (args[0] == c.name) {
      return c.main(std::vector<std::string>(args.begin() + 1, args.end()));
    }
  }
  spdlog::error("unknown command \"{}\"; see billsim --help", args[0]);
  return billsim::cli::kExitUsage;
}
