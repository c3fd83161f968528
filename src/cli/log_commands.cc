// billsim log append|verify|dump: the durable log on disk.
#include <google/protobuf/text_format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "bulk/appender.h"
#include "bulk/event_reader.h"
#include "bulk/exporter.h"
#include "cli/bench_util.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "journal/journal.h"
#include "log/batch_codec.h"
#include "log/log_dir.h"
#include "log/event_stream.h"
#include "log/log_reader.h"
#include "log/log_repair.h"
#include "log/log_writer.h"
#include "report/json.h"
#include "replay/replayer.h"

namespace billsim::cli {

namespace {

constexpr const char* kLogUsage =
    "usage: billsim log SUBCOMMAND --log DIR [OPTIONS]\n\n"
    "subcommands:\n"
    "  append   validate events with the ledger and append the accepted ones\n"
    "  verify   check every checksum, the hash chain, sequences and indexes\n"
    "  dump     print events one per line\n"
    "  export   write events or ledger entries as JSON lines or CSV (a stream)\n"
    "  repair   discard everything after a sequence (a damaged log), and record it\n\n"
    "billsim log SUBCOMMAND --help for options.\n";

// --- append -------------------------------------------------------------------

int AppendCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim log append options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "fsync", po::value<std::string>()->default_value("always"),
      "always, interval=MS or never")(
      "atomic", "a file goes in whole or not at all (staged, committed by a rename)")(
      "batch", po::value<uint32_t>()->default_value(10000), "events per batch (1..1000000)")(
      "format", po::value<std::string>()->default_value("auto"),
      "auto (from the name), jsonl, csv or scenario")(
      "first-event-id", po::value<uint64_t>()->default_value(0),
      "CSV without an event_id column: the first row's id (then +1 a row)")(
      "segment-mb", po::value<uint64_t>()->default_value(128), "segment size in MiB")(
      "json", "end with the summary as one JSON object (counts, seconds, events/s, peak RSS), "
              "after any refusal lines")(
      "file", po::value<std::vector<std::string>>(), "event files (- for standard input)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim log append --log DIR [--fsync P] [--atomic] [--format F] FILE...\n\n"
                 "Appends the events of files: JSON lines (.jsonl, .ndjson: one Event per\n"
                 "line), CSV deliveries (.csv: a header naming account_id, campaign_id,\n"
                 "kind, count, time, and optionally event_id and platform_fault) or\n"
                 "scenarios (.textproto, .json). FILE - is standard input (JSON lines\n"
                 "unless --format says otherwise). JSON lines and CSV may be gzip or zstd\n"
                 "compressed (.gz, .zst, or any name: the magic bytes tell), and are read\n"
                 "as a stream in bounded memory, whatever their size. The ledger, rebuilt\n"
                 "from the log, validates each event first: the log holds only facts it\n"
                 "accepts. Each refused event is listed with its reason and not appended.\n"
                 "A malformed line stops the append with an error naming file, line and\n"
                 "field: without --atomic, the events of the file before that line's batch\n"
                 "are in the log (the message says how many); with --atomic, nothing of\n"
                 "the file is. With --atomic a file of any size joins the log whole or not\n"
                 "at all, also if any event is refused or the machine crashes: it is\n"
                 "written to a staged segment (DIR/<seq>.seg.staged, which no reader\n"
                 "sees), renamed into the log once all of it is read and accepted; the\n"
                 "next writer removes a stage a crash left. Takes the log's lock\n"
                 "(DIR/LOCK): while another writer (serve,\n"
                 "append, snapshot) has it, fails at once naming its pid and changes\n"
                 "nothing. Exit 0: all appended; 1: some were refused; 2: bad usage,\n"
                 "input, I/O, a locked or damaged log.\n",
                 options, "file", &vm, &exit)) {
    return exit;
  }
  if (!vm.count("file")) {
    spdlog::error("no event file given; see --help");
    return kExitUsage;
  }
  log::LogOptions log_options;
  Status st = log::FsyncPolicy::Parse(vm["fsync"].as<std::string>(), &log_options.fsync);
  const uint32_t batch_max = vm["batch"].as<uint32_t>();
  if (st.ok() && (batch_max == 0 || batch_max > 1'000'000)) {
    st = Status::InvalidArgument("--batch: must be 1..1000000, got " + std::to_string(batch_max));
  }
  log_options.segment_bytes = vm["segment-mb"].as<uint64_t>() << 20;
  if (st.ok() && log_options.segment_bytes == 0) {
    st = Status::InvalidArgument("--segment-mb: must be positive");
  }
  bulk::ReaderOptions reader_options;
  if (st.ok()) st = bulk::ParseFormat(vm["format"].as<std::string>(), "--format", &reader_options.format);
  reader_options.first_event_id = vm["first-event-id"].as<uint64_t>();
  if (st.ok() && reader_options.first_event_id != 0 &&
      vm["file"].as<std::vector<std::string>>().size() > 1) {
    st = Status::InvalidArgument(
        "--first-event-id numbers the rows of one file: give one file per command");
  }
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  const std::string dir = vm["log"].as<std::string>();
  JournalOptions journal_options;
  journal_options.log = log_options;
  std::unique_ptr<Journal> journal;
  st = Journal::Open(dir, journal_options, &journal);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitUsage;
  }
  bulk::AppendOptions append;
  append.batch_max = batch_max;
  append.atomic = vm.count("atomic") > 0;
  append.reader = reader_options;
  append.report = &std::cout;
  Progress progress(StderrIsTerminal());
  append.progress = [&](const std::string& name, uint64_t events, bool done) {
    if (done) {
      progress.End();
    } else {
      progress.Count(name, events, "events");
    }
  };
  const auto start = BenchClock::now();
  bulk::AppendResult result;
  const Status failure = bulk::AppendFiles(journal.get(), vm["file"].as<std::vector<std::string>>(),
                                           append, &result);
  st = journal->Close();
  if (!failure.ok() || !st.ok()) {
    spdlog::error("{}", !failure.ok() ? (result.bad_input ? failure.message() : failure.ToString())
                                      : st.ToString());
    return kExitUsage;
  }
  const uint64_t appended = result.appended, refused = result.refused;
  if (vm.count("json")) {
    const double seconds = Seconds(BenchClock::now() - start);
    std::cout << ToJsonLine({{"appended", appended},
                             {"refused", refused},
                             {"last_seq", journal->last_seq()},
                             {"seconds", RoundedTo(seconds, 3)},
                             {"events_per_second",
                              RoundedTo(seconds > 0 ? (appended + refused) / seconds : 0, 0)},
                             {"peak_rss_bytes", PeakRssBytes()}});
  } else {
    std::cout << "appended " << appended << " events, refused " << refused
              << "; log ends at sequence " << journal->last_seq() << "\n";
  }
  return refused > 0 ? kExitFailed : kExitOk;
}

