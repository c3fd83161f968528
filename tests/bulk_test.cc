// Bulk import and export (issue 16): the JSON-lines fast path against
// Protobuf's parser, the export's delivery bytes against ToJson, gzip and
// zstd streams, the line reader's bounds, and CSV cells.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include "bulk/chunk_reader.h"
#include "bulk/compress.h"
#include "bulk/csv_events.h"
#include "bulk/event_reader.h"
#include "bulk/exporter.h"
#include "bulk/input_stream.h"
#include "bulk/jsonl_parser.h"
#include "bulk/line_reader.h"
#include "log/batch_codec.h"
#include "log/event_stream.h"
#include "log/log_writer.h"
#include "report/format.h"
#include "test_support.h"

namespace billsim::bulk {
namespace {

using test_support::TempDir;

// The events of a builder, decoded as a reader of the log would see them.
std::vector<v1::Event> Decode(const log::BatchBuilder& builder) {
  std::string payload;
  builder.Finish(&payload);
  log::BatchDecoder decoder;
  EXPECT_TRUE(decoder.Parse(payload, builder.count()).ok());
  std::vector<v1::Event> out;
  EXPECT_TRUE(decoder.ForEachEvent([&](const v1::Event& e) {
                       out.push_back(e);
                       return Status::Ok();
                     }).ok());
  return out;
}

// A line with the padding simdjson wants, as LineReader hands it out.
struct Padded {
  explicit Padded(const std::string& line) : text(line + std::string(LineReader::kPadding, ' ')) {}
  std::string_view line() const { return std::string_view(text).substr(0, text.size() - LineReader::kPadding); }
  std::string text;
};

// Adds `line` both ways; both must agree on the verdict and the event.
// Returns whether the fast path took it.
bool ExpectSameReading(const std::string& line) {
  JsonLineParser parser;
  log::BatchBuilder builder;
  const Padded p(line);
  const Status fast = parser.Add("f.jsonl", 7, p.line(), p.text.size(), &builder);
  v1::Event general;
  const Status slow = JsonLineParser::ParseGeneral("f.jsonl", 7, line, &general);
  EXPECT_EQ(fast.ok(), slow.ok()) << line;
  if (!slow.ok()) {
    EXPECT_EQ(fast.message(), slow.message()) << line;
    EXPECT_EQ(builder.count(), 0u);
    return parser.fast_lines() > 0;
  }
  const std::vector<v1::Event> events = Decode(builder);
  EXPECT_EQ(events.size(), 1u) << line;
  if (events.size() == 1) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(events[0], general))
        << line << "\nfast:    " << events[0].ShortDebugString()
        << "\ngeneral: " << general.ShortDebugString();
  }
  return parser.fast_lines() > 0;
}

TEST(BulkJson, FastPathReadsDeliveriesAsProtobufDoes) {
  const std::vector<std::string> fast = {
      // log export's (ToJson's) form
      R"({"event_id":"12","time_us":"1767225600000000","delivery_reported":{"account_id":"a","campaign_id":"c","kind":"IMPRESSION","count":"3","platform_fault":false}})",
      // numbers, JSON names, another field order, the kind by number
      R"({"deliveryReported":{"count":7,"kind":2,"campaignId":"c","accountId":"a","platformFault":true},"timeUs":1767225600000001,"eventId":13})",
      // ISO 8601 time, UTF-8 in ids, spaces
      R"( { "event_id" : 14 , "time_us" : "2026-01-15T09:30:00.25Z" , "delivery_reported" : { "account_id" : "aébc", "campaign_id" : "k ü" , "kind" : "CONVERSION" , "count" : "0" } } )",
      // defaults: an empty delivery, no id, no time
      R"({"delivery_reported":{}})",
      // negative and large values the ledger judges, not the parser
      R"({"event_id":18446744073709551615,"time_us":-5,"delivery_reported":{"count":-9223372036854775808}})",
      R"({"event_id":1,"time_us":"2026-01-15","delivery_reported":{"kind":"KIND_UNSPECIFIED","count":"999999999999999999"}})",
  };
  for (const std::string& line : fast) EXPECT_TRUE(ExpectSameReading(line)) << line;
}

