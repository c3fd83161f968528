// Cluster partitioning (src/cluster/partition.h): the documented, stable
// hash, an even spread, and which account an event is routed by.
#include "cluster/partition.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace billsim::cluster {
namespace {

TEST(PartitionTest, IsXxh64WithSeedZeroModP) {
  // XXH64 of the empty input with seed 0 is the published constant
  // 0xEF46DB3751D8E999: the function must never change, or every
  // existing cluster would route accounts to the wrong stream.
  constexpr uint64_t kEmpty = 0xEF46DB3751D8E999ull;
  for (uint32_t p : {1u, 2u, 3u, 7u, 16u, 1000u, 1024u}) {
    EXPECT_EQ(PartitionOf("", p), kEmpty % p) << p;
  }
}

TEST(PartitionTest, SpreadsAccountsEvenly) {
  constexpr uint32_t kPartitions = 4;
  std::vector<int> counts(kPartitions);
  for (int i = 0; i < 40000; ++i) counts[PartitionOf("acct-" + std::to_string(i), kPartitions)]++;
  for (int c : counts) {
    EXPECT_GT(c, 9500);
    EXPECT_LT(c, 10500);
  }
}

TEST(PartitionTest, NamesStreamsAndSubjects) {
  EXPECT_EQ(StreamName(3), "BILLSIM_P3");
  EXPECT_EQ(BatchSubject(3), "billsim.p3.batch");
  EXPECT_EQ(RefusedSubject(0), "billsim.p0.refused");
}

TEST(PartitionTest, RoutesEachEventByTheAccountItNames) {
  v1::Event e;
  e.mutable_delivery_reported()->set_account_id("a1");
  EXPECT_EQ(EventAccountId(e), "a1");
  e.mutable_campaign_updated()->set_account_id("a2");
  EXPECT_EQ(EventAccountId(e), "a2");
  e.mutable_dispute_filed()->set_account_id("a3");
  EXPECT_EQ(EventAccountId(e), "a3");
  e.mutable_clock_advanced()->set_account_id("a4");
  EXPECT_EQ(EventAccountId(e), "a4");
  // Every account's clock, and dispute follow-ups (they name a dispute
  // only): no account of their own.
  e.mutable_clock_advanced()->clear_account_id();
  EXPECT_EQ(EventAccountId(e), "");
  e.mutable_dispute_decided()->set_dispute_id("d");
  EXPECT_EQ(EventAccountId(e), "");
  e.Clear();
  EXPECT_EQ(EventAccountId(e), "");
}

}  // namespace
}  // namespace billsim::cluster
