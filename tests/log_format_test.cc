// Round trips of the log's format and codec (src/log/format.h,
// src/log/batch_codec.h) and of the writer and reader across segment rolls
// (src/log/log_writer.h, src/log/log_reader.h).
#include <openssl/evp.h>
#include <stdlib.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.h"
#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/file.h"
#include "log/format.h"
#include "log/log_dir.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "log/pair_numbering.h"
#include "log/read_ahead.h"

namespace billsim::log {
namespace {

namespace fs = std::filesystem;
using Kind = v1::DeliveryReported::Kind;

using TempDir = test_support::TempDir;

v1::Event Delivery(uint64_t id, int64_t t, const std::string& account,
                   const std::string& campaign, Kind kind, int64_t count,
                   bool fault) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(t);
  auto* d = e.mutable_delivery_reported();
  d->set_account_id(account);
  d->set_campaign_id(campaign);
  d->set_kind(kind);
  d->set_count(count);
  d->set_platform_fault(fault);
  return e;
}

// One of a few kinds of non-delivery events, chosen by `which`.
v1::Event Other(uint64_t id, int64_t t, int which) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(t);
  switch (which % 5) {
    case 0: {
      auto* m = e.mutable_account_opened();
      m->set_account_id("acct-" + std::to_string(id));
      m->set_currency("USD");
      m->set_utc_offset_minutes(-300);
      m->set_name("Name \xe2\x82\xac " + std::to_string(id));
      break;
    }
    case 1: {
      auto* m = e.mutable_cash_deposited();
      m->set_account_id("acct-1");
      m->set_amount_micros(1'500'000 + static_cast<int64_t>(id));
      m->set_reference("pay-" + std::to_string(id));
      break;
    }
    case 2: {
      auto* m = e.mutable_campaign_created();
      m->set_account_id("acct-1");
      m->set_campaign_id("camp-" + std::to_string(id));
      m->set_objective(v1::OBJECTIVE_TRAFFIC);
      m->set_billing_event(v1::BILLING_EVENT_CPC);
      m->set_price_micros(250'000);
      m->set_budget_mode(v1::BUDGET_MODE_DAY);
      m->set_budget_micros(50'000'000);
      m->set_landing_page_url("https://example.com/" + std::to_string(id));
      break;
    }
    case 3: {
      auto* m = e.mutable_dispute_filed();
      m->set_dispute_id("d-" + std::to_string(id));
      m->set_account_id("acct-1");
      m->set_campaign_id("camp-2");
      m->set_reason(v1::DISPUTE_REASON_PLATFORM_ERROR);
      m->set_window_start_us(t - 1000);
      m->set_window_end_us(t);
      m->set_claimed_micros(42);
      m->add_evidence(v1::EVIDENCE_SCREENSHOT);
      m->add_evidence(v1::EVIDENCE_DELIVERY_DATA);
      break;
    }
    default:
      e.mutable_clock_advanced();
      break;
  }
  return e;
}

// Collects the events of a decoded batch, deliveries as whole events.
class Collect : public BatchVisitor {
 public:
  explicit Collect(const BatchDecoder* d) : d_(d) {}
  bool OnDelivery(uint32_t position, const DeliveryRow& row) override {
    positions.push_back(position);
    events.push_back(d_->ToEvent(row));
    return true;
  }
  bool OnEvent(uint32_t position, const v1::Event& event) override {
    positions.push_back(position);
    events.push_back(event);
    return true;
  }
  std::vector<uint32_t> positions;
  std::vector<v1::Event> events;

 private:
  const BatchDecoder* d_;
};

void ExpectSameEvents(const std::vector<v1::Event>& want,
                      const std::vector<v1::Event>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].SerializeAsString(), got[i].SerializeAsString())
        << "event " << i << "\nwant: " << want[i].ShortDebugString()
        << "\ngot:  " << got[i].ShortDebugString();
  }
}

// Encodes, decodes and visits; returns the visited events.
// The builder's batch as `d` decodes it (its payload in *payload_out).
std::vector<v1::Event> Decode(const BatchBuilder& b, BatchDecoder* d,
                              std::string* payload_out = nullptr) {
  std::string payload;
  b.Finish(&payload);
  Status st = d->Parse(payload, b.count());
  EXPECT_TRUE(st.ok()) << st.ToString();
  Collect c(d);
  d->Visit(&c);
  for (size_t i = 0; i < c.positions.size(); ++i) EXPECT_EQ(c.positions[i], i);
  if (payload_out) *payload_out = payload;
  return c.events;
}

std::vector<v1::Event> RoundTrip(const std::vector<v1::Event>& events,
                                 std::string* payload_out = nullptr) {
  BatchBuilder b;
  for (const auto& e : events) b.Add(e);
  EXPECT_EQ(b.count(), events.size());
  BatchDecoder d;
  return Decode(b, &d, payload_out);
}

uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
// Rewrites the header checksum after a deliberate edit.
void Reseal(uint8_t* header) { Put64(header + 88, XXH3_64bits(header, 88)); }

BatchHeader RandomHeader(std::mt19937_64& rng) {
  BatchHeader h;
  h.first_seq = 1 + rng() % (uint64_t{1} << 62);
  h.count = 1 + static_cast<uint32_t>(rng() % kMaxBatchEvents);
  h.payload_len = static_cast<uint32_t>(rng() % (kMaxPayloadBytes + 1));
  h.first_time_us = static_cast<int64_t>(rng());
  h.last_time_us = static_cast<int64_t>(rng());
  for (auto& b : h.chain) b = static_cast<uint8_t>(rng());
  h.payload_xxh3 = rng();
  return h;
}

// --- format.h ----------------------------------------------------------------

TEST(LogFormatTest, HeaderRoundTripsAndHasTheDocumentedLayout) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const BatchHeader h = RandomHeader(rng);
    uint8_t buf[kHeaderSize];
    std::memset(buf, 0xAA, sizeof buf);
    EncodeHeader(h, buf);
    EXPECT_EQ(std::memcmp(buf, "BSLB", 4), 0);
    EXPECT_EQ(buf[4] | buf[5] << 8, kFormatVersion);
    EXPECT_EQ(buf[6] | buf[7] << 8, static_cast<int>(kHeaderSize));
    EXPECT_EQ(Get64(buf + 8), h.first_seq);
    EXPECT_EQ(Get64(buf + 16) & 0xffffffff, h.count);
    EXPECT_EQ(Get64(buf + 16) >> 32, h.payload_len);
    EXPECT_EQ(static_cast<int64_t>(Get64(buf + 24)), h.first_time_us);
    EXPECT_EQ(static_cast<int64_t>(Get64(buf + 32)), h.last_time_us);
    EXPECT_EQ(std::memcmp(buf + 40, h.chain.data(), kChainSize), 0);
    EXPECT_EQ(Get64(buf + 72), h.payload_xxh3);
    EXPECT_EQ(Get64(buf + 80), 0u) << "reserved bytes must be zero";
    EXPECT_EQ(Get64(buf + 88), XXH3_64bits(buf, 88));
    BatchHeader back;
    ASSERT_TRUE(DecodeHeader(buf, &back).ok());
    EXPECT_EQ(back.first_seq, h.first_seq);
    EXPECT_EQ(back.count, h.count);
    EXPECT_EQ(back.payload_len, h.payload_len);
    EXPECT_EQ(back.first_time_us, h.first_time_us);
    EXPECT_EQ(back.last_time_us, h.last_time_us);
    EXPECT_EQ(back.chain, h.chain);
    EXPECT_EQ(back.payload_xxh3, h.payload_xxh3);
    EXPECT_EQ(back.last_seq(), h.first_seq + h.count - 1);
  }
}

TEST(LogFormatTest, EveryBitFlipInAHeaderIsCaught) {
  std::mt19937_64 rng(11);
  const BatchHeader h = RandomHeader(rng);
  uint8_t good[kHeaderSize];
  EncodeHeader(h, good);
  for (size_t bit = 0; bit < kHeaderSize * 8; ++bit) {
    uint8_t buf[kHeaderSize];
    std::memcpy(buf, good, sizeof buf);
    buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    BatchHeader out;
    const Status st = DecodeHeader(buf, &out);
    ASSERT_FALSE(st.ok()) << "bit " << bit;
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << "bit " << bit;
  }
}

TEST(LogFormatTest, HeaderFieldsOutOfRangeAreRefusedEvenWithAGoodChecksum) {
  BatchHeader base;
  base.first_seq = 5;
  base.count = 3;
  base.payload_len = 100;
  auto decode = [](const BatchHeader& h) {
    uint8_t buf[kHeaderSize];
    EncodeHeader(h, buf);
    BatchHeader out;
    return DecodeHeader(buf, &out);
  };
  EXPECT_TRUE(decode(base).ok());
  BatchHeader h = base;
  h.first_seq = 0;
  EXPECT_EQ(decode(h).code(), Status::Code::kCorruption);
  h = base;
  h.count = 0;
  EXPECT_EQ(decode(h).code(), Status::Code::kCorruption);
  h.count = kMaxBatchEvents;
  EXPECT_TRUE(decode(h).ok());
  h.count = kMaxBatchEvents + 1;
  EXPECT_EQ(decode(h).code(), Status::Code::kCorruption);
  h = base;
  h.payload_len = kMaxPayloadBytes;
  EXPECT_TRUE(decode(h).ok());
  h.payload_len = kMaxPayloadBytes + 1;
  EXPECT_EQ(decode(h).code(), Status::Code::kCorruption);
  h.payload_len = std::numeric_limits<uint32_t>::max();
  EXPECT_EQ(decode(h).code(), Status::Code::kCorruption);

  uint8_t buf[kHeaderSize];
  BatchHeader out;
  EncodeHeader(base, buf);
  Put16(buf + 4, 2);  // a future version
  Reseal(buf);
  Status st = DecodeHeader(buf, &out);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("version"), std::string::npos) << st.message();
  EncodeHeader(base, buf);
  Put16(buf + 6, kHeaderSize + 8);
  Reseal(buf);
  EXPECT_EQ(DecodeHeader(buf, &out).code(), Status::Code::kCorruption);
  EncodeHeader(base, buf);
  buf[0] = 'X';
  Reseal(buf);
  EXPECT_EQ(DecodeHeader(buf, &out).code(), Status::Code::kCorruption);
}