TEST(BulkJson, LinesTheFastPathLeavesGetProtobufsVerdict) {
  const std::vector<std::string> general = {
      R"({"event_id":"1","delivery_reported":{"account_id":"a","colour":"red"}})",   // unknown field
      R"({"event_id":"1","delivery_reported":{"count":"many"}})",                    // wrong type
      R"({"event_id":"1","delivery_reported":{"count":"99999999999999999999"}})",    // out of range
      R"({"event_id":"1","delivery_reported":{"count":1.5}})",                       // a fraction
      R"({"event_id":"1","delivery_reported":{"count":1e3}})",                       // exponent
      R"({"event_id":"1","delivery_reported":{"count":"007"}})",                     // leading zeros
      R"({"event_id":"1","delivery_reported":{"kind":"LIKE"}})",                     // unknown kind
      R"({"event_id":"1","delivery_reported":{"kind":"impression"}})",               // case
      R"({"event_id":"1","delivery_reported":{"kind":9}})",                          // unknown number
      R"({"event_id":"1","delivery_reported":{"account_id":null}})",                 // null
      R"({"event_id":"1","event_id":"2","delivery_reported":{}})",                   // repeated
      R"({"event_id":"1","delivery_reported":{},"clock_advanced":{}})",              // two payloads
      R"({"event_id":"-1","delivery_reported":{}})",                                 // negative id
      R"({"event_id":"1","time_us":"2026-02-30T00:00:00Z","delivery_reported":{}})", // bad date
      R"({"event_id":"1","delivery_reported":{"platform_fault":"true"}})",           // bool as text
      R"({"event_id":"1","delivery_reported":{}} trailing)",                         // trailing text
      R"({"event_id":"1","delivery_reported":{)",                                    // cut short
      R"({"event_id":"1","time_us":"1767225600000000","clock_advanced":{}})",        // another event
      "[1,2]",
      "\"text\"",
      // escapes: the general path's time scanner reads them undecoded
      R"({"time_us":"2026-01-01T00:00:00\u005a","delivery_reported":{"account_id":"a","count":1}})",
      R"({"time\u005fus":"2026-01-01T00:00:00Z","delivery_reported":{"account_id":"a","count":1}})",
      R"({"time_us":"\u0031\u0032","delivery_reported":{"account_id":"a","count":1}})",
      R"({"event_id":1,"delivery_reported":{"account_id":"a\"b\\c\u00e9"}})",
  };
  for (const std::string& line : general) EXPECT_FALSE(ExpectSameReading(line)) << line;
}

TEST(BulkJson, RandomDeliveriesAgree) {
  std::mt19937_64 rng(16);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const std::vector<std::string> ids = {"a", "acct-17", "x y", "q\\\"t", "\\u00e9t\\u00e9", "",
                                        "camp/1:2", "\\t\\n", "日本"};
  const std::vector<std::string> kinds = {"\"IMPRESSION\"", "\"CLICK\"", "\"VIDEO_VIEW_2S\"",
                                          "\"VIDEO_VIEW_6S\"", "\"CONVERSION\"", "1", "5", "0"};
  int fast = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<std::string> inner, outer;
    auto name = [&](const char* proto, const char* json) { return pick(2) ? proto : json; };
    auto num = [&](uint64_t v) {
      return pick(2) ? std::to_string(v) : "\"" + std::to_string(v) + "\"";
    };
    if (pick(5)) inner.push_back("\"" + std::string(name("account_id", "accountId")) + "\":\"" + ids[pick(ids.size())] + "\"");
    if (pick(5)) inner.push_back("\"" + std::string(name("campaign_id", "campaignId")) + "\":\"" + ids[pick(ids.size())] + "\"");
    if (pick(5)) inner.push_back("\"kind\":" + kinds[pick(kinds.size())]);
    if (pick(5)) inner.push_back("\"count\":" + num(rng() % 1000000000000ull));
    if (pick(3)) inner.push_back("\"" + std::string(name("platform_fault", "platformFault")) + "\":" + (pick(2) ? "true" : "false"));
    std::shuffle(inner.begin(), inner.end(), rng);
    std::string d = "{";
    for (size_t k = 0; k < inner.size(); ++k) d += (k ? "," : "") + inner[k];
    d += "}";
    if (pick(6)) outer.push_back("\"" + std::string(name("event_id", "eventId")) + "\":" + num(rng()));
    if (pick(6)) {
      outer.push_back("\"" + std::string(name("time_us", "timeUs")) + "\":" +
                      (pick(4) ? num(1767225600000000ull + rng() % 100000000000ull)
                               : "\"2026-0" + std::to_string(1 + pick(9)) + "-1" +
                                     std::to_string(pick(10)) + "T12:34:56Z\""));
    }
    outer.push_back("\"" + std::string(name("delivery_reported", "deliveryReported")) + "\":" + d);
    std::shuffle(outer.begin(), outer.end(), rng);
    std::string line = "{";
    for (size_t k = 0; k < outer.size(); ++k) line += (k ? "," : "") + outer[k];
    line += "}";
    // The fast path takes every line but those with an escape or an
    // integer string past 18 digits (Protobuf's alone to read).
    const bool long_string = std::regex_search(line, std::regex("\"[0-9]{19,}\""));
    const bool expect_fast = line.find('\\') == std::string::npos && !long_string;
    EXPECT_EQ(ExpectSameReading(line), expect_fast) << line;
    fast += expect_fast;
  }
  EXPECT_GT(fast, 900);  // 952 with this seed
}

