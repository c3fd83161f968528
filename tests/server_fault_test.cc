// The server's failure paths (issue 9, section 3): billsim serve in-process
// with --fsync always (the pipelined group commit) on a simulated disk
// (fault_env.h) that fails a segment write, an fdatasync or an index write.
// From the failing group on, every answer is UNAVAILABLE, in order on each
// connection; nothing that failed is acknowledged; and after a simulated
// crash and a restart on the plain disk the log holds exactly the
// acknowledged events. Without a crash, a failed request's events may be in
// the log too (its outcome was unknown: a client resends with the same ids,
// R10), but never twice and never in place of an acknowledged one.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "fault_env.h"
#include "log_events.h"
#include "net/client.h"
#include "server/server.h"
#include "test_support.h"
#include "wire_events.h"

namespace billsim::server {
namespace {

using std::chrono::milliseconds;
using test_support::Batches;
using test_support::CaptureLog;
using test_support::FaultEnv;
using test_support::TempDir;

using wire_events::kT0;
using wire_events::kUnit;

v1::Event NewEvent(uint64_t id, int64_t time_us) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(time_us);
  return e;
}

// Account "a1" with cash and an enabled CPC campaign "c1": ids 1..4.
std::vector<v1::Event> SetupEvents() {
  std::vector<v1::Event> events;
  v1::Event e = NewEvent(1, kT0);
  auto* open = e.mutable_account_opened();
  open->set_account_id("a1");
  open->set_currency("USD");
  open->set_funding_order(v1::FUNDING_ORDER_CREDIT_FIRST);
  events.push_back(e);
  e = NewEvent(2, kT0 + 1);
  e.mutable_cash_deposited()->set_account_id("a1");
  e.mutable_cash_deposited()->set_amount_micros(1'000'000 * kUnit);
  events.push_back(e);
  e = NewEvent(3, kT0 + 2);
  auto* c = e.mutable_campaign_created();
  c->set_account_id("a1");
  c->set_campaign_id("c1");
  c->set_objective(v1::OBJECTIVE_TRAFFIC);
  c->set_billing_event(v1::BILLING_EVENT_CPC);
  c->set_price_micros(kUnit);
  c->set_budget_mode(v1::BUDGET_MODE_INFINITE);
  c->set_creative_reviewed(true);
  c->set_audience_defined(true);
  c->set_landing_page_url("https://example.com");
  events.push_back(e);
  e = NewEvent(4, kT0 + 3);
  e.mutable_campaign_status_changed()->set_account_id("a1");
  e.mutable_campaign_status_changed()->set_campaign_id("c1");
  e.mutable_campaign_status_changed()->set_operation(v1::CampaignStatusChanged::ENABLE);
  events.push_back(e);
  return events;
}

// An append of `n` single clicks with ids from `first_id`.
v1::Request Clicks(net::Client& client, uint64_t first_id, int n) {
  v1::Request r;
  r.set_request_id(client.NextRequestId());
  for (int i = 0; i < n; ++i) {
    const uint64_t id = first_id + static_cast<uint64_t>(i);
    v1::Event e = NewEvent(id, kT0 + 10 + static_cast<int64_t>(id));
    auto* d = e.mutable_delivery_reported();
    d->set_account_id("a1");
    d->set_campaign_id("c1");
    d->set_kind(v1::DeliveryReported::CLICK);
    d->set_count(1);
    *r.mutable_append()->add_events() = e;
  }
  return r;
}

std::vector<uint64_t> IdsOf(const v1::Request& r) {
  std::vector<uint64_t> ids;
  for (const auto& e : r.append().events()) ids.push_back(e.event_id());
  return ids;
}

enum class Fault { kSegmentWrite, kFdatasync, kIndexWrite };

struct Case {
  Fault fault;
  bool crash;  // a simulated power cut after the failure, before the restart
};

std::string Describe(const Case& c) {
  const char* f = c.fault == Fault::kSegmentWrite ? "SegmentWrite"
                  : c.fault == Fault::kFdatasync  ? "Fdatasync"
                                                  : "IndexWrite";
  return std::string(f) + (c.crash ? "ThenCrash" : "ThenStop");
}
std::string Name(const ::testing::TestParamInfo<Case>& info) { return Describe(info.param); }
void PrintTo(const Case& c, std::ostream* os) { *os << Describe(c); }

class ServerFaultTest : public ::testing::TestWithParam<Case> {
 protected:
  void StartServer(log::Env* env) {
    ServerOptions options;
    options.log_dir = dir_.sub("log");
    options.listen = "127.0.0.1:0";
    options.env = env;
    options.max_in_flight = 2;  // small groups: many of them, many fdatasyncs
    server_ = std::make_unique<Server>(options);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }
  Status StopServer() {
    if (!server_) return Status::Ok();
    server_->Stop();
    thread_.join();
    server_.reset();
    return run_status_;
  }
  void TearDown() override { (void)StopServer(); }