TEST(LogFormatTest, ChainIsSha256OfPreviousChainHeaderPrefixAndPayload) {
  std::mt19937_64 rng(3);
  BatchHeader h = RandomHeader(rng);
  const std::string payload = "some payload bytes \x01\x02\x03";
  uint8_t header[kHeaderSize];
  EncodeHeader(h, header);
  Chain prev{};
  for (auto& b : prev) b = static_cast<uint8_t>(rng());

  std::string input(reinterpret_cast<const char*>(prev.data()), prev.size());
  input.append(reinterpret_cast<const char*>(header), 40);
  input += payload;
  Chain want{};
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(input.data(), input.size(), want.data(), &len, EVP_sha256(),
                       nullptr),
            1);
  ASSERT_EQ(len, kChainSize);
  EXPECT_EQ(ComputeChain(prev, header, payload), want);

  // Bytes after 40 (the chain itself, checksums) are not chained...
  uint8_t other[kHeaderSize];
  h.chain = want;
  h.payload_xxh3 ^= 1;
  EncodeHeader(h, other);
  EXPECT_EQ(ComputeChain(prev, other, payload), want);
  // ...but everything else is.
  Chain prev2 = prev;
  prev2[31] ^= 1;
  EXPECT_NE(ComputeChain(prev2, header, payload), want);
  EXPECT_NE(ComputeChain(prev, header, payload + "x"), want);
  other[8] ^= 1;  // first_seq
  EXPECT_NE(ComputeChain(prev, other, payload), want);
  EXPECT_EQ(ChainHex(want).size(), 64u);
  EXPECT_EQ(ChainHex(Chain{}), std::string(64, '0'));
  Chain ab{};
  ab[0] = 0xab;
  ab[31] = 0x0f;
  EXPECT_EQ(ChainHex(ab), "ab" + std::string(60, '0') + "0f");
}

TEST(LogFormatTest, SegmentAndIndexNames) {
  EXPECT_EQ(SegmentName(1), "00000000000000000001.seg");
  EXPECT_EQ(IndexName(1), "00000000000000000001.idx");
  EXPECT_EQ(SegmentName(1234567), "00000000000001234567.seg");
  for (uint64_t v : {uint64_t{1}, uint64_t{10}, uint64_t{987654321},
                     std::numeric_limits<uint64_t>::max()}) {
    uint64_t back = 0;
    ASSERT_TRUE(ParseSegmentName(SegmentName(v), &back)) << v;
    EXPECT_EQ(back, v);
    back = 0;
    ASSERT_TRUE(ParseIndexName(IndexName(v), &back)) << v;
    EXPECT_EQ(back, v);
  }
  uint64_t x = 0;
  // Twenty digits past 2^64 - 1 name no sequence (they used to wrap:
  // 18446744073709551616 read as 0, ...617 as sequence 1).
  EXPECT_FALSE(ParseSegmentName("18446744073709551616.seg", &x));
  EXPECT_FALSE(ParseSegmentName("18446744073709551617.seg", &x));
  EXPECT_FALSE(ParseIndexName("99999999999999999999.idx", &x));
  EXPECT_FALSE(ParseIndexName(SegmentName(1), &x));
  EXPECT_FALSE(ParseIndexName(IndexName(0), &x));
  EXPECT_FALSE(ParseIndexName("00000000000000000001.idx.staged", &x));
  EXPECT_FALSE(ParseSegmentName(SegmentName(0), &x));
  EXPECT_FALSE(ParseSegmentName(IndexName(1), &x));
  EXPECT_FALSE(ParseSegmentName("0000000000000000001.seg", &x));
  EXPECT_FALSE(ParseSegmentName("000000000000000000001.seg", &x));
  EXPECT_FALSE(ParseSegmentName("0000000000000000000a.seg", &x));
  EXPECT_FALSE(ParseSegmentName("00000000000000000001.seg.tmp", &x));
  EXPECT_FALSE(ParseSegmentName("", &x));
}

TEST(LogFormatTest, SnapshotNames) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{5209993},
                     std::numeric_limits<uint64_t>::max()}) {
    uint64_t back = 1;
    const std::string name = std::filesystem::path(SnapshotPath("/log", v)).filename().string();
    ASSERT_TRUE(ParseSnapshotName(name, &back)) << name;
    EXPECT_EQ(back, v);
  }
  uint64_t x = 0;
  EXPECT_FALSE(ParseSnapshotName("snapshot-18446744073709551616.bin", &x));
  EXPECT_FALSE(ParseSnapshotName("snapshot-0000000000000000001.bin", &x));
  EXPECT_FALSE(ParseSnapshotName("snapshot-00000000000000000001.bin.tmp", &x));
  EXPECT_FALSE(ParseSnapshotName("snapshot-+0000000000000000001.bin", &x));
  EXPECT_FALSE(ParseSnapshotName("snapshot- 0000000000000000001.bin", &x));
  EXPECT_FALSE(ParseSnapshotName("Snapshot-00000000000000000001.bin", &x));
  EXPECT_FALSE(ParseSnapshotName(SegmentName(1), &x));
  EXPECT_FALSE(ParseSnapshotName("", &x));
}

// --- batch_codec.h -------------------------------------------------------------

TEST(LogCodecTest, MixedEventsRoundTripInOrder) {
  std::mt19937_64 rng(21);
  std::vector<v1::Event> events;
  uint64_t id = 1000;
  int64_t t = 1'700'000'000'000'000;
  for (int i = 0; i < 500; ++i) {
    id += 1 + rng() % 3;
    t += static_cast<int64_t>(rng() % 50'000);
    if (rng() % 4 == 0) {
      events.push_back(Other(id, t, static_cast<int>(rng() % 5)));
    } else {
      const int c = static_cast<int>(rng() % 7);
      events.push_back(Delivery(id, t, "acct-" + std::to_string(c % 3),
                                "camp-" + std::to_string(c),
                                static_cast<Kind>(1 + rng() % 5),
                                static_cast<int64_t>(1 + rng() % 1000), rng() % 9 == 0));
    }
  }
  // Others at the very start and end too.
  events.insert(events.begin(), Other(1, 5, 0));
  events.push_back(Other(id + 1, t, 4));
  ExpectSameEvents(events, RoundTrip(events));

  // Only others; only deliveries; a single event of each kind.
  std::vector<v1::Event> others(events.begin(), events.begin() + 1);
  others.push_back(Other(2, 6, 3));
  ExpectSameEvents(others, RoundTrip(others));
  std::vector<v1::Event> one{Delivery(9, 9, "a", "c", v1::DeliveryReported::CLICK, 1, true)};
  ExpectSameEvents(one, RoundTrip(one));
}

// Text that is not UTF-8 never reaches a batch: proto3 `string` fields must
// be UTF-8 (the parser refuses anything else), so the ledger, which guards
// the log, refuses such an event naming the field (R11), and UTF-8 text
// round-trips through the codec.
TEST(LogCodecTest, NonUtf8TextIsRefusedByTheLedgerAndUtf8RoundTrips) {
  Ledger ledger;
  v1::Event bad = Other(2, 2, 0);
  bad.mutable_account_opened()->set_name("caf\xe9");  // Latin-1, not UTF-8
  const Ledger::Result r = ledger.Apply(bad, nullptr);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(r.field, "account_opened.name");
  EXPECT_NE(r.reason.find("UTF-8"), std::string::npos) << r.reason;

  std::vector<v1::Event> events{
      Delivery(1, 1, "acct-\xc3\xa9", "camp-\xe2\x82\xac", v1::DeliveryReported::CLICK, 1,
               false),
      Other(2, 2, 0)};
  events[1].mutable_account_opened()->set_name("caf\xc3\xa9");  // UTF-8
  BatchBuilder b;
  for (const auto& e : events) b.Add(e);
  std::string payload;
  b.Finish(&payload);
  BatchDecoder d;
  const Status st = d.Parse(payload, 2);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Collect c(&d);
  d.Visit(&c);
  ExpectSameEvents(events, c.events);
}

// Ledger::Text::kParsed rests on this: the server and replay apply a
// decoded batch's events without walking their text again, because no
// decoder holds an event whose text is not UTF-8. A batch built around the
// ledger with Latin-1 in a text field (of an event's payload, of a repeated
// field, of the dictionary) does not parse, into either kind of decoder.
TEST(LogCodecTest, ABatchWithTextThatIsNotUtf8DoesNotParse) {
  std::vector<std::function<void(BatchBuilder*)>> builds = {
      [](BatchBuilder* b) {
        v1::Event e = Other(2, 2, 0);
        e.mutable_account_opened()->set_name("caf\xe9");
        b->Add(e);
      },
      [](BatchBuilder* b) {
        v1::Event e;
        e.set_event_id(3);
        e.set_time_us(3);
        auto* g = e.mutable_credit_granted();
        g->set_account_id("a");
        g->set_grant_id("g");
        g->add_campaign_ids("c1");
        g->add_campaign_ids("c\xe9");
        b->Add(e);
      },
      [](BatchBuilder* b) {
        b->Add(Delivery(4, 4, "acct-\xe9", "c", v1::DeliveryReported::CLICK, 1, false));
      },
  };
  for (size_t i = 0; i < builds.size(); ++i) {
    BatchBuilder b;
    builds[i](&b);
    std::string payload;
    b.Finish(&payload);
    BatchDecoder reused;
    EXPECT_FALSE(reused.Parse(payload, 1).ok()) << "build " << i;
    BatchDecoder one_shot{BatchDecoder::OneShot{}};
    EXPECT_FALSE(one_shot.Parse(payload, 1).ok()) << "build " << i;
  }
}

TEST(LogCodecTest, DeltasRoundTripWithDecreasingAndExtremeIdsAndTimes) {
  constexpr uint64_t kU = std::numeric_limits<uint64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<std::pair<uint64_t, int64_t>> points = {
      {100, 1'000'000}, {50, 999'000}, {0, 0},        {kU, kMax},   {1, kMin},
      {kU - 1, -1},     {uint64_t{1} << 63, kMin + 1}, {7, 7},     {6, 6},
      {kU, kMin},       {0, kMax},    {5, -5}};
  std::vector<v1::Event> events;
  int i = 0;
  for (const auto& [id, t] : points) {
    events.push_back(Delivery(id, t, "a", "c" + std::to_string(i % 2),
                              v1::DeliveryReported::IMPRESSION,
                              i % 3 == 0 ? kMax : i, i % 2 == 0));
    if (i % 4 == 1) events.push_back(Other(id, t, i));  // does not break the deltas
    ++i;
  }
  ExpectSameEvents(events, RoundTrip(events));
}

TEST(LogCodecTest, DictionaryHoldsEachCampaignOnce) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 300; ++i) {
    const int c = (i * 7) % 3;
    events.push_back(Delivery(i + 1, i, "account-" + std::to_string(c),
                              "campaign-" + std::to_string(c),
                              v1::DeliveryReported::IMPRESSION, 1, false));
  }
  std::string payload;
  ExpectSameEvents(events, RoundTrip(events, &payload));
  BatchDecoder d;
  ASSERT_TRUE(d.Parse(payload, 300).ok());
  ASSERT_EQ(d.dictionary_size(), 3u);
  // In order of first use: 0, 1 (i=1: 7%3), 2 (i=2: 14%3).
  for (uint32_t k = 0; k < 3; ++k) {
    EXPECT_EQ(d.campaign(k), "campaign-" + std::to_string(k));
    EXPECT_EQ(d.account(k), "account-" + std::to_string(k));
  }
  // The campaign names are stored once: 300 rows cost far less than 300 names.
  EXPECT_LT(payload.size(), 300u * 6);
}

