// Fuzz target: the input is the bytes of one segment file.
//
// For each input the bytes are written to a temporary segment file and read
// back three ways:
//   1. SegmentReader with payload checksums (and the chain when the segment
//      starts at sequence 1), expecting the first batch's own sequence;
//   2. SegmentReader without payload checksums, so damaged payloads reach
//      BatchDecoder;
//   3. as a log directory of one segment: RecoverLog (no repair) and
//      LogReader, which must agree on where the log ends and why.
// Every batch read is decoded (Parse, then Visit touching every field), and
// the whole input is also decoded directly as a batch payload.
//
// Besides ASan/UBSan's checks, the target aborts when an invariant fails:
// batches lie back to back inside the file with dense sequences; a reader
// ends only at the file's end; a whole damaged header is called the tail
// exactly when only zero bytes follow (issue #9: anything else was written
// whole, so it is damage); a complete batch whose payload checksum fails is
// damage, never the tail; recovery and the reader agree.
//
// Built as a libFuzzer binary (BILLSIM_FUZZ=ON) and, always, linked with
// fuzz_smoke_main.cc into batch_reader_fuzz_smoke.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "billsim/v1/log.pb.h"
#include "log/batch_codec.h"
#include "log/format.h"
#include "log/log_reader.h"
#include "log/log_writer.h"
#include "log/segment_reader.h"

namespace {

using namespace billsim;
using namespace billsim::log;

#define FUZZ_CHECK(cond, ...)                                               \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "batch_reader_fuzz: invariant failed: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// Touches every field of every event so that a bad index or length shows.
class TouchAll : public BatchVisitor {
 public:
  explicit TouchAll(const BatchDecoder* d) : d_(d) {}
  bool OnDelivery(uint32_t position, const DeliveryRow& row) override {
    FUZZ_CHECK(position == next_, "delivery at position %u, expected %u", position, next_);
    next_++;
    sum_ += row.event_id + static_cast<uint64_t>(row.time_us) + row.campaign +
            static_cast<uint64_t>(row.kind) + static_cast<uint64_t>(row.count) +
            row.platform_fault;
    FUZZ_CHECK(row.campaign < d_->dictionary_size(), "campaign %u", row.campaign);
    FUZZ_CHECK(row.count >= 0, "count %lld", static_cast<long long>(row.count));
    const v1::Event e = d_->ToEvent(row);
    sum_ += e.ByteSizeLong() + e.delivery_reported().account_id().size() +
            e.delivery_reported().campaign_id().size();
    return true;
  }
  bool OnEvent(uint32_t position, const v1::Event& event) override {
    FUZZ_CHECK(position == next_, "event at position %u, expected %u", position, next_);
    next_++;
    sum_ += event.event_id() + static_cast<uint64_t>(event.time_us()) + event.ByteSizeLong() +
            static_cast<uint64_t>(event.payload_case());
    return true;
  }
  uint32_t visited() const { return next_; }
  uint64_t sum() const { return sum_; }

