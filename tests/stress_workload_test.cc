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
// anew, two in a row (the second may sit where the first did): each is its
// own dictionary. The batch must be what the general builder gives for its
// events, and each delivery row the base workload's next delivery (the
// stress workload's deliveries are its, in order): a row naming another
// entry of the batch would re-encode to the same bytes, but not match.
void ExpectBatchesAsTheGeneralBuilderGives(uint32_t accounts, uint32_t campaigns,
                                           uint32_t batch_events, int batches = 12) {
  const WorkloadOptions options{.seed = 3, .accounts = accounts, .campaigns = campaigns};
  stress::StressWorkload workload(options);
  Workload reference(options);
  log::BatchBuilder reused;
  uint64_t rows = 0;
  for (int b = 0; b < batches; ++b) {
    log::BatchBuilder fresh;
    log::BatchBuilder* batch = b % 4 >= 2 ? &fresh : &reused;
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
    rows += decoder.delivery_rows();
    ASSERT_TRUE(decoder
                    .ForEachEvent([&](const v1::Event& e) {
                      if (!e.has_delivery_reported()) return Status::Ok();
                      Workload::Delivery want;
                      v1::Event other;
                      while (!reference.Next(&want, &other)) {
                      }
                      const v1::DeliveryReported& got = e.delivery_reported();
                      EXPECT_EQ(got.campaign_id(), reference.campaign_ids()[want.campaign]);
                      EXPECT_EQ(got.account_id(),
                                reference.account_ids()[reference.campaign_account()[want.campaign]]);
                      EXPECT_EQ(e.time_us(), want.time_us);
                      EXPECT_EQ(got.kind(), want.kind);
                      EXPECT_EQ(got.count(), want.count);
                      return Status::Ok();
                    })
                    .ok());
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(rows, 0u);
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
