// billsim replay | snapshot: projections rebuilt from the log.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "log/log_writer.h"
#include "replay/replayer.h"
#include "replay/snapshot_store.h"
#include "report/format.h"

namespace billsim::cli {

int ReplayMain(const std::vector<std::string>& args) {
  po::options_description options("billsim replay options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "to-seq", po::value<uint64_t>(), "stop after this sequence")(
      "as-of", po::value<std::string>(),
      "stop before the first event stamped after TIME (us or ISO 8601 UTC), "
      "then advance the clock to TIME")(
      "report", po::value<std::string>()->default_value("table"), "table, csv or json")(
      "no-snapshots", "replay from sequence 1, ignoring snapshots")(
      "allow-damage",
      "starting from a snapshot, warn about damage in the part of the log it skips "
      "instead of refusing");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim replay --log DIR [--to-seq N | --as-of TIME] "
                 "[--report table|json|csv] [--no-snapshots] [--allow-damage]\n\n"
                 "Rebuilds every projection from the log (from the newest valid snapshot\n"
                 "at or before the target) and prints the balance report. The part of the\n"
                 "log a snapshot skips is still checked (every checksum): damage there, or\n"
                 "anywhere, or a log shorter than a snapshot proves it was, is an error\n"
                 "naming segment, offset and sequence (exit 1). --allow-damage turns damage\n"
                 "behind the snapshot into a warning. DIR must exist.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  ReplayOptions ro;
  Format format;
  Status st = ParseFormat(vm["report"].as<std::string>(), &format);
  if (st.ok() && vm.count("to-seq") && vm.count("as-of")) {
    st = Status::InvalidArgument("--to-seq and --as-of: give one, not both");
  }
  if (st.ok() && vm.count("to-seq")) ro.to_seq = vm["to-seq"].as<uint64_t>();
  if (st.ok() && vm.count("as-of")) {
    st = ParseTime(vm["as-of"].as<std::string>(), "--as-of", &ro.as_of_us);
  }
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  ro.use_snapshots = vm.count("no-snapshots") == 0;
  ro.allow_damage = vm.count("allow-damage") > 0;
  const std::string dir = vm["log"].as<std::string>();
  Ledger ledger;
  ReplayStats stats;
  st = Replay(dir, ro, &ledger, &stats);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  if (!stats.tail_fault.empty()) spdlog::warn("torn tail ignored: {}", stats.tail_fault);
  if (const std::string w = UnknownFieldWarning(dir, stats); !w.empty()) spdlog::warn("{}", w);
  spdlog::info("replayed sequences {}..{} ({} events{})", stats.snapshot_seq + 1,
               stats.last_seq, stats.events,
               stats.snapshot_seq ? ", from snapshot at " + std::to_string(stats.snapshot_seq)
                                  : std::string());
  // Streamed, view by view: a book of millions of campaigns is never one
  // message.
  WriteBalances(BalancesOf(ledger, dir), format, std::cout);
  return kExitOk;
}

int SnapshotMain(const std::vector<std::string>& args) {
  po::options_description options("billsim snapshot options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim snapshot --log DIR\n\n"
                 "Replays the log to its end and writes the projections' full state at\n"
                 "the last sequence, atomically, to DIR/snapshots. Later replays start\n"
                 "from it and read only the tail.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const std::string dir = vm["log"].as<std::string>();
  // Opening for writing recovers the log: a snapshot is taken of what is
  // durable and whole, never of a torn tail.
  std::unique_ptr<log::LogWriter> writer;
  log::LogOptions lo;
  Status st = log::LogWriter::Open(dir, lo, &writer);
  Ledger ledger;
  ReplayStats stats;
  if (st.ok()) st = Replay(dir, ReplayOptions{}, &ledger, &stats);
  if (st.ok() && stats.last_seq == 0) st = Status::NotFound(dir + ": the log is empty");
  std::string path;
  if (st.ok() && stats.last_seq != stats.snapshot_seq) {
    st = WriteSnapshot(dir, ledger, stats.last_seq, writer->chain(), &path);
  }
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  if (path.empty()) {
    std::cout << "snapshot at sequence " << stats.last_seq << " already exists\n";
  } else {
    std::cout << "wrote " << path << " at sequence " << stats.last_seq << ", state digest "
              << ledger.Digest() << "\n";
  }
  return kExitOk;
}

}  // namespace billsim::cli
