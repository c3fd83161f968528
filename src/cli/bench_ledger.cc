// billsim bench ledger: how the ledger scales with the size of the book
// (issue 11, "Scale with the size of the book").
//
// It builds a book of --accounts and --campaigns with the stress workload
// (stress/stress_workload.h: accounts in six time zones and both funding
// orders, deposits, three grants per account with staggered expiries, a
// coupon for two campaigns on one account in ten, campaigns of every billing
// event and DAY/TOTAL/INFINITE budget, then a stream of delivery with
// pauses, deletions, ad rejections, disputes and fault-marked rows), over
// --days simulated days. It appends it through a Journal, as `billsim log
// append` and the server do: the ledger judges every event and only the
// accepted ones reach the log. Then it replays the log --replay-runs times,
// each into a fresh ledger in one pass, as `billsim replay` does, timing the
// set-up (through the batch that ends it) and the stream apart. Every run must
// end with the same digest. The final ledger's state is measured twice:
// resident memory (RSS after the first replay less RSS before it) and the
// size of its snapshot, whose write and load (read, check, restore) are
// timed too. A benchmark prints what it measured; it asserts nothing about
// speed.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cli/bench_util.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "journal/journal.h"
#include "log/batch_codec.h"
#include "log/log_dir.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"
#include "report/json.h"
#include "stress/stress_workload.h"

