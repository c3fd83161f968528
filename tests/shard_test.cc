// A shard against a real nats-server (started here on a free loopback port
// with a temporary store, and stopped): messages it cannot use are refused
// whole, reported, and skipped, while the good ones around them apply; and
// a restart resumes after the last one applied.
#include "cluster/shard.h"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_config.h"
#include "cluster/nats_client.h"
#include "cluster/partition.h"
#include "cluster/publisher.h"
#include "log/batch_codec.h"

namespace billsim::cluster {
namespace {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class ShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("billsim_shard_test_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const int port = FreePort();
    url_ = "nats://127.0.0.1:" + std::to_string(port);
    const std::string port_text = std::to_string(port);
    const std::string store = (dir_ / "js").string();
    server_ = fork();
    ASSERT_GE(server_, 0);
    if (server_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the test, however it ends
      const std::string log = (dir_ / "nats.log").string();
      freopen(log.c_str(), "w", stderr);
      freopen(log.c_str(), "w", stdout);
      execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", port_text.c_str(), "-js",
             "-sd", store.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100 && !nats_; ++i) {
      if (!NatsClient::Connect(url_, 5000, &nats_).ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_TRUE(nats_) << "nats-server did not start (is it installed? tools/install-deps)";
    ASSERT_TRUE(InitCluster(nats_.get(), ClusterConfig{2, 1}).ok());
  }

  void TearDown() override {
    nats_.reset();
    if (server_ > 0) {
      kill(server_, SIGKILL);
      waitpid(server_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // A raw message on partition 0's subject, headers as given.
  void PublishRaw(const std::string& payload, const char* events_header) {
    natsMsg* msg = nullptr;
    const std::string subject = BatchSubject(0);
    ASSERT_EQ(natsMsg_Create(&msg, subject.c_str(), nullptr, payload.data(),
                             static_cast<int>(payload.size())),
              NATS_OK);
    if (events_header != nullptr) {
      ASSERT_EQ(natsMsgHeader_Set(msg, "Billsim-Events", events_header), NATS_OK);
    }
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_PublishMsg(&ack, nats_->js(), msg, nullptr, nullptr), NATS_OK);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
  }

  // Events of an account that lives in partition `p`.
  static std::string AccountIn(uint32_t p) {
    for (int i = 0;; ++i) {
      const std::string id = "acct-" + std::to_string(i);
      if (PartitionOf(id, 2) == p) return id;
    }
  }

  static v1::Event Open(uint64_t id, const std::string& account) {
    v1::Event e;
    e.set_event_id(id);
    e.set_time_us(1767225600000000);
    e.mutable_account_opened()->set_account_id(account);
    e.mutable_account_opened()->set_currency("USD");
    return e;
  }
  static v1::Event Deposit(uint64_t id, const std::string& account, int64_t micros) {
    v1::Event e;
    e.set_event_id(id);
    e.set_time_us(1767225600000000 + static_cast<int64_t>(id));
    e.mutable_cash_deposited()->set_account_id(account);
    e.mutable_cash_deposited()->set_amount_micros(micros);
    return e;
  }
  static std::string Encode(const std::vector<v1::Event>& events) {
    log::BatchBuilder b;
    for (const v1::Event& e : events) b.Add(e);
    std::string out;
    b.Finish(&out);
    return out;
  }

  ShardStats RunShard(const std::string& state) {
    ShardOptions o;
    o.nats_url = url_;
    o.partition = 0;
    o.state_dir = (dir_ / state).string();
    o.fsync.mode = log::FsyncPolicy::Mode::kNever;
    o.until_idle_ms = 500;
    ShardStats stats;
    const Status st = cluster::RunShard(o, &stats);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return stats;
  }

  std::filesystem::path dir_;
  std::string url_;
  pid_t server_ = -1;
  std::unique_ptr<NatsClient> nats_;
};

TEST_F(ShardTest, RefusesWholeTheMessagesItCannotUseAndAppliesTheRest) {
  const std::string mine = AccountIn(0), theirs = AccountIn(1);
  PublishRaw(Encode({Open(1, mine)}), "1");                         // good
  PublishRaw("\xff\xfe not a batch", "1");                          // does not decode
  PublishRaw(Encode({Deposit(2, mine, 5)}), nullptr);                // no count
  PublishRaw(Encode({Deposit(3, mine, 5)}), "99999999999999999999");  // absurd count
  PublishRaw(Encode({Deposit(4, mine, 5)}), "2");                   // wrong count
  PublishRaw(Encode({Open(5, theirs)}), "1");                       // another partition's
  PublishRaw(Encode({Deposit(6, mine, 7000000), Deposit(6, mine, 1)}), "2");  // one repeat
  const ShardStats s = RunShard("a");
  EXPECT_EQ(s.messages, 7u);
  EXPECT_EQ(s.messages_refused, 5u);
  EXPECT_EQ(s.events_applied, 2u);  // the opening and the first deposit 6
  EXPECT_EQ(s.events_refused, 1u);  // the repeated id 6 (R10)
  EXPECT_EQ(s.last_stream_seq, 7u);
  EXPECT_EQ(s.last_log_seq, 2u);

  // A restart reads nothing again; a new message is applied after it.
  PublishRaw(Encode({Deposit(8, mine, 1000000)}), "1");
  const ShardStats again = RunShard("a");
  EXPECT_EQ(again.resumed_after, 7u);
  EXPECT_EQ(again.messages, 1u);
  EXPECT_EQ(again.events_applied, 1u);
  EXPECT_EQ(again.last_log_seq, 3u);
  // A second replica from scratch ends in the same state.
  EXPECT_EQ(RunShard("b").state_digest, again.state_digest);
}

TEST_F(ShardTest, PublisherSplitsBatchesToFitAMessageAndPublishesInOrder) {
  const std::string mine = AccountIn(0);
  Publisher publisher(nats_.get(), 2, 100000);
  ASSERT_TRUE(publisher.Add(Open(1, mine)).ok());
  // Deposits with long-ish ids of their own: 40,000 of them encode to more
  // than one message may hold, so the batch is split in halves.
  for (uint64_t i = 2; i < 40002; ++i) ASSERT_TRUE(publisher.Add(Deposit(i, mine, 1)).ok());
  ASSERT_TRUE(publisher.Flush().ok());
  EXPECT_GT(publisher.stats().batches, 1u);
  const ShardStats s = RunShard("a");
  EXPECT_EQ(s.events_applied, 40001u);
  EXPECT_EQ(s.events_refused, 0u);  // in order: the opening before its deposits
}

}  // namespace
}  // namespace billsim::cluster
