// HoldFlow: the answers it gives, and that one object reused (Clear, as the
// ledger reuses its own) gives the same answers as a new one.
#include "ledger/hold_flow.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "ledger/entry.h"

namespace billsim {
namespace {

TEST(HoldFlowTest, AnEarlierHoldMovesToAnotherSourceToMakeRoom) {
  // Source 0: the pool (any campaign); source 1: a coupon for the first
  // campaign only. The first hold takes the pool first; the second, which
  // may use the pool alone, gets it once the first moves to its coupon.
  HoldFlow flow;
  const uint32_t pool = flow.AddSource(100);
  const uint32_t coupon = flow.AddSource(60);
  const std::vector<uint32_t> first{pool, coupon};
  const std::vector<uint32_t> second{pool};
  EXPECT_EQ(flow.AddHold(second, 30), 30);
  EXPECT_EQ(flow.AddHold(first, 100), 100);   // 60 from the coupon, 40 from the pool
  EXPECT_EQ(flow.AddHold(second, 50), 30);    // what is left of the pool
  EXPECT_EQ(flow.AddHold(first, 10), 0);      // nothing left it may use
}

TEST(HoldFlowTest, AReusedFlowAnswersAsANewOne) {
  std::mt19937_64 rng(7);
  HoldFlow reused;
  for (int problem = 0; problem < 2000; ++problem) {
    HoldFlow fresh;
    reused.Clear();
    const uint32_t sources = 1 + static_cast<uint32_t>(rng() % 5);
    int64_t room = 0;
    for (uint32_t s = 0; s < sources; ++s) {
      const int64_t micros = static_cast<int64_t>(rng() % 200);
      room += micros;
      ASSERT_EQ(fresh.AddSource(micros), s);
      ASSERT_EQ(reused.AddSource(micros), s);
    }
    const int holds = static_cast<int>(rng() % 8);
    int64_t fitted = 0;
    for (int h = 0; h < holds; ++h) {
      std::vector<uint32_t> may_use{0};  // the pool, as the ledger gives every hold
      for (uint32_t s = 1; s < sources; ++s) {
        if (rng() % 2 == 0) may_use.push_back(s);
      }
      const int64_t want = static_cast<int64_t>(rng() % 150);
      const int64_t got = fresh.AddHold(may_use, want);
      ASSERT_EQ(reused.AddHold(may_use, want), got) << "problem " << problem << ", hold " << h;
      ASSERT_GE(got, 0);
      ASSERT_LE(got, want);
      fitted += got;
    }
    EXPECT_LE(fitted, room) << "problem " << problem << ": holds past what the sources have";
  }
}

TEST(EntryNoteTest, AFixedTextAndAMadeOneReadAlike) {
  Entry fixed;
  fixed.note = "daily budget held (R4)";
  Entry made;
  made.note = std::string("daily budget ") + "held (R4)";
  EXPECT_EQ(fixed.note, made.note);
  EXPECT_EQ(std::string_view(fixed.note), "daily budget held (R4)");
  EXPECT_EQ(fixed.note.size(), 22u);
  EXPECT_NE(fixed.note.find("(R4)"), std::string_view::npos);
  // Copies and moves keep the text, whichever way it is held.
  Entry copy = made;
  made.note = "other";
  EXPECT_EQ(std::string(copy.note), "daily budget held (R4)");
  Entry moved = std::move(copy);
  EXPECT_EQ(std::string(moved.note), "daily budget held (R4)");
  EXPECT_TRUE(Entry{}.note.empty());
  EXPECT_EQ(std::string(Note(std::string_view("a view"))), "a view");
}

}  // namespace
}  // namespace billsim
