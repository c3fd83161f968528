// billsim bench log: figures for the log (append by fsync policy, replay,
// replay from a snapshot, bytes per event, peak RSS). A benchmark prints
// what it measured; it asserts nothing about speed.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include <algorithm>
#include <random>

#include <cmath>
#include "net/client.h"
#include "bench/workload.h"
#include "history/history_index.h"
#include "log/log_lock.h"
#include "cli/bench_util.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "log/batch_codec.h"
#include "log/log_writer.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"
#include "report/json.h"

namespace billsim::cli {

namespace {

namespace fs = std::filesystem;
using Clock = BenchClock;

struct AppendResult {
  double seconds = 0;      // encoding + writing + syncing, not generating
  uint64_t bytes = 0;
  uint64_t events = 0;
  std::vector<uint64_t> batch_ends;  // last sequence of each batch
  log::Chain chain{};
};

// Writes `events` stream events (plus set-up) to a new log in `dir`.
Status BuildLog(const std::string& dir, const log::FsyncPolicy& policy, uint64_t events,
                uint32_t batch_size, const WorkloadOptions& wo, Progress* progress,
                AppendResult* out) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  log::LogOptions lo;
  lo.fsync = policy;
  std::unique_ptr<log::LogWriter> writer;
  Status st = log::LogWriter::Open(dir, lo, &writer);
  if (!st.ok()) return st;
  Workload workload(wo);
  log::BatchBuilder builder;
  log::SeqRange range;
  for (const v1::Event& e : workload.Setup()) builder.Add(e);
  st = writer->Append(builder, &range);
  if (!st.ok()) return st;
  out->batch_ends.push_back(range.last);
  out->events = range.last;
  const auto& accounts = workload.account_ids();
  const auto& campaigns = workload.campaign_ids();
  const auto& owner = workload.campaign_account();
  std::vector<Workload::Delivery> rows(batch_size);
  std::vector<v1::Event> others(batch_size);
  std::vector<bool> is_delivery(batch_size);
  const std::string phase = "append --fsync " + policy.ToString();
  uint64_t written = 0;
  while (written < events) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(batch_size, events - written));
    for (uint32_t i = 0; i < n; ++i) is_delivery[i] = workload.Next(&rows[i], &others[i]);
    const auto t0 = Clock::now();  // from here: encode, write, sync
    builder.Clear();
    for (uint32_t i = 0; i < n; ++i) {
      if (is_delivery[i]) {
        const Workload::Delivery& d = rows[i];
        builder.AddDelivery(d.event_id, d.time_us, accounts[owner[d.campaign]],
                            campaigns[d.campaign], d.kind, d.count, d.platform_fault);
      } else {
        builder.Add(others[i]);
      }
    }
    st = writer->Append(builder, &range);
    if (!st.ok()) return st;
    out->seconds += Seconds(Clock::now() - t0);
    out->batch_ends.push_back(range.last);
    written += n;
    progress->Show(phase, written, events);
  }
  const auto t0 = Clock::now();
  st = writer->Close();
  out->seconds += Seconds(Clock::now() - t0);
  out->bytes = writer->bytes_written();
  out->events = writer->next_seq() - 1;
  out->chain = writer->chain();
  return st;
}

