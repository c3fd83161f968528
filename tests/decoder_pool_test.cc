// The server's pool of delivery-batch decoders (server/request.h): a decoder
// parsed into again gives exactly the new batch's events, and the pool
// keeps no more decoders, and no larger ones, than its bounds.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/wire.pb.h"
#include "log/batch_codec.h"
#include "server/request.h"

namespace billsim {
namespace {

using log::BatchBuilder;
using log::BatchDecoder;
using server::DecoderPool;

v1::Event Delivery(uint64_t id, const std::string& account, const std::string& campaign,
                   int64_t count) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(static_cast<int64_t>(id) * 1000);
  auto* d = e.mutable_delivery_reported();
  d->set_account_id(account);
  d->set_campaign_id(campaign);
  d->set_kind(v1::DeliveryReported::IMPRESSION);
  d->set_count(count);
  return e;
}

std::string Payload(const std::vector<v1::Event>& events) {
  BatchBuilder b;
  for (const v1::Event& e : events) b.Add(e);
  std::string payload;
  b.Finish(&payload);
  return payload;
}

std::vector<std::string> Decoded(const BatchDecoder& d) {
  std::vector<std::string> out;
  const Status st = d.ForEachEvent([&](const v1::Event& e) {
    out.push_back(e.SerializeAsString());
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::vector<std::string> Serialized(const std::vector<v1::Event>& events) {
  std::vector<std::string> out;
  for (const v1::Event& e : events) out.push_back(e.SerializeAsString());
  return out;
}

// A big batch, then a small one with other names, other counts and an
// other event: the reused decoder holds the second alone, nothing of the
// first (its longer dictionary, its rows) shows through.
TEST(DecoderPoolTest, AReusedDecoderGivesExactlyTheNextBatch) {
  std::vector<v1::Event> first;
  for (uint64_t i = 1; i <= 500; ++i) {
    first.push_back(Delivery(i, "acct-" + std::to_string(i % 7),
                             "camp-with-a-long-name-" + std::to_string(i), 1000 + i));
  }
  std::vector<v1::Event> second{Delivery(9001, "b", "x", 1), Delivery(9002, "b", "y", 2)};
  v1::Event other;
  other.set_event_id(9003);
  other.set_time_us(9'003'000);
  other.mutable_cash_deposited()->set_account_id("b");
  other.mutable_cash_deposited()->set_amount_micros(5);
  second.push_back(other);

  DecoderPool pool;
  std::unique_ptr<BatchDecoder> d = pool.Take();
  ASSERT_TRUE(d->Parse(Payload(first), static_cast<uint32_t>(first.size())).ok());
  EXPECT_EQ(Decoded(*d), Serialized(first));
  BatchDecoder* const kept = d.get();
  pool.Give(std::move(d));
  EXPECT_EQ(pool.kept(), 1u);

  d = pool.Take();
  EXPECT_EQ(d.get(), kept);  // the same decoder, reused
  EXPECT_EQ(pool.kept(), 0u);
  ASSERT_TRUE(d->Parse(Payload(second), static_cast<uint32_t>(second.size())).ok());
  EXPECT_EQ(d->dictionary_size(), 2u);
  EXPECT_EQ(Decoded(*d), Serialized(second));

  // A batch that fails to parse leaves nothing behind either.
  EXPECT_FALSE(d->Parse("\xff\xff\xff", 1).ok());
  ASSERT_TRUE(d->Parse(Payload(first), static_cast<uint32_t>(first.size())).ok());
  EXPECT_EQ(Decoded(*d), Serialized(first));
}

TEST(DecoderPoolTest, KeepsAtMostItsBoundAndNoArenaOrLargeDecoder) {
  DecoderPool pool;
  for (size_t i = 0; i < DecoderPool::kKeptMax + 3; ++i) {
    pool.Give(std::make_unique<BatchDecoder>());
  }
  EXPECT_EQ(pool.kept(), DecoderPool::kKeptMax);

  DecoderPool other;
  other.Give(std::make_unique<BatchDecoder>(BatchDecoder::OneShot{}));
  EXPECT_EQ(other.kept(), 0u);  // an arena is not reused

  // A decoder that once parsed a batch over the bound keeps its memory for
  // it: not kept, even after a small batch.
  std::vector<v1::Event> big;
  const std::string long_name(1000, 'c');
  for (uint64_t i = 1; big.size() * long_name.size() <= DecoderPool::kPayloadBytesMax; ++i) {
    big.push_back(Delivery(i, "a", long_name + std::to_string(i), 1));
  }
  auto d = std::make_unique<BatchDecoder>();
  ASSERT_TRUE(d->Parse(Payload(big), static_cast<uint32_t>(big.size())).ok());
  EXPECT_GT(d->largest_payload(), DecoderPool::kPayloadBytesMax);
  const std::vector<v1::Event> small{Delivery(1, "a", "c", 1)};
  ASSERT_TRUE(d->Parse(Payload(small), 1).ok());
  other.Give(std::move(d));
  EXPECT_EQ(other.kept(), 0u);
}

// A set-up batch's decoder (an arena) waits for Collect, on the thread
// that calls it, instead of being freed by the committer that gives it
// back: at most kDroppedMax of them, none of a payload over kPayloadBytesMax.
TEST(DecoderPoolTest, OneShotDecodersWaitForCollectWithinTheirBound) {
  DecoderPool pool;
  std::vector<v1::Event> setup;
  for (uint64_t i = 1; i <= 100; ++i) {
    v1::Event e;
    e.set_event_id(i);
    e.mutable_account_opened()->set_account_id("acct-" + std::to_string(i));
    setup.push_back(e);
  }
  for (size_t i = 0; i < DecoderPool::kDroppedMax + 3; ++i) {
    auto d = std::make_unique<BatchDecoder>(BatchDecoder::OneShot{});
    ASSERT_TRUE(d->Parse(Payload(setup), static_cast<uint32_t>(setup.size())).ok());
    pool.Give(std::move(d));
  }
  EXPECT_EQ(pool.dropped(), DecoderPool::kDroppedMax);
  EXPECT_EQ(pool.kept(), 0u);
  pool.Collect();
  EXPECT_EQ(pool.dropped(), 0u);

  // An arena over the bound is freed by the giver.
  std::vector<v1::Event> big;
  const std::string long_id(1000, 'a');
  for (uint64_t i = 1; big.size() * long_id.size() <= DecoderPool::kPayloadBytesMax; ++i) {
    v1::Event e;
    e.set_event_id(i);
    e.mutable_account_opened()->set_account_id(long_id + std::to_string(i));
    big.push_back(e);
  }
  auto d = std::make_unique<BatchDecoder>(BatchDecoder::OneShot{});
  ASSERT_TRUE(d->Parse(Payload(big), static_cast<uint32_t>(big.size())).ok());
  ASSERT_GT(d->largest_payload(), DecoderPool::kPayloadBytesMax);
  pool.Give(std::move(d));
  EXPECT_EQ(pool.dropped(), 0u);
}

// Through DecodeAppend, as a session decodes: two requests in a row, the
// first one's decoder given back in between, each decode the right rows.
TEST(DecoderPoolTest, DecodeAppendReusesAGivenBackDecoder) {
  const std::vector<v1::Event> a{Delivery(1, "a", "c1", 3), Delivery(2, "a", "c2", 4)};
  const std::vector<v1::Event> b{Delivery(3, "b", "d", 5)};
  for (const auto* events : {&a, &b, &a}) {
    server::Parsed parsed;
    parsed.request.set_request_id(7);
    parsed.request.mutable_append()->set_batch(Payload(*events));
    parsed.request.mutable_append()->set_batch_events(static_cast<uint32_t>(events->size()));
    v1::Error::Code code = v1::Error::CODE_UNSPECIFIED;
    const Status st = server::DecodeAppend(100, &parsed, &code, /*keep_payload=*/false);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_NE(parsed.batch, nullptr);
    EXPECT_EQ(Decoded(*parsed.batch), Serialized(*events));
    DecoderPool::Shared().Give(std::move(parsed.batch));
    EXPECT_GE(DecoderPool::Shared().kept(), 1u);
  }
}

}  // namespace
}  // namespace billsim
