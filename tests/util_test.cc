// Tests of the integer money and time helpers (src/util/money.h) and Status.
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "util/endian.h"
#include "util/money.h"
#include "util/status.h"

namespace billsim {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

TEST(MulDivFloorTest, RoundsTheQuotientDown) {
  EXPECT_EQ(MulDivFloor(7, 3, 2), 10);  // 21 / 2 = 10.5
  EXPECT_EQ(MulDivFloor(1, 1234567, 1000), 1234);
  EXPECT_EQ(MulDivFloor(999, 1, 1000), 0);
  EXPECT_EQ(MulDivFloor(1000, 1234567, 1000), 1234567);
}

TEST(MulDivFloorTest, ZeroFactorGivesZero) {
  EXPECT_EQ(MulDivFloor(0, kInt64Max, 1), 0);
  EXPECT_EQ(MulDivFloor(kInt64Max, 0, 7), 0);
}

TEST(MulDivFloorTest, ProductBeyondSixtyFourBitsIsStillExact) {
  // 1e18 * 1e6 overflows int64 by far; the quotient does not.
  EXPECT_EQ(MulDivFloor(1'000'000'000'000'000'000, 1'000'000, 1'000'000'000),
            1'000'000'000'000'000);
  EXPECT_EQ(MulDivFloor(kInt64Max, kInt64Max, kInt64Max), kInt64Max);
  EXPECT_EQ(MulDivFloor(kInt64Max, 3, 4), (kInt64Max / 4) * 3 + (kInt64Max % 4) * 3 / 4);
  // (2^63 - 1) * 1000 / 1001, floored.
  const __int128 exact = static_cast<__int128>(kInt64Max) * 1000 / 1001;
  EXPECT_EQ(MulDivFloor(kInt64Max, 1000, 1001), static_cast<int64_t>(exact));
}

TEST(MulDivFloorTest, SaturatesAtInt64Max) {
  EXPECT_EQ(MulDivFloor(kInt64Max, 2, 1), kInt64Max);
  EXPECT_EQ(MulDivFloor(kInt64Max, kInt64Max, 1), kInt64Max);
}

TEST(MulDivFloorTest, CumulativeFloorsTelescopeToTheWholeCharge) {
  // R2: the sum of per-unit differences equals the charge for all units.
  const int64_t price = 1'234'567;
  int64_t sum = 0;
  for (int64_t n = 1; n <= 3001; ++n) {
    sum += MulDivFloor(n, price, 1000) - MulDivFloor(n - 1, price, 1000);
  }
  EXPECT_EQ(sum, MulDivFloor(3001, price, 1000));
  EXPECT_EQ(sum, 3'704'935);
}

TEST(FormatMicrosTest, ZeroHasSixPlaces) {
  EXPECT_EQ(FormatMicros(0), "0.000000");
}

TEST(FormatMicrosTest, PositiveAmounts) {
  EXPECT_EQ(FormatMicros(1'500'000), "1.500000");
  EXPECT_EQ(FormatMicros(1), "0.000001");
  EXPECT_EQ(FormatMicros(50'000'000), "50.000000");
  EXPECT_EQ(FormatMicros(1'234'567), "1.234567");
}

TEST(FormatMicrosTest, NegativeAmountsPutTheSignFirst) {
  EXPECT_EQ(FormatMicros(-1), "-0.000001");
  EXPECT_EQ(FormatMicros(-1'500'000), "-1.500000");
  EXPECT_EQ(FormatMicros(-999'999), "-0.999999");
}

TEST(FormatMicrosTest, ExtremesFormat) {
  EXPECT_EQ(FormatMicros(kInt64Max), "9223372036854.775807");
  EXPECT_EQ(FormatMicros(kInt64Min), "-9223372036854.775808");
}

TEST(FormatTimeTest, EpochIsMidnightUtc) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00Z");
}

TEST(FormatTimeTest, WholeSecondsShowNoFraction) {
  EXPECT_EQ(FormatTime(1'768'435'200'000'000), "2026-01-15T00:00:00Z");
  EXPECT_EQ(FormatTime(1'768'435'200'000'000 + 9 * 3'600'000'000LL +
                       30 * kMicrosPerMinute),
            "2026-01-15T09:30:00Z");
}

TEST(FormatTimeTest, MicrosecondsShownWhenNonzero) {
  EXPECT_EQ(FormatTime(1'768'435'200'000'001), "2026-01-15T00:00:00.000001Z");
  EXPECT_EQ(FormatTime(1'500'000), "1970-01-01T00:00:01.500000Z");
}

TEST(FormatTimeTest, BeforeTheEpochFloorsTheSecond) {
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTime(-1'000'000), "1969-12-31T23:59:59Z");
}

TEST(FormatTimeTest, LeapDay) {
  // 2028-02-29T12:00:00Z
  EXPECT_EQ(FormatTime(1'835'438'400'000'000), "2028-02-29T12:00:00Z");
}

TEST(FloorDivTest, RoundsTowardNegativeInfinity) {
  EXPECT_EQ(FloorDiv(7, 2), 3);
  EXPECT_EQ(FloorDiv(-7, 2), -4);
  EXPECT_EQ(FloorDiv(-1, kMicrosPerDay), -1);
  EXPECT_EQ(FloorDiv(0, kMicrosPerDay), 0);
  EXPECT_EQ(FloorDiv(-kMicrosPerDay, kMicrosPerDay), -1);
  EXPECT_EQ(FloorDiv(7, -2), -4);
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorsCarryCodeAndMessage) {
  Status s = Status::InvalidArgument("event 3: time_us: negative");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "event 3: time_us: negative");
  EXPECT_EQ(s.ToString(), "invalid argument: event 3: time_us: negative");
  EXPECT_EQ(Status::Corruption("x").ToString(), "corruption: x");
  EXPECT_EQ(Status::NotFound("x").ToString(), "not found: x");
  EXPECT_EQ(Status::IOError("x").ToString(), "I/O error: x");
}

TEST(LittleEndianTest, LeastSignificantByteFirstAtEveryWidth) {
  uint8_t b[8] = {};
  StoreLittleEndian(0x0102030405060708u, 8, b);
  const uint8_t want[8] = {8, 7, 6, 5, 4, 3, 2, 1};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b[i], want[i]) << "byte " << i;
  EXPECT_EQ(LoadLittleEndian(b, 8), 0x0102030405060708u);
  EXPECT_EQ(LoadLittleEndian(b, 2), 0x0708u);  // a narrower field reads its own bytes
  uint8_t two[3] = {0xee, 0xee, 0xee};
  StoreLittleEndian(0xabcdu, 2, two);
  EXPECT_EQ(two[0], 0xcd);
  EXPECT_EQ(two[1], 0xab);
  EXPECT_EQ(two[2], 0xee);  // nothing past the field
  std::string s = "x";
  AppendLittleEndian(0xff00u, 4, &s);
  EXPECT_EQ(s, std::string("x\x00\xff\x00\x00", 5));
  char c[4];
  StoreLittleEndian(0xfedcba98u, 4, c);  // char buffers (frame headers): no sign extension
  EXPECT_EQ(LoadLittleEndian(c, 4), 0xfedcba98u);
}

}  // namespace
}  // namespace billsim
