// BatchDecoder::Adaptive: a decoder reused along a log parses a batch of
// whole messages into an arena it resets, any other into reused memory;
// either way it gives the events a plain decoder gives, and a failed parse
// leaves no events of the batch before.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/batch_codec.h"

namespace billsim::log {
namespace {

// Set-up events (whole messages), `n` of them from id `first`.
std::string SetupBatch(uint64_t first, int n, uint32_t* count) {
  BatchBuilder b;
  for (int i = 0; i < n; ++i) {
    v1::Event e;
    e.set_event_id(first + i);
    e.set_time_us(1'000'000 + i);
    auto* c = e.mutable_campaign_created();
    c->set_account_id("account-with-a-long-id-" + std::to_string(i % 7));
    c->set_campaign_id("campaign-with-a-long-id-" + std::to_string(first + i));
    c->set_budget_micros(1'000'000 * (i + 1));
    b.Add(e);
  }
  *count = b.count();
  std::string payload;
  b.Finish(&payload);
  return payload;
}

// Delivery rows, with one whole event among them.
std::string DeliveryBatch(uint64_t first, int n, uint32_t* count) {
  BatchBuilder b;
  for (int i = 0; i < n; ++i) {
    b.AddDelivery(first + i, 2'000'000 + i, "acct-" + std::to_string(i % 3),
                  "camp-" + std::to_string(i % 5), v1::DeliveryReported::IMPRESSION, i + 1,
                  i % 4 == 0);
  }
  v1::Event e;
  e.set_event_id(first + n);
  e.set_time_us(3'000'000);
  e.mutable_cash_deposited()->set_account_id("acct-1");
  e.mutable_cash_deposited()->set_amount_micros(5);
  b.Add(e);
  *count = b.count();
  std::string payload;
  b.Finish(&payload);
  return payload;
}

std::vector<std::string> Events(const BatchDecoder& d) {
  std::vector<std::string> out;
  EXPECT_TRUE(d.ForEachEvent([&](const v1::Event& e) {
                 out.push_back(e.SerializeAsString());
                 return Status::Ok();
               }).ok());
  return out;
}

TEST(BatchDecoderAdaptiveTest, GivesThePlainDecodersEventsWhicheverMemoryItUses) {
  struct Batch {
    std::string payload;
    uint32_t count;
  };
  std::vector<Batch> batches;
  uint32_t count = 0;
  uint64_t id = 1;
  for (int round = 0; round < 3; ++round) {
    batches.push_back({SetupBatch(id, 500, &count), count});
    id += count;
    batches.push_back({DeliveryBatch(id, 300, &count), count});
    id += count;
    batches.push_back({DeliveryBatch(id, 2, &count), count});  // mostly whole: 1 of 3
    id += count;
  }
  BatchDecoder plain;
  BatchDecoder adaptive{BatchDecoder::Adaptive{}};
  EXPECT_FALSE(adaptive.one_shot());
  for (const Batch& b : batches) {
    ASSERT_TRUE(plain.Parse(b.payload, b.count).ok());
    ASSERT_TRUE(adaptive.Parse(b.payload, b.count).ok());
    EXPECT_EQ(Events(adaptive).size(), b.count);
    EXPECT_EQ(Events(adaptive), Events(plain));
    EXPECT_GT(adaptive.MemoryBytes(), 0u);
    // A set-up batch's messages are not kept for the next batch.
    EXPECT_LE(adaptive.others_kept(), 1u);
  }
  EXPECT_EQ(plain.others_kept(), 500u);

  // A damaged batch after one on the arena: refused, and nothing of the
  // batch before is left to visit; then the decoder goes on.
  ASSERT_TRUE(adaptive.Parse(batches[0].payload, batches[0].count).ok());
  std::string cut = batches[0].payload.substr(0, batches[0].payload.size() / 2);
  EXPECT_FALSE(adaptive.Parse(cut, batches[0].count).ok());
  EXPECT_TRUE(Events(adaptive).empty());
  EXPECT_TRUE(Events(adaptive).empty());
  ASSERT_TRUE(adaptive.Parse(batches[1].payload, batches[1].count).ok());
  ASSERT_TRUE(plain.Parse(batches[1].payload, batches[1].count).ok());
  EXPECT_EQ(Events(adaptive), Events(plain));

  // LetGo drops the arena too; the decoder still works.
  ASSERT_TRUE(adaptive.Parse(batches[3].payload, batches[3].count).ok());
  adaptive.LetGo();
  EXPECT_TRUE(Events(adaptive).empty());
  ASSERT_TRUE(adaptive.Parse(batches[3].payload, batches[3].count).ok());
  ASSERT_TRUE(plain.Parse(batches[3].payload, batches[3].count).ok());
  EXPECT_EQ(Events(adaptive), Events(plain));
}

}  // namespace
}  // namespace billsim::log