// A row decodes to the very account it was given, even when another row
// of the batch names the same campaign with another account (a refused
// event in a client's batch does that).
TEST(LogCodecTest, SameCampaignUnderTwoAccountsRoundTrips) {
  std::vector<v1::Event> events;
  const char* accounts[] = {"a1", "a2", "a1", "a3", "a2", "a1"};
  for (int i = 0; i < 6; ++i) {
    events.push_back(Delivery(i + 1, 1000 + i, accounts[i], "c", v1::DeliveryReported::CLICK,
                              1, false));
  }
  events.push_back(Delivery(7, 2000, "a1", "d", v1::DeliveryReported::CLICK, 1, false));
  std::string payload;
  ExpectSameEvents(events, RoundTrip(events, &payload));
  v1::EventBatch batch;
  ASSERT_TRUE(batch.ParseFromString(payload));
  EXPECT_EQ(batch.dictionary_campaign_size(), 4) << "one entry per (account, campaign)";
}

// The journal copies a request's dictionary with AppendDictionary, which
// does not look for equal entries: a pair stored twice (two requests of one
// group naming the same campaign) decodes to the same events.
TEST(LogCodecTest, AppendedDictionaryEntriesMayRepeatAndDecodeTheSame) {
  BatchBuilder b;
  const uint32_t first = b.AppendDictionary("a1", "c1");
  const uint32_t again = b.AppendDictionary("a1", "c1");
  const uint32_t other = b.Dictionary("a1", "c1");  // hashed: a third entry
  EXPECT_NE(first, again);
  b.AddDeliveryTo(first, 1, 10, v1::DeliveryReported::CLICK, 1, false);
  b.AddDeliveryTo(again, 2, 11, v1::DeliveryReported::CLICK, 2, true);
  b.AddDeliveryTo(other, 3, 12, v1::DeliveryReported::IMPRESSION, 3, false);
  BatchDecoder d;
  ExpectSameEvents({Delivery(1, 10, "a1", "c1", v1::DeliveryReported::CLICK, 1, false),
                    Delivery(2, 11, "a1", "c1", v1::DeliveryReported::CLICK, 2, true),
                    Delivery(3, 12, "a1", "c1", v1::DeliveryReported::IMPRESSION, 3, false)},
                   Decode(b, &d));
  EXPECT_EQ(d.dictionary_size(), 3u);
}

TEST(LogCodecTest, ClearStartsAFreshBatch) {
  BatchBuilder b;
  b.AddDelivery(1000, 5000, "a1", "c1", v1::DeliveryReported::CLICK, 2, false);
  b.Add(Other(1001, 5001, 1));
  b.Clear();
  EXPECT_EQ(b.count(), 0u);
  std::vector<v1::Event> second{
      Delivery(7, 3, "a2", "c2", v1::DeliveryReported::IMPRESSION, 1, false),
      Delivery(8, 4, "a1", "c1", v1::DeliveryReported::CLICK, 1, true)};
  for (const auto& e : second) b.Add(e);
  EXPECT_EQ(b.first_time_us(), 3);
  EXPECT_EQ(b.last_time_us(), 4);
  BatchDecoder d;
  ExpectSameEvents(second, Decode(b, &d));
  EXPECT_EQ(d.dictionary_size(), 2u);
}

