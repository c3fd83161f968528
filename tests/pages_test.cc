// Tests of the zeroed blocks behind the ledger's large tables
// (src/util/pages.h) and of the containers built on them: PageArray,
// ChunkedVector and StringPool. A large block must be zero, aligned and
// resident as soon as it is given (mincore says which pages are); every
// element of a chunk is constructed and destroyed exactly once; a string
// pool gives back every string whatever block it landed in.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "util/chunked_vector.h"
#include "util/page_array.h"
#include "util/pages.h"
#include "util/sanitizers.h"
#include "util/string_pool.h"
#include "util/string_table.h"
#include "util/varint.h"

namespace billsim {
namespace {

// How many of the pages of [p, p + bytes) are resident. REQUIRES: p is
// page-aligned.
size_t ResidentPages(const void* p, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((bytes + page - 1) / page);
  if (mincore(const_cast<void*>(p), bytes, v.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char c : v) n += c & 1;
  return n;
}

bool AllZero(const void* p, size_t bytes) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

TEST(PagesTest, SmallAndLargeBlocksAreZeroAndAligned) {
  for (size_t bytes : {size_t{1}, size_t{64}, size_t{4096}, kMappedFrom - 64, kMappedFrom,
                       size_t{3} << 20}) {
    for (size_t align : {size_t{8}, size_t{64}, size_t{4096}}) {
      void* p = AllocateZeroed(bytes, align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << bytes << " " << align;
      EXPECT_TRUE(AllZero(p, bytes)) << bytes;
      std::memset(p, 0xab, bytes);  // all of it writable
      FreeZeroed(p, bytes, align);
    }
  }
  FreeZeroed(nullptr, kMappedFrom, 64);  // does nothing
}

// A mapped block of whole huge pages starts on their boundary (else no
// huge page can back any of it), and what was mapped around it to get
// there is given back: they leave no more mapped than they hold (VmSize,
// /proc/self/status).
TEST(PagesTest, ABlockOfWholeHugePagesIsOnTheirBoundary) {
  if (kAddressSanitizer) return;  // every block from operator new
  auto vm_kb = [] {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return int64_t{-1};
    char line[256];
    int64_t kb = -1;
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::sscanf(line, "VmSize: %ld kB", &kb) == 1) break;
    }
    std::fclose(f);
    return kb;
  };
  const size_t bytes = kHugePageBytes;
  std::vector<void*> blocks;
  const int64_t before = vm_kb();
  for (int i = 0; i < 16; ++i) {
    void* p = AllocateZeroed(bytes * (1 + i % 2), 64);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u) << i;
    EXPECT_TRUE(AllZero(p, bytes)) << i;
    blocks.push_back(p);
  }
  const int64_t after = vm_kb();
  ASSERT_GE(before, 0);
  // 8 blocks of 2 MiB and 8 of 4 MiB: 48 MiB; with the slack kept it
  // would be 80 MiB.
  EXPECT_LT(after - before, int64_t{56} << 10) << "KiB mapped for 48 MiB of blocks";
  for (size_t i = 0; i < blocks.size(); ++i) FreeZeroed(blocks[i], bytes * (1 + i % 2), 64);
}

TEST(PagesTest, ALargeBlockIsResidentAtOnceASmallOneComesFromNew) {
  EXPECT_FALSE(IsMappedBlock(kMappedFrom - 1));
  // Under AddressSanitizer every block comes from operator new, so that
  // its checks see it.
  EXPECT_EQ(IsMappedBlock(kMappedFrom), !kAddressSanitizer);
  EXPECT_EQ(IsMappedBlock(size_t{64} << 20), !kAddressSanitizer);
  if (kAddressSanitizer) return;
  const size_t bytes = size_t{8} << 20;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* p = AllocateZeroed(bytes, 64);
  // Not one page touched, yet all of them there: a fault per page is what
  // this block is for avoiding.
  EXPECT_EQ(ResidentPages(p, bytes), bytes / page);
  FreeZeroed(p, bytes, 64);

  PageArray<uint64_t> table(size_t{1} << 20);
  EXPECT_EQ(ResidentPages(&table[0], table.size() * sizeof(uint64_t)),
            table.size() * sizeof(uint64_t) / page);
  EXPECT_EQ(table[12345], 0u);
}

TEST(PagesTest, PageArrayMovesAndIsZero) {
  PageArray<uint32_t> a(100000);
  EXPECT_EQ(a.size(), 100000u);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], 0u);
  a[99999] = 7;
  PageArray<uint32_t> b = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(b[99999], 7u);
  PageArray<uint32_t> c(10);
  c = std::move(b);
  EXPECT_EQ(c.size(), 100000u);
  EXPECT_EQ(c[99999], 7u);
  EXPECT_TRUE(PageArray<char>(0).empty());
}