// --- verify -------------------------------------------------------------------

int VerifyCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim log verify options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "json", "print the result as one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim log verify --log DIR [--json]\n\n"
                 "Reads the whole log and checks every header and payload checksum,\n"
                 "the SHA-256 hash chain, that sequences are dense from 1, that every\n"
                 "batch decodes, that each segment's index agrees with it, and that no\n"
                 "snapshot or index proves the log held more than its segments do. A\n"
                 "torn tail counts as a fault too (the next writer cuts it). Prints what\n"
                 "it checked; exits 1 naming the first fault (segment, offset, sequence).\n"
                 "Needs no lock: safe beside a running writer. DIR must exist.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const std::string dir = vm["log"].as<std::string>();
  log::EventStream stream;
  Status st = stream.Open(dir, log::LogReader::Options{/*verify_chain=*/true});
  const log::LogReader& reader = stream.reader();
  uint64_t batches = 0, events = 0, bytes = 0, last_seq = 0;
  std::string chain_hex(64, '0');
  std::string current_segment;
  std::vector<log::IndexEntry> seen;
  auto check_index = [&]() -> Status {
    if (current_segment.empty()) return Status::Ok();
    const uint64_t first = seen.empty() ? 0 : seen.front().first_seq;
    std::vector<log::IndexEntry> index;
    bool clean = false;
    Status s = log::ReadIndex(log::IndexPath(dir, first), &index, &clean);
    if (!s.ok()) return s;
    if (!clean || index != seen) {
      return Status::Corruption(log::IndexPath(dir, first) +
                                ": index disagrees with its segment (" +
                                std::to_string(index.size()) + " entries, segment has " +
                                std::to_string(seen.size()) + " batches)");
    }
    return Status::Ok();
  };
  while (st.ok()) {
    bool done = false;
    st = stream.Next(&done);  // reads, checks and decodes
    if (!st.ok() || done) break;
    const log::BatchView& batch = stream.batch();
    if (reader.segment_path() != current_segment) {
      st = check_index();
      if (!st.ok()) break;
      current_segment = reader.segment_path();
      seen.clear();
    }
    seen.push_back({batch.header.first_seq, batch.offset});
    batches++;
    events += batch.header.count;
    bytes += log::kHeaderSize + batch.payload.size();
    last_seq = batch.header.last_seq();
    chain_hex = log::ChainHex(batch.header.chain);
  }
  if (st.ok()) st = check_index();
  if (st.ok() && !reader.tail_fault().empty()) {
    st = Status::Corruption("torn tail (cut when the log is next opened for writing): " +
                            reader.tail_fault());
  }
  if (vm.count("json")) {
    std::cout << ToJsonLine({{"ok", st.ok()},
                             {"segments", reader.segments().size()},
                             {"batches", batches},
                             {"events", events},
                             {"bytes", bytes},
                             {"last_seq", last_seq},
                             {"chain", chain_hex},
                             {"fault", st.ok() ? "" : st.message()}});
  } else {
    std::cout << "checked " << reader.segments().size() << " segments, " << batches
              << " batches, " << events << " events, " << bytes << " bytes\n"
              << "sequences 1.." << last_seq << " dense; checksums, hash chain and "
              << "indexes " << (st.ok() ? "good" : "NOT good") << "\n"
              << "chain head " << chain_hex << "\n";
    if (!st.ok()) std::cout << "FAULT: " << st.message() << "\n";
  }
  return st.ok() ? kExitOk : kExitFailed;
}

