// batch_reader_fuzz_smoke [--seed N] [--mutations N] [--write-corpus DIR]
//
// Runs the fuzz target of batch_reader_fuzz.cc without libFuzzer: on valid
// segments written by LogWriter (each must read back whole), then on seeded
// mutations of them: bit flips, truncations, random runs, insertions,
// deletions, duplicated ranges, splices, header fields changed and resealed,
// payloads changed with their checksums fixed (so the decoder sees them), and
// random bytes. The target aborts on any invariant it checks; this program
// fails if a valid segment does not read back whole. --write-corpus writes
// the valid segments as a seed corpus for the libFuzzer build.
#include <stdlib.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "billsim/v1/log.pb.h"
#include "log/batch_codec.h"
#include "log/format.h"
#include "log/log_dir.h"
#include "log/log_writer.h"
#include "util/sanitizers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" void BillsimFuzzLastResult(uint64_t* batches, uint64_t* decoded, int* clean_end);

namespace {

namespace fs = std::filesystem;

// Under ASan every 4 MiB read buffer (src/log/file.cc allocates one per file
// opened, however small the file) is a fresh mmap: fewer cases there.
constexpr bool kSanitized = billsim::kAddressSanitizer;

using namespace billsim;
using namespace billsim::log;
using Bytes = std::string;

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint8_t* U8(Bytes& b) { return reinterpret_cast<uint8_t*>(b.data()); }

bool Fail(const std::string& what) {
  std::fprintf(stderr, "batch_reader_fuzz_smoke: FAIL: %s\n", what.c_str());
  return false;
}

v1::Event OtherEvent(uint64_t id, int64_t t, int which) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(t);
  switch (which % 4) {
    case 0: {
      auto* m = e.mutable_account_opened();
      m->set_account_id("acct-" + std::to_string(id));
      m->set_currency("EUR");
      m->set_name("n");
      break;
    }
    case 1: {
      auto* m = e.mutable_credit_granted();
      m->set_account_id("acct-1");
      m->set_grant_id("g-" + std::to_string(id));
      m->set_amount_micros(5'000'000);
      m->set_expires_at_us(t + 86'400'000'000);
      m->add_campaign_ids("c1");
      break;
    }
    case 2: {
      auto* m = e.mutable_dispute_decided();
      m->set_dispute_id("d-1");
      m->set_verified(true);
      m->set_amount_micros(17);
      break;
    }
    default:
      e.mutable_clock_advanced();
  }
  return e;
}

// Writes a log and returns its segments' bytes.
std::vector<Bytes> MakeLog(const std::string& dir, uint64_t segment_bytes, int batches,
                           int max_events, bool others, uint64_t seed) {
  std::mt19937_64 rng(seed);
  LogOptions options;
  options.segment_bytes = segment_bytes;
  options.fsync.mode = FsyncPolicy::Mode::kNever;
  std::unique_ptr<LogWriter> writer;
  Status st = LogWriter::Open(dir, options, &writer);
  if (!st.ok()) {
    Fail(st.ToString());
    std::exit(1);
  }
  BatchBuilder b;
  uint64_t id = 1;
  int64_t t = 1'700'000'000'000'000;
  for (int i = 0; i < batches; ++i) {
    b.Clear();
    const int n = 1 + static_cast<int>(rng() % max_events);
    for (int k = 0; k < n; ++k, ++id) {
      t += static_cast<int64_t>(rng() % 50'000);
      if (others && rng() % 5 == 0) {
        b.Add(OtherEvent(id, t, static_cast<int>(rng() % 4)));
      } else {
        const int c = static_cast<int>(rng() % 5);
        b.AddDelivery(id, t, "acct-" + std::to_string(c), "camp-" + std::to_string(c),
                      static_cast<v1::DeliveryReported::Kind>(1 + rng() % 5),
                      static_cast<int64_t>(1 + rng() % 100), rng() % 50 == 0);
      }
    }
    SeqRange range;
    st = writer->Append(b, &range);
    if (!st.ok()) {
      Fail(st.ToString());
      std::exit(1);
    }
  }
  writer->Close();
  std::vector<uint64_t> segments;
  ListSegments(dir, &segments);
  std::vector<Bytes> out;
  for (uint64_t s : segments) {
    std::ifstream in(SegmentPath(dir, s), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

// Offsets of the well-formed batch headers in `b`.
std::vector<size_t> Headers(const Bytes& b) {
  std::vector<size_t> at;
  for (size_t p = 0; p + kHeaderSize <= b.size(); ++p) {
    if (std::memcmp(b.data() + p, "BSLB", 4) != 0) continue;
    BatchHeader h;
    if (DecodeHeader(reinterpret_cast<const uint8_t*>(b.data()) + p, &h).ok()) at.push_back(p);
  }
  return at;
}

void Reseal(Bytes& b, size_t at) { Put64(U8(b) + at + 88, XXH3_64bits(U8(b) + at, 88)); }

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<Bytes>* seeds) : rng_(seed), seeds_(seeds) {}

  Bytes Next() {
    Bytes b = Pick();
    const int ops = 1 + static_cast<int>(rng_() % 3);
    for (int i = 0; i < ops; ++i) Mutate(b);
    return b;
  }

 private:
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  const Bytes& Pick() { return (*seeds_)[Below(seeds_->size())]; }
  Bytes RandomBytes(size_t n) {
    Bytes r(n, '\0');
    for (auto& c : r) c = static_cast<char>(rng_());
    return r;
  }

  void Mutate(Bytes& b) {
    switch (rng_() % 12) {
      case 0:  // flip bits
        for (int i = 1 + static_cast<int>(Below(4)); i > 0 && !b.empty(); --i) {
          b[Below(b.size())] ^= static_cast<char>(1u << Below(8));
        }
        break;
      case 1:  // truncate
        b.resize(Below(b.size() + 1));
        break;
      case 2:  // overwrite a run
        if (!b.empty()) {
          const size_t at = Below(b.size());
          const size_t n = std::min(b.size() - at, 1 + Below(16));
          b.replace(at, n, RandomBytes(n));
        }
        break;
      case 3:  // insert
        b.insert(Below(b.size() + 1), RandomBytes(1 + Below(32)));
        break;
      case 4:  // delete a range
        if (!b.empty()) {
          const size_t at = Below(b.size());
          b.erase(at, 1 + Below(std::min<size_t>(b.size() - at, 200)));
        }
        break;
      case 5:  // duplicate a range elsewhere (a batch written twice)
        if (!b.empty()) {
          const size_t at = Below(b.size());
          const Bytes chunk = b.substr(at, 1 + Below(b.size() - at));
          b.insert(Below(b.size() + 1), chunk);
        }
        break;
      case 6: {  // splice two segments
        const Bytes& other = Pick();
        b = b.substr(0, Below(b.size() + 1)) + other.substr(Below(other.size() + 1));
        break;
      }
      case 7:
      case 8: {  // change a header field and reseal the header checksum
        const auto heads = Headers(b);
        if (heads.empty()) break;
        const size_t at = heads[Below(heads.size())];
        uint8_t* h = U8(b) + at;
        switch (rng_() % 7) {
          case 0: Put64(h + 8, Below(2) ? rng_() : (h[8] + Below(5) - 2)); break;  // seq
          case 1: Put32(h + 16, Below(2) ? static_cast<uint32_t>(rng_())
                                         : static_cast<uint32_t>(h[16] + Below(3) - 1)); break;
          case 2: Put32(h + 20, Below(2) ? static_cast<uint32_t>(rng_() % (1u << 20))
                                         : static_cast<uint32_t>(h[20] + h[21] * 256 + Below(9) - 4)); break;
          case 3: Put64(h + 24, rng_()); break;
          case 4: Put64(h + 72, rng_()); break;
          case 5: h[40 + Below(32)] ^= 1; break;  // chain
          default: Put32(h + 16, 0); break;
        }
        Reseal(b, at);
        break;
      }
      case 9:
      case 10: {  // change a payload and fix its checksum: the decoder sees it
        const auto heads = Headers(b);
        if (heads.empty()) break;
        const size_t at = heads[Below(heads.size())];
        BatchHeader h;
        DecodeHeader(U8(b) + at, &h);
        if (at + kHeaderSize + h.payload_len > b.size()) break;
        const size_t old_len = h.payload_len;
        Bytes payload = b.substr(at + kHeaderSize, old_len);
        MutatePayload(payload);
        h.payload_len = static_cast<uint32_t>(payload.size());
        h.payload_xxh3 = PayloadChecksum(payload);
        if (Below(3) == 0) h.count = static_cast<uint32_t>(1 + Below(h.count + 2));
        uint8_t header[kHeaderSize];
        EncodeHeader(h, header);
        b.replace(at, kHeaderSize, reinterpret_cast<const char*>(header), kHeaderSize);
        b.replace(at + kHeaderSize, old_len, payload);
        break;
      }
      default:  // random bytes, sometimes behind a good header
        if (Below(2)) {
          b = RandomBytes(Below(600));
        } else {
          Bytes payload = RandomBytes(Below(300));
          BatchHeader h;
          h.first_seq = 1;
          h.count = static_cast<uint32_t>(1 + Below(20));
          h.payload_len = static_cast<uint32_t>(payload.size());
          h.payload_xxh3 = PayloadChecksum(payload);
          uint8_t header[kHeaderSize];
          EncodeHeader(h, header);
          b = Bytes(reinterpret_cast<const char*>(header), kHeaderSize) + payload;
        }
    }
  }

  void MutatePayload(Bytes& p) {
    v1::EventBatch batch;
    if (Below(2) && batch.ParseFromString(p)) {
      // Structured: lengths, indexes and positions the decoder must check.
      switch (rng_() % 9) {
        case 0: batch.add_delivery_id_delta(static_cast<int64_t>(rng_())); break;
        case 1: if (batch.delivery_campaign_size()) batch.set_delivery_campaign(Below(batch.delivery_campaign_size()), static_cast<uint32_t>(rng_() % 300)); break;
        case 2: if (batch.delivery_kind_size()) batch.set_delivery_kind(Below(batch.delivery_kind_size()), static_cast<uint32_t>(rng_() % 600)); break;
        case 3: if (batch.other_position_size()) batch.set_other_position(Below(batch.other_position_size()), static_cast<uint32_t>(rng_() % 64)); break;
        case 4: batch.add_other_position(static_cast<uint32_t>(rng_() % 64)); break;
        case 5: batch.add_dictionary_account("x"); break;
        case 6: if (batch.delivery_count_size()) batch.set_delivery_count(Below(batch.delivery_count_size()), rng_()); break;
        case 7: batch.clear_dictionary_campaign(); batch.clear_dictionary_account(); break;
        default: *batch.add_others() = OtherEvent(rng_(), static_cast<int64_t>(rng_()), static_cast<int>(Below(4))); break;
      }
      p = batch.SerializeAsString();
      return;
    }
    if (p.empty()) {
      p = RandomBytes(1 + Below(8));
      return;
    }
    for (int i = 1 + static_cast<int>(Below(3)); i > 0; --i) {
      if (Below(2)) {
        p[Below(p.size())] ^= static_cast<char>(1u << Below(8));
      } else {
        p.resize(Below(p.size() + 1));
        if (p.empty()) break;
      }
    }
  }

  std::mt19937_64 rng_;
  const std::vector<Bytes>* seeds_;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 20240611;
  int mutations = kSanitized ? 1200 : 4000;
  std::string corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--mutations" && i + 1 < argc) {
      mutations = std::atoi(argv[++i]);
    } else if (a == "--write-corpus" && i + 1 < argc) {
      corpus = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: batch_reader_fuzz_smoke [--seed N] [--mutations N] "
                   "[--write-corpus DIR]\n");
      return 2;
    }
  }
  std::string t = (fs::temp_directory_path() / "billsim-smoke-XXXXXX").string();
  if (::mkdtemp(t.data()) == nullptr) return Fail("mkdtemp"), 1;
  const fs::path tmp = t;