// Counts constructions and destructions, so a test can tell that every
// element of every chunk is made and unmade exactly once.
struct Counted {
  static inline int64_t live = 0;
  static inline int64_t made = 0;
  Counted() : value(-1) { ++live, ++made; }
  Counted(const Counted&) = delete;
  Counted& operator=(Counted&& o) noexcept {
    value = o.value;
    return *this;
  }
  ~Counted() { --live; }
  alignas(64) int64_t value;
};

TEST(PagesTest, ChunkedVectorConstructsAndDestroysEveryElementOnce) {
  using V = ChunkedVector<Counted, 10>;  // 1024 elements of 64 bytes: 64 KiB chunks
  Counted::live = Counted::made = 0;
  {
    V v;
    const size_t n = 5 * V::kChunk + 3;
    for (size_t i = 0; i < n; ++i) {
      Counted& c = v.emplace_back();
      ASSERT_EQ(c.value, -1) << i;  // value-initialized
      c.value = static_cast<int64_t>(i);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(&c) % 64, 0u);
    }
    ASSERT_EQ(v.size(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(v[i].value, static_cast<int64_t>(i)) << i;
    // Whole chunks are made at once: six of them, the first one grown.
    EXPECT_EQ(Counted::live, static_cast<int64_t>(6 * V::kChunk));
    V moved = std::move(v);
    EXPECT_EQ(v.size(), 0u);
    EXPECT_EQ(moved[n - 1].value, static_cast<int64_t>(n - 1));
    int64_t sum = 0;
    for (const Counted& c : moved) sum += c.value;
    EXPECT_EQ(sum, static_cast<int64_t>(n) * static_cast<int64_t>(n - 1) / 2);
  }
  EXPECT_EQ(Counted::live, 0);
  EXPECT_GT(Counted::made, static_cast<int64_t>(6 * V::kChunk));  // the first chunk grew
}

TEST(PagesTest, ALargeChunkIsResidentAtOnce) {
  struct alignas(64) Line {
    char bytes[64];
  };
  using Lines = ChunkedVector<Line, 14>;  // 1 MiB chunks
  Lines v;
  for (size_t i = 0; i <= Lines::kChunk; ++i) v.emplace_back();
  if (kAddressSanitizer) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // The second chunk: one element used, all its pages there.
  const Line* second = &v[Lines::kChunk];
  EXPECT_EQ(ResidentPages(second, Lines::kChunk * sizeof(Line)), Lines::kChunk * sizeof(Line) / page);
}

TEST(PagesTest, StringPoolKeepsEveryStringAcrossGrowingBlocks) {
  StringPool pool;
  EXPECT_EQ(pool.Add(""), StringPool::kEmpty);
  EXPECT_EQ(pool.Get(StringPool::kEmpty), "");
  std::vector<std::pair<StringPool::Handle, std::string>> kept;
  uint64_t bytes = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s = "campaign-" + std::to_string(i) + std::string(i % 50, 'x');
    if (i == 70000) s = std::string((size_t{3} << 20) + 5, 'L');  // longer than a block
    // Lengths at the edges of one, two and three bytes of varint.
    if (i >= 100 && i < 106) s.assign(std::array<size_t, 6>{127, 128, 16383, 16384, 1, 255}[i - 100], 'v');
    bytes += VarintLength(s.size()) + s.size();
    kept.emplace_back(pool.Add(s), std::move(s));
  }
  EXPECT_EQ(pool.bytes(), bytes);
  for (const auto& [h, s] : kept) ASSERT_EQ(pool.Get(h), s);
  StringPool moved = std::move(pool);
  EXPECT_EQ(moved.Get(kept[70000].first).size(), (size_t{3} << 20) + 5);
  EXPECT_EQ(moved.Get(kept.back().first), kept.back().second);
}