namespace billsim::cli {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kDayUs = 86'400'000'000;
// The set-up goes to the log in batches of this many events.
constexpr uint64_t kSetupBatchEvents = 10'000;
// Bounds of the command line (largest unit last).
constexpr uint64_t kBookAccountsMax = 100'000'000;
constexpr uint64_t kBookCampaignsMax = 100'000'000;
constexpr uint64_t kStreamEventsMax = 10'000'000'000;
// Ten years from 2026 stays far inside the ledger's time range (R11).
constexpr uint64_t kDaysMax = 3'650;
constexpr uint64_t kReplayRunsMax = 25;

struct Config {
  WorkloadOptions workload;  // seed, accounts, campaigns, mean gap, coupons
  uint64_t events = 0;       // stream events generated
  uint64_t days = 30;
  uint32_t batch = 10'000;
  uint32_t replay_runs = 3;
  log::FsyncPolicy fsync;
  bool json = false;
};

// What building the log found and took.
struct Built {
  uint64_t setup_seq = 0;  // the last set-up event's sequence
  uint64_t last_seq = 0;   // the log's last
  uint64_t generated = 0;  // events the workload generated
  uint64_t refused = 0;    // stream events the ledger refused: not in the log
  uint64_t log_bytes = 0;  // the segments' bytes
  double judge_s = 0;      // the ledger deciding (Journal::Apply, ApplyBatch)
  double append_s = 0;     // encoding, writing, syncing (Journal::Append, Close)
};

// One replay into a fresh ledger, its set-up part and stream part timed apart.
struct ReplayRun {
  double setup_s = 0;
  double stream_s = 0;
  Ledger::TimerWork setup_timers;  // done by the end of the set-up
  int64_t setup_clock_us = 0;      // the ledger's clock then
  std::string digest;
};

// What the replays and the snapshot of the final ledger measured.
struct Measured {
  std::vector<ReplayRun> runs;
  uint64_t rss_before_bytes = 0;  // before the first replay, nothing alive
  uint64_t rss_after_bytes = 0;   // after it, its ledger alive
  Ledger::TimerWork stream_timers;  // of the stream part
  double days = 0;                  // simulated time of the stream part
  uint64_t snapshot_bytes = 0;
  double snapshot_write_s = 0;
  double snapshot_load_s = 0;
  // The peak resident set of each phase: building the log (the workload
  // and the ledger judging it), the first replay (not its digest), the
  // snapshot's write (digest, serialization) and load (read, parse,
  // restore, digest). Each its own where the system lets the mark start
  // over (StartPhase), else the process's peak so far: then
  // peaks_per_phase is false.
  bool peaks_per_phase = true;
  uint64_t peak_build_bytes = 0;
  uint64_t peak_replay_bytes = 0;
  uint64_t peak_snapshot_write_bytes = 0;
  uint64_t peak_snapshot_load_bytes = 0;
  uint64_t peak_bytes() const {
    return std::max({peak_build_bytes, peak_replay_bytes, peak_snapshot_write_bytes,
                     peak_snapshot_load_bytes});
  }
};

// --- building the log ------------------------------------------------------------

Status AppendPending(Journal* journal, Built* built) {
  if (journal->pending() == 0) return Status::Ok();
  log::SeqRange range;
  const auto t0 = BenchClock::now();
  Status st = journal->Append(&range);
  built->append_s += Seconds(BenchClock::now() - t0);
  return st;
}

// The set-up, one event at a time through the ledger, in batches of
// kSetupBatchEvents. Every set-up event must be accepted: a refusal is a
// fault of the workload, and the stream would make no sense after it.
Status AppendSetup(stress::StressWorkload* workload, Journal* journal, Progress* progress,
                   Built* built) {
  const uint64_t total = workload->setup_events();
  Status st;
  Refusal refusal;
  workload->Setup([&](v1::Event& e) {
    if (!st.ok()) return;
    const auto t0 = BenchClock::now();
    const bool accepted = journal->Apply(e, &refusal);
    built->judge_s += Seconds(BenchClock::now() - t0);
    ++built->generated;
    if (!accepted) {
      st = Status::Corruption("the workload's set-up event " + std::to_string(e.event_id()) +
                              " was refused: " + refusal.reason);
      return;
    }
    if (journal->pending() == kSetupBatchEvents) st = AppendPending(journal, built);
    progress->Show("append set-up", built->generated, total);
  });
  if (st.ok()) st = AppendPending(journal, built);
  built->setup_seq = journal->last_seq();
  return st;
}

// The stream, --batch events at a time, judged as a columnar batch (the
// server's path); refused events are counted and left out of the log.
Status AppendStream(stress::StressWorkload* workload, const Config& config, Journal* journal,
                    Progress* progress, Built* built) {
  log::BatchBuilder builder;
  log::BatchDecoder decoder;
  std::string payload;
  std::vector<Refusal> refusals;
  for (uint64_t done = 0; done < config.events;) {
    const uint64_t n = std::min<uint64_t>(config.batch, config.events - done);
    builder.Clear();
    for (uint64_t i = 0; i < n; ++i) workload->Next(&builder);
    builder.Finish(&payload);
    Status st = decoder.Parse(payload, builder.count());
    if (!st.ok()) return st;
    refusals.clear();
    const auto t0 = BenchClock::now();
    journal->ApplyBatch(decoder, &refusals);
    built->judge_s += Seconds(BenchClock::now() - t0);
    built->refused += refusals.size();
    st = AppendPending(journal, built);
    if (!st.ok()) return st;
    done += n;
    built->generated += n;
    progress->Show("append stream", done, config.events);
  }
  return Status::Ok();
}

Status SegmentBytes(const std::string& dir, uint64_t* bytes) {
  std::vector<uint64_t> firsts;
  Status st = log::ListSegments(dir, &firsts);
  if (!st.ok()) return st;
  *bytes = 0;
  for (uint64_t first : firsts) {
    std::error_code ec;
    const uint64_t size = fs::file_size(log::SegmentPath(dir, first), ec);
    if (ec) return Status::IOError(log::SegmentPath(dir, first) + ": " + ec.message());
    *bytes += size;
  }
  return Status::Ok();
}

// Builds the book's log in `dir` (new). The workload and the ledger that
// judged it are gone when this returns, so that they are not counted in
// the state's memory.
Status BuildLog(const std::string& dir, const Config& config, Progress* progress,
                Built* built) {
  JournalOptions options;
  options.log.fsync = config.fsync;
  std::unique_ptr<Journal> journal;
  Status st = Journal::Open(dir, options, &journal);
  if (!st.ok()) return st;
  stress::StressWorkload workload(config.workload);
  st = AppendSetup(&workload, journal.get(), progress, built);
  if (st.ok()) st = AppendStream(&workload, config, journal.get(), progress, built);
  if (!st.ok()) return st;
  built->last_seq = journal->last_seq();
  const auto t0 = BenchClock::now();
  st = journal->Close();
  built->append_s += Seconds(BenchClock::now() - t0);
  if (!st.ok()) return st;
  return SegmentBytes(dir, &built->log_bytes);
}

// --- replay and snapshot ------------------------------------------------------------

// Replays the whole log into the fresh `ledger` in one pass, as `billsim
// replay` does, timing the set-up (through the batch that ends at
// built.setup_seq: the set-up is appended in batches of its own) and the
// stream after it.
Status ReplayOnce(const std::string& dir, const Built& built, Progress* progress,
                  Ledger* ledger, ReplayRun* run) {
  ReplayOptions options;
  options.use_snapshots = false;
  const auto t0 = BenchClock::now();
  auto t_setup = t0;
  bool setup_seen = false;
  options.batch_end = [&](const log::BatchHeader& h) {
    if (h.last_seq() == built.setup_seq) {
      t_setup = BenchClock::now();
      setup_seen = true;
      run->setup_timers = ledger->timer_work();
      run->setup_clock_us = ledger->clock_us();
    }
    return Status::Ok();
  };
  options.progress = [&](uint64_t seq) {
    if (seq <= built.setup_seq) {
      progress->Show("replay set-up", seq, built.setup_seq);
    } else {
      progress->Show("replay stream", seq - built.setup_seq, built.last_seq - built.setup_seq);
    }
  };
  ReplayStats stats;
  Status st = Replay(dir, options, ledger, &stats);
  const auto t_end = BenchClock::now();
  if (!st.ok()) return st;
  if (stats.last_seq != built.last_seq) {
    return Status::Corruption("replay of " + dir + " ended at sequence " +
                              std::to_string(stats.last_seq) + ", not " +
                              std::to_string(built.last_seq));
  }
  if (!setup_seen) {
    return Status::Corruption("replay of " + dir + " found no batch ending at sequence " +
                              std::to_string(built.setup_seq) + " (the set-up's end)");
  }
  run->setup_s = Seconds(t_setup - t0);
  run->stream_s = Seconds(t_end - t_setup);
  return Status::Ok();
}

// Resident memory now, after giving what malloc holds free back to the
// system (every arena's: the replay's read-ahead thread has its own).
uint64_t TrimmedRssBytes() {
  malloc_trim(0);
  return CurrentRssBytes();
}

// Starts a phase whose peak resident set PeakRssBytes then tells.
void StartPhase(Measured* m) {
  malloc_trim(0);
  if (!ResetPeakRss()) m->peaks_per_phase = false;
}

// --replay-runs replays, one ledger alive at a time; *ledger is the last.
// The first tells memory: the resident set before it and after it (its
// ledger alive), and its peak; not the digest's, taken after (a copy of
// the state: the snapshot phase counts it).
Status TimeReplays(const std::string& dir, const Config& config, const Built& built,
                   Progress* progress, std::unique_ptr<Ledger>* ledger, Measured* m) {
  for (uint32_t i = 0; i < config.replay_runs; ++i) {
    ledger->reset();
    if (i == 0) {
      m->rss_before_bytes = TrimmedRssBytes();
      StartPhase(m);
    }
    *ledger = std::make_unique<Ledger>();
    ReplayRun run;
    Status st = ReplayOnce(dir, built, progress, ledger->get(), &run);
    if (!st.ok()) return st;
    if (i == 0) {
      m->peak_replay_bytes = PeakRssBytes();
      m->rss_after_bytes = TrimmedRssBytes();
    }
    run.digest = (*ledger)->Digest();
    m->runs.push_back(std::move(run));
  }
  const ReplayRun& last = m->runs.back();
  const Ledger::TimerWork& end = (*ledger)->timer_work();
  m->stream_timers = {end.expiries - last.setup_timers.expiries,
                      end.days - last.setup_timers.days,
                      end.renewals - last.setup_timers.renewals};
  m->days = static_cast<double>((*ledger)->clock_us() - last.setup_clock_us) /
            static_cast<double>(kDayUs);
  return Status::Ok();
}

// Writes the final ledger's snapshot (timed), lets the ledger go, and loads
// the snapshot back with the store's own checks (timed), which must give
// the final replay's digest.
Status TimeSnapshot(const std::string& dir, const Built& built, std::unique_ptr<Ledger> ledger,
                    Measured* m) {
  log::Chain chain;
  Status st = ChainAt(dir, built.last_seq, &chain);
  if (!st.ok()) return st;
  std::string path;
  StartPhase(m);
  auto t0 = BenchClock::now();
  st = WriteSnapshot(dir, *ledger, built.last_seq, chain, &path);
  m->snapshot_write_s = Seconds(BenchClock::now() - t0);
  m->peak_snapshot_write_bytes = PeakRssBytes();
  if (!st.ok()) return st;
  std::error_code ec;
  m->snapshot_bytes = fs::file_size(path, ec);
  if (ec) return Status::IOError(path + ": " + ec.message());
  ledger.reset();
  Ledger loaded;
  uint64_t seq = 0;
  StartPhase(m);
  t0 = BenchClock::now();
  st = LoadNewestSnapshot(dir, built.last_seq, std::numeric_limits<int64_t>::max(), &loaded,
                          &seq);
  m->snapshot_load_s = Seconds(BenchClock::now() - t0);
  m->peak_snapshot_load_bytes = PeakRssBytes();
  if (!st.ok()) return st;
  if (seq != built.last_seq) return Status::Corruption(path + ": the snapshot did not load");
  if (loaded.Digest() != m->runs.back().digest) {
    return Status::Corruption(path + ": the loaded state's digest differs from the replayed one");
  }
  return Status::Ok();
}

// --- the command line ---------------------------------------------------------------

constexpr const char* kUsage =
    "usage: billsim bench ledger --accounts A --campaigns C --events E [--days D]\n"
    "                            [--batch N] [--replay-runs N] [--seed S]\n"
    "                            [--fsync POLICY] [--dir DIR] [--keep] [--json]\n\n"
    "How the ledger scales with the size of the book. Builds a book of A\n"
    "accounts (six time zones, both funding orders, a deposit and three grants\n"
    "with staggered expiries each, a coupon for two campaigns on one account in\n"
    "ten) and C campaigns (every billing event; DAY, TOTAL and INFINITE\n"
    "budgets), then E stream events over D simulated days: delivery, with\n"
    "deposits, pauses, deletions, ad rejections, disputes and platform faults.\n"
    "Appends it to a new log through the ledger (refused events are counted,\n"
    "not logged), then replays the log --replay-runs times into a fresh\n"
    "ledger, each in one pass, timing the set-up part and the stream part\n"
    "apart. Every run must end with the same state digest (exit 1\n"
    "otherwise).\n\n"
    "Reports: append and ingest (ledger + append) events/s; set-up and\n"
    "delivery replay events/s (median, and every run); timer work (grant\n"
    "expiries, day timers, daily holds renewed) per simulated day of the\n"
    "stream; peak RSS, overall and of each phase (build, first replay,\n"
    "snapshot write, snapshot load; the resident set before the replay);\n"
    "the state's bytes per campaign and per account, from resident memory\n"
    "(after the first replay less before it: all-in, every structure of the\n"
    "ledger) and from the snapshot's size; snapshot write and load (read,\n"
    "check, restore) time; events and bytes in the log, and the state\n"
    "digest. Progress on stderr when it is a terminal.\n";

// The options as a Config; InvalidArgument naming the option otherwise.
Status ToConfig(const po::variables_map& vm, Config* c) {
  const uint64_t accounts = vm["accounts"].as<uint64_t>();
  const uint64_t campaigns = vm["campaigns"].as<uint64_t>();
  c->events = vm["events"].as<uint64_t>();
  c->days = vm["days"].as<uint64_t>();
  const uint64_t batch = vm["batch"].as<uint64_t>();
  const uint64_t runs = vm["replay-runs"].as<uint64_t>();
  for (const Status& st :
       {CheckRange("accounts", accounts, 1, kBookAccountsMax),
        CheckRange("campaigns", campaigns, 1, kBookCampaignsMax),
        CheckRange("events", c->events, 1, kStreamEventsMax),
        CheckRange("days", c->days, 1, kDaysMax),
        CheckRange("batch", batch, 1, log::kMaxBatchEvents),
        CheckRange("replay-runs", runs, 1, kReplayRunsMax)}) {
    if (!st.ok()) return st;
  }
  Status st = log::FsyncPolicy::Parse(vm["fsync"].as<std::string>(), &c->fsync);
  if (!st.ok()) return Status::InvalidArgument("--fsync: " + st.message());
  c->workload.seed = vm["seed"].as<uint64_t>();
  c->workload.accounts = static_cast<uint32_t>(accounts);
  c->workload.campaigns = static_cast<uint32_t>(campaigns);
  c->workload.coupons = true;
  // --days of simulated time over the stream: <= 3650 days over >= 1 event
  // fits in int64, and >= 1 day over <= 10^10 events is >= 8 us.
  c->workload.mean_gap_us = static_cast<int64_t>(c->days) * kDayUs /
                            static_cast<int64_t>(c->events);
  c->batch = static_cast<uint32_t>(batch);
  c->replay_runs = static_cast<uint32_t>(runs);
  c->json = vm.count("json") > 0;
  return Status::Ok();
}

// The folder for the log: --dir (which must not exist, or be empty), or a
// new temporary one.
Status ChooseDir(const po::variables_map& vm, std::string* dir, bool* temporary) {
  *temporary = vm.count("dir") == 0;
  if (!*temporary) {
    *dir = vm["dir"].as<std::string>();
    std::error_code ec;
    if (fs::exists(*dir, ec) && !fs::is_empty(*dir, ec)) {
      return Status::InvalidArgument("--dir " + *dir + " is not empty: give a new folder");
    }
    return Status::Ok();
  }
  char tmpl[] = "/tmp/billsim-bench-ledger-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::IOError("cannot create a temporary folder in /tmp");
  *dir = tmpl;
  return Status::Ok();
}

// --- the report ---------------------------------------------------------------------

double Rate(double n, double seconds) { return seconds > 0 ? n / seconds : 0; }
double PerDay(uint64_t n, double days) { return days > 0 ? static_cast<double>(n) / days : 0; }
double Per(uint64_t bytes, uint64_t count) {
  return static_cast<double>(bytes) / static_cast<double>(count);
}

struct Figures {
  uint64_t setup_events, stream_events;
  double append_per_s, ingest_per_s, setup_per_s, stream_per_s;
  std::vector<double> setup_runs, stream_runs;  // events/s of each run
  uint64_t state_rss_bytes;
};

Figures Compute(const Built& b, const Measured& m) {
  Figures f{};
  f.setup_events = b.setup_seq;
  f.stream_events = b.last_seq - b.setup_seq;
  const auto logged = static_cast<double>(b.last_seq);
  f.append_per_s = Rate(logged, b.append_s);
  f.ingest_per_s = Rate(static_cast<double>(b.generated), b.judge_s + b.append_s);
  for (const ReplayRun& r : m.runs) {
    f.setup_runs.push_back(Rate(static_cast<double>(f.setup_events), r.setup_s));
    f.stream_runs.push_back(Rate(static_cast<double>(f.stream_events), r.stream_s));
  }
  f.setup_per_s = Median(f.setup_runs);
  f.stream_per_s = Median(f.stream_runs);
  f.state_rss_bytes = m.rss_after_bytes > m.rss_before_bytes
                          ? m.rss_after_bytes - m.rss_before_bytes : 0;
  return f;
}

// Events/s of each run, for the table: "1200,1300".
std::string JoinRates(const std::vector<double>& rates) {
  std::string out;
  for (double r : rates) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.0f", out.empty() ? "" : ",", r);
    out += buf;
  }
  return out;
}

