#include "util/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace billsim {
namespace {

TEST(Utf8Test, AcceptsAsciiAndWellFormedMultibyteText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("acme-42"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));          // é
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac 5"));       // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x92\xb0"));     // U+1F4B0
}

TEST(Utf8Test, RefusesLatin1TruncationOverlongFormsAndSurrogates) {
  EXPECT_FALSE(IsValidUtf8("caf\xe9"));             // Latin-1 é
  EXPECT_FALSE(IsValidUtf8("\xc3"));                // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));            // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));            // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));        // U+D800 surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("a\x80z"));              // stray continuation
}

// The inline ASCII path reads eight bytes at a time, then the tail: a bad
// byte in either place, or after a whole word, is still found.
TEST(Utf8Test, FindsABadByteAtAnyPlaceInLongText) {
  const std::string ascii = "campaign-0000000042-acme";
  ASSERT_TRUE(IsValidUtf8(ascii));
  for (size_t at = 0; at <= ascii.size(); ++at) {
    std::string bad = ascii;
    bad.insert(at, "\xff");
    EXPECT_FALSE(IsValidUtf8(bad)) << "0xff at " << at;
    std::string good = ascii;
    good.insert(at, "\xc3\xa9");
    EXPECT_TRUE(IsValidUtf8(good)) << "U+00E9 at " << at;
  }
}

}  // namespace
}  // namespace billsim