// --- bench history ----------------------------------------------------------------

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Pages of --limit entries at random cursors of the given accounts, timed
// one by one, after the index is opened and caught up (timed too).
int TimePages(const history::HistoryIndex& index, const std::vector<std::string>& accounts,
              uint32_t pages, uint32_t limit) {
  std::mt19937_64 rng(1);
  std::vector<double> page_us, as_of_us;
  for (uint32_t i = 0; i < pages; ++i) {
    const std::string& account = accounts[i % accounts.size()];
    history::BalanceAt last;
    Status st = index.BalanceAsOf(account, INT64_MAX, index.covered_seq(), &last);
    history::PageQuery q;
    q.account = account;
    q.through_seq = index.covered_seq();
    q.limit = limit;
    q.cursor = last.entry_seq == 0 ? 0 : rng() % last.entry_seq;
    history::Page page;
    auto t0 = Clock::now();
    if (st.ok()) st = index.ReadPage(q, &page);
    page_us.push_back(Seconds(Clock::now() - t0) * 1e6);
    history::PageQuery first_q = q;
    first_q.cursor = 0;
    first_q.limit = 1;
    history::Page first;
    if (st.ok()) st = index.ReadPage(first_q, &first);
    const int64_t start = first.items.empty() ? 0 : first.items[0].entry.time_us();
    const int64_t at =
        start + static_cast<int64_t>(rng() % static_cast<uint64_t>(
                                                 std::max<int64_t>(last.account_clock_us - start, 0) + 1));
    t0 = Clock::now();
    history::BalanceAt b;
    if (st.ok()) st = index.BalanceAsOf(account, at, index.covered_seq(), &b);
    as_of_us.push_back(Seconds(Clock::now() - t0) * 1e6);
    if (!st.ok()) {
      spdlog::error("{}", st.ToString());
      return kExitFailed;
    }
  }
  std::printf("page of %u entries   p50 %.0f us  p99 %.0f us  max %.0f us  (%u pages)\n", limit,
              Percentile(page_us, 0.5), Percentile(page_us, 0.99), Percentile(page_us, 1.0),
              pages);
  std::printf("balance as of        p50 %.0f us  p99 %.0f us  max %.0f us\n",
              Percentile(as_of_us, 0.5), Percentile(as_of_us, 0.99), Percentile(as_of_us, 1.0));
  return kExitOk;
}

int BenchHistory(const std::vector<std::string>& args) {
  po::options_description options("billsim bench history options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "account", po::value<std::vector<std::string>>()->required(), "accounts to read (repeat)")(
      "pages", po::value<uint32_t>()->default_value(1000), "pages to time")(
      "limit", po::value<uint32_t>()->default_value(100), "entries per page");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim bench history --log DIR --account ID... [--pages N] [--limit N]\n\n"
                 "Opens the log's history index (DIR/history/; read-write if the log is not\n"
                 "locked), catches it up to the log's end and checkpoints it, timing each\n"
                 "step; then times --pages pages of --limit entries at random cursors of\n"
                 "the accounts, and as many as-of balances at random times.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const std::string dir = vm["log"].as<std::string>();
  history::HistoryIndex::Options o;
  std::unique_ptr<log::LogLock> lock;
  o.read_only = !log::LogLock::Acquire(dir, &lock).ok();
  std::unique_ptr<history::HistoryIndex> index;
  auto t0 = Clock::now();
  Status st = history::HistoryIndex::Open(dir, o, &index);
  const double open_s = Seconds(Clock::now() - t0);
  const uint64_t from = st.ok() ? index->covered_seq() : 0;
  t0 = Clock::now();
  if (st.ok()) st = index->CatchUp(UINT64_MAX);
  const double catch_up_s = Seconds(Clock::now() - t0);
  t0 = Clock::now();
  if (st.ok() && !o.read_only) st = index->Checkpoint();
  const double checkpoint_s = Seconds(Clock::now() - t0);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  const uint64_t events = index->covered_seq() - from;
  std::printf("open %.3f s; catch up %" PRIu64 " events in %.3f s (%.2f M events/s); "
              "checkpoint %.3f s%s\n",
              open_s, events, catch_up_s, events / std::max(catch_up_s, 1e-9) / 1e6,
              checkpoint_s, o.read_only ? " (read-only)" : "");
  return TimePages(*index, vm["account"].as<std::vector<std::string>>(),
                   std::max<uint32_t>(vm["pages"].as<uint32_t>(), 1),
                   vm["limit"].as<uint32_t>());
}

// --- bench history --server: page latency from a running server --------------------------------------------------------------

// Latencies in a fixed histogram, so that a long run holds 1.6 MB however
// many pages it times: 1 us buckets below 100 ms, 1 ms buckets from there
// to 100 s (slower pages land in the last). The maximum is kept exactly.
class LatencyHistogram {
 public:
  static constexpr int64_t kFineUsMax = 100'000;
  static constexpr int64_t kCoarseMsMax = 100'000;