// Pairs (a campaign's id and landing page) share a handle: both come back
// whatever block they landed in, either may be empty, and single strings
// between them are not disturbed.
TEST(PagesTest, StringPoolKeepsPairsUnderOneHandle) {
  StringPool pool;
  struct Kept {
    StringPool::Handle pair, single;
    std::string first, second, alone;
  };
  std::vector<Kept> kept;
  uint64_t bytes = 0;
  for (int i = 0; i < 100000; ++i) {
    Kept k;
    k.first = i % 11 == 0 ? std::string() : "camp-" + std::to_string(i);
    k.second = i % 3 == 0 ? std::string() : "https://example.com/" + std::string(i % 200, 'p');
    if (i == 50000) k.second = std::string((size_t{1} << 20) + 3, 'L');  // longer than a block
    if (i == 50001) k.first = std::string(16384, 'v');                   // a three-byte varint
    k.alone = "grant-" + std::to_string(i);
    k.pair = pool.AddPair(k.first, k.second);
    k.single = pool.Add(k.alone);
    bytes += VarintLength(k.first.size()) + k.first.size() + VarintLength(k.second.size()) +
             k.second.size() + VarintLength(k.alone.size()) + k.alone.size();
    kept.push_back(std::move(k));
  }
  EXPECT_EQ(pool.bytes(), bytes);
  for (const Kept& k : kept) {
    ASSERT_NE(k.pair, StringPool::kEmpty);
    ASSERT_EQ(pool.First(k.pair), k.first);
    ASSERT_EQ(pool.Second(k.pair), k.second);
    ASSERT_EQ(pool.Get(k.single), k.alone);
  }
  const StringPool::Handle none = pool.AddPair(std::string_view(), std::string_view());
  EXPECT_NE(none, StringPool::kEmpty);
  EXPECT_EQ(pool.First(none), "");
  EXPECT_EQ(pool.Second(none), "");
  EXPECT_EQ(pool.bytes(), bytes + 2);  // two one-byte lengths
}

// StringTable numbers distinct strings densely in order of first
// appearance (0: the empty string), finds them again at any size, and a
// move takes them all along (its index names its owner, so it is rebuilt)
// and leaves the moved-from table empty and usable.
TEST(PagesTest, StringTableNumbersDistinctStringsAndSurvivesAMove) {
  StringTable table;
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Intern(""), 0u);
  EXPECT_EQ(table.Find(""), 0u);
  EXPECT_EQ(table.Get(0), "");
  EXPECT_EQ(table.Find("absent"), StringTable::kNotFound);
  constexpr uint32_t kN = 100000;
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(table.Intern("https://host-" + std::to_string(i) + ".example/"), i + 1);
    ASSERT_EQ(table.Intern("https://host-" + std::to_string(i / 2) + ".example/"), i / 2 + 1);
  }
  EXPECT_EQ(table.size(), kN + 1);
  const std::string next = "https://host-" + std::to_string(kN) + ".example/";
  EXPECT_EQ(table.Find(next), StringTable::kNotFound);
  StringTable moved = std::move(table);
  for (uint32_t i = 0; i < kN; i += 7) {
    const std::string s = "https://host-" + std::to_string(i) + ".example/";
    ASSERT_EQ(moved.Find(s), i + 1);
    ASSERT_EQ(moved.Get(i + 1), s);
  }
  EXPECT_EQ(moved.Intern("new"), kN + 1);
  EXPECT_EQ(table.size(), 1u);  // NOLINT(bugprone-use-after-move): reset by the move
  EXPECT_EQ(table.Find("https://host-1.example/"), StringTable::kNotFound);
  EXPECT_EQ(table.Intern("again"), 1u);
  StringTable assigned;
  assigned.Intern("old");
  assigned = std::move(moved);
  EXPECT_EQ(assigned.Find("old"), StringTable::kNotFound);
  EXPECT_EQ(assigned.Find("new"), kN + 1);
  EXPECT_EQ(assigned.Get(kN + 1), "new");
  EXPECT_EQ(moved.size(), 1u);  // NOLINT(bugprone-use-after-move): reset by the move
  EXPECT_EQ(moved.Find("new"), StringTable::kNotFound);
  StringTable& alias = assigned;
  assigned = std::move(alias);  // a move into itself changes nothing
  EXPECT_EQ(assigned.size(), kN + 2);
  EXPECT_EQ(assigned.Find("https://host-7.example/"), 8u);
}

TEST(PagesTest, StringListKeepsEveryStringByIndexAndClears) {
  StringList list;
  std::vector<std::string> kept;
  for (int i = 0; i < 40'000; ++i) {  // past a chunk of handles and many pool blocks
    kept.push_back(i % 7 == 0 ? std::string() : "c" + std::string(i % 300, 'x') + std::to_string(i));
    list.push_back(kept.back());
  }
  ASSERT_EQ(list.size(), kept.size());
  for (size_t i = 0; i < kept.size(); ++i) ASSERT_EQ(list[i], kept[i]) << i;
  list.clear();
  EXPECT_EQ(list.size(), 0u);
  list.push_back("again");
  EXPECT_EQ(list[0], "again");
}

}  // namespace
}  // namespace billsim