// Events/s of each run, as whole numbers.
JsonObject RunRates(const std::vector<double>& rates) {
  JsonObject out = JsonObject::array();
  for (double r : rates) out.push_back(std::llround(r));
  return out;
}

void PrintJson(const Config& c, const Built& b, const Measured& m, const Figures& f,
               const std::string& digest) {
  const uint64_t accounts = c.workload.accounts, campaigns = c.workload.campaigns;
  const JsonObject j = {
      {"accounts", accounts},
      {"campaigns", campaigns},
      {"events", b.last_seq},
      {"setup_events", f.setup_events},
      {"stream_events", f.stream_events},
      {"events_generated", b.generated},
      {"events_refused", b.refused},
      {"batch", c.batch},
      {"fsync", c.fsync.ToString()},
      {"seed", c.workload.seed},
      {"append_events_per_s", std::llround(f.append_per_s)},
      {"ingest_events_per_s", std::llround(f.ingest_per_s)},
      {"setup_events_per_s", std::llround(f.setup_per_s)},
      {"setup_runs_events_per_s", RunRates(f.setup_runs)},
      {"delivery_replay_events_per_s", std::llround(f.stream_per_s)},
      {"replay_runs_events_per_s", RunRates(f.stream_runs)},
      {"days", RoundedTo(m.days, 3)},
      {"expiries", m.stream_timers.expiries},
      {"day_timers", m.stream_timers.days},
      {"renewals", m.stream_timers.renewals},
      {"expiries_per_day", RoundedTo(PerDay(m.stream_timers.expiries, m.days), 1)},
      {"day_timers_per_day", RoundedTo(PerDay(m.stream_timers.days, m.days), 1)},
      {"renewals_per_day", RoundedTo(PerDay(m.stream_timers.renewals, m.days), 1)},
      {"peak_rss_bytes", m.peak_bytes()},
      {"peak_rss_build_bytes", m.peak_build_bytes},
      {"peak_rss_replay_bytes", m.peak_replay_bytes},
      {"peak_rss_snapshot_write_bytes", m.peak_snapshot_write_bytes},
      {"peak_rss_snapshot_load_bytes", m.peak_snapshot_load_bytes},
      {"peak_rss_per_phase", m.peaks_per_phase},
      {"rss_before_replay_bytes", m.rss_before_bytes},
      {"state_rss_bytes", f.state_rss_bytes},
      {"rss_bytes_per_campaign", RoundedTo(Per(f.state_rss_bytes, campaigns), 1)},
      {"rss_bytes_per_account", RoundedTo(Per(f.state_rss_bytes, accounts), 1)},
      {"snapshot_bytes", m.snapshot_bytes},
      {"snapshot_bytes_per_campaign", RoundedTo(Per(m.snapshot_bytes, campaigns), 1)},
      {"snapshot_bytes_per_account", RoundedTo(Per(m.snapshot_bytes, accounts), 1)},
      {"snapshot_write_s", RoundedTo(m.snapshot_write_s, 6)},
      {"snapshot_load_s", RoundedTo(m.snapshot_load_s, 6)},
      {"log_bytes", b.log_bytes},
      {"bytes_per_event", RoundedTo(Per(b.log_bytes, b.last_seq), 2)},
      {"state_digest", digest},
  };
  std::fputs(ToJsonLine(j).c_str(), stdout);
}