  LatencyHistogram() : fine_(kFineUsMax, 0), coarse_(kCoarseMsMax, 0) {}
  void Add(int64_t us) {
    us = std::max<int64_t>(0, us);
    if (us < kFineUsMax) {
      ++fine_[static_cast<size_t>(us)];
    } else {
      ++coarse_[static_cast<size_t>(std::min<int64_t>(us / 1000, kCoarseMsMax - 1))];
    }
    ++count_;
    max_us_ = std::max(max_us_, us);
  }
  uint64_t count() const { return count_; }
  int64_t max_us() const { return max_us_; }
  // The smallest latency with at least q of the samples at or below it.
  int64_t PercentileUs(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < fine_.size(); ++i) {
      seen += fine_[i];
      if (seen >= rank) return static_cast<int64_t>(i);
    }
    for (size_t i = 0; i < coarse_.size(); ++i) {
      seen += coarse_[i];
      if (seen >= rank) return std::min<int64_t>(max_us_, static_cast<int64_t>(i) * 1000 + 999);
    }
    return max_us_;
  }

 private:
  std::vector<uint64_t> fine_, coarse_;
  uint64_t count_ = 0;
  int64_t max_us_ = 0;
};

struct HistoryBenchResult {
  uint64_t pages = 0;
  uint64_t entries = 0;
  uint64_t laps = 0;  // times the whole history was paged through
  double seconds = 0;
  LatencyHistogram latency;
};