 private:
  const BatchDecoder* d_;
  uint32_t next_ = 0;
  uint64_t sum_ = 0;
};

volatile uint64_t g_sink = 0;

struct Result {
  uint64_t batches = 0;   // pass 1
  uint64_t decoded = 0;   // pass 1 batches whose payload decoded
  int clean_end = 0;      // pass 1 ended at the end of the file
};
Result g_last;

// Decodes a payload that claims `count` events; returns whether it parsed.
bool Decode(BatchDecoder* decoder, std::string_view payload, uint32_t count) {
  if (!decoder->Parse(payload, count).ok()) return false;
  TouchAll touch(decoder);
  decoder->Visit(&touch);
  FUZZ_CHECK(touch.visited() == count, "visited %u of %u events", touch.visited(), count);
  g_sink = g_sink + touch.sum();
  return true;
}

// Are the bytes from `from` to the end all zero (allocated, never written)?
bool ZerosFrom(const uint8_t* data, size_t size, uint64_t from) {
  for (uint64_t p = from; p < size; ++p) {
    if (data[p] != 0) return false;
  }
  return true;
}

// Reads the segment at `path` (the bytes `data`) with one set of options.
Result ReadSegment(SegmentReader& reader, const std::string& path, const uint8_t* data,
                   size_t size, uint64_t expected_seq, SegmentReader::Options options) {
  Result result;
  const Status st = reader.Open(path, 0, expected_seq, Chain{}, options);
  FUZZ_CHECK(st.ok(), "open %s: %s", path.c_str(), st.ToString().c_str());
  FUZZ_CHECK(reader.file_size() == size, "file size %llu, wrote %zu",
             static_cast<unsigned long long>(reader.file_size()), size);
  BatchDecoder decoder;
  uint64_t offset = 0;
  uint64_t seq = expected_seq;
  for (;;) {
    BatchView batch;
    const SegmentReader::Next next = reader.Read(&batch);
    if (next == SegmentReader::Next::kBatch) {
      FUZZ_CHECK(batch.offset == offset, "batch at %llu, previous ended at %llu",
                 static_cast<unsigned long long>(batch.offset),
                 static_cast<unsigned long long>(offset));
      FUZZ_CHECK(batch.header.first_seq == seq, "batch for sequence %llu, expected %llu",
                 static_cast<unsigned long long>(batch.header.first_seq),
                 static_cast<unsigned long long>(seq));
      FUZZ_CHECK(batch.payload.size() == batch.header.payload_len, "payload size");
      const uint64_t end = offset + kHeaderSize + batch.payload.size();
      FUZZ_CHECK(end <= size && reader.offset() == end, "batch ends at %llu of %zu",
                 static_cast<unsigned long long>(end), size);
      FUZZ_CHECK(std::memcmp(batch.payload.data(), data + offset + kHeaderSize,
                             batch.payload.size()) == 0,
                 "payload differs from the file's bytes");
      if (options.verify_payload) {
        FUZZ_CHECK(PayloadChecksum(batch.payload) == batch.header.payload_xxh3,
                   "payload checksum not checked");
      }
      result.batches++;
      if (Decode(&decoder, batch.payload, batch.header.count)) result.decoded++;
      offset = end;
      seq = batch.header.last_seq() + 1;
      FUZZ_CHECK(reader.expected_seq() == seq, "expected_seq after a batch");
      continue;
    }
    if (next == SegmentReader::Next::kEnd) {
      FUZZ_CHECK(offset == size, "end at %llu of %zu", static_cast<unsigned long long>(offset),
                 size);
      result.clean_end = 1;
      break;
    }
    // A fault, at the batch after the last one returned.
    FUZZ_CHECK(reader.fault_offset() == offset, "fault at %llu, expected %llu",
               static_cast<unsigned long long>(reader.fault_offset()),
               static_cast<unsigned long long>(offset));
    FUZZ_CHECK(!reader.fault().empty(), "a fault without a reason");
    FUZZ_CHECK(offset < size, "fault at the end of the file");
    BatchHeader h;
    if (size - offset >= kHeaderSize && !DecodeHeader(data + offset, &h).ok()) {
      // A whole damaged header: the tail exactly when only zeros follow.
      const bool zeros = ZerosFrom(data, size, offset);
      FUZZ_CHECK(zeros == (next == SegmentReader::Next::kTail),
                 "damaged header at %llu classified %s, but the rest %s zeros",
                 static_cast<unsigned long long>(offset),
                 next == SegmentReader::Next::kCorrupt ? "corrupt" : "tail",
                 zeros ? "is all" : "is not all");
    } else if (size - offset >= kHeaderSize && h.first_seq == seq &&
               offset + kHeaderSize + h.payload_len <= size) {
      // A complete batch that failed (its payload or chain): damage.
      FUZZ_CHECK(next == SegmentReader::Next::kCorrupt,
                 "a complete batch at %llu classified as the tail",
                 static_cast<unsigned long long>(offset));
    }
    if (size - offset < kHeaderSize) {
      FUZZ_CHECK(next == SegmentReader::Next::kTail, "a short header must be the tail");
    }
    break;
  }
  return result;
}

class Scratch {
 public:
  Scratch() {
    // Damaged strings are expected here: no protobuf error per input.
    google::protobuf::SetLogHandler(nullptr);
    // On tmpfs where there is one: an input is a file write, not a disk's.
    std::error_code ec;
    const std::filesystem::path root =
        std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
            ? std::filesystem::path("/dev/shm")
            : std::filesystem::temp_directory_path();
    std::string t = (root / "billsim-fuzz-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    dir_ = t;
    path_ = SegmentPath(dir_, 1);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Write(const uint8_t* data, size_t size) {
    // A new file each time (ext4 flushes a file truncated and rewritten).
    ::unlink(path_.c_str());
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0, "open %s", path_.c_str());
    size_t done = 0;
    while (done < size) {
      const ssize_t w = ::write(fd, data + done, size - done);
      FUZZ_CHECK(w > 0, "write %s", path_.c_str());
      done += static_cast<size_t>(w);
    }
    ::close(fd);
  }
  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

Scratch& GetScratch() {
  static Scratch scratch;  // removed at exit
  return scratch;
}

void DecodeWhole(const uint8_t* data, size_t size);

void RunOne(const uint8_t* data, size_t size) {
  Scratch& scratch = GetScratch();
  scratch.Write(data, size);

  // 1 and 2: the segment on its own.
  uint64_t first_seq = 1;
  if (size >= 16 && Get64(data + 8) != 0) first_seq = Get64(data + 8);
  SegmentReader::Options checked;
  checked.verify_payload = true;
  checked.verify_chain = first_seq == 1;
  // The readers live across inputs, as LogReader's does across segments:
  // reopening must forget the previous file (and saves a 4 MiB buffer per
  // input). Their checks against the input's bytes catch a stale buffer.
  static SegmentReader checked_reader, unchecked_reader;
  static LogReader reader;
  g_last = ReadSegment(checked_reader, scratch.path(), data, size, first_seq, checked);
  SegmentReader::Options unchecked;
  unchecked.verify_payload = false;
  const Result raw =
      ReadSegment(unchecked_reader, scratch.path(), data, size, first_seq, unchecked);
  FUZZ_CHECK(raw.batches >= g_last.batches, "fewer batches without payload checks");

  // 3: a log of that one segment, named for sequence 1. RecoverLog opens a
  // fresh reader, whose 4 MiB buffer costs most of an input's time under
  // ASan: the libFuzzer build (BILLSIM_FUZZ_SAMPLE_RECOVERY) does it for one
  // input in 8, chosen by the input's hash so that a run is repeatable.
#ifdef BILLSIM_FUZZ_SAMPLE_RECOVERY
  if ((XXH3_64bits(data, size) & 7) != 0) {
    DecodeWhole(data, size);
    return;
  }
#endif
  LogState state;
  const Status recovered = RecoverLog(scratch.dir(), /*repair=*/false, &state);
  Status read = reader.Open(scratch.dir(), LogReader::Options{/*verify_chain=*/false});
  uint64_t last_seq = 0;
  BatchDecoder decoder;
  while (read.ok()) {
    BatchView batch;
    bool done = false;
    read = reader.Next(&batch, &done);
    if (!read.ok() || done) break;
    last_seq = batch.header.last_seq();
    FUZZ_CHECK(batch.offset + kHeaderSize + batch.payload.size() <= size &&
                   std::memcmp(batch.payload.data(), data + batch.offset + kHeaderSize,
                               batch.payload.size()) == 0,
               "the log reader's batch at %llu is not the file's bytes",
               static_cast<unsigned long long>(batch.offset));
    Decode(&decoder, batch.payload, batch.header.count);
  }
  FUZZ_CHECK(recovered.ok() == read.ok(), "recovery says \"%s\", the reader \"%s\"",
             recovered.ToString().c_str(), read.ToString().c_str());
  if (recovered.ok()) {
    FUZZ_CHECK(state.next_seq - 1 == last_seq, "recovery ends at %llu, the reader at %llu",
               static_cast<unsigned long long>(state.next_seq - 1),
               static_cast<unsigned long long>(last_seq));
    FUZZ_CHECK(state.cut_tail == !reader.tail_fault().empty(),
               "recovery would cut \"%s\", the reader saw tail fault \"%s\"",
               state.cut_reason.c_str(), reader.tail_fault().c_str());
  } else {
    FUZZ_CHECK(recovered.code() == Status::Code::kCorruption, "recovery: %s",
               recovered.ToString().c_str());
    FUZZ_CHECK(recovered.message().find(SegmentName(1)) != std::string::npos &&
                   recovered.message().find("offset") != std::string::npos,
               "recovery's refusal names no place: %s", recovered.message().c_str());
  }

  DecodeWhole(data, size);
}

// The whole input as a payload, with the event count it describes.
void DecodeWhole(const uint8_t* data, size_t size) {
  BatchDecoder decoder;
  if (size <= (1u << 20)) {
    v1::EventBatch batch;
    if (batch.ParseFromArray(data, static_cast<int>(size))) {
      const uint64_t count =
          static_cast<uint64_t>(batch.delivery_id_delta_size()) + batch.others_size();
      if (count > 0 && count <= kMaxBatchEvents) {
        Decode(&decoder, std::string_view(reinterpret_cast<const char*>(data), size),
               static_cast<uint32_t>(count));
      }
    }
  }
}

}  // namespace

// For fuzz_smoke_main.cc: what pass 1 of the last input found.
extern "C" void BillsimFuzzLastResult(uint64_t* batches, uint64_t* decoded, int* clean_end) {
  *batches = g_last.batches;
  *decoded = g_last.decoded;
  *clean_end = g_last.clean_end;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RunOne(data, size);
  return 0;
}