// --- dump ---------------------------------------------------------------------

int DumpCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim log dump options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "from-seq", po::value<uint64_t>()->default_value(1), "first sequence to print")(
      "limit", po::value<uint64_t>()->default_value(UINT64_MAX), "print at most K events")(
      "json", "one JSON object per line: {\"seq\":N,\"event\":{...}}");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim log dump --log DIR [--from-seq N] [--limit K] [--json]\n\n"
                 "Prints the log's events one per line with their sequence numbers.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const uint64_t from = std::max<uint64_t>(1, vm["from-seq"].as<uint64_t>());
  const uint64_t limit = vm["limit"].as<uint64_t>();
  const bool json = vm.count("json") > 0;
  uint64_t printed = 0;
  std::string tail_fault;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  const Status st = log::ForEachEvent(
      vm["log"].as<std::string>(), from,
      [&](uint64_t seq, const v1::Event& e) {
        if (printed >= limit) return false;
        printed++;
        if (json) {
          std::cout << ToJsonLine({{"seq", seq}, {"event", ToJsonValue(e)}});
        } else {
          std::string text;
          printer.PrintToString(e, &text);
          std::cout << seq << "  " << text << "\n";
        }
        return true;
      },
      &tail_fault);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  if (!tail_fault.empty()) spdlog::warn("torn tail: {}", tail_fault);
  return kExitOk;
}

// --- export -------------------------------------------------------------------

int ExportCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim log export options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "format", po::value<std::string>()->default_value("jsonl"), "jsonl or csv")(
      "entries", "the ledger entries the events made, not the events")(
      "from-seq", po::value<uint64_t>()->default_value(1), "first sequence")(
      "to-seq", po::value<uint64_t>()->default_value(UINT64_MAX), "last sequence")(
      "output,o", po::value<std::string>()->default_value("-"), "file (- for standard output)")(
      "json", "print the summary (counts, bytes, rates) as one JSON object: on standard output "
              "when --output is a file, else on standard error");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim log export --log DIR [--format jsonl|csv] [--entries]\n"
                 "                          [--from-seq N] [--to-seq M] [--output FILE]\n\n"
                 "Writes the log's events from sequence N to M, in order, as a stream:\n"
                 "  jsonl  one Event per line (what log append and client read back);\n"
                 "  csv    deliveries only, under the header\n"
                 "         event_id,account_id,campaign_id,kind,count,time,platform_fault\n"
                 "         (other events are counted as skipped, not written).\n"
                 "Appending an export of a whole log to an empty log gives a log that\n"
                 "replays to the same state digest. With --entries, writes the ledger\n"
                 "entries the events made instead ({\"log_seq\":N,\"entry\":{...}} per line,\n"
                 "or CSV), replaying the log from sequence 1. Reads without the log's lock\n"
                 "(beside a writer: what was written when each batch was read). A torn\n"
                 "tail ends the export with a warning, as it ends replay.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const std::string format = vm["format"].as<std::string>();
  if (format != "jsonl" && format != "csv") {
    spdlog::error("--format: must be jsonl or csv, got \"{}\"", format);
    return kExitUsage;
  }
  bulk::ExportOptions o;
  o.csv = format == "csv";
  o.entries = vm.count("entries") > 0;
  o.from_seq = vm["from-seq"].as<uint64_t>();
  o.to_seq = vm["to-seq"].as<uint64_t>();
  const std::string output = vm["output"].as<std::string>();
  Progress progress(StderrIsTerminal() && output != "-");
  o.progress = [&](uint64_t seq) { progress.Count("export", seq, "(last sequence)"); };
  bulk::ExportStats stats;
  const auto start = BenchClock::now();
  const Status st = bulk::Export(vm["log"].as<std::string>(), o, output, &stats);
  const double seconds = Seconds(BenchClock::now() - start);
  progress.End();
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return st.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  if (!stats.tail_fault.empty()) spdlog::warn("torn tail: {}", stats.tail_fault);
  if (stats.skipped > 0) {
    spdlog::warn("{} events that are not deliveries were not written (CSV carries deliveries; "
                 "--format jsonl carries every event)", stats.skipped);
  }
  JsonObject summary{{"events", stats.events},   {"written", stats.written},
                     {"skipped", stats.skipped}, {"bytes", stats.bytes},
                     {"last_seq", stats.last_seq}, {"seconds", RoundedTo(seconds, 3)},
                     {"events_per_second", RoundedTo(seconds > 0 ? stats.events / seconds : 0, 0)}};
  if (vm.count("json")) {
    (output == "-" ? std::cerr : std::cout) << ToJsonLine(summary);
  } else {
    spdlog::info("exported {} events ({} records, {} bytes) in {:.3f} s", stats.events,
                 stats.written, stats.bytes, seconds);
  }
  return kExitOk;
}

// --- repair -------------------------------------------------------------------

int RepairCommand(const std::vector<std::string>& args) {
  po::options_description options("billsim log repair options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "truncate-after", po::value<uint64_t>()->required(),
      "keep sequences 1..SEQ, discard the rest");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim log repair --log DIR --truncate-after SEQ\n\n"
                 "The operator's decision about a damaged log, which serve, replay and\n"
                 "log verify refuse: keeps sequences 1..SEQ and discards everything after\n"
                 "them (the rest of the segment holding SEQ, every later segment and\n"
                 "index, every snapshot after SEQ). Takes the log's lock. Refuses unless\n"
                 "the part kept verifies and SEQ ends a batch. Before changing anything,\n"
                 "appends to DIR/REPAIRS the time, the old head (last readable sequence\n"
                 "and its chain, and the damage found), the new head and every file or\n"
                 "byte range discarded with its sequences; prints the same. Afterwards\n"
                 "the log verifies and ends at SEQ. Exit 0: repaired or nothing to do;\n"
                 "2: refused (bad SEQ, damage before SEQ, locked, missing DIR).\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const std::string dir = vm["log"].as<std::string>();
  const uint64_t keep = vm["truncate-after"].as<uint64_t>();
  log::RepairReport report;
  const Status st = log::RepairLog(dir, keep, &report);
  if (!report.record.empty()) std::cout << report.record;
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitUsage;
  }
  if (report.discarded.empty()) {
    std::cout << "nothing to discard: " << dir << " ends at sequence " << report.old_last_seq
              << " and nothing proves more\n";
  } else {
    std::cout << "repaired: " << dir << " now ends at sequence " << report.new_last_seq
              << ", chain " << log::ChainHex(report.new_chain) << " (recorded in "
              << dir << "/" << log::kRepairsFileName << ")\n";
  }
  return kExitOk;
}

}  // namespace

int LogMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kLogUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "append") return AppendCommand(rest);
  if (args[0] == "verify") return VerifyCommand(rest);
  if (args[0] == "dump") return DumpCommand(rest);
  if (args[0] == "export") return ExportCommand(rest);
  if (args[0] == "repair") return RepairCommand(rest);
  spdlog::error("unknown log subcommand \"{}\"; see billsim log --help", args[0]);
  return kExitUsage;
}

}  // namespace billsim::cli
