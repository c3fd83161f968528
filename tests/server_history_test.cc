// History through the server (issue 10): an account's history paged with
// HistoryQuery.cursor / next_cursor equals `audit history` (an offline
// replay) exactly, with and without since_seq and to_us; a history answer
// reflects the appends its connection sent before it (read your writes) and
// comes back in request order behind them; a BalanceAsOfQuery answers the
// balances after the last entry stamped at or before its time.
//
// The server runs in-process on an ephemeral loopback port. The offline
// side (audit::AccountHistory) reads the log after the server has stopped.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "billsim/v1/wire.pb.h"
#include "net/client.h"
#include "server/server.h"
#include "test_support.h"
#include "wire_events.h"

namespace billsim::server {
namespace {

using std::chrono::milliseconds;
using wire_events::Events;
using wire_events::kT0;
using wire_events::kUnit;

constexpr int64_t kTimeMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kTimeMax = std::numeric_limits<int64_t>::max();
constexpr uint32_t kPage = 7;
const std::vector<std::string> kAccounts = {"a0", "a1", "a2", "a3"};

class ServerHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.log_dir = log_dir();
    options.listen = "127.0.0.1:0";
    server_ = std::make_unique<Server>(options);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
    st = client_.Connect(server_->address());
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override { StopServer(); }
  void StopServer() {
    if (!server_) return;
    client_.Close();
    server_->Stop();
    thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
    server_.reset();
  }
  std::string log_dir() { return dir_.sub("log"); }

  // Four accounts, each with two campaigns; clicks of every account
  // interleaved, a deposit now and then; times rise by 1 ms per event.
  // Sent in appends of 50 events. Returns the last acknowledged sequence.
  uint64_t AppendWorkload(int rounds) {
    Events ev;
    int64_t t = kT0;
    for (const auto& a : kAccounts) {
      ev.Setup(t, a, a + "-c0", 1'000);
      ev.Campaign(t + 4, a, a + "-c1");
      ev.Enable(t + 5, a, a + "-c1");
      t += 1'000;
    }
    for (int r = 0; r < rounds; ++r, t += 1'000) {
      const std::string& a = kAccounts[static_cast<size_t>(r) % kAccounts.size()];
      if (r % 25 == 24) {
        ev.Deposit(t, a, 10 * kUnit);
      } else {
        ev.Clicks(t, a, a + "-c" + std::to_string(r % 2), r % 3 + 1);
      }
    }
    uint64_t last = 0;
    for (size_t i = 0; i < ev.all().size(); i += 50) {
      v1::Response r = Call(wire_events::AppendOf(client_.NextRequestId(), ev.all(), i, i + 50));
      EXPECT_TRUE(r.has_append()) << r.ShortDebugString();
      EXPECT_EQ(r.append().rejections_size(), 0) << r.ShortDebugString();
      last = r.append().last_seq();
    }
    return last;
  }

  v1::Response Call(const v1::Request& request) {
    v1::Response response;
    Status st = client_.Call(request, &response, milliseconds(10'000));
    EXPECT_TRUE(st.ok()) << st.ToString();
    return response;
  }
  v1::Request History(const std::string& account, uint64_t cursor, uint64_t since_seq = 0,
                      int64_t to_us = 0) {
    v1::Request r;
    r.set_request_id(client_.NextRequestId());
    auto* h = r.mutable_history();
    h->set_account_id(account);
    h->set_limit(kPage);
    h->set_cursor(cursor);
    h->set_since_seq(since_seq);
    h->set_to_us(to_us);
    return r;
  }

  // Every page of the account's history at kPage, concatenated; checks
  // each page's size, truncation and next_cursor on the way.
  std::vector<audit::AuditEntry> AllPages(const std::string& account, uint64_t since_seq = 0,
                                          int64_t to_us = 0) {
    std::vector<audit::AuditEntry> out;
    uint64_t cursor = 0;
    for (int page = 0; page < 10'000; ++page) {
      v1::Response r = Call(History(account, cursor, since_seq, to_us));
      EXPECT_TRUE(r.has_history()) << account << " page " << page << ": " << r.ShortDebugString();
      if (!r.has_history()) break;
      const v1::HistoryResult& h = r.history();
      EXPECT_LE(h.items_size(), static_cast<int>(kPage));
      if (h.truncated()) {
        EXPECT_EQ(h.items_size(), static_cast<int>(kPage)) << account;
      }
      const uint64_t last = h.items_size() > 0 ? h.items().rbegin()->entry().seq() : cursor;
      EXPECT_EQ(h.next_cursor(), last) << account << " page " << page;
      for (const auto& item : h.items()) out.push_back({item.log_seq(), item.entry()});
      if (!h.truncated()) break;
      cursor = h.next_cursor();
    }
    return out;
  }

  // audit history from the log (the server stopped), optionally only
  // entries of events after since_seq.
  std::vector<audit::AuditEntry> Audit(const std::string& account, int64_t to_us = kTimeMax,
                                       uint64_t since_seq = 0) {
    std::vector<audit::AuditEntry> all;
    Status st = audit::AccountHistory(log_dir(), account, kTimeMin, to_us, &all);
    EXPECT_TRUE(st.ok()) << account << ": " << st.ToString();
    std::vector<audit::AuditEntry> out;
    for (auto& e : all) {
      if (e.log_seq > since_seq) out.push_back(std::move(e));
    }
    return out;
  }

  test_support::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status run_status_;
  net::Client client_;
};

// Same length, same log_seq and every field of every entry.
void ExpectSameHistory(const std::vector<audit::AuditEntry>& got,
                       const std::vector<audit::AuditEntry>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].log_seq, want[i].log_seq) << what << " item " << i;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got[i].entry, want[i].entry))
        << what << " item " << i << ":\n got " << got[i].entry.ShortDebugString() << "\nwant "
        << want[i].entry.ShortDebugString();
  }
}

