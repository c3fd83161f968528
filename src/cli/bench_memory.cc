// billsim bench memory: how this machine's memory answers random access,
// the cost that bounds the replay of a large book.
//
// A delivery reads and writes a few cache lines (its campaign's, its
// account's, a grant, a counter) at random places in state that outgrows
// the caches, so replay's rate at 10^6 and 10^7 campaigns (bench ledger)
// follows the machine's random-access cost more than its clock. This
// benchmark measures that cost on a block of each size asked for, allocated
// as the ledger's tables are (util/pages.h: a mapping of its own, on huge
// pages where the system gives them, resident at once):
//  - latency: a load that depends on the one before, each in a page of the
//    block taken in random order (a line at random in it);
//  - throughput: independent loads of random lines, each loaded 48 loads
//    ahead with a prefetch, as replay's stages do: one line in each page
//    visited; eight lines in each page visited; a line in each of eight
//    4 KiB pages of one 2 MiB region. The first two differ by what a page
//    visit costs beyond its lines (its translation, a page walk, and the
//    memory's row); the third, by how much of that a huge page saves
//    (under a hypervisor that maps the guest's memory in 4 KiB pages, each
//    4 KiB page still needs a translation of its own).
// A benchmark prints what it measured; it asserts nothing about speed.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "cli/bench_util.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "report/json.h"
#include "util/pages.h"