// --- export ---------------------------------------------------------------------

TEST(BulkExport, DeliveryLinesAreToJsonsBytes) {
  TempDir dir;
  const std::string log_dir = dir.sub("log");
  std::vector<v1::Event> events;
  uint64_t id = 1;
  for (int c = 0x20; c <= 0x7e; ++c) {
    for (int kind = 0; kind <= v1::DeliveryReported::Kind_MAX; ++kind) {
      v1::Event e;
      e.set_event_id(id++);
      e.set_time_us(1767225600000000 + c);
      auto* d = e.mutable_delivery_reported();
      d->set_account_id("a" + std::string(1, static_cast<char>(c)) + "z");
      d->set_campaign_id(std::string(1, static_cast<char>(c)));
      d->set_kind(static_cast<v1::DeliveryReported::Kind>(kind));
      d->set_count(c * 1000 - 70000);
      d->set_platform_fault(c % 2 == 0);
      events.push_back(e);
    }
  }
  v1::Event utf8 = events[0];
  utf8.set_event_id(id++);
  utf8.mutable_delivery_reported()->set_account_id("\xc3\xa9t\xc3\xa9 \xe2\x80\xa8");
  events.push_back(utf8);
  v1::Event other;
  other.set_event_id(id++);
  other.mutable_clock_advanced();
  events.push_back(other);
  {
    std::unique_ptr<log::LogWriter> writer;
    ASSERT_TRUE(log::LogWriter::Open(log_dir, log::LogOptions{}, &writer).ok());
    log::BatchBuilder b;
    for (const v1::Event& e : events) b.Add(e);
    log::SeqRange range;
    ASSERT_TRUE(writer->Append(b, &range).ok());
    ASSERT_TRUE(writer->Close().ok());
  }
  ExportStats stats;
  const Status exported = Export(log_dir, ExportOptions{}, dir.sub("out.jsonl"), &stats);
  ASSERT_TRUE(exported.ok()) << exported.ToString();
  EXPECT_EQ(stats.written, events.size());
  std::ifstream in(dir.sub("out.jsonl"));
  std::string line;
  size_t i = 0;
  for (; std::getline(in, line); ++i) {
    ASSERT_LT(i, events.size());
    EXPECT_EQ(line, ToJson(events[i])) << "event " << i;
  }
  EXPECT_EQ(i, events.size());

  // A range, and CSV: deliveries only, the other event counted.
  ExportOptions csv;
  csv.csv = true;
  csv.from_seq = events.size() - 2;
  ASSERT_TRUE(Export(log_dir, csv, dir.sub("out.csv"), &stats).ok());
  EXPECT_EQ(stats.events, 3u);
  EXPECT_EQ(stats.written, 2u);
  EXPECT_EQ(stats.skipped, 1u);
}

// --- compressed input -----------------------------------------------------------

std::string ReadAll(const std::string& path, Status* st) {
  std::unique_ptr<InputStream> in;
  *st = InputStream::Open(path, &in);
  std::string out;
  if (!st->ok()) return out;
  char buf[1000];  // small reads: many calls per member and frame
  for (;;) {
    size_t got = 0;
    *st = in->Read(buf, sizeof buf, &got);
    if (!st->ok() || got == 0) return out;
    out.append(buf, got);
  }
}

