// billsim stress: drive a running server hard with realistic traffic over
// several connections, report acknowledged throughput and ack latency, then
// check that nothing was lost (balances against an offline replay of the
// server's log; acknowledged ids against the ids in the log).
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "log/format.h"
#include "net/client.h"
#include "cluster/cluster_check.h"
#include "stress/stress.h"

namespace billsim::cli {

int StressMain(const std::vector<std::string>& args) {
  po::options_description options("billsim stress options");
  options.add_options()(
      "connect", po::value<std::string>()->default_value("127.0.0.1:7600"), "server HOST:PORT")(
      "accounts", po::value<uint32_t>()->default_value(100), "accounts to open")(
      "campaigns", po::value<uint32_t>()->default_value(1000), "campaigns to create")(
      "events", po::value<uint64_t>()->default_value(1'000'000), "stream events after set-up")(
      "connections", po::value<uint32_t>()->default_value(4),
      "connections, one thread and one blocking client each")(
      "batch", po::value<uint32_t>()->default_value(10'000), "events per append request")(
      "pipeline", po::value<uint32_t>()->default_value(2),
      "append requests in flight per connection")(
      "rate", po::value<double>()->default_value(0), "events/s limit (token bucket); 0: none")(
      "seed", po::value<uint64_t>()->default_value(1), "workload seed (same seed, same events)")(
      "retry-ms", po::value<int64_t>()->default_value(0),
      "after a connection fails, reconnect for up to this long and resend every batch not "
      "yet acknowledged (0: a failure is an error)")(
      "token-file", po::value<std::string>(),
      "a file holding the access token alone, on its first line that is not a '#' comment "
      "(mode 600); sent in a Hello first on every connection. Needed by a server started "
      "with --token-file; the token must be read-write or operator")(
      "nats", po::value<std::string>(),
      "the server at --connect is a cluster gateway (`serve --nats`) of this NATS URL: the "
      "check replays the partitions' streams and asks the shards, instead of reading a log")(
      "json", "print one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim stress [--connect HOST:PORT] [--accounts N] [--campaigns M]\n"
                 "                      [--events E] [--connections C] [--batch B] [--pipeline P]\n"
                 "                      [--rate R]\n"
                 "                      [--seed S] [--retry-ms T] [--token-file PATH]\n"
                 "                      [--nats URL] [--json]\n\n"
                 "Sets up accounts, deposits, credit grants with staggered expiries and\n"
                 "campaigns on a running `billsim serve`, then streams realistic delivery\n"
                 "(with pauses, deletions, ad rejections, disputes of every reason and\n"
                 "fault-marked delivery mixed in) over C connections, each request one\n"
                 "columnar batch (the log's EventBatch encoding). Reports events/s\n"
                 "acknowledged, ack latency per batch (send to ack; pacing by --rate is not\n"
                 "counted) and rejections by field, then checks\n"
                 "that the server's balances equal an offline replay of its log and that\n"
                 "every acknowledged event is in the log exactly once. With --nats\n"
                 "(through a cluster gateway): that every shard's balances equal an\n"
                 "offline replay of its partition's stream, and that every acknowledged\n"
                 "event is applied exactly once.\n"
                 "Exit 0 when consistent (and no errors), 1 otherwise.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  stress::StressOptions o;
  o.connect = vm["connect"].as<std::string>();
  o.accounts = vm["accounts"].as<uint32_t>();
  o.campaigns = vm["campaigns"].as<uint32_t>();
  o.events = vm["events"].as<uint64_t>();
  o.connections = vm["connections"].as<uint32_t>();
  o.batch = vm["batch"].as<uint32_t>();
  o.pipeline = vm["pipeline"].as<uint32_t>();
  o.rate = vm["rate"].as<double>();
  o.seed = vm["seed"].as<uint64_t>();
  o.retry_ms = vm["retry-ms"].as<int64_t>();
  o.progress = StderrIsTerminal();
  if (vm.count("nats")) {
    const std::string url = vm["nats"].as<std::string>();
    o.check = [url](const std::vector<std::string>& accounts,
                    const std::vector<std::pair<uint64_t, uint64_t>>& acked_runs,
                    stress::StressReport* report) {
      return cluster::CheckCluster(url, accounts, acked_runs, report);
    };
  }
  if (vm.count("token-file")) {
    const Status st = net::ReadTokenFile(vm["token-file"].as<std::string>(), &o.token);
    if (!st.ok()) {
      spdlog::error("--token-file: {}", st.message());
      return kExitUsage;
    }
  }
  if (o.accounts == 0 || o.campaigns == 0 || o.connections == 0 || o.connections > 1024 ||
      o.batch == 0 || o.batch > log::kMaxBatchEvents || o.pipeline == 0 || o.rate < 0 ||
      o.retry_ms < 0) {
    spdlog::error("--accounts, --campaigns, --pipeline must be positive, --connections "
                  "1..1024, --batch 1..{}, --rate and --retry-ms not negative",
                  log::kMaxBatchEvents);
    return kExitUsage;
  }
  const bool json = vm.count("json") > 0;
  stress::StressReport report;
  const Status st = stress::RunStress(o, &report);
  std::cout << (json ? stress::ReportJson(o, report) : stress::ReportText(o, report))
            << std::flush;
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  return report.consistent && report.errors == 0 ? kExitOk : kExitFailed;
}

}  // namespace billsim::cli
