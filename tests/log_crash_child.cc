// log_crash_child DIR SEED [SEGMENT_BYTES]
//
// The victim of tests/log_crash_test.cc: opens a LogWriter on DIR (recovering
// whatever a previous victim left) with --fsync always and small segments,
// then appends batches of 1..2000 delivery events forever, event ids dense
// and equal to their sequence numbers. After each Append returns it writes
// one line to stdout with write(2), unbuffered:
//
//   durable <last_seq> <chain_hex>
//
// The test kills it with SIGKILL at random moments. Errors are printed as
// "error <message>" and end the program with exit code 2.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "log/batch_codec.h"
#include "log/format.h"
#include "log/log_writer.h"

namespace {

void WriteAll(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t w = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      std::_Exit(3);  // the test went away
    }
    done += static_cast<size_t>(w);
  }
}

[[noreturn]] void Fail(const std::string& what) {
  WriteAll("error " + what + "\n");
  std::_Exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace billsim;
  if (argc < 3) {
    WriteAll("error usage: log_crash_child DIR SEED [SEGMENT_BYTES]\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  log::LogOptions options;
  options.segment_bytes = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 256 << 10;
  options.fsync.mode = log::FsyncPolicy::Mode::kAlways;

  std::unique_ptr<log::LogWriter> writer;
  log::LogState state;
  Status st = log::LogWriter::Open(dir, options, &writer, &state);
  if (!st.ok()) Fail("open: " + st.ToString());
  WriteAll("opened " + std::to_string(writer->next_seq()) + "\n");

  log::BatchBuilder batch;
  int64_t time_us = 1'700'000'000'000'000 + static_cast<int64_t>(writer->next_seq()) * 1000;
  for (;;) {
    batch.Clear();
    const uint64_t first = writer->next_seq();
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % 2000);
    for (uint32_t i = 0; i < n; ++i) {
      time_us += static_cast<int64_t>(rng() % 2000);
      batch.AddDelivery(first + i, time_us, "a", "c",
                        v1::DeliveryReported::IMPRESSION, 1 + static_cast<int64_t>(rng() % 3),
                        false);
    }
    log::SeqRange range;
    st = writer->Append(batch, &range);
    if (!st.ok()) Fail("append: " + st.ToString());
    if (range.first != first || range.last != first + n - 1) {
      Fail("append returned sequences " + std::to_string(range.first) + ".." +
           std::to_string(range.last) + ", expected " + std::to_string(first) + ".." +
           std::to_string(first + n - 1));
    }
    if (writer->durable_seq() != range.last) {
      Fail("fsync always, but durable_seq " + std::to_string(writer->durable_seq()) +
           " after appending up to " + std::to_string(range.last));
    }
    WriteAll("durable " + std::to_string(range.last) + " " + log::ChainHex(writer->chain()) +
             "\n");
  }
}