std::string Compressed(bulk::Compression c, const std::string& data) {
  std::string out;
  const Status st = bulk::Compress(c, data, 3, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}
std::string Gzip(const std::string& data) { return Compressed(bulk::Compression::kGzip, data); }
std::string Zstd(const std::string& data) { return Compressed(bulk::Compression::kZstd, data); }

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(BulkInput, GzipMembersAndZstdFramesReadWhole) {
  TempDir dir;
  std::string a, b;
  for (int i = 0; i < 50000; ++i) a += "line " + std::to_string(i) + "\n";
  for (int i = 0; i < 3000; ++i) b += "more " + std::to_string(i * 7) + "\n";
  Status st;
  Write(dir.sub("two.gz"), Gzip(a) + Gzip(b));  // `cat a.gz b.gz`
  EXPECT_EQ(ReadAll(dir.sub("two.gz"), &st), a + b);
  EXPECT_TRUE(st.ok()) << st.ToString();
  Write(dir.sub("two.zst"), Zstd(a) + Zstd(b));
  EXPECT_EQ(ReadAll(dir.sub("two.zst"), &st), a + b);
  EXPECT_TRUE(st.ok()) << st.ToString();
  Write(dir.sub("plain"), a);
  EXPECT_EQ(ReadAll(dir.sub("plain"), &st), a);
  EXPECT_TRUE(st.ok());
  Write(dir.sub("empty"), "");
  EXPECT_EQ(ReadAll(dir.sub("empty"), &st), "");
  EXPECT_TRUE(st.ok());
  Write(dir.sub("x"), "x");  // shorter than any magic
  EXPECT_EQ(ReadAll(dir.sub("x"), &st), "x");
  EXPECT_TRUE(st.ok());
}

TEST(BulkInput, CutOrDamagedStreamsAreErrorsNamingTheInput) {
  TempDir dir;
  std::string a;
  for (int i = 0; i < 20000; ++i) a += "line " + std::to_string(i) + "\n";
  Status st;
  const std::string gz = Gzip(a), zs = Zstd(a);
  Write(dir.sub("cut.gz"), gz.substr(0, gz.size() / 2));
  ReadAll(dir.sub("cut.gz"), &st);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("cut.gz: gzip stream ends inside a member"), std::string::npos)
      << st.message();
  Write(dir.sub("cut.zst"), zs.substr(0, zs.size() / 2));
  ReadAll(dir.sub("cut.zst"), &st);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("cut.zst: zstd stream ends inside a frame"), std::string::npos)
      << st.message();
  std::string bad = gz;
  bad[bad.size() / 2] ^= 0x55;
  bad[bad.size() / 2 + 1] ^= 0x55;
  Write(dir.sub("bad.gz"), bad);
  ReadAll(dir.sub("bad.gz"), &st);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad.gz"), std::string::npos) << st.message();
  ReadAll(dir.sub("missing"), &st);
  EXPECT_EQ(st.code(), Status::Code::kIOError);
}

// --- lines ----------------------------------------------------------------------

TEST(BulkLines, LinesAcrossRefillsCrlfAndNoFinalNewline) {
  TempDir dir;
  std::vector<std::string> lines;
  std::string text;
  std::mt19937 rng(3);
  size_t total = 0;
  for (int i = 0; total < (size_t{10} << 20); ++i) {  // > twice the buffer
    std::string l(rng() % 3000, static_cast<char>('a' + i % 26));
    total += l.size() + 1;
    text += l + (i % 3 == 0 ? "\r\n" : "\n");
    lines.push_back(l);
  }
  lines.push_back("last");
  text += "last";
  Write(dir.sub("f"), text);
  std::unique_ptr<InputStream> in;
  ASSERT_TRUE(InputStream::Open(dir.sub("f"), &in).ok());
  LineReader reader(std::move(in));
  for (size_t i = 0;; ++i) {
    std::string_view line;
    uint64_t number;
    bool done;
    ASSERT_TRUE(reader.Next(&line, &number, &done).ok());
    if (done) {
      EXPECT_EQ(i, lines.size());
      break;
    }
    ASSERT_LT(i, lines.size());
    ASSERT_EQ(line, lines[i]) << "line " << i + 1;
    EXPECT_EQ(number, i + 1);
    EXPECT_GE(reader.Readable(line), line.size() + LineReader::kPadding);
  }
}

