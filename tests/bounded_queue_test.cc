// The server's bounded hand-offs (server/bounded_queue.h): a full queue is
// a decision (kFull, the item stays with the caller), not growth.
#include "server/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

namespace billsim::server {
namespace {

using namespace std::chrono_literals;

TEST(WeightedQueueTest, AFullQueueRefusesAndLeavesTheItemWithTheCaller) {
  WeightedQueue<std::unique_ptr<int>> q(10);
  auto a = std::make_unique<int>(1);
  ASSERT_EQ(q.TryPush(a, 6), Push::kOk);
  EXPECT_EQ(a, nullptr);  // taken
  auto b = std::make_unique<int>(2);
  EXPECT_EQ(q.TryPush(b, 5), Push::kFull);
  ASSERT_NE(b, nullptr);  // still ours
  EXPECT_EQ(*b, 2);
  EXPECT_EQ(q.held(), 6u);
  std::vector<std::unique_ptr<int>> out;
  ASSERT_TRUE(q.PopAll(&out, 0ms));
  ASSERT_EQ(out.size(), 1u);
  // Taken but not released: the weight still counts.
  EXPECT_EQ(q.TryPush(b, 5), Push::kFull);
  q.Release(6);
  EXPECT_EQ(q.TryPush(b, 5), Push::kOk);
}

TEST(WeightedQueueTest, AnEmptyQueueTakesOneItemHeavierThanItsCapacity) {
  WeightedQueue<int> q(10);
  int big = 1;
  EXPECT_EQ(q.TryPush(big, 50), Push::kOk);
  int next = 2;
  EXPECT_EQ(q.TryPush(next, 1), Push::kFull);
}

TEST(WeightedQueueTest, ClosedRefusesNewItemsButDrainsWhatItHolds) {
  WeightedQueue<int> q(10);
  int a = 1, b = 2;
  ASSERT_EQ(q.TryPush(a, 1), Push::kOk);
  q.Close();
  EXPECT_EQ(q.TryPush(b, 1), Push::kClosed);
  int out = 0;
  EXPECT_TRUE(q.PopOne(&out));
  EXPECT_EQ(out, 1);
  EXPECT_FALSE(q.PopOne(&out));
  std::vector<int> all;
  EXPECT_FALSE(q.PopAll(&all, 0ms));
}

TEST(WeightedQueueTest, PopOneWaitsForAProducerOnAnotherThread) {
  WeightedQueue<int> q(10);
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    int v = 7;
    EXPECT_EQ(q.TryPush(v, 1), Push::kOk);
  });
  int out = 0;
  EXPECT_TRUE(q.PopOne(&out));
  EXPECT_EQ(out, 7);
  producer.join();
}

TEST(SyncQueueTest, TheProducerWaitsWhileKMaxWaitingItemsWait) {
  SyncQueue<int> q;
  for (size_t i = 0; i < SyncQueue<int>::kMaxWaiting; ++i) q.Push(static_cast<int>(i));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.Push(99);
    pushed = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(pushed.load());  // bounded: it waits
  std::vector<int> out;
  ASSERT_TRUE(q.PopAll(&out));
  EXPECT_EQ(out.size(), SyncQueue<int>::kMaxWaiting);
  producer.join();
  EXPECT_TRUE(pushed.load());
  q.Close();
  ASSERT_TRUE(q.PopAll(&out));  // drains 99
  EXPECT_EQ(out, std::vector<int>{99});
  EXPECT_FALSE(q.PopAll(&out));
}

}  // namespace
}  // namespace billsim::server