void PrintTable(const Config& c, const Built& b, const Measured& m, const Figures& f,
                const std::string& digest) {
  const uint64_t accounts = c.workload.accounts, campaigns = c.workload.campaigns;
  const double mib = 1 << 20;
  std::printf("book                  %" PRIu64 " accounts, %" PRIu64 " campaigns (seed %" PRIu64
              ")\n", accounts, campaigns, c.workload.seed);
  std::printf("log                   %" PRIu64 " events (set-up %" PRIu64 ", stream %" PRIu64
              "; %" PRIu64 " refused, not logged), %.1f MiB, %.2f bytes/event\n",
              b.last_seq, f.setup_events, f.stream_events, b.refused,
              static_cast<double>(b.log_bytes) / mib, Per(b.log_bytes, b.last_seq));
  std::printf("append                %12.0f events/s  (--fsync %s, batches of %u)\n",
              f.append_per_s, c.fsync.ToString().c_str(), c.batch);
  std::printf("ingest                %12.0f events/s  (the ledger judging, then append)\n",
              f.ingest_per_s);
  std::printf("replay set-up         %12.0f events/s  (median of %zu: %s)\n", f.setup_per_s,
              f.setup_runs.size(), JoinRates(f.setup_runs).c_str());
  std::printf("replay delivery       %12.0f events/s  (median of %zu: %s)\n", f.stream_per_s,
              f.stream_runs.size(), JoinRates(f.stream_runs).c_str());
  std::printf("simulated time        %.2f days\n", m.days);
  std::printf("per simulated day     %.1f expiries, %.1f day timers, %.1f daily holds renewed\n",
              PerDay(m.stream_timers.expiries, m.days), PerDay(m.stream_timers.days, m.days),
              PerDay(m.stream_timers.renewals, m.days));
  std::printf("peak RSS              %.1f MiB (build %.1f, replay %.1f, snapshot write %.1f,"
              " load %.1f%s)\n",
              static_cast<double>(m.peak_bytes()) / mib,
              static_cast<double>(m.peak_build_bytes) / mib,
              static_cast<double>(m.peak_replay_bytes) / mib,
              static_cast<double>(m.peak_snapshot_write_bytes) / mib,
              static_cast<double>(m.peak_snapshot_load_bytes) / mib,
              m.peaks_per_phase ? "" : "; each the peak so far");
  std::printf("state, from RSS       %.1f MiB: %.0f bytes/campaign, %.0f bytes/account (all-in)\n",
              static_cast<double>(f.state_rss_bytes) / mib, Per(f.state_rss_bytes, campaigns),
              Per(f.state_rss_bytes, accounts));
  std::printf("state, from snapshot  %.1f MiB: %.0f bytes/campaign, %.0f bytes/account\n",
              static_cast<double>(m.snapshot_bytes) / mib, Per(m.snapshot_bytes, campaigns),
              Per(m.snapshot_bytes, accounts));
  std::printf("snapshot              write %.3f s, load %.3f s\n", m.snapshot_write_s,
              m.snapshot_load_s);
  std::printf("state digest          %s (every run agrees)\n", digest.c_str());
}

