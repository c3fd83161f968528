// billsim bench import: bulk import and export (issue 16) beside the path
// they replace, over the same files, in one run.
#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bench/workload.h"
#include "bulk/appender.h"
#include "bulk/compress.h"
#include "bulk/exporter.h"
#include "cli/bench_util.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "journal/journal.h"
#include "report/json.h"
#include "scenario/event_source.h"

namespace billsim::cli {

namespace {

namespace fs = std::filesystem;

// The workload's events through a journal (judged, as an import would be),
// so that every figure below imports the same accepted events.
Status BuildSource(const std::string& dir, const WorkloadOptions& wo, uint64_t events,
                   uint64_t* setup_events) {
  JournalOptions jo;
  jo.log.fsync.mode = log::FsyncPolicy::Mode::kNever;
  std::unique_ptr<Journal> journal;
  Status st = Journal::Open(dir, jo, &journal);
  if (!st.ok()) return st;
  Workload w(wo);
  auto apply = [&](const v1::Event& e) -> Status {
    journal->Apply(e, nullptr);
    if (journal->pending() < 10'000) return Status::Ok();
    log::SeqRange range;
    return journal->Append(&range);
  };
  w.Setup([&](v1::Event& e) {
    if (st.ok()) st = apply(e);
  });
  if (!st.ok()) return st;
  log::SeqRange range;
  if (journal->pending() > 0) st = journal->Append(&range);  // the set-up ends a batch
  *setup_events = journal->last_seq();
  Workload::Delivery d;
  v1::Event other;
  for (uint64_t i = 0; i < events && st.ok(); ++i) {
    if (w.Next(&d, &other)) {
      v1::Event e;
      e.set_event_id(d.event_id);
      e.set_time_us(d.time_us);
      auto* r = e.mutable_delivery_reported();
      r->set_account_id(w.account_ids()[w.campaign_account()[d.campaign]]);
      r->set_campaign_id(w.campaign_ids()[d.campaign]);
      r->set_kind(d.kind);
      r->set_count(d.count);
      r->set_platform_fault(d.platform_fault);
      st = apply(e);
    } else {
      st = apply(other);
    }
  }
  if (st.ok() && journal->pending() > 0) st = journal->Append(&range);
  if (st.ok()) st = journal->Close();
  return st;
}

Status CompressFile(const std::string& from, const std::string& to, bulk::Compression c) {
  std::ifstream in(from, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  Status st = bulk::Compress(c, data, c == bulk::Compression::kGzip ? 6 : 3, &out);
  if (!st.ok()) return st;
  std::ofstream file(to, std::ios::binary);
  file << out;
  return file ? Status::Ok() : Status::IOError(to + ": cannot write");
}

// Today's figures' baseline: the Protobuf-JSON reader `log append` had
// before issue 16 (LoadEvents: the whole file into v1::Events), each event
// judged and the pending batch written every 10,000, as it did.
Status ProtobufAppend(const std::string& dir, const std::string& file, const JournalOptions& jo,
                      uint64_t* events) {
  std::unique_ptr<Journal> journal;
  Status st = Journal::Open(dir, jo, &journal);
  std::vector<v1::Event> loaded;
  if (st.ok()) st = LoadEvents(file, &loaded);
  for (const v1::Event& e : loaded) {
    if (!st.ok()) break;
    journal->Apply(e, nullptr);
    if (journal->pending() == 10'000) {
      log::SeqRange range;
      st = journal->Append(&range);
    }
  }
  if (st.ok() && journal->pending() > 0) {
    log::SeqRange range;
    st = journal->Append(&range);
  }
  if (st.ok()) st = journal->Close();
  *events = loaded.size();
  return st;
}

struct Figure {
  std::string name;
  std::vector<double> seconds;
  uint64_t events = 0;
  uint64_t written = 0;     // exports: records written
  uint64_t bytes = 0;       // of the input or output file
  uint64_t peak_rss = 0;    // the largest of the runs
};

}  // namespace

int BenchImportMain(const std::vector<std::string>& args) {
  po::options_description options("billsim bench import options");
  options.add_options()("events", po::value<uint64_t>()->default_value(1'000'000),
                        "stream events (after the set-up)")(
      "accounts", po::value<uint32_t>()->default_value(100), "accounts")(
      "campaigns", po::value<uint32_t>()->default_value(1000), "campaigns")(
      "seed", po::value<uint64_t>()->default_value(1), "workload seed")(
      "runs", po::value<uint32_t>()->default_value(3),
      "timed runs of each import and export; the median is reported")(
      "baseline-runs", po::value<uint32_t>()->default_value(1),
      "timed runs of the Protobuf-JSON baseline (slow)")(
      "fsync", po::value<std::string>()->default_value("always"), "the imports' fsync policy")(
      "dir", po::value<std::string>(), "where to work (default: a temporary folder, removed)")(
      "keep", "keep the files and logs")("json", "print one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim bench import [--events N] [--runs R] [--json]\n\n"
                 "Builds a log of the realistic workload (set-up, then a stream of mostly\n"
                 "deliveries), exports it as JSON lines and as CSV, compresses the JSON\n"
                 "lines with gzip and zstd, and imports each into a fresh log with `log\n"
                 "append`'s code (bulk::AppendFiles) under --fsync, beside the\n"
                 "Protobuf-JSON reader it replaced over the same JSON-lines file. Prints\n"
                 "events/s, MB/s and peak RSS per figure (medians of --runs), and the\n"
                 "speed-up over the baseline. Every JSON-lines import must end at the\n"
                 "source log's state digest, the CSV import judge every row.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const uint64_t events = vm["events"].as<uint64_t>();
  const uint32_t runs = std::max<uint32_t>(1, vm["runs"].as<uint32_t>());
  const uint32_t baseline_runs = vm["baseline-runs"].as<uint32_t>();
  JournalOptions jo;
  Status st = log::FsyncPolicy::Parse(vm["fsync"].as<std::string>(), &jo.log.fsync);
  if (!st.ok() || events == 0) {
    spdlog::error("{}", st.ok() ? "--events must be positive" : st.message());
    return kExitUsage;
  }
  std::string root;
  if (!BenchWorkDir(vm.count("dir") ? vm["dir"].as<std::string>() : "", "bench-import", &root)) {
    return kExitFailed;
  }
  auto path = [&](const std::string& name) { return (fs::path(root) / name).string(); };
  WorkloadOptions wo;
  wo.seed = vm["seed"].as<uint64_t>();
  wo.accounts = vm["accounts"].as<uint32_t>();
  wo.campaigns = vm["campaigns"].as<uint32_t>();
  wo.mean_gap_us = std::max<int64_t>(1, 30 * 86'400'000'000LL / static_cast<int64_t>(events));
  Progress progress(StderrIsTerminal());

  uint64_t setup_events = 0;
  progress.Count("building the source log", 0, "");
  st = BuildSource(path("source"), wo, events, &setup_events);
  std::string want;
  if (st.ok()) {
    std::unique_ptr<Journal> j;
    JournalOptions quiet;
    st = Journal::Open(path("source"), quiet, &j);
    if (st.ok()) want = j->ledger().Digest();
    if (st.ok()) st = j->Close();
  }
  std::vector<Figure> figures;
  // Exports: the files the imports read.
  auto time_export = [&](const std::string& name, bulk::ExportOptions o, const std::string& out) {
    Figure f;
    f.name = name;
    for (uint32_t r = 0; r < runs && st.ok(); ++r) {
      ResetPeakRss();
      bulk::ExportStats stats;
      const auto start = BenchClock::now();
      st = bulk::Export(path("source"), o, out, &stats);
      f.seconds.push_back(Seconds(BenchClock::now() - start));
      f.events = stats.events;
      f.written = stats.written;
      f.bytes = stats.bytes;
      f.peak_rss = std::max(f.peak_rss, PeakRssBytes());
    }
    figures.push_back(f);
  };
  if (st.ok()) time_export("export jsonl", bulk::ExportOptions{}, path("events.jsonl"));
  bulk::ExportOptions setup_only;
  setup_only.to_seq = setup_events;
  bulk::ExportStats ignored;
  if (st.ok()) st = bulk::Export(path("source"), setup_only, path("setup.jsonl"), &ignored);
  bulk::ExportOptions csv;
  csv.csv = true;
  csv.from_seq = setup_events + 1;
  if (st.ok()) time_export("export csv", csv, path("stream.csv"));
  const uint64_t csv_rows = st.ok() ? figures.back().written : 0;
  if (st.ok()) st = CompressFile(path("events.jsonl"), path("events.jsonl.gz"), bulk::Compression::kGzip);
  if (st.ok()) st = CompressFile(path("events.jsonl"), path("events.jsonl.zst"), bulk::Compression::kZstd);

  // Imports into fresh logs: each must give the source's digest. The CSV
  // file leaves out the stream's few other events (deposits, campaigns
  // enabled again), so its import is checked by count instead: every row
  // judged, accepted or refused.
  auto fresh = [&](const std::string& name) {
    const std::string dir = path("import-" + name);
    fs::remove_all(dir);
    return dir;
  };
  auto time_import = [&](const std::string& name, const std::vector<std::string>& files,
                         const std::string& prefix_file) {
    Figure f;
    f.name = name;
    for (uint32_t r = 0; r < runs && st.ok(); ++r) {
      const std::string dir = fresh(name);
      std::unique_ptr<Journal> journal;
      st = Journal::Open(dir, jo, &journal);
      bulk::AppendOptions ao;
      bulk::AppendResult result;
      if (st.ok() && !prefix_file.empty()) {  // untimed: the set-up CSV cannot carry
        st = bulk::AppendFiles(journal.get(), {prefix_file}, ao, &result);
      }
      if (!st.ok()) break;
      ResetPeakRss();
      const auto start = BenchClock::now();
      st = bulk::AppendFiles(journal.get(), files, ao, &result);
      if (st.ok()) st = journal->Close();
      f.seconds.push_back(Seconds(BenchClock::now() - start));
      f.peak_rss = std::max(f.peak_rss, PeakRssBytes());
      f.events = result.appended + result.refused;
      f.bytes = 0;
      for (const std::string& file : files) f.bytes += fs::file_size(file);
      if (st.ok() && prefix_file.empty() && journal->ledger().Digest() != want) {
        st = Status::Corruption(name + ": the import's state digest differs from the source's");
      }
      if (st.ok() && result.refused > 0 && prefix_file.empty()) {
        st = Status::Corruption(name + ": " + std::to_string(result.refused) + " events refused");
      }
      if (st.ok() && !prefix_file.empty() && f.events != csv_rows) {
        st = Status::Corruption(name + ": " + std::to_string(f.events) + " rows judged of " +
                                std::to_string(csv_rows));
      }
    }
    figures.push_back(f);
  };
  if (st.ok()) time_import("import jsonl", {path("events.jsonl")}, "");
  if (st.ok()) time_import("import jsonl.gz", {path("events.jsonl.gz")}, "");
  if (st.ok()) time_import("import jsonl.zst", {path("events.jsonl.zst")}, "");
  if (st.ok()) time_import("import csv", {path("stream.csv")}, path("setup.jsonl"));
  // The baseline, over the same JSON-lines file.
  Figure base;
  base.name = "import jsonl, Protobuf-JSON reader (before)";
  for (uint32_t r = 0; r < baseline_runs && st.ok(); ++r) {
    const std::string dir = fresh("protobuf");
    ResetPeakRss();
    const auto start = BenchClock::now();
    st = ProtobufAppend(dir, path("events.jsonl"), jo, &base.events);
    base.seconds.push_back(Seconds(BenchClock::now() - start));
    base.peak_rss = std::max(base.peak_rss, PeakRssBytes());
    base.bytes = fs::file_size(path("events.jsonl"));
  }
  if (baseline_runs > 0) figures.push_back(base);
  progress.End();
  if (!vm.count("keep") && !vm.count("dir")) fs::remove_all(root);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }

  JsonObject doc{{"events", events + setup_events}, {"fsync", vm["fsync"].as<std::string>()},
                 {"runs", runs}, {"digest", want}};
  JsonObject list = JsonObject::array();
  double jsonl_rate = 0, base_rate = 0;
  for (const Figure& f : figures) {
    const double s = Median(f.seconds);
    const double rate = s > 0 ? f.events / s : 0;
    if (f.name == "import jsonl") jsonl_rate = rate;
    if (f.name == base.name) base_rate = rate;
    list.push_back({{"name", f.name},
                    {"events", f.events},
                    {"seconds", RoundedTo(s, 3)},
                    {"events_per_second", RoundedTo(rate, 0)},
                    {"mb_per_second", RoundedTo(s > 0 ? f.bytes / s / 1e6 : 0, 1)},
                    {"bytes", f.bytes},
                    {"peak_rss_mb", RoundedTo(f.peak_rss / 1e6, 1)}});
  }
  doc["figures"] = list;
  if (base_rate > 0) doc["jsonl_speedup"] = RoundedTo(jsonl_rate / base_rate, 1);
  if (vm.count("json")) {
    std::cout << ToJsonLine(doc);
    return kExitOk;
  }
  std::printf("%" PRIu64 " events (%" PRIu64 " set-up), --fsync %s, median of %u runs\n",
              events + setup_events, setup_events, vm["fsync"].as<std::string>().c_str(), runs);
  for (const auto& f : doc["figures"]) {
    std::printf("  %-44s %10.0f events/s %8.1f MB/s  peak RSS %7.1f MB\n",
                f["name"].get<std::string>().c_str(), f["events_per_second"].get<double>(),
                f["mb_per_second"].get<double>(), f["peak_rss_mb"].get<double>());
  }
  if (base_rate > 0) std::printf("  JSON lines: %.1fx the Protobuf-JSON reader\n", jsonl_rate / base_rate);
  return kExitOk;
}

}  // namespace billsim::cli
