// Tests of IdIndex (src/util/id_index.h): ids found by index through the
// owner's storage, one entry per id, FindAll equal to Find, across growth,
// Clear and Reserve.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "util/id_index.h"

namespace billsim {
namespace {

struct Owner {
  std::vector<std::string> ids;
  int prefetches = 0;
  static std::string_view IdOf(const void* self, uint32_t i) {
    return static_cast<const Owner*>(self)->ids[i];
  }
  static void PrefetchOf(const void* self, uint32_t i) {
    const_cast<Owner*>(static_cast<const Owner*>(self))->prefetches++;
    __builtin_prefetch(&static_cast<const Owner*>(self)->ids[i]);
  }
};

TEST(IdIndexTest, FindsWhatWasInsertedAndRefusesADuplicateId) {
  Owner o;
  IdIndex index(&o, &Owner::IdOf);
  EXPECT_EQ(index.Find("a"), IdIndex::kNotFound);
  o.ids = {"a", "b", "", "a"};
  EXPECT_TRUE(index.Insert(0));
  EXPECT_TRUE(index.Insert(1));
  EXPECT_TRUE(index.Insert(2));   // the empty id is an id
  EXPECT_FALSE(index.Insert(3));  // "a" again
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.Find("a"), 0u);
  EXPECT_EQ(index.Find("b"), 1u);
  EXPECT_EQ(index.Find(""), 2u);
  EXPECT_EQ(index.Find("c"), IdIndex::kNotFound);
  index.Clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.Find("a"), IdIndex::kNotFound);
  EXPECT_TRUE(index.Insert(3));  // after Clear, "a" at index 3
  EXPECT_EQ(index.Find("a"), 3u);
}

// Many ids, inserted one by one (growing the table many times) or after a
// Reserve; FindAll over present and absent ids, in runs of every length
// around its pipeline's depth, equals Find.
TEST(IdIndexTest, FindAllEqualsFindAcrossGrowth) {
  for (bool reserve : {false, true}) {
    Owner o;
    IdIndex index(&o, &Owner::IdOf, &Owner::PrefetchOf);
    constexpr uint32_t kIds = 200000;
    for (uint32_t i = 0; i < kIds; ++i) o.ids.push_back("c-" + std::to_string(i * 7919u));
    if (reserve) index.Reserve(kIds);
    for (uint32_t i = 0; i < kIds; ++i) ASSERT_TRUE(index.Insert(i)) << i;
    for (uint32_t i = 0; i < kIds; ++i) ASSERT_EQ(index.Find(o.ids[i]), i);
    std::mt19937_64 rng(3);
    std::vector<std::string> asked;
    for (size_t n : {0, 1, 3, 4, 5, 8, 9, 12, 13, 17, 100, 5000}) {
      asked.clear();
      for (size_t k = 0; k < n; ++k) {
        const uint64_t r = rng() % (2 * kIds);  // half of them absent
        asked.push_back("c-" + std::to_string(r * 7919u));
      }
      std::vector<std::string_view> views(asked.begin(), asked.end());
      std::vector<uint32_t> out(n, 12345);
      index.FindAll(views.data(), n, out.data());
      for (size_t k = 0; k < n; ++k) ASSERT_EQ(out[k], index.Find(views[k])) << asked[k];
    }
    EXPECT_GT(o.prefetches, 0);
  }
}

TEST(IdIndexTest, FindAllOnAnEmptyIndexFindsNothing) {
  Owner o;
  IdIndex index(&o, &Owner::IdOf);
  std::vector<std::string_view> ids = {"x", "y"};
  std::vector<uint32_t> out(2, 0);
  index.FindAll(ids.data(), ids.size(), out.data());
  EXPECT_EQ(out[0], IdIndex::kNotFound);
  EXPECT_EQ(out[1], IdIndex::kNotFound);
}

}  // namespace
}  // namespace billsim