// Pages through `account`'s history with cursors for `seconds`, one request
// in flight, starting over at cursor 0 after the last page.
Status RunHistoryBench(net::Client& client, const std::string& account, uint32_t limit,
                       double seconds, bool progress, HistoryBenchResult* out) {
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(seconds));
  auto last_shown = start;
  uint64_t cursor = 0;
  v1::Request request;
  v1::Response response;
  while (Clock::now() < end) {
    request.Clear();
    request.set_request_id(client.NextRequestId());
    auto* h = request.mutable_history();
    h->set_account_id(account);
    h->set_limit(limit);
    h->set_cursor(cursor);
    const auto t0 = Clock::now();
    Status st = client.Call(request, &response, std::chrono::milliseconds(30'000));
    const auto t1 = Clock::now();
    if (!st.ok()) return st;
    if (response.has_error()) {
      return Status::InvalidArgument("history of account " + account + ": " +
                                     v1::Error::Code_Name(response.error().code()) + ": " +
                                     response.error().message());
    }
    if (!response.has_history()) {
      return Status::Corruption("history of account " + account + ": the answer to request " +
                                std::to_string(request.request_id()) + " is not a history");
    }
    out->latency.Add(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
    ++out->pages;
    out->entries += static_cast<uint64_t>(response.history().items_size());
    if (response.history().truncated()) {
      cursor = response.history().next_cursor();
    } else {
      cursor = 0;
      ++out->laps;
    }
    if (progress && t1 - last_shown >= std::chrono::milliseconds(200)) {
      last_shown = t1;
      std::fprintf(stderr, "\rhistory %-20s %8.1f s  %" PRIu64 " pages  p99 %.2f ms   ",
                   account.c_str(), Seconds(t1 - start), out->pages,
                   static_cast<double>(out->latency.PercentileUs(0.99)) / 1000);
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  out->seconds = Seconds(Clock::now() - start);
  return Status::Ok();
}


int BenchHistoryMain(const std::vector<std::string>& args) {
  po::options_description options("billsim bench history options");
  options.add_options()("server", po::value<std::string>()->required(), "server HOST:PORT")(
      "account", po::value<std::string>()->required(), "the account to page through")(
      "limit", po::value<uint32_t>()->default_value(100), "entries per page (1..10000)")(
      "seconds", po::value<double>()->default_value(10), "how long to run (0.1..86400)")(
      "token-file", po::value<std::string>(),
      "a file holding the access token (first line not a '#' comment), sent in a Hello "
      "first: for a server started with --token-file")(
      "json", "print one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim bench history --server HOST:PORT --account A [--limit N]\n"
                 "                             [--seconds S] [--token-file F] [--json]\n\n"
                 "Pages through the account's history on a running `billsim serve`, one\n"
                 "request at a time, each page asked with the previous page's\n"
                 "next_cursor, starting over at the first page after the last, for S\n"
                 "seconds. Prints pages, entries, full passes (laps) and the page latency\n"
                 "(send to answer) p50, p99 and max in ms. Latencies are kept in a fixed\n"
                 "histogram (1 us buckets below 100 ms, 1 ms above), so memory does not\n"
                 "grow with the run. Exit 1 if the server refuses a page (e.g. the\n"
                 "account is unknown) or the connection fails.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const std::string account = vm["account"].as<std::string>();
  const uint32_t limit = vm["limit"].as<uint32_t>();
  const double seconds = vm["seconds"].as<double>();
  if (limit == 0 || limit > 10'000 || !(seconds >= 0.1 && seconds <= 86'400)) {
    spdlog::error("--limit must be 1..10000 (got {}) and --seconds 0.1..86400 (got {})", limit,
                  seconds);
    return kExitUsage;
  }
  net::Client client;
  Status st = ConnectWithToken(vm, "server", &client);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitFailed;
  }
  HistoryBenchResult r;
  st = RunHistoryBench(client, account, limit, seconds, StderrIsTerminal(), &r);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  const double p50 = static_cast<double>(r.latency.PercentileUs(0.50)) / 1000;
  const double p99 = static_cast<double>(r.latency.PercentileUs(0.99)) / 1000;
  const double max = static_cast<double>(r.latency.max_us()) / 1000;
  const double rate = r.seconds > 0 ? static_cast<double>(r.pages) / r.seconds : 0;
  if (vm.count("json")) {
    const JsonObject j = {
        {"account", account},
        {"limit", limit},
        {"seconds", RoundedTo(r.seconds, 3)},
        {"pages", r.pages},
        {"entries", r.entries},
        {"laps", r.laps},
        {"pages_per_s", RoundedTo(rate, 1)},
        {"latency_ms",
         {{"p50", RoundedTo(p50, 3)}, {"p99", RoundedTo(p99, 3)}, {"max", RoundedTo(max, 3)}}},
    };
    std::fputs(ToJsonLine(j).c_str(), stdout);
  } else {
    std::printf("account        %s (pages of %u)\n", account.c_str(), limit);
    std::printf("pages          %" PRIu64 " in %.1f s (%.0f pages/s), %" PRIu64
                " entries, %" PRIu64 " full passes\n",
                r.pages, r.seconds, rate, r.entries, r.laps);
    std::printf("page latency   p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", p50, p99, max);
  }
  return kExitOk;
}

}  // namespace

int BenchMain(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "history") {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    // --server: pages from a running server; else the index of a log.
    const bool server = std::find(rest.begin(), rest.end(), "--server") != rest.end() ||
                        std::any_of(rest.begin(), rest.end(), [](const std::string& a) {
                          return a.rfind("--server=", 0) == 0;
                        });
    return server ? BenchHistoryMain(rest) : BenchHistory(rest);
  }
  if (!args.empty() && args[0] == "ledger") {
    return BenchLedgerMain(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "memory") {
    return BenchMemoryMain(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "http") {
    return BenchHttpMain(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "import") {
    return BenchImportMain(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "nats") {
    return BenchNatsMain(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args.empty() || args[0] != "log") {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      std::cout << "usage: billsim bench log|ledger|memory|history|http|nats|import [OPTIONS]\n\nbenchmarks:\n"
                   "  log       append, replay and snapshot-replay figures for the log\n"
                   "  ledger    how the ledger scales with the size of the book: set-up\n"
                   "            and delivery replay rates, timer work per simulated day,\n"
                   "            memory and snapshot bytes per account and campaign\n"
                   "  memory    this machine's random-access latency and throughput by block\n"
                   "            size, one line and eight lines per page: what bounds a\n"
                   "            large book's replay\n"
                   "  history   --log DIR: history index build, page and as-of latency;\n"
                   "            --server HOST:PORT: page latency from a running server\n"
                   "  http      --http HOST:PORT: a running server's HTTP/JSON API: JSON-lines\n"
                   "            ingest beside the binary protocol, page and timeline latency\n"
                   "  nats      --nats URL: JetStream's own publish rate of small messages\n"
                   "  import    bulk import (JSON lines, CSV, gzip, zstd) and export beside\n"
                   "            the Protobuf-JSON reader they replaced\n"
                   "\nEach has --help.\n";
      return kExitOk;
    }
    spdlog::error("usage: billsim bench log|ledger|memory|history|http|nats|import [OPTIONS]; see billsim bench --help");
    return kExitUsage;
  }
  po::options_description options("billsim bench log options");
  options.add_options()("events", po::value<uint64_t>()->default_value(10'000'000),
                        "stream events per log")(
      "dir", po::value<std::string>(), "where to build the logs (default: a temporary "
                                       "folder, removed afterwards)")(
      "batch", po::value<uint32_t>()->default_value(10'000), "events per batch")(
      "interval-ms", po::value<int64_t>()->default_value(5), "for --fsync interval=MS")(
      "accounts", po::value<uint32_t>()->default_value(100), "accounts")(
      "campaigns", po::value<uint32_t>()->default_value(1000), "campaigns")(
      "seed", po::value<uint64_t>()->default_value(1), "workload seed")(
      "replay-runs", po::value<uint32_t>()->default_value(3),
      "full replays to time; the median is reported (the machine may be shared)")(
      "keep", "keep the logs")("json", "print one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (!ParseArgs(rest,
                 "usage: billsim bench log [--events N] [--dir DIR] [--replay-runs N] [--json]\n\n"
                 "Builds a synthetic log of realistic delivery traffic once per fsync\n"
                 "policy (always, interval, never), timing encoding, writing and\n"
                 "syncing; replays it with every projection; replays it again from a\n"
                 "snapshot at 90%; prints events/s, MB/s, bytes per event, peak RSS.\n"
                 "Replay is timed --replay-runs times; the median is reported.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const uint64_t events = vm["events"].as<uint64_t>();
  const uint32_t batch = vm["batch"].as<uint32_t>();
  if (events == 0 || batch == 0 || batch > log::kMaxBatchEvents) {
    spdlog::error("--events must be positive and --batch 1..{}", log::kMaxBatchEvents);
    return kExitUsage;
  }
  std::string root;
  if (!BenchWorkDir(vm.count("dir") ? vm["dir"].as<std::string>() : "", "bench", &root)) {
    return kExitFailed;
  }
  WorkloadOptions wo;
  wo.seed = vm["seed"].as<uint64_t>();
  wo.accounts = vm["accounts"].as<uint32_t>();
  wo.campaigns = vm["campaigns"].as<uint32_t>();
  wo.mean_gap_us = std::max<int64_t>(1, 30 * 86'400'000'000LL / static_cast<int64_t>(events));
  Progress progress(StderrIsTerminal());

  std::map<std::string, AppendResult> appended;
  const std::pair<const char*, std::string> policies[] = {
      {"always", "always"},
      {"interval", "interval=" + std::to_string(vm["interval-ms"].as<int64_t>())},
      {"never", "never"}};
  Status st;
  for (const auto& [name, text] : policies) {
    log::FsyncPolicy policy;
    st = log::FsyncPolicy::Parse(text, &policy);
    if (st.ok()) st = BuildLog((fs::path(root) / name).string(), policy, events, batch, wo,
                               &progress, &appended[name]);
    if (!st.ok()) break;
  }
  const std::string dir = (fs::path(root) / "always").string();
  const AppendResult& main_log = appended["always"];

  // Full replays, every projection, no snapshot: the median time of
  // --replay-runs, each into a fresh ledger; every run must end with the
  // same digest.
  const uint32_t replay_runs = std::max<uint32_t>(1, vm["replay-runs"].as<uint32_t>());
  std::vector<double> replay_times;
  Ledger full;
  ReplayStats full_stats;
  std::string first_digest;
  bool replays_agree = true;
  for (uint32_t run = 0; run < replay_runs && st.ok(); ++run) {
    Ledger scratch;
    Ledger& ledger = run + 1 == replay_runs ? full : scratch;  // the last run is kept
    ReplayOptions ro;
    ro.use_snapshots = false;
    ro.progress = [&](uint64_t seq) { progress.Show("replay", seq, main_log.events); };
    const auto r0 = Clock::now();
    st = Replay(dir, ro, &ledger, &full_stats);
    replay_times.push_back(Seconds(Clock::now() - r0));
    const std::string digest = ledger.Digest();
    if (run == 0) first_digest = digest;
    replays_agree = replays_agree && digest == first_digest;
  }
  const double replay_s = Median(replay_times);
  if (!replays_agree) spdlog::error("two replays of the same log gave different digests");

  // A snapshot at the batch end nearest 90%, then a replay that uses it.
  uint64_t snap_seq = 0;
  for (uint64_t end : main_log.batch_ends) {
    if (end <= main_log.events * 9 / 10) snap_seq = end;
  }
  double snap_replay_s = 0;
  ReplayStats snap_stats;
  Ledger from_snapshot;
  if (st.ok() && snap_seq > 0) {
    Ledger at90;
    ReplayStats s90;
    ReplayOptions r90;
    r90.use_snapshots = false;
    r90.to_seq = snap_seq;
    log::Chain chain;
    std::string path;
    st = Replay(dir, r90, &at90, &s90);
    if (st.ok()) st = ChainAt(dir, snap_seq, &chain);
    if (st.ok()) st = WriteSnapshot(dir, at90, snap_seq, chain, &path);
    ReplayOptions rs;
    rs.progress = [&](uint64_t seq) { progress.Show("replay from snapshot", seq, main_log.events); };
    const auto s0 = Clock::now();
    if (st.ok()) st = Replay(dir, rs, &from_snapshot, &snap_stats);
    snap_replay_s = Seconds(Clock::now() - s0);
  }
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  const bool digests_match = from_snapshot.Digest() == full.Digest() && replays_agree;
  if (!digests_match) spdlog::error("replay from the snapshot gave a different state digest");
  if (!vm.count("keep") && !vm.count("dir")) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  const double total = static_cast<double>(main_log.events);
  auto rate = [](double n, double s) { return s > 0 ? n / s : 0.0; };
  const double bytes_per_event = static_cast<double>(main_log.bytes) / total;
  const uint64_t rss = PeakRssBytes();
  if (vm.count("json")) {
    JsonObject per_policy_events = JsonObject::object(), per_policy_mb = JsonObject::object();
    for (const auto& [name, text] : policies) {
      const AppendResult& a = appended[name];
      per_policy_events[name] = std::llround(rate(static_cast<double>(a.events), a.seconds));
      per_policy_mb[name] = RoundedTo(rate(static_cast<double>(a.bytes) / 1e6, a.seconds), 1);
    }
    JsonObject replay_runs = JsonObject::array();
    for (double t : replay_times) replay_runs.push_back(std::llround(rate(total, t)));
    const JsonObject j = {
        {"events", main_log.events},
        {"batch", batch},
        {"append_events_per_s", std::move(per_policy_events)},
        {"append_mb_per_s", std::move(per_policy_mb)},
        {"replay_events_per_s", std::llround(rate(total, replay_s))},
        {"replay_runs_events_per_s", std::move(replay_runs)},
        {"replay_mb_per_s",
         RoundedTo(rate(static_cast<double>(full_stats.bytes) / 1e6, replay_s), 1)},
        {"snapshot_replay_events_per_s", std::llround(rate(total, snap_replay_s))},
        {"snapshot_seq", snap_seq},
        {"snapshot_tail_events", snap_stats.events},
        {"snapshot_digest_matches", digests_match},
        {"bytes_per_event", RoundedTo(bytes_per_event, 2)},
        {"peak_rss_bytes", rss},
        {"state_digest", full.Digest()},
    };
    std::fputs(ToJsonLine(j).c_str(), stdout);
  } else {
    std::string replay_runs;  // events/s of each run
    for (double t : replay_times) {
      replay_runs += (replay_runs.empty() ? "" : ",") + std::to_string(std::llround(rate(total, t)));
    }
    std::printf("events                 %" PRIu64 " (batches of %u)\n", main_log.events, batch);
    for (const auto& [name, text] : policies) {
      const AppendResult& a = appended[name];
      std::printf("append --fsync %-8s %12.0f events/s  %8.1f MB/s\n", name,
                  rate(static_cast<double>(a.events), a.seconds),
                  rate(static_cast<double>(a.bytes) / 1e6, a.seconds));
    }
    std::printf("replay (all projections) %10.0f events/s  %8.1f MB/s  (median of %zu: %s)\n",
                rate(total, replay_s), rate(static_cast<double>(full_stats.bytes) / 1e6, replay_s),
                replay_times.size(), replay_runs.c_str());
    std::printf("replay from snapshot   %12.0f events/s  (snapshot at %" PRIu64
                ", tail %" PRIu64 " events, digest %s)\n",
                rate(total, snap_replay_s), snap_seq, snap_stats.events,
                digests_match ? "matches" : "DIFFERS");
    std::printf("bytes per event        %.2f\npeak RSS               %.1f MiB\n",
                bytes_per_event, static_cast<double>(rss) / (1 << 20));
  }
  return digests_match ? kExitOk : kExitFailed;
}

}  // namespace billsim::cli