// The builder writes the other events' records itself; the payload must
// still be byte for byte what Protobuf writes for the same EventBatch (its
// fields in order, positions packed), so logs written before and after
// hold the same bytes for the same events. Positions past 127 and events
// longer than 127 bytes take two-byte varints.
TEST(LogCodecTest, PayloadIsWhatProtobufWritesForTheSameBatch) {
  BatchBuilder b;
  for (int round = 0; round < 2; ++round) {  // the second after Clear
    std::vector<v1::Event> events;
    for (int i = 0; i < 400; ++i) {
      if (i % 3 == 0) {
        v1::Event e = Other(10'000 + i, 5000 + i, i % 9 == 0 ? 0 : 1 + i % 7);
        if (i % 9 == 0) e.mutable_account_opened()->set_name(std::string(200 + i, 'n'));
        events.push_back(std::move(e));
      } else {
        events.push_back(Delivery(i + 1, 1000 + i, "a" + std::to_string(i % 5),
                                  "c" + std::to_string(i % 11), v1::DeliveryReported::CLICK,
                                  i, i % 2 == 0));
      }
    }
    b.Clear();
    for (const auto& e : events) b.Add(e);
    std::string payload;
    BatchDecoder d;
    ExpectSameEvents(events, Decode(b, &d, &payload));
    EXPECT_EQ(CountOtherEvents(payload), 134);
    EXPECT_EQ(CountOtherEvents(payload.substr(0, payload.size() - 1)), -1) << "cut short";
    EXPECT_EQ(CountOtherEvents("\xff\xff"), -1) << "not wire data";
    // A server's one-shot decoder (its batch on an arena) reads the same.
    BatchDecoder once(BatchDecoder::OneShot{});
    ExpectSameEvents(events, Decode(b, &once));
    EXPECT_EQ(once.Parse(payload, 401).code(), Status::Code::kCorruption);
    v1::EventBatch parsed;
    ASSERT_TRUE(parsed.ParseFromString(payload));
    EXPECT_EQ(parsed.others_size(), 134);
    EXPECT_EQ(parsed.other_position(133), 399u);
    std::string again;
    ASSERT_TRUE(parsed.SerializeToString(&again));
    EXPECT_EQ(payload, again) << "round " << round;
  }
}

TEST(LogCodecTest, ParseRefusesAPayloadThatDoesNotDescribeCountEvents) {
  std::vector<v1::Event> events{Delivery(1, 1, "a", "c", v1::DeliveryReported::CLICK, 1, false),
                                Other(2, 2, 1),
                                Delivery(3, 3, "a", "c", v1::DeliveryReported::CLICK, 1, false)};
  std::string payload;
  RoundTrip(events, &payload);
  BatchDecoder d;
  EXPECT_TRUE(d.Parse(payload, 3).ok());
  EXPECT_EQ(d.Parse(payload, 2).code(), Status::Code::kCorruption);
  EXPECT_EQ(d.Parse(payload, 4).code(), Status::Code::kCorruption);
  EXPECT_EQ(d.Parse("", 1).code(), Status::Code::kCorruption);
  EXPECT_EQ(d.Parse("\xff\xff\xff\xff\xff", 1).code(), Status::Code::kCorruption);
  // After a refused parse, Visit visits nothing.
  Collect c(&d);
  d.Visit(&c);
  EXPECT_TRUE(c.events.empty());
}

TEST(LogCodecTest, ParseRefusesMalformedColumns) {
  auto good = [] {
    v1::EventBatch b;
    b.add_delivery_id_delta(1);
    b.add_delivery_time_delta(1);
    b.add_delivery_campaign(0);
    b.add_delivery_kind(2);
    b.add_delivery_count(1);
    b.add_dictionary_account("a");
    b.add_dictionary_campaign("c");
    *b.add_others() = Other(2, 2, 4);
    b.add_other_position(1);
    return b;
  };
  auto parse = [](const v1::EventBatch& b, uint32_t count) {
    BatchDecoder d;
    return d.Parse(b.SerializeAsString(), count);
  };
  ASSERT_TRUE(parse(good(), 2).ok());
  struct Case {
    const char* what;
    std::function<void(v1::EventBatch*)> edit;
    uint32_t count;
  };
  const std::vector<Case> cases = {
      {"short time column", [](v1::EventBatch* b) { b->clear_delivery_time_delta(); }, 2},
      {"short campaign column", [](v1::EventBatch* b) { b->add_delivery_campaign(0); }, 2},
      {"short kind column", [](v1::EventBatch* b) { b->clear_delivery_kind(); }, 2},
      {"short count column", [](v1::EventBatch* b) { b->add_delivery_count(3); }, 2},
      {"campaign outside dictionary", [](v1::EventBatch* b) { b->set_delivery_campaign(0, 1); }, 2},
      {"huge campaign index",
       [](v1::EventBatch* b) { b->set_delivery_campaign(0, 0xffffffffu); }, 2},
      {"dictionary columns differ", [](v1::EventBatch* b) { b->add_dictionary_account("x"); }, 2},
      {"unknown kind", [](v1::EventBatch* b) { b->set_delivery_kind(0, 99 << 1); }, 2},
      {"kind over a byte", [](v1::EventBatch* b) { b->set_delivery_kind(0, 0x102); }, 2},
      {"count over int64", [](v1::EventBatch* b) { b->set_delivery_count(0, uint64_t{1} << 63); }, 2},
      {"position past the end", [](v1::EventBatch* b) { b->set_other_position(0, 2); }, 2},
      {"others without positions", [](v1::EventBatch* b) { b->clear_other_position(); }, 2},
      {"positions out of order",
       [](v1::EventBatch* b) {
         *b->add_others() = Other(3, 3, 4);
         b->add_other_position(0);
       },
       3},
      {"duplicate positions",
       [](v1::EventBatch* b) {
         *b->add_others() = Other(3, 3, 4);
         b->add_other_position(1);
       },
       3},
  };
  for (const Case& c : cases) {
    v1::EventBatch b = good();
    c.edit(&b);
    const Status st = parse(b, c.count);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << c.what << ": " << st.ToString();
  }
}

// The decoder reads the dictionary off the wire itself (views, not strings
// Protobuf parses); what it reads must be what Protobuf would: entries in
// the order they come, wherever they sit among the other fields (a payload
// that is the concatenation of serialized batches merges them), with the
// same refusals.
TEST(LogCodecTest, DictionaryReadOffTheWireIsWhatProtobufParses) {
  v1::EventBatch a, b, c;
  a.add_dictionary_account("acct-0");
  a.add_delivery_id_delta(1);
  a.add_delivery_time_delta(10);
  a.add_delivery_campaign(2);
  a.add_delivery_kind(2 << 1);
  a.add_delivery_count(3);
  b.add_dictionary_campaign("camp-0");
  b.add_dictionary_campaign("camp-1 \xe2\x82\xac");
  *b.add_others() = Other(7, 20, 0);
  b.add_other_position(1);
  b.add_dictionary_account("acct-1");
  c.add_delivery_id_delta(1);
  c.add_delivery_time_delta(10);
  c.add_delivery_campaign(0);
  c.add_delivery_kind(1 << 1 | 1);
  c.add_delivery_count(4);
  c.add_dictionary_account("");  // an empty id is an entry too
  c.add_dictionary_campaign("camp-2");
  const std::string payload = a.SerializeAsString() + b.SerializeAsString() + c.SerializeAsString();
  v1::EventBatch merged;
  ASSERT_TRUE(merged.ParseFromString(payload));
  ASSERT_EQ(merged.dictionary_campaign_size(), 3);
  std::vector<std::unique_ptr<BatchDecoder>> decoders;
  decoders.push_back(std::make_unique<BatchDecoder>());
  decoders.push_back(std::make_unique<BatchDecoder>(BatchDecoder::OneShot{}));
  for (const auto& d : decoders) {
    ASSERT_TRUE(d->Parse(payload, 3).ok());
    ASSERT_EQ(d->dictionary_size(), 3u);
    for (uint32_t i = 0; i < 3; ++i) {
      EXPECT_EQ(d->account(i), merged.dictionary_account(static_cast<int>(i))) << i;
      EXPECT_EQ(d->campaign(i), merged.dictionary_campaign(static_cast<int>(i))) << i;
    }
    EXPECT_TRUE(d->PlainEvents());
    std::vector<v1::Event> seen;
    ASSERT_TRUE(d->ForEachEvent([&](const v1::Event& e) {
                   seen.push_back(e);
                   return Status::Ok();
                 }).ok());
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].delivery_reported().account_id(), "");
    EXPECT_EQ(seen[0].delivery_reported().campaign_id(), "camp-2");
    EXPECT_TRUE(seen[1].has_account_opened());
    EXPECT_EQ(seen[2].event_id(), 2u);
    EXPECT_EQ(seen[2].delivery_reported().account_id(), "acct-0");
    EXPECT_EQ(seen[2].delivery_reported().campaign_id(), "camp-0");
    EXPECT_TRUE(seen[2].delivery_reported().platform_fault());
    // The next batch's dictionary replaces it.
    const std::string reordered =
        c.SerializeAsString() + a.SerializeAsString() + b.SerializeAsString();
    ASSERT_TRUE(d->Parse(reordered, 3).ok());
    EXPECT_EQ(d->campaign(0), "camp-2");
    EXPECT_EQ(d->account(1), "acct-0");
  }

  // A dictionary field of another wire type is no entry: Protobuf keeps it
  // as an unknown field, and so the batch is not plain.
  {
    std::string odd = payload;
    odd += static_cast<char>(6 << 3 | 0);  // field 6 as a varint
    odd += '\x05';
    ASSERT_TRUE(merged.ParseFromString(odd));
    BatchDecoder d;
    ASSERT_TRUE(d.Parse(odd, 3).ok());
    EXPECT_EQ(d.dictionary_size(), 3u);
    EXPECT_FALSE(d.PlainEvents());
  }
  // Refused as Protobuf refuses: an entry that is not UTF-8, or that runs
  // past the payload.
  for (const bool account : {true, false}) {
    v1::EventBatch bad = c;
    if (account) {
      bad.set_dictionary_account(0, "acct-\xff");
    } else {
      bad.set_dictionary_campaign(0, "camp-\xc3");
    }
    std::string bytes;
    ASSERT_TRUE(bad.SerializePartialToString(&bytes));
    v1::EventBatch check;
    EXPECT_FALSE(check.ParseFromString(bytes)) << "Protobuf too refuses it";
    BatchDecoder d;
    const Status st = d.Parse(bytes, 1);
    EXPECT_EQ(st.code(), Status::Code::kCorruption);
    EXPECT_NE(st.message().find(account ? "dictionary account id is not UTF-8"
                                        : "dictionary campaign id is not UTF-8"),
              std::string::npos)
        << st.ToString();
  }
  {
    std::string cut = c.SerializeAsString();
    cut += static_cast<char>(7 << 3 | 2);
    cut += '\x09';
    cut += "camp";  // 4 of the 9 bytes it says
    BatchDecoder d;
    EXPECT_EQ(d.Parse(cut, 1).code(), Status::Code::kCorruption);
    cut = c.SerializeAsString() + std::string(1, static_cast<char>(7 << 3 | 2));  // no length
    EXPECT_EQ(d.Parse(cut, 1).code(), Status::Code::kCorruption);
  }
}

// The decoder reads the usual fields (a one-byte tag; a varint, or a
// length of up to four bytes) itself and hands anything else to Protobuf's
// reader: on any bytes, it must accept what Protobuf accepts, with the same
// dictionary, and refuse what Protobuf refuses. Long ids (two-byte
// lengths), fields it does not know (a fixed64, a two-byte tag, a long
// varint) and random damage to all of them.
TEST(LogCodecTest, DictionaryReaderAgreesWithProtobufOnAnyBytes) {
  v1::EventBatch b;
  b.add_dictionary_account("acct-0");
  b.add_dictionary_campaign(std::string(200, 'c'));  // a two-byte length
  b.add_delivery_id_delta(1);
  b.add_delivery_time_delta(10);
  b.add_delivery_campaign(0);
  b.add_delivery_kind(2 << 1);
  b.add_delivery_count(3);
  *b.add_others() = Other(7, 20, 0);
  b.add_other_position(0);
  b.add_dictionary_account(std::string(130, 'a') + "\xe2\x82\xac");
  b.add_dictionary_campaign("camp-1");
  std::string base = b.SerializeAsString();
  base += static_cast<char>(11 << 3 | 1);  // field 11, fixed64: unknown
  base += std::string(8, '\x01');
  base += static_cast<char>(0x80 | (300 << 3 & 0x7f) | 0);  // field 300, varint
  base += static_cast<char>(300 >> 4);
  base += std::string(9, '\xff');  // a ten-byte varint
  base += '\x01';
  v1::EventBatch check;
  ASSERT_TRUE(check.ParseFromString(base));
  BatchDecoder d;
  ASSERT_TRUE(d.Parse(base, 2).ok());
  ASSERT_EQ(d.dictionary_size(), 2u);
  EXPECT_EQ(d.campaign(0), std::string(200, 'c'));
  EXPECT_EQ(d.account(1), check.dictionary_account(1));

  std::mt19937 rng(7);
  int accepted = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string bytes = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0: bytes[at] = static_cast<char>(rng()); break;
        case 1: bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8))); break;
        case 2: bytes.resize(at); break;
        default: bytes.insert(at, 1, static_cast<char>(rng())); break;
      }
      if (bytes.empty()) bytes = "x";
    }
    v1::EventBatch want;
    const bool parses = want.ParseFromString(bytes);
    const uint32_t count = parses ? static_cast<uint32_t>(want.delivery_id_delta_size() +
                                                          want.others_size())
                                  : 2;
    const Status st = d.Parse(bytes, count);
    if (!parses) {
      EXPECT_FALSE(st.ok()) << "round " << round << ": Protobuf refuses what the decoder took";
      continue;
    }
    if (!st.ok()) {
      // Refused for what the batch says, not how it is written.
      EXPECT_EQ(st.message().find("not an EventBatch"), std::string::npos)
          << "round " << round << ": " << st.ToString();
      continue;
    }
    accepted++;
    ASSERT_EQ(d.dictionary_size(), static_cast<uint32_t>(want.dictionary_campaign_size()))
        << round;
    for (uint32_t i = 0; i < d.dictionary_size(); ++i) {
      EXPECT_EQ(d.account(i), want.dictionary_account(static_cast<int>(i))) << round;
      EXPECT_EQ(d.campaign(i), want.dictionary_campaign(static_cast<int>(i))) << round;
    }
  }
  EXPECT_GT(accepted, 100) << "the damage left too few batches whole to compare";
}