  std::vector<Bytes> seeds;
  auto add = [&](std::vector<Bytes> segs) {
    for (auto& s : segs) seeds.push_back(std::move(s));
  };
  add(MakeLog((tmp / "one").string(), 1 << 20, 1, 1, false, 1));
  add(MakeLog((tmp / "mixed").string(), 1 << 20, 8, 40, true, 2));
  add(MakeLog((tmp / "rolled").string(), 2 << 10, 30, 60, true, 3));
  add(MakeLog((tmp / "big").string(), 1 << 20, 1, 2000, false, 4));
  std::error_code ec;
  fs::remove_all(tmp, ec);

  if (!corpus.empty()) {
    fs::create_directories(corpus, ec);
    for (size_t i = 0; i < seeds.size(); ++i) {
      std::ofstream out(fs::path(corpus) / ("seed-" + std::to_string(i) + ".seg"),
                        std::ios::binary);
      out << seeds[i];
    }
    std::printf("wrote %zu seeds to %s\n", seeds.size(), corpus.c_str());
    return 0;
  }

  const auto start = std::chrono::steady_clock::now();
  bool ok = true;
  uint64_t seed_batches = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seeds[i].data()), seeds[i].size());
    uint64_t batches = 0, decoded = 0;
    int clean = 0;
    BillsimFuzzLastResult(&batches, &decoded, &clean);
    if (!clean || batches == 0 || decoded != batches) {
      ok = Fail("valid segment " + std::to_string(i) + " (" + std::to_string(seeds[i].size()) +
                " bytes) read back " + std::to_string(batches) + " batches, " +
                std::to_string(decoded) + " decoded, clean end " + std::to_string(clean));
    }
    seed_batches += batches;
  }

  Mutator mutator(seed, &seeds);
  uint64_t clean = 0, faulted = 0, bytes = 0, decoded_total = 0;
  for (int i = 0; i < mutations; ++i) {
    const Bytes input = mutator.Next();
    bytes += input.size();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    uint64_t batches = 0, decoded = 0;
    int end = 0;
    BillsimFuzzLastResult(&batches, &decoded, &end);
    (end ? clean : faulted)++;
    decoded_total += decoded;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("batch_reader_fuzz_smoke: seed %llu: %zu valid segments (%llu batches), "
              "%d mutations (%llu bytes): %llu read to the end, %llu stopped at a fault, "
              "%llu batches decoded; %.2f s\n",
              static_cast<unsigned long long>(seed), seeds.size(),
              static_cast<unsigned long long>(seed_batches), mutations,
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(clean),
              static_cast<unsigned long long>(faulted),
              static_cast<unsigned long long>(decoded_total), seconds);
  if (faulted == 0 || clean == 0) ok = Fail("the mutations did not reach both outcomes");
  return ok ? 0 : 1;
}
