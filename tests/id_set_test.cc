// IdSet: the exact set of applied event ids (R10), kept as runs.
#include <cstdint>
#include <limits>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "ledger/id_set.h"

namespace billsim {
namespace {

TEST(IdSetTest, AnEmptySetContainsNothing) {
  IdSet s;
  EXPECT_FALSE(s.Contains(0));
  EXPECT_FALSE(s.Contains(1));
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.ranges(), 0u);
}

TEST(IdSetTest, DenseIdsAreOneRun) {
  IdSet s;
  for (uint64_t id = 1; id <= 1000; ++id) s.Insert(id);
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(s.ranges(), 1u);
  EXPECT_FALSE(s.Contains(0));
  EXPECT_TRUE(s.Contains(1));
  EXPECT_TRUE(s.Contains(500));
  EXPECT_TRUE(s.Contains(1000));
  EXPECT_FALSE(s.Contains(1001));
}

TEST(IdSetTest, FillingAGapJoinsTheRunsOnBothSides) {
  IdSet s;
  s.Insert(1);
  s.Insert(3);
  EXPECT_EQ(s.ranges(), 2u);
  EXPECT_FALSE(s.Contains(2));
  s.Insert(2);
  EXPECT_EQ(s.ranges(), 1u);
  EXPECT_EQ(s.runs().begin()->first, 1u);
  EXPECT_EQ(s.runs().begin()->second, 3u);
  EXPECT_EQ(s.size(), 3u);
}

TEST(IdSetTest, AnIdJustBeforeARunExtendsItDownward) {
  IdSet s;
  s.Insert(5);
  s.Insert(4);
  EXPECT_EQ(s.ranges(), 1u);
  EXPECT_EQ(s.runs().begin()->first, 4u);
  EXPECT_EQ(s.runs().begin()->second, 5u);
  EXPECT_FALSE(s.Contains(3));
  EXPECT_FALSE(s.Contains(6));
}

TEST(IdSetTest, ScatteredIdsAreARunEach) {
  IdSet s;
  for (uint64_t id : {30u, 10u, 20u}) s.Insert(id);
  EXPECT_EQ(s.ranges(), 3u);
  EXPECT_TRUE(s.Contains(10));
  EXPECT_TRUE(s.Contains(20));
  EXPECT_TRUE(s.Contains(30));
  EXPECT_FALSE(s.Contains(11));
  EXPECT_FALSE(s.Contains(29));
  EXPECT_FALSE(s.Contains(31));
}

TEST(IdSetTest, InsertRangeThenAdjacentIdsExtendIt) {
  IdSet s;
  s.InsertRange(100, 199);
  EXPECT_EQ(s.size(), 100u);
  EXPECT_TRUE(s.Contains(100));
  EXPECT_TRUE(s.Contains(199));
  EXPECT_FALSE(s.Contains(200));
  s.Insert(200);
  s.Insert(99);
  EXPECT_EQ(s.ranges(), 1u);
  EXPECT_EQ(s.size(), 102u);
}

TEST(IdSetTest, TheLargestIdsWork) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  IdSet s;
  s.Insert(kMax);
  EXPECT_TRUE(s.Contains(kMax));
  EXPECT_FALSE(s.Contains(kMax - 1));
  s.Insert(kMax - 1);
  EXPECT_EQ(s.ranges(), 1u);
  s.Insert(1);
  EXPECT_EQ(s.ranges(), 2u);
  EXPECT_FALSE(s.Contains(2));
  EXPECT_EQ(s.size(), 3u);
}

TEST(IdSetTest, MatchesAStdSetOnRandomIds) {
  std::mt19937_64 rng(7);
  IdSet s;
  std::set<uint64_t> want;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t id = 1 + rng() % 5000;
    ASSERT_EQ(s.Contains(id), want.count(id) == 1) << id;
    if (!want.count(id)) {
      s.Insert(id);
      want.insert(id);
    }
  }
  EXPECT_EQ(s.size(), want.size());
  size_t runs = 0;
  uint64_t prev = 0;
  bool first = true;
  for (uint64_t id : want) {
    if (first || id != prev + 1) runs++;
    prev = id;
    first = false;
  }
  EXPECT_EQ(s.ranges(), runs);
  for (uint64_t id = 0; id <= 5001; ++id) {
    ASSERT_EQ(s.Contains(id), want.count(id) == 1) << id;
  }
}

}  // namespace
}  // namespace billsim
