// A libFuzzer-style driver without libFuzzer, for the fuzz targets that
// bring their own seeds (ledger_fuzz.cc, wire_fuzz.cc):
//
//   NAME_smoke [--seed N] [--runs N] [--write-corpus DIR] [FILE...]
//
// Runs the target on its seeds (BillsimFuzzSeeds), then on `runs` seeded
// mutations of them: bit flips, interesting bytes (0, 0x7f, 0x80, 0xff),
// random runs, insertions, deletions, duplicated ranges, splices of two
// seeds, truncations and random bytes. The number of runs is scaled by the
// environment variable BILLSIM_TEST_SCALE (a factor, default 1), so that
// slow builds (sanitizers) can run fewer. With FILEs it runs each file once
// instead (to reproduce a finding). --write-corpus writes the seeds as a
// corpus for the libFuzzer build.
//
// The target aborts on any failed check; this driver then writes the input
// that did it to $TMPDIR (or /tmp) and names the file, so the finding can be
// replayed with `NAME_smoke FILE` or the libFuzzer binary.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// The target's valid (or interesting) inputs to start from.
void BillsimFuzzSeeds(std::vector<std::string>* seeds);
// The target's name, for messages and crash files.
extern const char kBillsimFuzzName[];

namespace {

using Bytes = std::string;

// The input being run, for the crash handler.
const Bytes* g_current = nullptr;
char g_crash_path[512];

void OnCrash(int sig) {
  if (g_current != nullptr) {
    const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      size_t done = 0;
      while (done < g_current->size()) {
        const ssize_t w = ::write(fd, g_current->data() + done, g_current->size() - done);
        if (w <= 0) break;
        done += static_cast<size_t>(w);
      }
      ::close(fd);
      const char msg[] = "fuzz smoke: the failing input was written to ";
      (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
      (void)!::write(STDERR_FILENO, g_crash_path, std::strlen(g_crash_path));
      (void)!::write(STDERR_FILENO, "\n", 1);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void Run(const Bytes& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<Bytes>* seeds) : rng_(seed), seeds_(seeds) {}

  Bytes Next() {
    Bytes b = (*seeds_)[Below(seeds_->size())];
    for (int i = 1 + static_cast<int>(Below(4)); i > 0; --i) Mutate(b);
    return b;
  }

 private:
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  Bytes Random(size_t n) {
    Bytes r(n, '\0');
    for (char& c : r) c = static_cast<char>(rng_());
    return r;
  }

  void Mutate(Bytes& b) {
    static constexpr char kInteresting[] = {0, 1, 0x7f, static_cast<char>(0x80),
                                            static_cast<char>(0xff), 0x10};
    switch (rng_() % 10) {
      case 0:
        if (!b.empty()) b[Below(b.size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1:
        if (!b.empty()) b[Below(b.size())] = kInteresting[Below(sizeof kInteresting)];
        break;
      case 2:
        if (!b.empty()) {
          const size_t at = Below(b.size());
          const size_t n = std::min(b.size() - at, 1 + Below(8));
          b.replace(at, n, Random(n));
        }
        break;
      case 3:
        b.insert(Below(b.size() + 1), Random(1 + Below(16)));
        break;
      case 4:
        if (!b.empty()) {
          const size_t at = Below(b.size());
          b.erase(at, 1 + Below(std::min<size_t>(b.size() - at, 64)));
        }
        break;
      case 5:
        if (!b.empty()) {
          const size_t at = Below(b.size());
          const Bytes chunk = b.substr(at, 1 + Below(std::min<size_t>(b.size() - at, 256)));
          b.insert(Below(b.size() + 1), chunk);
        }
        break;
      case 6: {
        const Bytes& other = (*seeds_)[Below(seeds_->size())];
        b = b.substr(0, Below(b.size() + 1)) + other.substr(Below(other.size() + 1));
        break;
      }
      case 7:
        b.resize(Below(b.size() + 1));
        break;
      case 8:
        if (Below(8) == 0) b = Random(Below(512));
        break;
      default:  // a byte stepped up or down: lengths and counts off by one
        if (!b.empty()) b[Below(b.size())] += Below(2) ? 1 : -1;
    }
  }

  std::mt19937_64 rng_;
  const std::vector<Bytes>* seeds_;
};

Bytes ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open %s\n", kBillsimFuzzName, path.c_str());
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 20260115;
  long runs = 3000;
  std::string corpus;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atol(argv[++i]);
    } else if (a == "--write-corpus" && i + 1 < argc) {
      corpus = argv[++i];
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s_smoke [--seed N] [--runs N] [--write-corpus DIR] [FILE...]\n",
                   kBillsimFuzzName);
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (const char* scale = std::getenv("BILLSIM_TEST_SCALE")) {
    const double f = std::strtod(scale, nullptr);
    if (f > 0) runs = std::max(1L, static_cast<long>(static_cast<double>(runs) * f));
  }
  const char* tmp = std::getenv("TMPDIR");
  std::snprintf(g_crash_path, sizeof g_crash_path, "%s/%s-crash-%d.bin",
                tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", kBillsimFuzzName,
                static_cast<int>(::getpid()));
  ::signal(SIGABRT, OnCrash);
  ::signal(SIGSEGV, OnCrash);
  ::signal(SIGBUS, OnCrash);
  ::signal(SIGFPE, OnCrash);

  if (!files.empty()) {
    for (const std::string& f : files) Run(ReadFile(f));
    std::printf("%s: %zu files ran clean\n", kBillsimFuzzName, files.size());
    return 0;
  }
  std::vector<Bytes> seeds;
  BillsimFuzzSeeds(&seeds);
  if (seeds.empty()) seeds.emplace_back();
  if (!corpus.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(corpus, ec);
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream(std::filesystem::path(corpus) / ("seed-" + std::to_string(i)),
                    std::ios::binary)
          << seeds[i];
    }
    std::printf("wrote %zu seeds to %s\n", seeds.size(), corpus.c_str());
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  for (const Bytes& s : seeds) Run(s);
  Mutator mutator(seed, &seeds);
  for (long i = 0; i < runs; ++i) {
    const Bytes input = mutator.Next();
    bytes += input.size();
    Run(input);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: seed %llu: %zu seeds, %ld mutations (%llu bytes) ran clean; %.2f s\n",
              kBillsimFuzzName, static_cast<unsigned long long>(seed), seeds.size(), runs,
              static_cast<unsigned long long>(bytes), seconds);
  return 0;
}