// Every run's digest must be the first's.
Status RunsAgree(const Measured& m) {
  for (const ReplayRun& r : m.runs) {
    if (r.digest != m.runs.front().digest) {
      return Status::Corruption("two replays of the same log gave different digests: " +
                                m.runs.front().digest + " and " + r.digest);
    }
  }
  return Status::Ok();
}

Status Run(const std::string& dir, const Config& config, Built* built, Measured* m) {
  Progress progress(StderrIsTerminal());
  StartPhase(m);
  Status st = BuildLog(dir, config, &progress, built);
  m->peak_build_bytes = PeakRssBytes();
  std::unique_ptr<Ledger> ledger;
  if (st.ok()) st = TimeReplays(dir, config, *built, &progress, &ledger, m);
  if (st.ok()) st = RunsAgree(*m);
  if (st.ok()) st = TimeSnapshot(dir, *built, std::move(ledger), m);
  return st;
}

}  // namespace

int BenchLedgerMain(const std::vector<std::string>& args) {
  po::options_description options("billsim bench ledger options");
  options.add_options()
      ("accounts", po::value<uint64_t>()->required(), "accounts in the book (1..10^8)")
      ("campaigns", po::value<uint64_t>()->required(),
       "campaigns in the book (1..10^8), dealt to the accounts in turn")
      ("events", po::value<uint64_t>()->required(), "stream events to generate (1..10^10)")
      ("days", po::value<uint64_t>()->default_value(30),
       "simulated days the stream spans (1..3650): sets the mean gap between events")
      ("batch", po::value<uint64_t>()->default_value(10'000),
       "stream events per appended batch (the set-up goes in batches of 10,000)")
      ("replay-runs", po::value<uint64_t>()->default_value(3),
       "replays to time (1..25); the median is reported, and every run")
      ("seed", po::value<uint64_t>()->default_value(1), "workload seed")
      ("fsync", po::value<std::string>()->default_value("never"),
       "the log's fsync policy while appending: always, never or interval=MS")
      ("dir", po::value<std::string>(),
       "build the log in this new or empty folder and keep it (default: a temporary "
       "folder, removed afterwards)")
      ("keep", "keep the temporary folder (its path is logged)")
      ("json", "print one JSON object (flat, units in the key names)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args, kUsage, options, nullptr, &vm, &exit)) return exit;
  Config config;
  Status st = ToConfig(vm, &config);
  std::string dir;
  bool temporary = false;
  if (st.ok()) st = ChooseDir(vm, &dir, &temporary);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  Built built;
  Measured measured;
  st = Run(dir, config, &built, &measured);
  if (temporary && vm.count("keep") == 0) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  } else {
    spdlog::info("the log is in {}", dir);
  }
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  const Figures figures = Compute(built, measured);
  const std::string& digest = measured.runs.front().digest;
  if (config.json) {
    PrintJson(config, built, measured, figures, digest);
  } else {
    PrintTable(config, built, measured, figures, digest);
  }
  return kExitOk;
}

}  // namespace billsim::cli
