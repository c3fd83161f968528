#include "cluster/cluster_check.h"

#include <google/protobuf/util/json_util.h>
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <memory>
#include <thread>

#include "billsim/v1/wire.pb.h"
#include "cluster/cluster_config.h"
#include "cluster/nats_client.h"
#include "cluster/partition.h"
#include "ledger/id_set.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"

namespace billsim::cluster {

namespace {

// One partition's stream, replayed as a single node would apply it.
class PartitionReplay : public log::BatchVisitor {
 public:
  PartitionReplay(uint32_t partition, uint32_t partitions, IdSet* accepted, uint64_t* twice)
      : partition_(partition), partitions_(partitions), accepted_(accepted), twice_(twice) {}

  const Ledger& ledger() const { return ledger_; }
  uint64_t applied() const { return applied_; }

  // Messages 1..last of the stream, in order.
  Status Read(NatsClient* nats, uint64_t last) {
    const std::string stream = StreamName(partition_);
    for (uint64_t seq = 1; seq <= last; ++seq) {
      natsMsg* msg = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      natsStatus s = NATS_OK;
      for (int attempt = 0; attempt < 20; ++attempt) {  // a node restarting
        s = js_GetMsg(&msg, nats->js(), stream.c_str(), seq, nullptr, &code);
        if (s == NATS_OK) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
      if (s != NATS_OK) {
        return nats->Error("reading " + stream + " message " + std::to_string(seq), s, code);
      }
      Apply(msg);
      natsMsg_Destroy(msg);
    }
    return Status::Ok();
  }

  bool OnDelivery(uint32_t, const log::DeliveryRow& row) override {
    Admit(ledger_.Apply(decoder_.ToEvent(row), nullptr), row.event_id, false);
    return true;
  }
  bool OnEvent(uint32_t, const v1::Event& event) override {
    const bool everywhere = event.has_clock_advanced() && event.clock_advanced().account_id().empty();
    Admit(ledger_.Apply(event, nullptr), event.event_id(), everywhere);
    return true;
  }

 private:
  // A message the shard would refuse whole (shard.h) is skipped here too.
  void Apply(natsMsg* msg) {
    const char* count_text = nullptr;
    uint32_t count = 0;
    if (natsMsgHeader_Get(msg, "Billsim-Events", &count_text) != NATS_OK || count_text == nullptr) {
      return;
    }
    const char* end = count_text + std::char_traits<char>::length(count_text);
    if (std::from_chars(count_text, end, count).ptr != end || count == 0 || count > 1000000) return;
    const std::string_view payload(natsMsg_GetData(msg),
                                   static_cast<size_t>(natsMsg_GetDataLength(msg)));
    if (!decoder_.Parse(payload, count).ok()) return;
    auto foreign = [&](std::string_view account) {
      return !account.empty() && PartitionOf(account, partitions_) != partition_;
    };
    for (uint32_t i = 0; i < decoder_.dictionary_size(); ++i) {
      if (foreign(decoder_.account(i))) return;
    }
    for (uint32_t i = 0; i < decoder_.other_events(); ++i) {
      if (foreign(EventAccountId(decoder_.other_event(i)))) return;
    }
    decoder_.Visit(this);
  }

  void Admit(const Ledger::Result& r, uint64_t id, bool everywhere) {
    if (r.outcome != Ledger::Outcome::kApplied) return;
    applied_++;
    if (everywhere && partition_ > 0) return;  // counted in partition 0's
    if (accepted_->Contains(id)) {
      ++*twice_;
    } else {
      accepted_->Insert(id);
    }
  }

  const uint32_t partition_, partitions_;
  IdSet* accepted_;
  uint64_t* twice_;
  Ledger ledger_;
  log::BatchDecoder decoder_;
  uint64_t applied_ = 0;
};

Status LastSequence(NatsClient* nats, uint32_t p, uint64_t* last) {
  const std::string name = StreamName(p);
  for (int attempt = 0;; ++attempt) {
    jsStreamInfo* si = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetStreamInfo(&si, nats->js(), name.c_str(), nullptr, &code);
    if (s == NATS_OK) {
      *last = si->State.LastSeq;
      jsStreamInfo_Destroy(si);
      return Status::Ok();
    }
    if (attempt >= 20) return nats->Error("reading stream " + name + "'s state", s, code);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

// An account's balance from a shard of partition p that has applied the
// stream through `after` (asked again while none has, for up to a minute).
Status AskBalance(NatsClient* nats, uint32_t p, uint64_t after, const std::string& account,
                  v1::Response* response) {
  v1::Request request;
  request.mutable_balance()->set_account_id(account);
  const std::string bytes = request.SerializeAsString();
  const std::string subject = QuerySubject(p);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    natsMsg* msg = nullptr;
    natsMsg* reply = nullptr;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, bytes.data(),
                                  static_cast<int>(bytes.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Billsim-After", std::to_string(after).c_str());
    if (s == NATS_OK) s = natsConnection_RequestMsg(&reply, nats->connection(), msg, 10000);
    natsMsg_Destroy(msg);
    bool again = s != NATS_OK;
    if (s == NATS_OK) {
      const bool parsed =
          response->ParseFromArray(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
      natsMsg_Destroy(reply);
      if (!parsed) return Status::Corruption(subject + ": an answer that does not decode");
      again = response->has_error() && response->error().code() == v1::Error::UNAVAILABLE;
    }
    if (!again) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return s != NATS_OK ? nats->Error("asking " + subject + " for " + account, s)
                          : Status::IOError(subject + ": " + response->error().message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The cluster's configuration, asked again for up to a minute while
// JetStream does not answer: after a node's restart, reading the bucket
// times out until its leaders are elected again (cluster_r3 kills a node
// while the stress run that checks goes on).
Status LoadClusterWhenUp(NatsClient* nats, ClusterConfig* config) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    Status st = LoadCluster(nats, config);
    if (st.code() != Status::Code::kIOError || std::chrono::steady_clock::now() >= deadline) {
      return st;
    }
    spdlog::warn("{}; asking again", st.ToString());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out);
  return out;
}

}  // namespace

Status CheckCluster(const std::string& nats_url, const std::vector<std::string>& accounts,
                    const std::vector<std::pair<uint64_t, uint64_t>>& acked_runs,
                    stress::StressReport* r) {
  std::unique_ptr<NatsClient> nats;
  Status st = NatsClient::Connect(nats_url, 5000, &nats);
  ClusterConfig config;
  if (st.ok()) st = LoadClusterWhenUp(nats.get(), &config);
  if (!st.ok()) return st;
  r->log_dir = nats_url + " (streams BILLSIM_P0..P" + std::to_string(config.partitions - 1) + ")";

  // (1) Each partition's stream, replayed offline.
  IdSet accepted;
  uint64_t twice = 0;
  std::vector<std::unique_ptr<PartitionReplay>> replays;
  std::vector<uint64_t> last(config.partitions, 0);
  for (uint32_t p = 0; p < config.partitions; ++p) {
    st = LastSequence(nats.get(), p, &last[p]);
    if (!st.ok()) return st;
    replays.push_back(std::make_unique<PartitionReplay>(p, config.partitions, &accepted, &twice));
    st = replays.back()->Read(nats.get(), last[p]);
    if (!st.ok()) return st;
    r->log_events += replays.back()->applied();
    r->durable_seq += last[p];
  }

  // (2) Live balances, from the shards, against the replays.
  for (const std::string& account : accounts) {
    const uint32_t p = PartitionOf(account, config.partitions);
    v1::Response response;
    st = AskBalance(nats.get(), p, last[p], account, &response);
    if (!st.ok()) return st;
    const std::optional<v1::AccountBalance> offline = replays[p]->ledger().Balance(account);
    const bool equal = stress::BalanceAgrees(response, offline);
    r->accounts_checked++;
    if (!equal && r->balance_mismatches++ < 3) {
      spdlog::error("account {} (partition {}): a shard says {}, a replay of the stream says {}",
                    account, p, Json(response), offline ? Json(*offline) : std::string("nothing"));
    }
  }

  // (3) Every acknowledged id applied, none twice.
  r->duplicated = twice;
  IdSet acked;
  for (const auto& [first, end] : acked_runs) {
    for (uint64_t id = first; id <= end; ++id) {
      if (acked.Contains(id)) continue;
      acked.Insert(id);
      if (!accepted.Contains(id) && r->lost++ < 3) {
        spdlog::error("event {} was acknowledged but no stream applies it", id);
      }
    }
  }
  if (twice > 0) spdlog::error("{} event ids are applied more than once", twice);
  r->checked = true;
  r->consistent = r->balance_mismatches == 0 && r->lost == 0 && r->duplicated == 0;
  return Status::Ok();
}

}  // namespace billsim::cluster