TEST(LogCodecTest, VisitStopsWhenTheVisitorSaysSo) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(i % 3 == 0 ? Other(i + 1, i, i)
                                : Delivery(i + 1, i, "a", "c", v1::DeliveryReported::CLICK, 1, false));
  }
  std::string payload;
  RoundTrip(events, &payload);
  BatchDecoder d;
  ASSERT_TRUE(d.Parse(payload, 20).ok());
  struct StopAt : BatchVisitor {
    uint32_t stop = 0, calls = 0;
    bool OnDelivery(uint32_t p, const DeliveryRow&) override { ++calls; return p != stop; }
    bool OnEvent(uint32_t p, const v1::Event&) override { ++calls; return p != stop; }
  };
  for (uint32_t stop : {0u, 4u, 9u, 19u}) {
    StopAt v;
    v.stop = stop;
    d.Visit(&v);
    EXPECT_EQ(v.calls, stop + 1);
  }
}

TEST(LogCodecTest, RealisticDeliveriesCostUnderTwentyBytesEach) {
  // 10,000 deliveries: dense ids, 0-50 ms apart, 200 campaigns of 40 accounts.
  TempDir tmp;
  std::mt19937_64 rng(2024);
  BatchBuilder b;
  int64_t t = 1'717'000'000'000'000;
  std::vector<std::string> accounts, campaigns;
  for (int c = 0; c < 200; ++c) {
    campaigns.push_back("cmp-" + std::to_string(100000 + c));
    accounts.push_back("acct-" + std::to_string(5000 + c % 40));
  }
  for (uint64_t id = 1; id <= 10'000; ++id) {
    t += static_cast<int64_t>(rng() % 50'001);
    const int c = static_cast<int>(rng() % 200);
    const uint64_t r = rng() % 100;
    const Kind kind = r < 90 ? v1::DeliveryReported::IMPRESSION
                      : r < 98 ? v1::DeliveryReported::CLICK
                               : v1::DeliveryReported::VIDEO_VIEW_2S;
    b.AddDelivery(id, t, accounts[c], campaigns[c], kind,
                  static_cast<int64_t>(1 + rng() % 10), rng() % 1000 == 0);
  }
  std::unique_ptr<LogWriter> w;
  LogOptions o;
  o.fsync.mode = FsyncPolicy::Mode::kNever;
  ASSERT_TRUE(LogWriter::Open(tmp.path(), o, &w).ok());
  SeqRange range;
  ASSERT_TRUE(w->Append(b, &range).ok());
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(range.first, 1u);
  EXPECT_EQ(range.last, 10'000u);
  const uint64_t bytes = fs::file_size(SegmentPath(tmp.path(), 1));
  const double per_event = static_cast<double>(bytes) / 10'000;
  std::printf("[ figure   ] %llu segment bytes for 10,000 deliveries: %.2f bytes/event\n",
              static_cast<unsigned long long>(bytes), per_event);
  EXPECT_LT(per_event, 20.0);
  EXPECT_EQ(bytes, w->bytes_written());
}

// What a decoded request holds while it waits in the server's queue (the
// README's bound on queued events): a batch of 10,000 deliveries to
// distinct campaigns (a large book's case: a dictionary entry a row), one
// of 10,000 set-up events and one of deliveries to 200 campaigns, in the
// reused decoder and in a one-shot decoder (arena). The server parses a
// batch into an arena only when at least half its events are whole
// messages (CountOtherEvents): there the arena costs about 15% more, for
// delivery columns twice as much.
TEST(LogCodecTest, DecodedBatchMemoryPerEventIsBounded) {
  BatchBuilder deliveries, setup, few;
  for (uint64_t i = 0; i < 10'000; ++i) {
    few.AddDelivery(i + 1, 1'717'000'000'000'000 + static_cast<int64_t>(i) * 300,
                    "acct-" + std::to_string(i % 40), "camp-" + std::to_string(i % 200),
                    v1::DeliveryReported::IMPRESSION, 1 + i % 5, false);
    deliveries.AddDelivery(i + 1, 1'717'000'000'000'000 + static_cast<int64_t>(i) * 300,
                           "acct-" + std::to_string(10'000 + i / 10),
                           "camp-" + std::to_string(1'000'000 + i),
                           v1::DeliveryReported::IMPRESSION, 1 + i % 5, false);
    setup.Add(Other(i + 1, 1'717'000'000'000'000, 2));  // a CampaignCreated
  }
  for (const BatchBuilder* b : {&deliveries, &setup, &few}) {
    std::string payload;
    b->Finish(&payload);
    BatchDecoder reused;
    BatchDecoder once(BatchDecoder::OneShot{});
    ASSERT_TRUE(reused.Parse(payload, 10'000).ok());
    ASSERT_TRUE(once.Parse(payload, 10'000).ok());
    const double heap = static_cast<double>(reused.MemoryBytes()) / 10'000;
    const double arena = static_cast<double>(once.MemoryBytes()) / 10'000;
    std::printf("[ figure   ] %s: payload %.1f, decoded %.1f (heap) / %.1f (arena) bytes/event\n",
                b == &deliveries ? "deliveries" : b == &setup ? "set-up" : "200 campaigns",
                static_cast<double>(payload.size()) / 10'000, heap, arena);
    // Measured (2026-12-07, the dictionary read off the wire as spans, not
    // parsed into strings): heap 110 and 60 for the deliveries (143 and 54
    // before), arena 326 for the set-up; the README's bound on the
    // server's queued events uses these.
    EXPECT_EQ(CountOtherEvents(payload), b == &setup ? 10'000 : 0);
    if (b == &setup) {
      EXPECT_LT(arena, 350.0);
    } else {
      EXPECT_LT(heap, b == &deliveries ? 125.0 : 70.0);
    }
  }
}

// A reused decoder keeps a set-up batch's messages for the next batch
// (replay's read-ahead slots, which then carry deliveries for the rest of
// the log); LetGo hands them back, and the decoder parses on as before.
TEST(LogCodecTest, AReusedDecoderLetsGoOfTheMessagesItKept) {
  BatchBuilder setup, deliveries;
  for (uint64_t i = 0; i < 10'000; ++i) {
    setup.Add(Other(i + 1, 1'717'000'000'000'000, 2));  // a CampaignCreated
    deliveries.AddDelivery(20'001 + i, 1'717'000'000'000'000, "acct-1", "camp-1",
                           v1::DeliveryReported::IMPRESSION, 1, false);
  }
  std::string setup_payload, delivery_payload;
  setup.Finish(&setup_payload);
  deliveries.Finish(&delivery_payload);
  BatchDecoder d;
  ASSERT_TRUE(d.Parse(setup_payload, 10'000).ok());
  EXPECT_EQ(d.others_kept(), 10'000u);
  ASSERT_TRUE(d.Parse(delivery_payload, 10'000).ok());
  EXPECT_EQ(d.other_events(), 0u);
  EXPECT_EQ(d.others_kept(), 10'000u);
  const uint64_t kept = d.MemoryBytes();
  EXPECT_GT(kept, 10'000u * 100);  // the cleared messages are still there
  d.LetGo();
  EXPECT_EQ(d.others_kept(), 0u);
  EXPECT_LT(d.MemoryBytes(), kept / 10);
  ASSERT_TRUE(d.Parse(delivery_payload, 10'000).ok());
  EXPECT_EQ(d.delivery_rows(), 10'000u);
  EXPECT_EQ(d.others_kept(), 0u);
  ASSERT_TRUE(d.Parse(setup_payload, 10'000).ok());
  EXPECT_EQ(d.other_events(), 10'000u);
  EXPECT_TRUE(d.other_event(9'999).has_campaign_created());
  EXPECT_EQ(d.other_position(9'999), 9'999u);
}

// --- writer and reader ---------------------------------------------------------------

struct WrittenBatch {
  uint64_t first = 0, last = 0;
  Chain chain{};
  std::vector<v1::Event> events;
};

// Appends `batches` batches of 1..max_events mixed events to `dir`.
std::vector<WrittenBatch> WriteLog(const std::string& dir, uint64_t segment_bytes,
                                   int batches, int max_events, uint64_t seed) {
  std::vector<WrittenBatch> out;
  std::mt19937_64 rng(seed);
  LogOptions o;
  o.segment_bytes = segment_bytes;
  o.fsync.mode = FsyncPolicy::Mode::kNever;
  std::unique_ptr<LogWriter> w;
  Status st = LogWriter::Open(dir, o, &w);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!st.ok()) return out;
  uint64_t id = w->next_seq();
  int64_t t = 1'000'000 * static_cast<int64_t>(id);
  BatchBuilder b;
  for (int i = 0; i < batches; ++i) {
    WrittenBatch wb;
    const int n = 1 + static_cast<int>(rng() % max_events);
    b.Clear();
    for (int k = 0; k < n; ++k, ++id) {
      t += static_cast<int64_t>(rng() % 1000);
      v1::Event e = rng() % 10 == 0
                        ? Other(id, t, static_cast<int>(rng() % 5))
                        : Delivery(id, t, "a" + std::to_string(id % 4),
                                   "c" + std::to_string(id % 4),
                                   v1::DeliveryReported::IMPRESSION, 1, false);
      b.Add(e);
      wb.events.push_back(std::move(e));
    }
    SeqRange r;
    st = w->Append(b, &r);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return out;
    wb.first = r.first;
    wb.last = r.last;
    wb.chain = w->chain();
    out.push_back(std::move(wb));
  }
  st = w->Close();
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(LogRoundTripTest, WriterToReaderAcrossSegmentRolls) {
  TempDir tmp;
  const auto written = WriteLog(tmp.path(), 16 << 10, 150, 300, 99);
  ASSERT_EQ(written.size(), 150u);
  std::vector<uint64_t> segments;
  ASSERT_TRUE(ListSegments(tmp.path(), &segments).ok());
  ASSERT_GE(segments.size(), 4u) << "the test wants several segment rolls";
  for (uint64_t s : segments) {
    EXPECT_LE(fs::file_size(SegmentPath(tmp.path(), s)), (16u << 10) + 64 * 1024)
        << "segments roll near the configured size";
  }

  LogReader reader;
  Status st = reader.Open(tmp.path(), LogReader::Options{/*verify_chain=*/true});
  ASSERT_TRUE(st.ok()) << st.ToString();
  BatchDecoder d;
  size_t i = 0;
  std::vector<std::vector<IndexEntry>> index_seen(segments.size());
  for (;;) {
    BatchView batch;
    bool done = false;
    st = reader.Next(&batch, &done);
    ASSERT_TRUE(st.ok()) << "batch " << i << ": " << st.ToString();
    if (done) break;
    ASSERT_LT(i, written.size());
    const WrittenBatch& wb = written[i];
    EXPECT_EQ(batch.header.first_seq, wb.first);
    EXPECT_EQ(batch.header.last_seq(), wb.last);
    EXPECT_EQ(batch.header.chain, wb.chain);
    EXPECT_EQ(batch.header.first_time_us, wb.events.front().time_us());
    EXPECT_EQ(batch.header.last_time_us, wb.events.back().time_us());
    ASSERT_TRUE(d.Parse(batch.payload, batch.header.count).ok());
    Collect c(&d);
    d.Visit(&c);
    ExpectSameEvents(wb.events, c.events);
    const uint64_t seg_first = std::stoull(fs::path(reader.segment_path()).filename().string());
    const size_t si = std::find(segments.begin(), segments.end(), seg_first) - segments.begin();
    ASSERT_LT(si, segments.size());
    index_seen[si].push_back({batch.header.first_seq, batch.offset});
    ++i;
  }
  EXPECT_EQ(i, written.size());
  EXPECT_TRUE(reader.tail_fault().empty()) << reader.tail_fault();
  // Each index lists every batch of its segment.
  for (size_t s = 0; s < segments.size(); ++s) {
    std::vector<IndexEntry> index;
    bool clean = false;
    ASSERT_TRUE(ReadIndex(IndexPath(tmp.path(), segments[s]), &index, &clean).ok());
    EXPECT_TRUE(clean);
    EXPECT_EQ(index, index_seen[s]) << SegmentName(segments[s]);
    ASSERT_FALSE(index.empty());
    EXPECT_EQ(index.front().first_seq, segments[s]);
    EXPECT_EQ(index.front().offset, 0u);
  }
}

TEST(LogRoundTripTest, SeekFindsTheBatchHoldingASequence) {
  TempDir tmp;
  const auto written = WriteLog(tmp.path(), 8 << 10, 120, 100, 5);
  ASSERT_EQ(written.size(), 120u);
  const uint64_t last = written.back().last;
  std::vector<uint64_t> segments;
  ASSERT_TRUE(ListSegments(tmp.path(), &segments).ok());
  ASSERT_GE(segments.size(), 3u);
  std::vector<uint64_t> targets = {1, 2, last / 3, last / 2, last - 1, last};
  for (uint64_t s : segments) {
    targets.push_back(s);
    if (s > 1) targets.push_back(s - 1);
  }
  std::mt19937_64 rng(1);
  for (int k = 0; k < 20; ++k) targets.push_back(1 + rng() % last);

  for (uint64_t seq : targets) {
    LogReader reader;
    ASSERT_TRUE(reader.Open(tmp.path(), LogReader::Options{}).ok());
    Status st = reader.Seek(seq);
    ASSERT_TRUE(st.ok()) << "seek " << seq << ": " << st.ToString();
    BatchView batch;
    bool done = false;
    st = reader.Next(&batch, &done);
    ASSERT_TRUE(st.ok()) << "seek " << seq << ": " << st.ToString();
    ASSERT_FALSE(done) << "seek " << seq;
    EXPECT_LE(batch.header.first_seq, seq);
    EXPECT_GE(batch.header.last_seq(), seq);
    // The stream goes on densely to the end.
    uint64_t next = batch.header.last_seq() + 1;
    for (;;) {
      st = reader.Next(&batch, &done);
      ASSERT_TRUE(st.ok()) << "seek " << seq << " then at " << next << ": " << st.ToString();
      if (done) break;
      ASSERT_EQ(batch.header.first_seq, next);
      next = batch.header.last_seq() + 1;
    }
    EXPECT_EQ(next, last + 1) << "seek " << seq;
  }
  // Past the end: nothing.
  LogReader reader;
  ASSERT_TRUE(reader.Open(tmp.path(), LogReader::Options{}).ok());
  ASSERT_TRUE(reader.Seek(last + 1).ok());
  BatchView batch;
  bool done = false;
  ASSERT_TRUE(reader.Next(&batch, &done).ok());
  EXPECT_TRUE(done);
  // The chain can only be checked from the start.
  LogReader verifying;
  ASSERT_TRUE(verifying.Open(tmp.path(), LogReader::Options{true}).ok());
  EXPECT_EQ(verifying.Seek(last / 2).code(), Status::Code::kInvalidArgument);
}

// The read-ahead stream gives the same batches, in order, as the plain
// reader, from any starting sequence; and it can be dropped mid-log.
TEST(LogRoundTripTest, ReadAheadGivesEveryBatchInOrderFromAnySequence) {
  TempDir tmp;
  const auto written = WriteLog(tmp.path(), 8 << 10, 60, 100, 17);
  ASSERT_EQ(written.size(), 60u);
  for (size_t start : {size_t{0}, size_t{1}, size_t{29}, size_t{59}}) {
    ReadAheadStream stream;
    ASSERT_TRUE(stream.Open(tmp.path(), LogReader::Options{start == 0},
                            written[start].first).ok());
    size_t i = start;
    for (;;) {
      bool done = false;
      Status st = stream.Next(&done);
      ASSERT_TRUE(st.ok()) << st.ToString();
      if (done) break;
      ASSERT_LT(i, written.size());
      EXPECT_EQ(stream.header().first_seq, written[i].first);
      EXPECT_EQ(stream.header().chain, written[i].chain);
      Collect c(&stream.decoder());
      stream.Visit(&c);
      ExpectSameEvents(written[i].events, c.events);
      ++i;
    }
    EXPECT_EQ(i, written.size()) << "from batch " << start;
    EXPECT_TRUE(stream.tail_fault().empty());
  }
  // Dropped after one batch, with the worker ahead: no hang, no leak.
  for (int k = 0; k < 20; ++k) {
    ReadAheadStream stream;
    ASSERT_TRUE(stream.Open(tmp.path(), LogReader::Options{}, 1).ok());
    bool done = false;
    ASSERT_TRUE(stream.Next(&done).ok());
    ASSERT_FALSE(done);
  }
}

// PairNumbering's bound: past it a new pair, a creation's or a row's, gets
// kNoPair, while the pairs numbered before keep their numbers; a
// creation's pair is numbered before the rows', and from NumberCreations'
// series when set.
TEST(PairNumberingTest, KnownPairsKeepTheirNumbersPastTheBoundAndNewOnesGetNone) {
  auto created = [](uint64_t id, const std::string& account, const std::string& campaign) {
    v1::Event e;
    e.set_event_id(id);
    e.mutable_campaign_created()->set_account_id(account);
    e.mutable_campaign_created()->set_campaign_id(campaign);
    return e;
  };
  auto decode = [](const BatchBuilder& b, std::string* bytes, BatchDecoder* d) {
    b.Finish(bytes);
    ASSERT_TRUE(d->Parse(*bytes, b.count()).ok());
  };
  // The number each dictionary entry got, by "account/campaign".
  auto by_pair = [](const BatchDecoder& d, const std::vector<uint32_t>& ids) {
    std::map<std::string, uint32_t> m;
    for (uint32_t i = 0; i < d.dictionary_size(); ++i) {
      m[std::string(d.account(i)) + "/" + std::string(d.campaign(i))] = ids[i];
    }
    return m;
  };
  PairNumbering numbering;
  numbering.NumberCreations(7);
  std::vector<uint32_t> ids, made;
  BatchBuilder b1;
  b1.AddDelivery(1, 1, "a0", "c0", v1::DeliveryReported::CLICK, 1, false);
  b1.Add(created(2, "a1", "c1"));
  b1.AddDelivery(3, 3, "a1", "c1", v1::DeliveryReported::CLICK, 1, false);
  std::string bytes1;
  BatchDecoder d1;
  decode(b1, &bytes1, &d1);
  numbering.Number(d1, 0, &ids, &made);
  const uint32_t k = PairNumbering::kFirstOther;
  EXPECT_EQ(by_pair(d1, ids), (std::map<std::string, uint32_t>{{"a0/c0", k}, {"a1/c1", 7}}));
  EXPECT_EQ(made, std::vector<uint32_t>{7});
  EXPECT_EQ(numbering.size(), 2u);

  numbering.set_max_pairs(3);  // room for one more
  BatchBuilder b2;
  b2.Add(created(4, "a2", "c2"));  // takes the last place, numbered 8
  b2.Add(created(5, "a3", "c3"));  // none left
  b2.AddDelivery(6, 6, "a1", "c1", v1::DeliveryReported::CLICK, 1, false);
  b2.AddDelivery(7, 7, "a4", "c4", v1::DeliveryReported::CLICK, 1, false);
  b2.AddDelivery(8, 8, "a0", "c0", v1::DeliveryReported::CLICK, 1, false);
  b2.AddDelivery(9, 9, "a2", "c2", v1::DeliveryReported::CLICK, 1, false);
  std::string bytes2;
  BatchDecoder d2;
  decode(b2, &bytes2, &d2);
  numbering.Number(d2, 0, &ids, &made);
  EXPECT_EQ(made, (std::vector<uint32_t>{8, PairNumbering::kNoPair}));
  EXPECT_EQ(by_pair(d2, ids), (std::map<std::string, uint32_t>{{"a0/c0", k},
                                                               {"a1/c1", 7},
                                                               {"a2/c2", 8},
                                                               {"a4/c4", PairNumbering::kNoPair}}));
  EXPECT_EQ(numbering.size(), 3u);
}

// A CampaignCreated's (account, campaign) pair gets the stable id the
// delivery rows naming that pair get, in that batch or any later one; the
// same campaign id under another account is another pair; other events get
// kNoPair.
TEST(LogRoundTripTest, ReadAheadNumbersCreatedPairsAsDeliveries) {
  TempDir tmp;
  auto created = [](uint64_t id, const std::string& account, const std::string& campaign) {
    v1::Event e;
    e.set_event_id(id);
    e.set_time_us(static_cast<int64_t>(id));
    e.mutable_campaign_created()->set_account_id(account);
    e.mutable_campaign_created()->set_campaign_id(campaign);
    return e;
  };
  {
    std::unique_ptr<LogWriter> w;
    LogOptions o;
    o.fsync.mode = FsyncPolicy::Mode::kNever;
    ASSERT_TRUE(LogWriter::Open(tmp.path(), o, &w).ok());
    SeqRange r;
    BatchBuilder b;
    b.AddDelivery(1, 1, "a0", "c0", v1::DeliveryReported::CLICK, 1, false);
    b.Add(Other(2, 2, 0));
    b.Add(created(3, "a1", "c1"));
    b.Add(created(4, "a2", "c1"));
    b.AddDelivery(5, 5, "a1", "c1", v1::DeliveryReported::CLICK, 1, false);
    ASSERT_TRUE(w->Append(b, &r).ok());
    b.Clear();
    b.AddDelivery(6, 6, "a2", "c1", v1::DeliveryReported::CLICK, 1, false);
    b.AddDelivery(7, 7, "a1", "c1", v1::DeliveryReported::CLICK, 1, false);
    b.Add(created(8, "a1", "c1"));  // again: the same pair, the same id
    b.Add(created(9, "a3", "c3"));  // new
    ASSERT_TRUE(w->Append(b, &r).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  ReadAheadStream stream;
  ASSERT_TRUE(stream.Open(tmp.path(), LogReader::Options{}, 1).ok());
  auto pair_of = [&](const std::string& account, const std::string& campaign) {
    const BatchDecoder& d = stream.decoder();
    for (uint32_t i = 0; i < d.dictionary_size(); ++i) {
      if (d.account(i) == account && d.campaign(i) == campaign) return stream.stable_ids()[i];
    }
    ADD_FAILURE() << "no dictionary entry for " << account << "/" << campaign;
    return ReadAheadStream::kNoPair;
  };
  bool done = false;
  ASSERT_TRUE(stream.Next(&done).ok());
  ASSERT_FALSE(done);
  ASSERT_EQ(stream.decoder().other_events(), 3u);
  ASSERT_EQ(stream.created_ids().size(), 3u);
  EXPECT_EQ(stream.created_ids()[0], ReadAheadStream::kNoPair);
  const uint32_t a1c1 = stream.created_ids()[1];
  const uint32_t a2c1 = stream.created_ids()[2];
  EXPECT_NE(a1c1, ReadAheadStream::kNoPair);
  EXPECT_NE(a2c1, ReadAheadStream::kNoPair);
  EXPECT_NE(a1c1, a2c1);
  EXPECT_EQ(pair_of("a1", "c1"), a1c1);
  const uint32_t a0c0 = pair_of("a0", "c0");
  EXPECT_NE(a0c0, a1c1);
  EXPECT_NE(a0c0, a2c1);
  ASSERT_TRUE(stream.Next(&done).ok());
  ASSERT_FALSE(done);
  EXPECT_EQ(pair_of("a1", "c1"), a1c1);
  EXPECT_EQ(pair_of("a2", "c1"), a2c1);
  ASSERT_EQ(stream.created_ids().size(), 2u);
  EXPECT_EQ(stream.created_ids()[0], a1c1);
  const uint32_t a3c3 = stream.created_ids()[1];
  EXPECT_NE(a3c3, ReadAheadStream::kNoPair);
  for (uint32_t seen : {a1c1, a2c1, a0c0}) EXPECT_NE(a3c3, seen);
  ASSERT_TRUE(stream.Next(&done).ok());
  EXPECT_TRUE(done);

  // Opened with first_created, the k-th creation (every one, from from_seq
  // on) numbers its pair first_created + k if the pair is new: the index
  // the ledger gives the campaign when it applies every creation. The
  // other pairs count from kFirstOther.
  ReadAheadStream numbered;
  ASSERT_TRUE(numbered.Open(tmp.path(), LogReader::Options{}, 1, 40).ok());
  ASSERT_TRUE(numbered.Next(&done).ok());
  EXPECT_EQ(numbered.created_ids()[1], 40u);  // a1/c1, sequence 3
  EXPECT_EQ(numbered.created_ids()[2], 41u);  // a2/c1
  EXPECT_EQ(numbered.stable_ids()[0], ReadAheadStream::kFirstOther);  // a0/c0, a delivery's
  ASSERT_TRUE(numbered.Next(&done).ok());
  EXPECT_EQ(numbered.created_ids()[0], 40u);  // a1/c1 again (42 is not used)
  EXPECT_EQ(numbered.created_ids()[1], 43u);  // a3/c3
  // From sequence 4, inside the first batch: the creation at 3 is the
  // consumer's already (a snapshot's), so it is not counted and gets no
  // number; its pair is first seen in a row, and a2/c1 is the first
  // creation.
  ReadAheadStream from4;
  ASSERT_TRUE(from4.Open(tmp.path(), LogReader::Options{}, 4, 7).ok());
  ASSERT_TRUE(from4.Next(&done).ok());
  EXPECT_EQ(from4.created_ids()[1], ReadAheadStream::kNoPair);
  EXPECT_EQ(from4.created_ids()[2], 7u);
  for (uint32_t i = 0; i < from4.decoder().dictionary_size(); ++i) {
    const uint32_t id = from4.stable_ids()[i];
    if (from4.decoder().account(i) == "a1") {
      EXPECT_GE(id, ReadAheadStream::kFirstOther);
    }
  }
  ASSERT_TRUE(from4.Next(&done).ok());
  EXPECT_EQ(from4.created_ids()[1], 9u);  // a3/c3: the third creation from 4
}

// Damage in the middle comes out after every good batch before it, naming
// where it is; a torn tail ends the stream and is reported.
TEST(LogRoundTripTest, ReadAheadReportsDamageInItsPlace) {
  TempDir tmp;
  const auto written = WriteLog(tmp.path(), 1 << 30, 20, 50, 3);
  ASSERT_EQ(written.size(), 20u);
  const std::string seg = SegmentPath(tmp.path(), 1);
  std::vector<IndexEntry> index;
  bool clean = false;
  ASSERT_TRUE(ReadIndex(IndexPath(tmp.path(), 1), &index, &clean).ok());
  ASSERT_EQ(index.size(), 20u);
  std::string bytes;
  {
    std::FILE* f = std::fopen(seg.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    bytes.resize(fs::file_size(seg));
    ASSERT_EQ(std::fread(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
  auto write = [&](const std::string& b) {
    std::FILE* f = std::fopen(seg.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(b.data(), 1, b.size(), f), b.size());
    std::fclose(f);
  };
  auto count_batches = [&](Status* end, std::string* tail) {
    ReadAheadStream stream;
    EXPECT_TRUE(stream.Open(tmp.path(), LogReader::Options{}, 1).ok());
    size_t n = 0;
    for (;;) {
      bool done = false;
      *end = stream.Next(&done);
      if (!end->ok() || done) break;
      EXPECT_EQ(stream.header().first_seq, written[n].first);
      ++n;
    }
    *tail = stream.tail_fault();
    return n;
  };
  // A flipped payload byte in batch 10.
  std::string damaged = bytes;
  damaged[index[10].offset + kHeaderSize + 3] ^= 0x40;
  write(damaged);
  Status end;
  std::string tail;
  EXPECT_EQ(count_batches(&end, &tail), 10u);
  EXPECT_EQ(end.code(), Status::Code::kCorruption);
  EXPECT_NE(end.message().find("offset " + std::to_string(index[10].offset)), std::string::npos)
      << end.ToString();
  // The last batch cut short: a torn tail.
  write(bytes.substr(0, bytes.size() - 5));
  EXPECT_EQ(count_batches(&end, &tail), 19u);
  EXPECT_TRUE(end.ok()) << end.ToString();
  EXPECT_FALSE(tail.empty());
}

TEST(LogRoundTripTest, ReopenContinuesSequenceAndChain) {
  TempDir tmp;
  const auto first = WriteLog(tmp.path(), 8 << 10, 40, 80, 1);
  ASSERT_FALSE(first.empty());
  LogState state;
  std::unique_ptr<LogWriter> w;
  ASSERT_TRUE(LogWriter::Open(tmp.path(), LogOptions{8 << 10, {}}, &w, &state).ok());
  EXPECT_EQ(state.next_seq, first.back().last + 1);
  EXPECT_EQ(state.chain, first.back().chain);
  EXPECT_FALSE(state.cut_tail);
  EXPECT_EQ(w->next_seq(), first.back().last + 1);
  EXPECT_EQ(w->durable_seq(), first.back().last);
  EXPECT_EQ(w->chain(), first.back().chain);
  w.reset();
  const auto second = WriteLog(tmp.path(), 8 << 10, 40, 80, 2);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.front().first, first.back().last + 1);

  LogReader reader;
  ASSERT_TRUE(reader.Open(tmp.path(), LogReader::Options{true}).ok());
  uint64_t next = 1;
  size_t batches = 0;
  for (;;) {
    BatchView batch;
    bool done = false;
    const Status st = reader.Next(&batch, &done);
    ASSERT_TRUE(st.ok()) << st.ToString();
    if (done) break;
    ASSERT_EQ(batch.header.first_seq, next);
    next = batch.header.last_seq() + 1;
    ++batches;
  }
  EXPECT_EQ(batches, first.size() + second.size());
  EXPECT_EQ(next, second.back().last + 1);
}

// An empty log reads as empty; a missing directory is not a log (issue #9:
// readers reported a mistyped path as an empty, good log; this test
// expected that before).
TEST(LogRoundTripTest, EmptyLogReadsAsEmptyAndAMissingOneIsNotFound) {
  TempDir tmp;
  {
    LogReader reader;
    ASSERT_TRUE(reader.Open(tmp.path(), LogReader::Options{true}).ok());
    BatchView batch;
    bool done = false;
    ASSERT_TRUE(reader.Next(&batch, &done).ok());
    EXPECT_TRUE(done);
    EXPECT_TRUE(reader.tail_fault().empty());
  }
  {
    LogReader reader;
    const Status st = reader.Open(tmp.sub("missing"), LogReader::Options{true});
    EXPECT_EQ(st.code(), Status::Code::kNotFound) << st.ToString();
    EXPECT_NE(st.message().find(tmp.sub("missing")), std::string::npos) << st.message();
  }
  LogState state;
  std::unique_ptr<LogWriter> w;
  ASSERT_TRUE(LogWriter::Open(tmp.sub("new"), LogOptions{}, &w, &state).ok());
  EXPECT_EQ(state.next_seq, 1u);
  EXPECT_EQ(w->durable_seq(), 0u);
  EXPECT_TRUE(state.segments.empty());
}

TEST(LogRoundTripTest, DurableSeqFollowsTheFsyncPolicy) {
  TempDir tmp;
  BatchBuilder b;
  b.AddDelivery(1, 1, "a", "c", v1::DeliveryReported::CLICK, 1, false);
  SeqRange r;
  {
    std::unique_ptr<LogWriter> w;
    LogOptions o;
    o.fsync.mode = FsyncPolicy::Mode::kAlways;
    ASSERT_TRUE(LogWriter::Open(tmp.sub("always"), o, &w).ok());
    ASSERT_TRUE(w->Append(b, &r).ok());
    EXPECT_EQ(w->durable_seq(), r.last);
    ASSERT_TRUE(w->Append(b, &r).ok());
    EXPECT_EQ(r.first, 2u);
    EXPECT_EQ(w->durable_seq(), 2u);
  }
  {
    std::unique_ptr<LogWriter> w;
    LogOptions o;
    o.fsync.mode = FsyncPolicy::Mode::kNever;
    ASSERT_TRUE(LogWriter::Open(tmp.sub("never"), o, &w).ok());
    ASSERT_TRUE(w->Append(b, &r).ok());
    ASSERT_TRUE(w->Append(b, &r).ok());
    EXPECT_EQ(w->durable_seq(), 0u);
    ASSERT_TRUE(w->Sync().ok());
    EXPECT_EQ(w->durable_seq(), 2u);
  }
  {
    std::unique_ptr<LogWriter> w;
    LogOptions o;
    ASSERT_TRUE(FsyncPolicy::Parse("interval=60000", &o.fsync).ok());
    ASSERT_TRUE(LogWriter::Open(tmp.sub("interval"), o, &w).ok());
    ASSERT_TRUE(w->Append(b, &r).ok());
    EXPECT_EQ(w->durable_seq(), 0u);
    ASSERT_TRUE(w->Close().ok());
    EXPECT_EQ(w->durable_seq(), 1u);
  }
}

// Pipelined durability: Write never syncs, a ticket captures what was
// written, and it still syncs after the writer rolled past its segment
// (its own descriptor) and from another thread while the writer writes on.
TEST(LogRoundTripTest, SyncTicketsOutliveRollsAndRunOnAnotherThread) {
  TempDir tmp;
  std::unique_ptr<LogWriter> w;
  LogOptions o;
  o.segment_bytes = 4 << 10;  // rolls every few batches
  o.fsync.mode = FsyncPolicy::Mode::kAlways;
  ASSERT_TRUE(LogWriter::Open(tmp.path(), o, &w).ok());
  BatchBuilder b;
  uint64_t id = 1;
  auto fill = [&] {
    b.Clear();
    for (int i = 0; i < 200; ++i, ++id) {
      b.AddDelivery(id, static_cast<int64_t>(id), "a", "c", v1::DeliveryReported::CLICK, 1,
                    false);
    }
  };
  SeqRange r;
  fill();
  ASSERT_TRUE(w->Write(b, &r).ok());
  EXPECT_EQ(w->durable_seq(), 0u) << "Write does not sync, whatever the policy";
  LogWriter::SyncTicket first;
  ASSERT_TRUE(w->StartSync(&first).ok());
  EXPECT_EQ(first.seq, r.last);
  std::vector<LogWriter::SyncTicket> tickets;
  for (int k = 0; k < 20; ++k) {  // several rolls
    fill();
    ASSERT_TRUE(w->Write(b, &r).ok());
    tickets.emplace_back();
    ASSERT_TRUE(w->StartSync(&tickets.back()).ok());
    EXPECT_EQ(tickets.back().seq, r.last);
  }
  std::vector<uint64_t> segments;
  ASSERT_TRUE(ListSegments(tmp.path(), &segments).ok());
  ASSERT_GE(segments.size(), 3u);
  EXPECT_TRUE(first.Run().ok()) << "the first segment was closed by a roll";
  Status synced;
  std::thread syncer([&] {
    for (auto& t : tickets) {
      Status st = t.Run();
      if (!st.ok() && synced.ok()) synced = st;
    }
  });
  for (int k = 0; k < 5; ++k) {
    fill();
    ASSERT_TRUE(w->Write(b, &r).ok());
  }
  syncer.join();
  EXPECT_TRUE(synced.ok()) << synced.ToString();
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(w->durable_seq(), r.last);
  test_support::ExpectLogVerifies(tmp.path(), r.last);
}

// --- FsyncPolicy ----------------------------------------------------------------------

TEST(FsyncPolicyTest, ParsesTheThreePolicies) {
  FsyncPolicy p;
  ASSERT_TRUE(FsyncPolicy::Parse("always", &p).ok());
  EXPECT_EQ(p.mode, FsyncPolicy::Mode::kAlways);
  EXPECT_EQ(p.ToString(), "always");
  ASSERT_TRUE(FsyncPolicy::Parse("never", &p).ok());
  EXPECT_EQ(p.mode, FsyncPolicy::Mode::kNever);
  EXPECT_EQ(p.ToString(), "never");
  ASSERT_TRUE(FsyncPolicy::Parse("interval=250", &p).ok());
  EXPECT_EQ(p.mode, FsyncPolicy::Mode::kInterval);
  EXPECT_EQ(p.interval_ms, 250);
  EXPECT_EQ(p.ToString(), "interval=250");
  ASSERT_TRUE(FsyncPolicy::Parse("interval=1", &p).ok());
  ASSERT_TRUE(FsyncPolicy::Parse("interval=60000", &p).ok());
  EXPECT_EQ(p.interval_ms, 60000);
  FsyncPolicy back;
  ASSERT_TRUE(FsyncPolicy::Parse(p.ToString(), &back).ok());
  EXPECT_EQ(back.mode, p.mode);
  EXPECT_EQ(back.interval_ms, p.interval_ms);
}

TEST(FsyncPolicyTest, RefusesAnythingElseNamingTheInput) {
  for (const char* bad : {"", "Always", "ALWAYS", "sometimes", "interval", "interval=",
                          "interval=0", "interval=-5", "interval=60001", "interval=5ms",
                          "interval=abc", "interval=1.5", "interval=99999999999999999999",
                          "always ", "never=1"}) {
    FsyncPolicy p;
    p.mode = FsyncPolicy::Mode::kNever;
    const Status st = FsyncPolicy::Parse(bad, &p);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << "\"" << bad << "\"";
    EXPECT_NE(st.message().find("--fsync"), std::string::npos) << st.message();
    EXPECT_EQ(p.mode, FsyncPolicy::Mode::kNever) << "untouched on error: \"" << bad << "\"";
  }
}

}  // namespace
}  // namespace billsim::log
