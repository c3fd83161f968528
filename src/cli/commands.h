// The subcommands of the billsim program. Each takes its own arguments (after
// the subcommand's name), writes results to stdout and logs to stderr, and
// returns the process exit code: 0 success, 1 a check failed, 2 bad usage or
// input.
#ifndef BILLSIM_CLI_COMMANDS_H_
#define BILLSIM_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace billsim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// billsim whatif: a counterfactual replay of a log, and its difference.
int WhatIfMain(const std::vector<std::string>& args);
// billsim forecast: an account's credit runway, by the ledger's own rules.
int ForecastMain(const std::vector<std::string>& args);
// billsim scenario run|report|history ...
int ScenarioMain(const std::vector<std::string>& args);
// billsim log append|verify|dump ...
int LogMain(const std::vector<std::string>& args);
// billsim replay ...
int ReplayMain(const std::vector<std::string>& args);
// billsim snapshot ...
int SnapshotMain(const std::vector<std::string>& args);
// billsim audit history|balance|check|evidence ...
int AuditMain(const std::vector<std::string>& args);
// billsim bench log|ledger|history ...
int BenchMain(const std::vector<std::string>& args);
// billsim bench ledger ... (bench_ledger.cc; BenchMain dispatches to it)
int BenchLedgerMain(const std::vector<std::string>& args);
// billsim bench memory ... (bench_memory.cc; BenchMain dispatches to it)
int BenchMemoryMain(const std::vector<std::string>& args);
// billsim bench http ... (bench_http.cc: the HTTP/JSON API of a running server)
int BenchHttpMain(const std::vector<std::string>& args);
int BenchImportMain(const std::vector<std::string>& args);
// billsim bench nats ... (cluster_commands.cc)
int BenchNatsMain(const std::vector<std::string>& args);
// billsim serve ... (the Asio ingest server)
int ServeMain(const std::vector<std::string>& args);
// billsim console ... (the HTTP/JSON API over a log, read-only)
int ConsoleMain(const std::vector<std::string>& args);
// billsim client ... (send event files to a server)
int ClientMain(const std::vector<std::string>& args);
// billsim query ... (balances, spend, disputes, history from a server)
int QueryMain(const std::vector<std::string>& args);
// billsim import tiktok-report ... (an Ads Manager export against an account)
int ImportMain(const std::vector<std::string>& args);
// billsim stress ... (load a server, then prove nothing was lost)
int StressMain(const std::vector<std::string>& args);

// billsim cluster init|publish ... (NATS JetStream, cluster_commands.cc)
int ClusterMain(const std::vector<std::string>& args);
// billsim shard ... (one replica of a cluster partition)
int ShardMain(const std::vector<std::string>& args);

}  // namespace billsim::cli

#endif  // BILLSIM_CLI_COMMANDS_H_
