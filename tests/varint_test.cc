// util/varint.h: the bounded reader GetVarint64 against Protocol Buffers'
// own reader, on the edges and on random bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "util/varint.h"

namespace billsim {
namespace {

// What Protobuf reads from `bytes`: true and the value and length, or false.
bool ProtobufReads(const std::string& bytes, uint64_t* v, size_t* n) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  if (!in.ReadVarint64(v)) return false;
  *n = static_cast<size_t>(in.CurrentPosition());
  return true;
}

bool Reads(const std::string& bytes, uint64_t* v, size_t* n) {
  const auto* begin = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint8_t* p = begin;
  if (!GetVarint64(&p, begin + bytes.size(), v)) {
    EXPECT_EQ(p, begin) << "a failed read moved the cursor";
    return false;
  }
  *n = static_cast<size_t>(p - begin);
  return true;
}

TEST(VarintTest, EveryLengthRoundTrips) {
  for (const uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                           uint64_t{16383}, uint64_t{16384}, uint64_t{UINT32_MAX},
                           uint64_t{1} << 56, uint64_t{1} << 63, UINT64_MAX}) {
    std::string bytes;
    AppendVarint(&bytes, v);
    EXPECT_EQ(bytes.size(), VarintLength(v));
    bytes += "\x05";  // a byte after it, not read
    uint64_t got = 0;
    size_t n = 0;
    ASSERT_TRUE(Reads(bytes, &got, &n)) << v;
    EXPECT_EQ(got, v);
    EXPECT_EQ(n, VarintLength(v));
    uint8_t raw[10];
    EXPECT_EQ(static_cast<size_t>(EncodeVarint(raw, v) - raw), VarintLength(v));
    EXPECT_EQ(std::string(reinterpret_cast<char*>(raw), VarintLength(v)),
              bytes.substr(0, VarintLength(v)));
  }
}

TEST(VarintTest, ARunPastTheEndOrPast64BitsIsRefused) {
  uint64_t v = 0;
  size_t n = 0;
  EXPECT_FALSE(Reads("", &v, &n));
  EXPECT_FALSE(Reads("\x80", &v, &n));
  EXPECT_FALSE(Reads(std::string(9, '\xff'), &v, &n));           // nine of ten
  EXPECT_TRUE(Reads(std::string(9, '\xff') + "\x01", &v, &n));   // the 64th bit
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(Reads(std::string(9, '\xff') + "\x02", &v, &n));  // a 65th
  EXPECT_FALSE(Reads(std::string(10, '\x80') + "\x00", &v, &n));  // eleven bytes
}

// Random bytes, most of them short varints and some long or cut: the
// reader agrees with Protobuf's wherever Protobuf reads one, and refuses
// where it refuses.
TEST(VarintTest, AgreesWithProtobufOnRandomBytes) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) {
    std::string bytes(rng() % 12, '\0');
    for (char& c : bytes) {
      c = static_cast<char>(rng() % 4 == 0 ? rng() & 0x7f : rng() | 0x80);
    }
    uint64_t want = 0, got = 0;
    size_t want_n = 0, got_n = 0;
    const bool protobuf = ProtobufReads(bytes, &want, &want_n);
    const bool ours = Reads(bytes, &got, &got_n);
    if (ours) {
      ASSERT_TRUE(protobuf);
      ASSERT_EQ(got, want);
      ASSERT_EQ(got_n, want_n);
    } else if (protobuf) {
      // Protobuf drops the bits of a tenth byte past the 64th; this reader
      // refuses them (billsim's writers never write them).
      ASSERT_EQ(want_n, 10u);
      ASSERT_GT(static_cast<uint8_t>(bytes[9]), 1);
    }
  }
}

}  // namespace
}  // namespace billsim
