// The stress workload's batches: its own dictionary of campaign entries and
// formatted ids must give the bytes the general builder gives for the same
// events (BatchBuilder::Add, which looks every pair up by its strings), and
// name the very ids of the workload's tables.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/workload.h"
#include "log/batch_codec.h"
#include "stress/stress_workload.h"

namespace billsim {
namespace {

TEST(WorkloadIdTest, FormattedIdsAreTheTablesIds) {
  WorkloadOptions o;
  o.accounts = 1234;
  o.campaigns = 23456;
  Workload w(o);
  Workload::IdBuffer buf;
  for (uint32_t a = 0; a < o.accounts; ++a) {
    ASSERT_EQ(Workload::AccountId(a, &buf), w.account_ids()[a]);
  }
  for (uint32_t c = 0; c < o.campaigns; ++c) {
    ASSERT_EQ(Workload::CampaignId(c, &buf), w.campaign_ids()[c]);
    ASSERT_EQ(w.AccountOf(c), w.campaign_account()[c]);
  }
  EXPECT_EQ(Workload::CampaignId(4294967295u, &buf), "camp-4294967295");
  EXPECT_EQ(Workload::AccountId(0, &buf), "acct-0");
}

// Decodes `payload` and adds its events again through the general path.
std::string Reencoded(const std::string& payload, uint32_t count) {
  log::BatchDecoder decoder;
  EXPECT_TRUE(decoder.Parse(payload, count).ok());
  log::BatchBuilder again;
  EXPECT_TRUE(decoder
                  .ForEachEvent([&](const v1::Event& e) {
                    again.Add(e);
                    return Status::Ok();
                  })
                  .ok());
  std::string out;
  again.Finish(&out);
  return out;
}

// Batches from one builder, cleared between them, and from builders made
// anew (which may sit where the last one did): each is its own dictionary.
void ExpectBatchesAsTheGeneralBuilderGives(uint32_t accounts, uint32_t campaigns,
                                           uint32_t batch_events, int batches = 12) {
  stress::StressWorkload workload(3, accounts, campaigns, 200'000);
  const std::vector<std::string> ids = Workload(WorkloadOptions{.seed = 3,
                                                                .accounts = accounts,
                                                                .campaigns = campaigns})
                                           .campaign_ids();
  log::BatchBuilder reused;
  for (int b = 0; b < batches; ++b) {
    log::BatchBuilder fresh;
    log::BatchBuilder* batch = b % 3 == 2 ? &fresh : &reused;
    batch->Clear();
    for (uint32_t i = 0; i < batch_events; ++i) workload.Next(batch);
    std::string payload;
    batch->Finish(&payload);
    ASSERT_EQ(payload, Reencoded(payload, batch->count())) << "batch " << b;

    log::BatchDecoder decoder;
    ASSERT_TRUE(decoder.Parse(payload, batch->count()).ok());
    if (batch_events >= 100) {
      ASSERT_GT(decoder.delivery_rows(), batch_events / 2);
    }
    for (uint32_t e = 0; e < decoder.dictionary_size(); ++e) {
      const std::string& campaign = decoder.campaign(e);
      const uint32_t c = static_cast<uint32_t>(std::stoul(campaign.substr(5)));
      ASSERT_LT(c, campaigns);
      EXPECT_EQ(campaign, ids[c]);
      EXPECT_EQ(decoder.account(e), "acct-" + std::to_string(c % accounts));
    }
  }
}

TEST(StressWorkloadTest, SmallBookBatchesAreTheGeneralBuildersBytes) {
  // Few campaigns: most rows name an entry already in the batch.
  ExpectBatchesAsTheGeneralBuilderGives(7, 40, 3000);
}

TEST(StressWorkloadTest, LargeBookBatchesAreTheGeneralBuildersBytes) {
  // More entries than the table starts with: it grows within a batch.
  ExpectBatchesAsTheGeneralBuilderGives(1000, 100'000, 5000);
}

TEST(StressWorkloadTest, ManySmallBatchesAreTheGeneralBuildersBytes) {
  // A batch's slots are emptied for the next: with one row a batch, any
  // slot left behind would name an entry the next batch does not have.
  ExpectBatchesAsTheGeneralBuilderGives(50, 2000, 1, 3000);
}

}  // namespace
}  // namespace billsim
