// Fuzz target for the bulk import parsers (issue 16): the input is a file
// of JSON lines and, again, of CSV deliveries, read through LineReader
// (also gzip and zstd compressed, when its first byte says so) into
// columnar batches. Besides ASan/UBSan's checks, it aborts when
//   - a line the JSON fast path reads gives another verdict or another
//     event than Protobuf's parser (the general path) gives;
//   - a batch the parsers built does not decode as the events added;
//   - an error does not name the input and the line.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include "bulk/compress.h"
#include "bulk/csv_events.h"
#include "bulk/input_stream.h"
#include "bulk/jsonl_parser.h"
#include "bulk/line_reader.h"
#include "log/batch_codec.h"

namespace {

using namespace billsim;

#define BULK_CHECK(cond, what)                                          \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "bulk_fuzz: check failed: %s (%s)\n", what, #cond); \
      std::abort();                                                     \
    }                                                                   \
  } while (0)

// The batch decodes, holding `count` events.
void CheckDecodes(const log::BatchBuilder& b) {
  std::string payload;
  b.Finish(&payload);
  log::BatchDecoder d;
  BULK_CHECK(d.Parse(payload, b.count()).ok(), "a built batch decodes");
}

void RunLines(const std::string& path, bool csv, uint64_t first_id) {
  std::unique_ptr<bulk::InputStream> in;
  if (!bulk::InputStream::Open(path, &in).ok()) return;
  bulk::LineReader lines(std::move(in));
  bulk::JsonLineParser json;
  bulk::CsvDeliveryParser csv_parser(first_id);
  log::BatchBuilder batch;
  for (int n = 0; n < 2000; ++n) {
    std::string_view line;
    uint64_t number;
    bool done;
    const Status st = lines.Next(&line, &number, &done);
    if (!st.ok()) {
      BULK_CHECK(st.message().find(path) == 0, "a read error names the input");
      break;
    }
    if (done) break;
    BULK_CHECK(lines.Readable(line) >= line.size() + bulk::LineReader::kPadding, "padding");
    const uint32_t before = batch.count();
    if (csv) {
      const Status s = csv_parser.Add(path, number, line, &batch);
      if (!s.ok()) {
        BULK_CHECK(s.message().find(path + ":" + std::to_string(number) + ":") == 0,
                   "a CSV error names input and line");
        BULK_CHECK(batch.count() == before, "a refused CSV line adds nothing");
      }
      continue;
    }
    const uint64_t fast_before = json.fast_lines();
    const Status s = json.Add(path, number, line, lines.Readable(line), &batch);
    v1::Event general;
    const Status g = bulk::JsonLineParser::ParseGeneral(path, number, line, &general);
    BULK_CHECK(s.ok() == g.ok(), "both paths give the same verdict");
    if (!s.ok()) {
      BULK_CHECK(batch.count() == before, "a refused line adds nothing");
      BULK_CHECK(s.message() == g.message(), "the same error");
      continue;
    }
    BULK_CHECK(batch.count() == before + 1, "an accepted line adds one event");
    if (json.fast_lines() > fast_before) {
      // The fast path read it: the general path's event must be the same.
      log::BatchBuilder one;
      one.Add(general);
      std::string a, b;
      one.Finish(&a);
      log::BatchBuilder mine;
      bulk::JsonLineParser again;
      BULK_CHECK(again.Add(path, number, line, lines.Readable(line), &mine).ok(), "again");
      mine.Finish(&b);
      BULK_CHECK(a == b, "the fast path's event is Protobuf's");
    }
  }
  CheckDecodes(batch);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp ? tmp : "/tmp") + "/bulk_fuzz_input." + std::to_string(::getpid());
  }();
  // The first byte picks: 0 JSON lines, 1 CSV, 2 gzip of the rest as JSON
  // lines, 3 zstd of the rest as CSV; the rest is the file.
  const int mode = size > 0 ? data[0] % 4 : 0;
  std::string body(reinterpret_cast<const char*>(data) + (size > 0), size - (size > 0));
  if (mode == 2 || mode == 3) {
    std::string out;
    (void)bulk::Compress(mode == 2 ? bulk::Compression::kGzip : bulk::Compression::kZstd, body,
                         1, &out);
    body = out;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << body;
  RunLines(path, mode == 1 || mode == 3, (size > 1 ? data[1] : 0) % 3);
  // The input after its first byte as it is: mutations of the compressed
  // seeds below are damaged or cut streams.
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      << std::string(reinterpret_cast<const char*>(data) + (size > 0), size - (size > 0));
  RunLines(path, false, 0);
  std::remove(path.c_str());
  return 0;
}

// --- Seeds for fuzz_mutation_main.cc -----------------------------------------

extern const char kBillsimFuzzName[] = "bulk_fuzz";

void BillsimFuzzSeeds(std::vector<std::string>* seeds) {
  const std::string json =
      R"({"event_id":"12","time_us":"1767225600000000","delivery_reported":{"account_id":"a","campaign_id":"c","kind":"IMPRESSION","count":"3","platform_fault":false}})"
      "\n"
      R"({"deliveryReported":{"count":7,"kind":2,"campaignId":"c","accountId":"a"},"timeUs":1,"eventId":13})"
      "\r\n"
      R"({"event_id":14,"time_us":"2026-01-15T09:30:00Z","delivery_reported":{"account_id":"a\u00e9","kind":"CONVERSION","count":"0"}})"
      "\n\n"
      R"({"event_id":"1","time_us":"1767225600000000","account_opened":{"account_id":"acct-0","currency":"EUR"}})"
      "\n"
      R"({"event_id":"2","delivery_reported":{"count":-5,"kind":9}})";
  const std::string csv =
      "event_id,account_id,campaign_id,kind,count,time,platform_fault\n"
      "1,a,c,IMPRESSION,3,1767225600000000,false\n"
      "2,\"a,b\",c,2,4,2026-01-15T09:30:00Z,1\n"
      "3,a,c,CLICK,-1,5,\n";
  seeds->push_back(std::string(1, '\0') + json);
  seeds->push_back(std::string(1, '\1') + csv);
  seeds->push_back(std::string(1, '\2') + json);
  seeds->push_back(std::string(1, '\3') + csv);
  seeds->push_back(std::string(1, '\1') + "account_id,campaign_id,kind,count,time\na,c,CLICK,1,5\n");
  // Compressed streams as they are (mode 0 reads the compression itself),
  // so that mutations damage and cut them.
  for (bulk::Compression c : {bulk::Compression::kGzip, bulk::Compression::kZstd}) {
    std::string out;
    (void)bulk::Compress(c, json, 6, &out);
    seeds->push_back(std::string(1, '\0') + out);
  }
}
