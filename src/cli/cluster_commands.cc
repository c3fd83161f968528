// billsim cluster init|publish and billsim shard: billsim on NATS JetStream
// (src/cluster/, issue 15).
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "cluster/cluster_config.h"
#include "cluster/nats_client.h"
#include "cluster/publisher.h"
#include "cluster/shard.h"
#include "log/event_stream.h"
#include "bulk/event_reader.h"

namespace billsim::cli {

namespace {

constexpr const char* kClusterUsage =
    "usage: billsim cluster init --nats URL --partitions P [--replicas 1|3]\n"
    "       billsim cluster publish --nats URL [--batch N] [--retry-ms MS] [--json]\n"
    "                               (FILE... | --log DIR)\n\n"
    "billsim on NATS JetStream. A cluster has P partitions, fixed at init and\n"
    "recorded in JetStream (bucket billsim_cluster, key config); an account\n"
    "belongs to partition XXH64(account_id, seed 0) mod P. Each partition is a\n"
    "stream (BILLSIM_P<p>, subject billsim.p<p>.batch, file storage, R1 or R3)\n"
    "of columnar event batches, which `billsim shard` replicas apply.\n\n"
    "  init     create the cluster (again with the same shape: no change;\n"
    "           with another: refused)\n"
    "  publish  route the events of scenario or JSON-lines files, or of a\n"
    "           billsim log, to their partitions and publish them, each batch\n"
    "           with a Nats-Msg-Id derived from its bytes (a repeat is a\n"
    "           duplicate); a failed publish is retried for --retry-ms; exits\n"
    "           once JetStream acknowledged every batch\n\n"
    "URL: nats://HOST:PORT, or a comma-separated list of a cluster's nodes.\n";

// Releases the NATS library's own threads and memory at the end of a
// command (after every connection is gone): declared first in a command,
// so destroyed last.
struct NatsLibrary {
  ~NatsLibrary() { nats_Close(); }
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

// Every event of a billsim log, in order, through the publisher.
Status PublishLog(const std::string& dir, cluster::Publisher* publisher) {
  class Visitor : public log::BatchVisitor {
   public:
    Visitor(const log::BatchDecoder& d, cluster::Publisher* p) : d_(d), p_(p) {}
    bool OnDelivery(uint32_t, const log::DeliveryRow& row) override {
      st = p_->Add(d_.ToEvent(row));
      return st.ok();
    }
    bool OnEvent(uint32_t, const v1::Event& event) override {
      st = p_->Add(event);
      return st.ok();
    }
    Status st;

   private:
    const log::BatchDecoder& d_;
    cluster::Publisher* p_;
  };
  log::EventStream stream;
  Status st = stream.Open(dir);
  for (bool done = false; st.ok();) {
    st = stream.Next(&done);
    if (!st.ok() || done) break;
    Visitor v(stream.decoder(), publisher);
    stream.decoder().Visit(&v);
    st = v.st;
  }
  return st;
}

int InitCommand(const std::vector<std::string>& args) {
  NatsLibrary library;
  po::options_description options("billsim cluster init options");
  options.add_options()("nats", po::value<std::string>()->required(), "NATS URL(s)")(
      "partitions", po::value<uint32_t>()->required(), "partitions (1..1024)")(
      "replicas", po::value<uint32_t>()->default_value(1), "replicas of each stream: 1 or 3");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args, kClusterUsage, options, nullptr, &vm, &exit)) return exit;
  std::unique_ptr<cluster::NatsClient> nats;
  Status st = cluster::NatsClient::Connect(vm["nats"].as<std::string>(), 5000, &nats);
  cluster::ClusterConfig config{vm["partitions"].as<uint32_t>(), vm["replicas"].as<uint32_t>()};
  if (st.ok()) st = cluster::InitCluster(nats.get(), config);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return st.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  std::cout << "cluster at " << nats->url() << ": " << config.partitions << " partitions, "
            << config.replicas << " replica(s)\n";
  return kExitOk;
}

int PublishCommand(const std::vector<std::string>& args) {
  NatsLibrary library;
  po::options_description options("billsim cluster publish options");
  options.add_options()("nats", po::value<std::string>()->required(), "NATS URL(s)")(
      "batch", po::value<uint32_t>()->default_value(2000), "events per published batch (1..100000)")(
      "retry-ms", po::value<int64_t>()->default_value(60000),
      "how long a failed publish is retried (same message id)")(
      "log", po::value<std::string>(), "publish the events of this billsim log")(
      "json", "print the result as one JSON object")(
      "file", po::value<std::vector<std::string>>(), "event files");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args, kClusterUsage, options, "file", &vm, &exit)) return exit;
  const uint32_t batch = vm["batch"].as<uint32_t>();
  if (batch == 0 || batch > 100000) {
    spdlog::error("--batch: {} is out of range (1..100000)", batch);
    return kExitUsage;
  }
  if (vm.count("log") == vm.count("file")) {
    spdlog::error("give event files or --log DIR (one of them)");
    return kExitUsage;
  }
  const int64_t retry_ms = vm["retry-ms"].as<int64_t>();
  if (retry_ms < 0) {
    spdlog::error("--retry-ms: must be 0 or more");
    return kExitUsage;
  }
  std::unique_ptr<cluster::NatsClient> nats;
  Status st = cluster::NatsClient::Connect(vm["nats"].as<std::string>(), 5000, &nats);
  cluster::ClusterConfig config;
  if (st.ok()) st = cluster::LoadCluster(nats.get(), &config);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  cluster::Publisher publisher(nats.get(), config.partitions, batch, retry_ms);
  const auto started = std::chrono::steady_clock::now();
  if (vm.count("log")) {
    st = PublishLog(vm["log"].as<std::string>(), &publisher);
    if (st.ok()) st = publisher.Flush();
    if (!st.ok()) {
      spdlog::error("{}", st.ToString());
      return st.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
    }
  }
  const std::vector<std::string> files =
      vm.count("file") ? vm["file"].as<std::vector<std::string>>() : std::vector<std::string>{};
  for (const std::string& file : files) {
    st = bulk::ForEachEventIn(file, bulk::ReaderOptions{},
                              [&](const v1::Event& e) { return publisher.Add(e); });
    if (!st.ok()) {
      // What JetStream acknowledged stays published; what was still queued
      // is not sent. A rerun of the fixed file sends everything again: its
      // batches differ, so the shards refuse what they have as repeated
      // ids (R10), each reported.
      spdlog::error("{}: {}", file, st.ToString());
      return st.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
    }
  }
  st = publisher.Flush();
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const cluster::PublishStats s = publisher.stats();
  if (vm.count("json")) {
    std::cout << nlohmann::json{{"events", s.events},
                                {"batches", s.batches},
                                {"duplicate_batches", s.duplicates},
                                {"bytes", s.bytes},
                                {"retries", s.retries},
                                {"seconds", seconds},
                                {"events_per_s", seconds > 0 ? static_cast<uint64_t>(s.events / seconds) : 0},
                                {"partitions", config.partitions}}
                     .dump()
              << "\n";
  } else {
    std::cout << "published " << s.events << " events in " << s.batches << " new batches ("
              << s.duplicates << " duplicate) to " << config.partitions << " partitions\n";
  }
  return kExitOk;
}

}  // namespace

int ClusterMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kClusterUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "init") return InitCommand(rest);
  if (args[0] == "publish") return PublishCommand(rest);
  spdlog::error("unknown cluster subcommand \"{}\"; see billsim cluster --help", args[0]);
  return kExitUsage;
}

int ShardMain(const std::vector<std::string>& args) {
  NatsLibrary library;
  po::options_description options("billsim shard options");
  options.add_options()("nats", po::value<std::string>()->required(), "NATS URL(s)")(
      "partition", po::value<uint32_t>()->required(), "the partition it applies")(
      "state", po::value<std::string>()->required(),
      "its folder: the billsim log it keeps (created if missing)")(
      "fsync", po::value<std::string>()->default_value("always"),
      "its log's fsync policy: always, interval=MS or never")(
      "until-idle", po::value<int64_t>()->default_value(0),
      "stop once no message came for this many ms (0: run until SIGINT/SIGTERM)")(
      "json", "print the result as one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim shard --nats URL --partition N --state DIR [--fsync P]\n"
                 "                     [--until-idle MS] [--json]\n\n"
                 "One replica of a cluster partition: consumes the partition's stream in\n"
                 "order, applies every event with the single-node ledger, and keeps its\n"
                 "own hash-chained billsim log in DIR (each batch records the stream\n"
                 "sequence it came from; `billsim replay --log DIR` and `log verify`\n"
                 "read it). A restart resumes after the last stream sequence in DIR.\n"
                 "Refused events and messages are logged and published on\n"
                 "billsim.p<N>.refused as JSON. At the end it prints the stream\n"
                 "sequence reached, the events applied and refused, and the state digest.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  cluster::ShardOptions o;
  o.nats_url = vm["nats"].as<std::string>();
  o.partition = vm["partition"].as<uint32_t>();
  o.state_dir = vm["state"].as<std::string>();
  o.until_idle_ms = vm["until-idle"].as<int64_t>();
  Status st = log::FsyncPolicy::Parse(vm["fsync"].as<std::string>(), &o.fsync);
  if (!st.ok() || o.until_idle_ms < 0) {
    spdlog::error("{}", st.ok() ? "--until-idle: must be 0 or more" : st.ToString());
    return kExitUsage;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  o.stop = &g_stop;
  cluster::ShardStats s;
  st = cluster::RunShard(o, &s);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return st.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  if (vm.count("json")) {
    std::cout << nlohmann::json{{"partition", o.partition},
                                {"resumed_after_stream_seq", s.resumed_after},
                                {"last_stream_seq", s.last_stream_seq},
                                {"messages", s.messages},
                                {"events_applied", s.events_applied},
                                {"events_refused", s.events_refused},
                                {"messages_refused", s.messages_refused},
                                {"last_log_seq", s.last_log_seq},
                                {"state_digest", s.state_digest}}
                     .dump()
              << "\n";
  } else {
    std::cout << "partition " << o.partition << ": stream sequence " << s.last_stream_seq
              << " (resumed after " << s.resumed_after << "), " << s.events_applied
              << " events applied, " << s.events_refused << " refused, " << s.messages_refused
              << " messages refused; log sequence " << s.last_log_seq << ", state digest "
              << s.state_digest << "\n";
  }
  return kExitOk;
}

}  // namespace billsim::cli

namespace billsim::cli {

// --- bench nats ---------------------------------------------------------------------

namespace {

// One run: `messages` messages of `bytes` bytes published asynchronously
// (at most 4,096 unacknowledged) to a fresh stream, until every one is
// acknowledged; messages/s.
Status PublishRun(cluster::NatsClient* nats, uint32_t replicas, uint64_t messages,
                  uint32_t bytes, double* per_s) {
  const char* stream = "BILLSIM_BENCH";
  const char* subjects[] = {"billsim.bench"};
  js_DeleteStream(nats->js(), stream, nullptr, nullptr);  // a run interrupted before
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = stream;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(nullptr, nats->js(), &sc, nullptr, &code);
  if (s != NATS_OK) return nats->Error("creating stream BILLSIM_BENCH", s, code);
  const std::string payload(bytes, 'x');
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < messages && s == NATS_OK; ++i) {
    s = js_PublishAsync(nats->js(), subjects[0], payload.data(), static_cast<int>(payload.size()),
                        nullptr);
  }
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    s = js_PublishAsyncComplete(nats->js(), &po);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  jsStreamInfo* si = nullptr;
  uint64_t stored = 0;
  if (s == NATS_OK && js_GetStreamInfo(&si, nats->js(), stream, nullptr, &code) == NATS_OK) {
    stored = si->State.Msgs;
    jsStreamInfo_Destroy(si);
  }
  js_DeleteStream(nats->js(), stream, nullptr, nullptr);
  if (s != NATS_OK) return nats->Error("publishing to BILLSIM_BENCH", s);
  if (stored != messages) {
    return Status::IOError("the stream holds " + std::to_string(stored) + " of " +
                           std::to_string(messages) + " messages published");
  }
  *per_s = static_cast<double>(messages) / seconds;
  return Status::Ok();
}

}  // namespace

int BenchNatsMain(const std::vector<std::string>& args) {
  NatsLibrary library;
  po::options_description options("billsim bench nats options");
  options.add_options()("nats", po::value<std::string>()->required(), "NATS URL(s)")(
      "messages", po::value<uint64_t>()->default_value(200'000), "messages per run")(
      "bytes", po::value<uint32_t>()->default_value(64), "bytes per message")(
      "replicas", po::value<uint32_t>()->default_value(1), "the stream's replicas (1 or 3)")(
      "runs", po::value<uint32_t>()->default_value(3), "runs (the median is reported)")(
      "json", "print the result as one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim bench nats --nats URL [--messages N] [--bytes B]\n"
                 "                          [--replicas 1|3] [--runs R] [--json]\n\n"
                 "JetStream's own publish rate, the yardstick for the cluster's figures:\n"
                 "N messages of B bytes published asynchronously (at most 4,096 awaiting\n"
                 "their acknowledgement) to a fresh stream BILLSIM_BENCH (file storage),\n"
                 "timed until every one is acknowledged; the stream is deleted after\n"
                 "each run. Prints the median messages/s of the runs and their range.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const uint64_t messages = vm["messages"].as<uint64_t>();
  const uint32_t bytes = vm["bytes"].as<uint32_t>();
  const uint32_t replicas = vm["replicas"].as<uint32_t>();
  const uint32_t runs = vm["runs"].as<uint32_t>();
  if (messages == 0 || messages > 100'000'000 || bytes > 65536 || runs == 0 || runs > 100 ||
      (replicas != 1 && replicas != 3)) {
    spdlog::error("--messages 1..100000000, --bytes 0..65536, --runs 1..100, --replicas 1 or 3");
    return kExitUsage;
  }
  std::unique_ptr<cluster::NatsClient> nats;
  Status st = cluster::NatsClient::Connect(vm["nats"].as<std::string>(), 60000, &nats);
  std::vector<double> rates;
  for (uint32_t r = 0; st.ok() && r < runs; ++r) {
    double per_s = 0;
    st = PublishRun(nats.get(), replicas, messages, bytes, &per_s);
    rates.push_back(per_s);
  }
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  if (vm.count("json")) {
    std::cout << nlohmann::json{{"messages", messages}, {"bytes", bytes}, {"replicas", replicas},
                                {"runs", runs}, {"messages_per_s", std::llround(median)},
                                {"messages_per_s_min", std::llround(rates.front())},
                                {"messages_per_s_max", std::llround(rates.back())}}
                     .dump()
              << "\n";
  } else {
    std::printf("%.0f messages/s (median of %u; %.0f..%.0f), %u bytes each, R%u\n", median, runs,
                rates.front(), rates.back(), bytes, replicas);
  }
  return kExitOk;
}

}  // namespace billsim::cli
