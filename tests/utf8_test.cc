#include "util/utf8.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace billsim
