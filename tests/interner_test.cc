// Tests of Interner (src/util/interner.h): dense numbers in order of first
// appearance (or the caller's), the same from Intern and InternAll, across
// growth, for empty, long and block-sized keys.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "util/interner.h"

namespace billsim {
namespace {

TEST(InternerTest, NumbersKeysInOrderOfFirstAppearance) {
  Interner in;
  EXPECT_EQ(in.Find("a"), Interner::kNotFound);
  EXPECT_EQ(in.Intern("a"), 0u);
  EXPECT_EQ(in.Intern("b"), 1u);
  EXPECT_EQ(in.Intern("a"), 0u);
  EXPECT_EQ(in.Intern(""), 2u);  // the empty key is a key
  EXPECT_EQ(in.Intern(""), 2u);
  EXPECT_EQ(in.Find("b"), 1u);
  EXPECT_EQ(in.Find("c"), Interner::kNotFound);
  EXPECT_EQ(in.size(), 3u);
}

// The caller's numbers for new keys (replay's created pairs), beside the
// interner's own from first_number, which they do not move; a key keeps the
// number it got first.
TEST(InternerTest, GivesNewKeysTheCallersNumbersOrItsOwn) {
  Interner in(20, 1000);
  EXPECT_EQ(in.Intern("x"), 1000u);
  const std::vector<std::string_view> keys = {"a", "x", "b", "a", "c"};
  const std::vector<uint32_t> numbers = {7, 8, Interner::kNotFound, 9, 3};
  std::vector<uint32_t> ids(keys.size());
  in.InternAll(keys.data(), keys.size(), numbers.data(), ids.data());
  EXPECT_EQ(ids, (std::vector<uint32_t>{7, 1000, 1001, 7, 3}));
  EXPECT_EQ(in.Intern("d"), 1002u);
  EXPECT_EQ(in.Find("c"), 3u);
  EXPECT_EQ(in.size(), 5u);
}

TEST(InternerTest, KeysThatShareAPrefixOrDifferInLengthAreDistinct) {
  Interner in;
  EXPECT_EQ(in.Intern("ab"), 0u);
  EXPECT_EQ(in.Intern("a"), 1u);
  EXPECT_EQ(in.Intern("abc"), 2u);
  EXPECT_EQ(in.Intern(std::string_view("a\0", 2)), 3u);
  EXPECT_EQ(in.Find("ab"), 0u);
  EXPECT_EQ(in.Find(std::string_view("a\0", 2)), 3u);
}

// Against a hash map, over enough keys to grow the table many times and
// fill many blocks, in bulk batches with repeats inside a batch and
// across batches.
TEST(InternerTest, BulkAndSingleLookupsAgreeWithAMapAcrossGrowth) {
  Interner in(20);  // 1 MiB blocks: many of them
  std::unordered_map<std::string, uint32_t> want;
  std::mt19937_64 rng(7);
  std::vector<std::string> batch;
  std::vector<std::string_view> views;
  std::vector<uint32_t> ids;
  for (int round = 0; round < 60; ++round) {
    batch.clear();
    const size_t n = 1 + rng() % 4000;
    for (size_t i = 0; i < n; ++i) {
      // Keys of 0-60 bytes drawn from a space that repeats often.
      const uint64_t k = rng() % 150000;
      batch.push_back(std::to_string(k) + std::string(k % 61, 'x'));
    }
    views.assign(batch.begin(), batch.end());
    ids.assign(n, 0);
    if (round % 3 == 0) {
      for (size_t i = 0; i < n; ++i) ids[i] = in.Intern(views[i]);
    } else {
      in.InternAll(views.data(), n, ids.data());
    }
    for (size_t i = 0; i < n; ++i) {
      auto [it, added] = want.emplace(batch[i], static_cast<uint32_t>(want.size()));
      ASSERT_EQ(ids[i], it->second) << "round " << round << " key " << batch[i];
    }
    ASSERT_EQ(in.size(), want.size());
  }
  ASSERT_GT(want.size(), 50000u);  // grown well past the first table
  ASSERT_GT(in.bytes(), uint64_t{2} << 20);  // more than one block
  for (const auto& [key, id] : want) ASSERT_EQ(in.Find(key), id) << key;
}

TEST(InternerTest, KeysLongerThanABlockGetABlockOfTheirOwn) {
  Interner in(16);  // 64 KiB blocks
  const std::string big(3 << 16, 'k');  // 3 blocks' worth
  std::string big2 = big;
  big2.back() = 'j';
  EXPECT_EQ(in.Intern("small"), 0u);
  EXPECT_EQ(in.Intern(big), 1u);
  EXPECT_EQ(in.Intern("after"), 2u);
  EXPECT_EQ(in.Intern(big2), 3u);
  // A block's worth of keys after the big ones, forcing a grow that walks
  // every block.
  for (int i = 0; i < 5000; ++i) in.Intern("k" + std::to_string(i));
  EXPECT_EQ(in.Find(big), 1u);
  EXPECT_EQ(in.Find(big2), 3u);
  EXPECT_EQ(in.Find("after"), 2u);
  EXPECT_EQ(in.Find(big.substr(1)), Interner::kNotFound);
}

}  // namespace
}  // namespace billsim