namespace billsim::cli {

// Named, not anonymous: the unity build joins this file with the other
// commands' (CMakeLists.txt), whose names would clash.
namespace bench_memory {

constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kLineBytes = 64;
constexpr uint64_t kLinesPerPage = kPageBytes / kLineBytes;
constexpr uint64_t kMibMin = 4;
constexpr uint64_t kMibMax = 65'536;  // 64 GiB
constexpr uint64_t kRunsMax = 25;
constexpr size_t kSizesMax = 16;
constexpr uint64_t kChaseLoads = 2'000'000;
constexpr uint64_t kStreamLoads = 8'000'000;
constexpr uint64_t kPrefetchAhead = 48;
constexpr uint32_t kLinesPerVisit = 8;  // the second throughput pattern

// One run's figures for one size, in nanoseconds.
struct Figures {
  double latency_ns = 0;
  double line_per_page_ns = 0;    // per line, one line per page visited
  double eight_per_page_ns = 0;   // per line, eight lines per page visited
  double eight_pages_ns = 0;      // per line, eight 4 KiB pages per 2 MiB visited
};
// Each figure's key in the JSON report: KEY_ns, the median, and
// KEY_runs_ns, every run.
struct Field {
  const char* key;
  double Figures::*value;
};
constexpr Field kFields[] = {{"latency", &Figures::latency_ns},
                             {"line_per_page", &Figures::line_per_page_ns},
                             {"eight_lines_per_page", &Figures::eight_per_page_ns},
                             {"eight_pages_per_2mib", &Figures::eight_pages_ns}};

// A block of `bytes` from AllocateZeroed, freed at the end of its scope.
class Block {
 public:
  explicit Block(uint64_t bytes)
      : bytes_(bytes), data_(static_cast<char*>(AllocateZeroed(bytes, kPageBytes))) {}
  ~Block() { FreeZeroed(data_, bytes_, kPageBytes); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  char* data() const { return data_; }
  uint64_t pages() const { return bytes_ / kPageBytes; }

 private:
  uint64_t bytes_;
  char* data_;
};

// Nanoseconds per load of a chain through every page of the block in random
// order, each link at a random line of its page.
double Latency(const Block& block, std::mt19937_64& rng) {
  std::vector<uint64_t> order(block.pages());
  for (uint64_t p = 0; p < order.size(); ++p) order[p] = p * kPageBytes + rng() % kLinesPerPage * kLineBytes;
  std::shuffle(order.begin(), order.end(), rng);
  for (uint64_t i = 0; i < order.size(); ++i) {
    char** link = reinterpret_cast<char**>(block.data() + order[i]);
    *link = block.data() + order[(i + 1) % order.size()];
  }
  char* p = block.data() + order[0];
  const auto start = BenchClock::now();
  for (uint64_t i = 0; i < kChaseLoads; ++i) p = *reinterpret_cast<char**>(p);
  const double s = Seconds(BenchClock::now() - start);
  // The chain's end, kept: without a use the loop could be dropped.
  asm volatile("" : : "r"(p) : "memory");
  return s * 1e9 / kChaseLoads;
}

// Where the loads of a visit fall.
enum class Visit {
  kLinePerPage,     // one line of a random page
  kLinesPerPage,    // kLinesPerVisit distinct lines of a random page
  kPagesPerRegion,  // a line in each of kLinesPerVisit distinct 4 KiB pages
                    // of a random 2 MiB region (one huge page, if it is one)
};

// Nanoseconds per line of kStreamLoads independent loads, visits at random.
double Throughput(const Block& block, Visit visit, std::mt19937_64& rng) {
  const uint32_t per_visit = visit == Visit::kLinePerPage ? 1 : kLinesPerVisit;
  const uint64_t region_pages = kHugePageBytes / kPageBytes;
  const uint64_t regions = std::max<uint64_t>(1, block.pages() / region_pages);
  std::vector<uint64_t> offsets(kStreamLoads);
  for (uint64_t i = 0; i < offsets.size(); i += per_visit) {
    // The page visited, or the region's first.
    const uint64_t page = visit == Visit::kPagesPerRegion ? rng() % regions * region_pages
                                                          : rng() % block.pages();
    const uint64_t first = rng() % kLinesPerPage;
    for (uint32_t k = 0; k < per_visit && i + k < offsets.size(); ++k) {
      // Distinct lines of the page, or distinct pages of the region: steps
      // of 7, coprime with 64 lines a page and 512 pages a region.
      const uint64_t line = (first + 7 * k) % kLinesPerPage;
      const uint64_t at = visit == Visit::kPagesPerRegion
                              ? std::min(page + (first + 7 * k) % region_pages, block.pages() - 1)
                              : page;
      offsets[i + k] = at * kPageBytes + line * kLineBytes;
    }
  }
  const char* base = block.data();
  uint64_t sum = 0;
  const auto start = BenchClock::now();
  for (uint64_t i = 0; i < offsets.size(); ++i) {
    if (i + kPrefetchAhead < offsets.size()) __builtin_prefetch(base + offsets[i + kPrefetchAhead]);
    sum += *reinterpret_cast<const volatile uint64_t*>(base + offsets[i]);
  }
  const double s = Seconds(BenchClock::now() - start);
  asm volatile("" : : "r"(sum) : "memory");
  return s * 1e9 / static_cast<double>(offsets.size());
}

constexpr const char* kUsage =
    "usage: billsim bench memory [--mib N ...] [--runs N] [--json]\n\n"
    "How this machine's memory answers random access, which bounds the\n"
    "replay of a large book (bench ledger at 10^6 and 10^7 campaigns). For\n"
    "each size, a block allocated as the ledger's tables are (a mapping of\n"
    "its own, on huge pages where the system gives them):\n"
    "  latency            a load depending on the one before, each in a page\n"
    "                     of the block taken in random order;\n"
    "  1 line per page    independent random loads, each prefetched 48 loads\n"
    "                     ahead (as replay's stages do), one line per page;\n"
    "  8 lines per page   the same, eight distinct lines of each page visited;\n"
    "  8 pages per 2 MiB  the same, a line in each of eight distinct 4 KiB\n"
    "                     pages of a 2 MiB region (a huge page, if it is one).\n"
    "The first two throughputs differ by what visiting a page costs beyond\n"
    "its lines (its address translation, a page walk, and the memory's own\n"
    "row): when 8 lines a page cost far less a line than 1, random access is\n"
    "bound by the pages it visits, not by its lines. The third shows how\n"
    "much of that a 2 MiB (huge) page saves: under a hypervisor that maps\n"
    "the guest's memory in 4 KiB pages, each 4 KiB page still needs a\n"
    "translation of its own. The median of --runs runs, and every run.\n"
    "Progress on stderr when it is a terminal.\n";

}  // namespace bench_memory

int BenchMemoryMain(const std::vector<std::string>& args) {
  using namespace bench_memory;  // NOLINT: this file's own helpers
  po::options_description options("billsim bench memory options");
  options.add_options()
      ("mib", po::value<std::vector<uint64_t>>()->multitoken(),
       "block sizes in MiB, up to 16 of them (each 4..65536, and at most half "
       "this machine's memory; default 64 256 1024)")
      ("runs", po::value<uint64_t>()->default_value(3), "runs of each size (1..25)")
      ("json", "print one JSON object (units in the key names)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args, kUsage, options, nullptr, &vm, &exit)) return exit;
  std::vector<uint64_t> sizes = {64, 256, 1024};
  if (vm.count("mib")) sizes = vm["mib"].as<std::vector<uint64_t>>();
  const uint64_t runs = vm["runs"].as<uint64_t>();
  Status st = CheckRange("runs", runs, 1, kRunsMax);
  if (st.ok() && sizes.size() > kSizesMax) {
    st = Status::InvalidArgument("--mib names " + std::to_string(sizes.size()) +
                                 " sizes; at most " + std::to_string(kSizesMax));
  }
  // A block is made resident whole: past half this machine's memory it
  // would push out everything else, or meet the out-of-memory killer.
  const long pages = sysconf(_SC_PHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
  const uint64_t memory_mib =
      pages > 0 && page_bytes > 0 ? static_cast<uint64_t>(pages) * page_bytes >> 20 : 0;
  for (uint64_t mib : sizes) {
    if (st.ok()) st = CheckRange("mib", mib, kMibMin, kMibMax);
    if (st.ok() && memory_mib > 0 && mib > memory_mib / 2) {
      st = Status::InvalidArgument("--mib " + std::to_string(mib) +
                                   " is more than half of this machine's " +
                                   std::to_string(memory_mib) + " MiB of memory");
    }
  }
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  Progress progress(StderrIsTerminal());
  std::mt19937_64 rng(1);
  std::vector<std::vector<Figures>> measured(sizes.size());
  const uint64_t steps = sizes.size() * runs;
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::unique_ptr<Block> block;
    try {
      block = std::make_unique<Block>(sizes[s] << 20);
    } catch (const std::bad_alloc&) {
      progress.End();
      spdlog::error("--mib {}: the system has no room for a block of {} MiB", sizes[s], sizes[s]);
      return kExitFailed;
    }
    for (uint64_t r = 0; r < runs; ++r) {
      progress.Show(std::to_string(sizes[s]) + " MiB", s * runs + r, steps);
      Figures f;
      f.latency_ns = Latency(*block, rng);
      f.line_per_page_ns = Throughput(*block, Visit::kLinePerPage, rng);
      f.eight_per_page_ns = Throughput(*block, Visit::kLinesPerPage, rng);
      f.eight_pages_ns = Throughput(*block, Visit::kPagesPerRegion, rng);
      measured[s].push_back(f);
    }
  }
  progress.End();

  auto median = [](const std::vector<Figures>& runs_of, double Figures::*field) {
    std::vector<double> v;
    for (const Figures& f : runs_of) v.push_back(f.*field);
    return Median(v);
  };
  auto rounded = [](double ns) { return static_cast<double>(std::llround(ns * 100)) / 100; };
  if (vm.count("json")) {
    JsonObject out = {{"runs", runs}, {"sizes", JsonObject::array()}};
    for (size_t s = 0; s < sizes.size(); ++s) {
      JsonObject size = {{"mib", sizes[s]}};
      for (const Field& field : kFields) {
        const std::string key = field.key;
        size[key + "_ns"] = rounded(median(measured[s], field.value));
        JsonObject& every = size[key + "_runs_ns"] = JsonObject::array();
        for (const Figures& f : measured[s]) every.push_back(rounded(f.*field.value));
      }
      out["sizes"].push_back(size);
    }
    std::printf("%s\n", out.dump().c_str());
    return kExitOk;
  }
  std::printf("%10s  %12s  %14s  %15s  %15s\n", "block", "latency", "1 line a page",
              "8 lines a page", "8 pages a 2 MiB");
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::printf("%6llu MiB  %9.1f ns  %11.2f ns  %12.2f ns  %12.2f ns\n",
                static_cast<unsigned long long>(sizes[s]),
                median(measured[s], &Figures::latency_ns),
                median(measured[s], &Figures::line_per_page_ns),
                median(measured[s], &Figures::eight_per_page_ns),
                median(measured[s], &Figures::eight_pages_ns));
  }
  std::printf("(throughputs: ns a line, each loaded 48 loads ahead)\n");
  return kExitOk;
}

}  // namespace billsim::cli