TEST(BulkLines, ALineOverTheBoundIsAnErrorNamingIt) {
  TempDir dir;
  Write(dir.sub("f"), "ok\n" + std::string(kMaxLineBytes + 1, 'x') + "\nafter\n");
  std::unique_ptr<InputStream> in;
  ASSERT_TRUE(InputStream::Open(dir.sub("f"), &in).ok());
  LineReader reader(std::move(in));
  std::string_view line;
  uint64_t number;
  bool done;
  ASSERT_TRUE(reader.Next(&line, &number, &done).ok());
  EXPECT_EQ(line, "ok");
  const Status st = reader.Next(&line, &number, &done);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find(dir.sub("f") + ":2: line is longer than"), std::string::npos)
      << st.message();
}

// --- CSV ------------------------------------------------------------------------

TEST(BulkCsv, CellsQuotedOrNotAndErrorsNamingLineAndColumn) {
  CsvDeliveryParser csv(0);
  log::BatchBuilder b;
  ASSERT_TRUE(csv.Add("d.csv", 1, "x,kind,count,time,campaign_id,account_id,event_id,platform_fault", &b).ok());
  ASSERT_TRUE(csv.Add("d.csv", 2, "extra,CLICK,2,2026-01-15T09:00:00Z,k1,a1,10,true", &b).ok());
  ASSERT_TRUE(csv.Add("d.csv", 3, R"("q,""x""",1,3,1768467600000001,"k,2","a""1",11,)", &b).ok());
  ASSERT_TRUE(csv.Add("d.csv", 4, "", &b).ok());  // blank: skipped
  const std::vector<v1::Event> events = Decode(b);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id(), 10u);
  EXPECT_EQ(events[0].time_us(), 1768467600000000);
  EXPECT_EQ(events[0].delivery_reported().kind(), v1::DeliveryReported::CLICK);
  EXPECT_TRUE(events[0].delivery_reported().platform_fault());
  EXPECT_EQ(events[1].delivery_reported().campaign_id(), "k,2");
  EXPECT_EQ(events[1].delivery_reported().account_id(), "a\"1");
  EXPECT_EQ(events[1].delivery_reported().kind(), v1::DeliveryReported::IMPRESSION);
  EXPECT_FALSE(events[1].delivery_reported().platform_fault());

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"z,CLICK,x,1,k,a,12,false", "d.csv:5: column count: not an integer: \"x\""},
      {"z,CLICK,99999999999999999999,1,k,a,12,false", "d.csv:5: column count"},
      {"z,LIKE,1,1,k,a,12,false", "d.csv:5: column kind: not a delivery kind: \"LIKE\""},
      {"z,9,1,1,k,a,12,false", "d.csv:5: column kind"},
      {"z,CLICK,1,soon,k,a,12,false", "d.csv:5: column time"},
      {"z,CLICK,1,1,k,a,-3,false", "d.csv:5: column event_id"},
      {"z,CLICK,1,1,k,a,12,maybe", "d.csv:5: column platform_fault"},
      {"z,CLICK,1,1,k,a\xff,12,false", "d.csv:5: column account_id: not UTF-8"},
      {"z,CLICK,1", "d.csv:5: 3 cells, the header needs 8"},
      {"\"z,CLICK,1,1,k,a,12,false", "d.csv:5: malformed CSV"},
  };
  for (const auto& [line, want] : bad) {
    const uint32_t before = b.count();
    const Status st = csv.Add("d.csv", 5, line, &b);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << line;
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
    EXPECT_EQ(b.count(), before);
  }
}

TEST(BulkCsv, HeaderMustNameTheColumns) {
  log::BatchBuilder b;
  CsvDeliveryParser missing(0);
  Status st = missing.Add("d.csv", 1, "account_id,campaign_id,kind,time,event_id", &b);
  EXPECT_NE(st.message().find("d.csv:1: header has no count column"), std::string::npos)
      << st.message();
  CsvDeliveryParser twice(0);
  st = twice.Add("d.csv", 1, "account_id,campaign_id,kind,count,time,count", &b);
  EXPECT_NE(st.message().find("names column count twice"), std::string::npos) << st.message();
  CsvDeliveryParser numbered(41);
  ASSERT_TRUE(numbered.Add("d.csv", 1, "account_id,campaign_id,kind,count,time", &b).ok());
  ASSERT_TRUE(numbered.Add("d.csv", 2, "a,k,CLICK,1,5", &b).ok());
  ASSERT_TRUE(numbered.Add("d.csv", 3, "a,k,CLICK,1,6", &b).ok());
  const std::vector<v1::Event> events = Decode(b);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id(), 41u);
  EXPECT_EQ(events[1].event_id(), 42u);
}

// --- chunks read ahead ------------------------------------------------------------

std::string DeliveryLines(int first, int n) {
  std::string text;
  for (int i = first; i < first + n; ++i) {
    text += R"({"event_id":)" + std::to_string(i) +
            R"(,"time_us":1767225600000000,"delivery_reported":{"account_id":"a","campaign_id":"c)" +
            std::to_string(i % 7) + R"(","kind":"CLICK","count":1}})" + "\n";
  }
  return text;
}

TEST(BulkChunks, InOrderThenTheErrorAfterTheChunksBeforeIt) {
  TempDir dir;
  Write(dir.sub("a.jsonl"), DeliveryLines(1, 2500) + "{\"nope\":1}\n" + DeliveryLines(9000, 10));
  std::unique_ptr<EventReader> reader;
  ASSERT_TRUE(EventReader::Open(dir.sub("a.jsonl"), ReaderOptions{}, &reader).ok());
  ChunkReader chunks(std::move(reader), 300, 2);
  ChunkReader::Chunk chunk;
  uint64_t next_id = 1;
  Status st;
  for (bool done = false;;) {
    st = chunks.Next(&chunk, &done);
    if (!st.ok() || done) break;
    EXPECT_LE(chunk.count, 300u);
    log::BatchDecoder d;
    ASSERT_TRUE(d.Parse(chunk.payload, chunk.count).ok());
    ASSERT_TRUE(d.ForEachEvent([&](const v1::Event& e) {
                  EXPECT_EQ(e.event_id(), next_id++);
                  return Status::Ok();
                }).ok());
  }
  // The 8 whole chunks before line 2501's (2400 events), then its error.
  EXPECT_EQ(next_id, 2401u);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("a.jsonl:2501"), std::string::npos) << st.message();
}

TEST(BulkChunks, DroppedEarlyStopsTheThread) {
  TempDir dir;
  Write(dir.sub("b.jsonl"), DeliveryLines(1, 20000));
  for (int taken = 0; taken < 3; ++taken) {
    std::unique_ptr<EventReader> reader;
    ASSERT_TRUE(EventReader::Open(dir.sub("b.jsonl"), ReaderOptions{}, &reader).ok());
    ChunkReader chunks(std::move(reader), 100, 2);
    ChunkReader::Chunk chunk;
    bool done = false;
    for (int i = 0; i < taken; ++i) ASSERT_TRUE(chunks.Next(&chunk, &done).ok());
  }  // each destructor returns while the thread waits for room
}

// A pipe whose writer has gone quiet (a producer that stalls, `tail -f`):
// dropping the reader, as `log append` and `client` do when they stop on
// an error, must not wait for more input. The thread is in read() then;
// the destructor used to join it and hang until the writer wrote a whole
// chunk more or closed the pipe.
TEST(BulkChunks, DroppedWhileThePipeIsSilentReturns) {
  for (const bool compressed : {false, true}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::string first = DeliveryLines(1, 10);
    if (compressed) {
      std::string packed;
      ASSERT_TRUE(Compress(Compression::kZstd, first, 3, &packed).ok());
      first = packed;
    }
    ASSERT_EQ(::write(fds[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
    std::unique_ptr<EventReader> reader;
    // Open reads the magic from the pipe; the writer stays open and silent.
    ReaderOptions options;
    options.format = Format::kJsonLines;
    ASSERT_TRUE(EventReader::Open("/dev/fd/" + std::to_string(fds[0]), options, &reader).ok());
    auto chunks = std::make_unique<ChunkReader>(std::move(reader), 1000, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // into read()
    auto dropped = std::async(std::launch::async, [&] { chunks.reset(); });
    const bool returned =
        dropped.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    ::close(fds[1]);  // lets a hung destructor end, so the test can fail
    dropped.wait();
    ::close(fds[0]);
    EXPECT_TRUE(returned) << (compressed ? "zstd" : "plain")
                          << ": the destructor waited for the silent pipe";
  }
}

}  // namespace
}  // namespace billsim::bulk