  void Connect(net::Client& client) {
    Status st = client.Connect(server_->address());
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // Injects the fault so that the `nth` group from now fails.
  // SetupEvents() as one append, acknowledged before any fault is armed.
  void AppendSetup(net::Client& client) {
    v1::Request setup;
    setup.set_request_id(client.NextRequestId());
    for (const auto& e : SetupEvents()) *setup.mutable_append()->add_events() = e;
    v1::Response r;
    ASSERT_TRUE(client.Call(setup, &r, milliseconds(10'000)).ok());
    ASSERT_TRUE(r.has_append()) << r.ShortDebugString();
  }
  void Inject(Fault fault, int nth) {
    switch (fault) {
      case Fault::kSegmentWrite: env_.FailWrite(nth, ".seg", /*partial=*/true); break;
      case Fault::kFdatasync: env_.FailSync(nth); break;
      case Fault::kIndexWrite: env_.FailWrite(nth, ".idx"); break;
    }
  }

  // After the failure: crash (or not), stop, restart on the plain disk, and
  // compare the log with what was acknowledged and what failed. `exact`:
  // nothing failed may survive (a crash when no sync can have covered a
  // failed group's bytes).
  void ExpectRestartHolds(bool crash, bool exact, const std::set<uint64_t>& acked,
                          const std::set<uint64_t>& failed) {
    if (crash) {
      ASSERT_TRUE(env_.Crash(/*tear=*/false).ok());
    }
    Status run = StopServer();
    EXPECT_FALSE(run.ok()) << "Run must report the log's failure";
    StartServer(nullptr);
    Batches batches;
    Status st = test_support::ReadLogEventIds(dir_.sub("log"), nullptr, &batches);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::map<uint64_t, int> seen;
    for (const auto& b : batches) {
      for (uint64_t id : b) seen[id]++;
    }
    for (uint64_t id : acked) EXPECT_EQ(seen[id], 1) << "acknowledged event " << id;
    for (const auto& [id, n] : seen) {
      EXPECT_EQ(n, 1) << "event " << id << " is in the log " << n << " times";
      if (!acked.contains(id)) {
        EXPECT_FALSE(exact) << "event " << id << " was never acknowledged";
        EXPECT_TRUE(failed.contains(id)) << "event " << id << " was never sent";
      }
    }
    // The restarted server serves, from exactly what the log holds.
    net::Client client;
    Connect(client);
    v1::Request ping;
    ping.set_request_id(client.NextRequestId());
    ping.mutable_ping();
    v1::Response r;
    ASSERT_TRUE(client.Call(ping, &r, milliseconds(10'000)).ok());
    ASSERT_TRUE(r.has_pong()) << r.ShortDebugString();
    EXPECT_EQ(r.pong().durable_seq(), seen.size());
  }

  TempDir dir_;
  FaultEnv env_{7};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status run_status_;
  CaptureLog quiet_;
};

// One request at a time: each is one group, one segment write, one index
// write and one fdatasync, so the fault lands on the third request's group.
TEST_P(ServerFaultTest, AFailedGroupAndEveryLaterRequestAreUnavailable) {
  const Case c = GetParam();
  StartServer(&env_);
  net::Client client;
  Connect(client);
  std::set<uint64_t> acked, failed;
  ASSERT_NO_FATAL_FAILURE(AppendSetup(client));
  for (uint64_t id = 1; id <= 4; ++id) acked.insert(id);
  v1::Response r;

  Inject(c.fault, 3);
  uint64_t next_id = 100;
  bool failing = false;
  for (int i = 0; i < 8; ++i) {
    const v1::Request req = Clicks(client, next_id, 5);
    next_id += 5;
    ASSERT_TRUE(client.Call(req, &r, milliseconds(10'000)).ok());
    if (i < 2) {
      ASSERT_TRUE(r.has_append()) << "request " << i << ": " << r.ShortDebugString();
      EXPECT_EQ(r.append().accepted(), 5u);
      EXPECT_EQ(r.append().first_seq(), acked.size() + 1);
      for (uint64_t id : IdsOf(req)) acked.insert(id);
      EXPECT_EQ(r.acknowledged_seq(), acked.size());
      continue;
    }
    ASSERT_TRUE(r.has_error()) << "request " << i << " after the fault: " << r.ShortDebugString();
    EXPECT_EQ(r.error().code(), v1::Error::UNAVAILABLE);
    EXPECT_EQ(r.request_id(), req.request_id());
    EXPECT_FALSE(r.has_append());
    for (uint64_t id : IdsOf(req)) failed.insert(id);
    failing = true;
  }
  ASSERT_TRUE(failing);
  // Queries too: the server accepts nothing more.
  v1::Request ping;
  ping.set_request_id(client.NextRequestId());
  ping.mutable_ping();
  ASSERT_TRUE(client.Call(ping, &r, milliseconds(10'000)).ok());
  ASSERT_TRUE(r.has_error()) << r.ShortDebugString();
  EXPECT_EQ(r.error().code(), v1::Error::UNAVAILABLE);
  client.Close();
  ExpectRestartHolds(c.crash, /*exact=*/c.crash, acked, failed);
}

// Several connections pipelining requests: groups overlap their syncs. On
// each connection the answers come in request order, and once one is an
// error every later one is too; every acknowledged event is in the log
// after the restart.
TEST_P(ServerFaultTest, PipelinedConnectionsSeeAcksThenOnlyErrorsInOrder) {
  const Case c = GetParam();
  StartServer(&env_);
  {
    net::Client client;
    Connect(client);
    ASSERT_NO_FATAL_FAILURE(AppendSetup(client));
  }
  Inject(c.fault, 3);
  constexpr int kClients = 3;
  constexpr int kRequests = 30;
  std::vector<std::set<uint64_t>> acked(kClients), failed(kClients);
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int k = 0; k < kClients; ++k) {
    threads.emplace_back([&, k] {
      net::Client client;
      if (!client.Connect(server_->address()).ok()) {
        errors[k] = "connect failed";
        return;
      }
      std::vector<v1::Request> sent;
      uint64_t next_id = 1'000'000 * static_cast<uint64_t>(k + 1);
      for (int i = 0; i < kRequests; ++i) {
        sent.push_back(Clicks(client, next_id, 4));
        next_id += 4;
        if (!client.Send(sent.back()).ok()) break;  // the server may stop reading
      }
      bool failing = false;
      for (const v1::Request& req : sent) {
        v1::Response r;
        if (!client.Receive(&r, milliseconds(10'000)).ok()) {
          errors[k] = "no answer to request " + std::to_string(req.request_id());
          return;
        }
        if (r.request_id() != req.request_id()) {
          errors[k] = "answer out of order: " + r.ShortDebugString();
          return;
        }
        if (r.has_append()) {
          if (failing) errors[k] = "an ack after an error: " + r.ShortDebugString();
          for (uint64_t id : IdsOf(req)) acked[k].insert(id);
        } else {
          if (r.error().code() != v1::Error::UNAVAILABLE) {
            errors[k] = "not UNAVAILABLE: " + r.ShortDebugString();
          }
          failing = true;
          for (uint64_t id : IdsOf(req)) failed[k].insert(id);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all_acked = {1, 2, 3, 4}, all_failed;
  size_t errors_seen = 0;
  for (int k = 0; k < kClients; ++k) {
    EXPECT_EQ(errors[k], "") << "connection " << k;
    all_acked.insert(acked[k].begin(), acked[k].end());
    all_failed.insert(failed[k].begin(), failed[k].end());
    errors_seen += failed[k].size();
  }
  EXPECT_GT(errors_seen, 0u) << "the fault never fired";
  // Even after a crash, a failed group's events may be in the log: the
  // fdatasync of the group before it may have covered its bytes.
  ExpectRestartHolds(c.crash, /*exact=*/false, all_acked, all_failed);
}

INSTANTIATE_TEST_SUITE_P(Faults, ServerFaultTest,
                         ::testing::Values(Case{Fault::kSegmentWrite, true},
                                           Case{Fault::kSegmentWrite, false},
                                           Case{Fault::kFdatasync, true},
                                           Case{Fault::kFdatasync, false},
                                           Case{Fault::kIndexWrite, true},
                                           Case{Fault::kIndexWrite, false}),
                         Name);

}  // namespace
}  // namespace billsim::server