TEST_F(ServerHistoryTest, PagesOfSevenConcatenateToTheAuditHistoryOfEveryAccount) {
  AppendWorkload(400);
  std::vector<std::vector<audit::AuditEntry>> paged;
  for (const auto& a : kAccounts) paged.push_back(AllPages(a));
  StopServer();
  for (size_t i = 0; i < kAccounts.size(); ++i) {
    const auto want = Audit(kAccounts[i]);
    EXPECT_GT(want.size(), 5 * kPage) << kAccounts[i] << ": too few entries to page";
    ExpectSameHistory(paged[i], want, kAccounts[i]);
  }
}

TEST_F(ServerHistoryTest, SinceSeqAndToUsFilterThePagesAsTheAuditDoes) {
  const uint64_t last = AppendWorkload(200);
  const uint64_t since = last / 2;
  const int64_t to_us = kT0 + 4'000 + 150 * 1'000;  // past round 150 of 200
  const auto since_pages = AllPages("a1", since);
  const auto to_pages = AllPages("a1", 0, to_us);
  const auto both_pages = AllPages("a1", since / 2, to_us);
  StopServer();
  const auto since_want = Audit("a1", kTimeMax, since);
  const auto to_want = Audit("a1", to_us);
  ASSERT_FALSE(since_want.empty());
  ASSERT_LT(to_want.size(), Audit("a1").size()) << "to_us must cut the history";
  ExpectSameHistory(since_pages, since_want, "a1 since " + std::to_string(since));
  ExpectSameHistory(to_pages, to_want, "a1 to_us " + std::to_string(to_us));
  ExpectSameHistory(both_pages, Audit("a1", to_us, since / 2), "a1 since and to_us");
}

TEST_F(ServerHistoryTest, AHistoryPipelinedBehindAppendsReflectsThemAndComesBackInOrder) {
  AppendWorkload(40);
  Events ev(1'000'000);
  const int64_t t = kT0 + 1'000'000'000;
  std::vector<uint64_t> sent;
  for (int i = 0; i < 5; ++i) {  // appends, then a history, twice, unread
    ev.clear();
    ev.Clicks(t + i, "a2", "a2-c0", 1);
    v1::Request append = wire_events::AppendOf(client_.NextRequestId(), ev.all(), 0, 1);
    ASSERT_TRUE(client_.Send(append).ok());
    sent.push_back(append.request_id());
    if (i == 2 || i == 4) {
      v1::Request h = History("a2", 0);
      h.mutable_history()->set_since_seq(1);
      h.mutable_history()->set_limit(10'000);
      ASSERT_TRUE(client_.Send(h).ok());
      sent.push_back(h.request_id());
    }
  }
  uint64_t last_acked = 0;
  for (uint64_t id : sent) {
    v1::Response r;
    Status st = client_.Receive(&r, milliseconds(10'000));
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(r.request_id(), id) << "responses out of request order";
    if (r.has_append()) {
      ASSERT_EQ(r.append().accepted(), 1u) << r.ShortDebugString();
      last_acked = r.append().last_seq();
      continue;
    }
    ASSERT_TRUE(r.has_history()) << r.ShortDebugString();
    EXPECT_GE(r.acknowledged_seq(), last_acked) << "the history does not cover its appends";
    ASSERT_GT(r.history().items_size(), 0);
    EXPECT_EQ(r.history().items().rbegin()->log_seq(), last_acked)
        << "the last entry must be the click appended just before (read your writes)";
  }
}

TEST_F(ServerHistoryTest, BalanceAsOfIsTheBalanceAfterTheLastEntryStampedAtOrBeforeIt) {
  AppendWorkload(120);
  const int64_t kProbes[] = {kT0 - 1, kT0, kT0 + 2, kT0 + 3'500, kT0 + 40'000, kT0 + 40'001,
                             kT0 + 90'123, kT0 + 10'000'000};
  std::vector<v1::BalanceAsOf> got;
  for (const int64_t as_of : kProbes) {
    v1::Request r;
    r.set_request_id(client_.NextRequestId());
    r.mutable_balance_as_of()->set_account_id("a3");
    r.mutable_balance_as_of()->set_as_of_us(as_of);
    v1::Response response = Call(r);
    ASSERT_TRUE(response.has_balance_as_of()) << as_of << ": " << response.ShortDebugString();
    got.push_back(response.balance_as_of());
  }
  StopServer();
  const auto history = Audit("a3");
  for (size_t i = 0; i < got.size(); ++i) {
    const audit::AuditEntry* last = nullptr;
    for (const auto& e : history) {
      if (e.entry.time_us() <= kProbes[i]) last = &e;
    }
    const v1::BalanceAsOf& b = got[i];
    const std::string what = "a3 as of " + std::to_string(kProbes[i]);
    EXPECT_EQ(b.log_seq(), last ? last->log_seq : 0) << what;
    EXPECT_EQ(b.entry_seq(), last ? last->entry.seq() : 0) << what;
    EXPECT_EQ(b.cash_balance(), last ? last->entry.cash_balance() : 0) << what;
    EXPECT_EQ(b.grant_balance(), last ? last->entry.grant_balance() : 0) << what;
    EXPECT_EQ(b.frozen_balance(), last ? last->entry.frozen_balance() : 0) << what;
    EXPECT_EQ(b.valid_balance(), last ? last->entry.valid_balance() : 0) << what;
  }
}

}  // namespace
}  // namespace billsim::server
