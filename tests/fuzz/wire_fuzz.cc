// Fuzz target: the bytes a client sends the server, decoded as the server
// decodes them (src/server/server.cc, Session::ProcessFrames and
// ParseAppend).
//
// The input is a byte stream from a client. The first byte picks how it is
// cut into reads (1 byte at a time, small pieces, or whole) and the frame
// maximum (tiny, or the default 16 MiB). FrameDecoder turns the reads into
// frames; every frame body goes through Request parsing; an AppendRequest
// with a columnar batch goes through BatchDecoder::Parse with its
// batch_events, and a batch that parses is visited row by row, each
// delivery also rebuilt as an Event (ToEvent), as the server's slow path
// does. The whole input is also decoded directly as a batch payload.
//
// Besides ASan/UBSan's checks, the target aborts when a contract of the
// decoders fails: a frame's body is exactly the length its header says and
// lies inside what was fed; the decoder hands out every byte fed, in order,
// or fails for good at a length above the maximum; errors are values with a
// message; a parsed batch visits exactly batch_events events, each delivery
// naming a dictionary entry.
//
// Built as a libFuzzer binary (BILLSIM_FUZZ=ON) and, always, linked with
// fuzz_smoke_main.cc into wire_fuzz_smoke (ctest fuzz.wire.smoke).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "billsim/v1/log.pb.h"
#include "billsim/v1/wire.pb.h"
#include "log/batch_codec.h"
#include "log/format.h"
#include "net/frame.h"

namespace {

using namespace billsim;

#define WIRE_CHECK(cond, ...)                                               \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "wire_fuzz: contract failed: %s: ", #cond);      \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

volatile uint64_t g_sink = 0;

class TouchAll : public log::BatchVisitor {
 public:
  explicit TouchAll(const log::BatchDecoder* d) : d_(d) {}
  bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
    WIRE_CHECK(position == next_, "delivery at %u, expected %u", position, next_);
    next_++;
    WIRE_CHECK(row.campaign < d_->dictionary_size(), "campaign %u of %u", row.campaign,
               d_->dictionary_size());
    const v1::Event e = d_->ToEvent(row);
    sum_ += e.ByteSizeLong() + row.event_id + static_cast<uint64_t>(row.time_us) +
            static_cast<uint64_t>(row.count) + d_->account(row.campaign).size();
    return true;
  }
  bool OnEvent(uint32_t position, const v1::Event& event) override {
    WIRE_CHECK(position == next_, "event at %u, expected %u", position, next_);
    next_++;
    sum_ += event.ByteSizeLong();
    return true;
  }
  uint32_t visited() const { return next_; }
  uint64_t sum() const { return sum_; }

 private:
  const log::BatchDecoder* d_;
  uint32_t next_ = 0;
  uint64_t sum_ = 0;
};

// A columnar batch, as the server's ParseAppend decodes it.
void DecodeBatch(std::string_view payload, uint64_t events) {
  // The server refuses more than max_events_per_request before decoding
  // (at most kMaxBatchEvents); so does this.
  if (events > log::kMaxBatchEvents) return;
  log::BatchDecoder decoder;
  const Status st = decoder.Parse(payload, static_cast<uint32_t>(events));
  if (!st.ok()) {
    WIRE_CHECK(!st.message().empty(), "a batch refused without a reason");
    return;
  }
  TouchAll touch(&decoder);
  decoder.Visit(&touch);
  WIRE_CHECK(touch.visited() == events, "visited %u of %llu events", touch.visited(),
             static_cast<unsigned long long>(events));
  g_sink = g_sink + touch.sum();
}

void HandleFrame(std::string_view body) {
  v1::Request request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
  if (!request.has_append()) {
    g_sink = g_sink + request.ByteSizeLong();
    return;
  }
  const v1::AppendRequest& append = request.append();
  g_sink = g_sink + static_cast<uint64_t>(append.events_size());
  if (!append.batch().empty() || append.batch_events() > 0) {
    DecodeBatch(append.batch(), append.batch_events());
  }
}

void RunOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const uint8_t mode = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const uint32_t max_frame = (mode & 0x80) ? 64 : net::kDefaultMaxFrameBytes;
  net::FrameDecoder decoder(max_frame);
  size_t fed = 0;       // bytes fed so far
  size_t consumed = 0;  // bytes handed out as frames (headers included)
  bool failed = false;
  while (fed < stream.size() && !failed) {
    size_t piece = stream.size() - fed;
    if ((mode & 3) == 1) piece = 1;
    if ((mode & 3) == 2) piece = std::min<size_t>(piece, 1 + (fed * 7 + mode) % 13);
    decoder.Feed(stream.substr(fed, piece));
    fed += piece;
    for (;;) {
      std::string_view body;
      Status error;
      const auto result = decoder.Next(&body, &error);
      if (result == net::FrameDecoder::Result::kNeedMore) break;
      if (result == net::FrameDecoder::Result::kError) {
        WIRE_CHECK(!error.ok() && !error.message().empty(), "an error without a message");
        WIRE_CHECK(decoder.failed(), "an error, but the decoder is not failed");
        WIRE_CHECK(fed - consumed >= net::kFrameHeaderBytes, "an error before a header");
        const uint32_t length = net::GetFrameHeader(stream.data() + consumed);
        WIRE_CHECK(length > max_frame, "refused a frame of %u bytes (maximum %u)", length,
                   max_frame);
        std::string_view again;
        WIRE_CHECK(decoder.Next(&again) == net::FrameDecoder::Result::kError,
                   "a failed decoder recovered");
        failed = true;
        break;
      }
      const uint32_t length = net::GetFrameHeader(stream.data() + consumed);
      WIRE_CHECK(body.size() == length && length <= max_frame, "a body of %zu bytes, header %u",
                 body.size(), length);
      WIRE_CHECK(body == stream.substr(consumed + net::kFrameHeaderBytes, length),
                 "the body at %zu is not the bytes fed", consumed);
      consumed += net::kFrameHeaderBytes + length;
      HandleFrame(body);
    }
    if (!failed) {
      WIRE_CHECK(decoder.buffered() == fed - consumed, "%zu bytes buffered, expected %zu",
                 decoder.buffered(), fed - consumed);
      WIRE_CHECK(decoder.buffered() < net::kFrameHeaderBytes ||
                     net::GetFrameHeader(stream.data() + consumed) + net::kFrameHeaderBytes >
                         decoder.buffered(),
                 "a whole frame left buffered");
    }
  }
  // The stream itself as a batch payload, with the count its first bytes say.
  if (stream.size() >= 2) {
    const uint64_t events = (static_cast<uint64_t>(data[1]) << 8 | data[2 % size]) % 600;
    DecodeBatch(stream.substr(2), events);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);  // malformed strings are expected
    return true;
  }();
  (void)quiet;
  RunOne(data, size);
  return 0;
}

// --- Seeds for fuzz_mutation_main.cc -----------------------------------------

extern const char kBillsimFuzzName[] = "wire_fuzz";

namespace {

billsim::v1::Event SeedEvent(uint64_t id, int64_t t) {
  billsim::v1::Event e;
  e.set_event_id(id);
  e.set_time_us(t);
  auto* m = e.mutable_credit_granted();
  m->set_account_id("a1");
  m->set_grant_id("g" + std::to_string(id));
  m->set_amount_micros(5'000'000);
  m->set_expires_at_us(t + 86'400'000'000);
  m->add_campaign_ids("c1");
  return e;
}

// Frames of what clients send: appends of events and of columnar batches
// (deliveries of a few campaigns, other events among them), queries, pings.
std::string SeedStream(int variant) {
  using namespace billsim;
  std::string out;
  const int64_t t = 1'767'225'600'000'000;
  for (int r = 0; r < 1 + variant % 3; ++r) {
    v1::Request request;
    request.set_request_id(static_cast<uint64_t>(variant * 10 + r + 1));
    switch ((variant + r) % 4) {
      case 0: {
        auto* append = request.mutable_append();
        for (int i = 0; i < 3; ++i) *append->add_events() = SeedEvent(100 + i, t + i);
        break;
      }
      case 1:
      case 2: {
        log::BatchBuilder builder;
        const int rows = 5 + variant * 7;
        for (int i = 0; i < rows; ++i) {
          if (i % 6 == 5) {
            builder.Add(SeedEvent(1000 + i, t + i * 1000));
          } else {
            builder.AddDelivery(1000 + i, t + i * 1000, "a" + std::to_string(i % 2),
                                "c" + std::to_string(i % 3),
                                static_cast<v1::DeliveryReported::Kind>(1 + i % 5), 1 + i,
                                i % 7 == 0);
          }
        }
        std::string payload;
        builder.Finish(&payload);
        request.mutable_append()->set_batch(payload);
        request.mutable_append()->set_batch_events(builder.count());
        break;
      }
      default:
        if (r % 2) {
          request.mutable_ping();
        } else {
          request.mutable_balance()->set_account_id("a1");
        }
    }
    (void)net::AppendFrame(request, &out);
  }
  return out;
}

}  // namespace

void BillsimFuzzSeeds(std::vector<std::string>* seeds) {
  for (int variant = 0; variant < 8; ++variant) {
    // Mode byte: whole reads, single bytes, small pieces; the small maximum.
    static constexpr char kModes[] = {0, 1, 2, static_cast<char>(0x80)};
    seeds->push_back(std::string(1, kModes[variant % 4]) + SeedStream(variant));
  }
}
