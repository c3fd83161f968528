#include "cluster/shard.h"

#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "billsim/v1/wire.pb.h"

#include "cluster/cluster_config.h"
#include "cluster/nats_client.h"
#include "cluster/partition.h"
#include "journal/journal.h"
#include "log/read_ahead.h"
#include "replay/replayer.h"
#include "server/live_queries.h"
#include "server/request.h"

namespace billsim::cluster {

namespace {

// The stream sequence recorded in the log's last batch (0: none).
Status LastStreamSequence(const std::string& dir, uint64_t last_seq, uint64_t* out) {
  *out = 0;
  if (last_seq == 0) return Status::Ok();
  log::ReadAheadStream stream;
  Status st = stream.Open(dir, log::LogReader::Options{}, last_seq);
  bool done = false;
  if (st.ok()) st = stream.Next(&done);
  if (!st.ok()) return st;
  if (!done) *out = stream.decoder().stream_sequence();
  return Status::Ok();
}

class ShardRun {
 public:
  ShardRun(const ShardOptions& o, ShardStats* stats) : o_(o), stats_(stats) {}

  Status Run() {
    last_message_ = std::chrono::steady_clock::now();
    // A node restarting or a stream electing its leader makes requests time
    // out for a while: I/O errors are retried (while the shard is not
    // stopped or idle too long); a cluster that does not exist is not.
    ClusterConfig config;
    Status st = Retrying([&] {
      Status s = nats_ != nullptr ? Status::Ok() : NatsClient::Connect(o_.nats_url, 5000, &nats_);
      if (s.ok()) s = LoadCluster(nats_.get(), &config);
      return s;
    });
    if (!st.ok()) return st;
    if (o_.partition >= config.partitions) {
      return Status::InvalidArgument("--partition: " + std::to_string(o_.partition) +
                                     " is not a partition of the cluster (it has " +
                                     std::to_string(config.partitions) + ")");
    }
    partitions_ = config.partitions;
    std::error_code ec;
    std::filesystem::create_directories(o_.state_dir, ec);
    if (ec) return Status::IOError(o_.state_dir + ": cannot create: " + ec.message());
    JournalOptions jo;
    jo.log.fsync = o_.fsync;
    st = Journal::Open(o_.state_dir, jo, &journal_);
    if (st.ok()) st = LastStreamSequence(o_.state_dir, journal_->last_seq(), &stats_->resumed_after);
    if (!st.ok()) return st;
    stats_->last_stream_seq = stats_->resumed_after;
    applied_seq_ = stats_->resumed_after;
    st = Retrying([&] { return Serve(); });
    if (!st.ok()) return st;
    spdlog::info("shard of partition {}: {} events in {}, resuming after stream sequence {}",
                 o_.partition, journal_->last_seq(), o_.state_dir, stats_->resumed_after);
    last_message_ = std::chrono::steady_clock::now();  // idle counts from here
    st = Resubscribe() ? Consume() : GaveUp();
    DropSubscription();
    StopServing();
    stats_->last_log_seq = journal_ != nullptr ? journal_->last_seq() : 0;
    if (journal_ != nullptr) {
      const Status closed = journal_->Close();
      std::lock_guard<std::mutex> lock(mu_);
      journal_.reset();
      if (st.ok()) st = closed;
      // The digest of the state its log rebuilds. The live ledger's also
      // counts the refusals it saw, which are not in the log: a replica
      // that restarted since would differ from one that did not.
      Ledger rebuilt;
      ReplayStats rs;
      const Status replayed = Replay(o_.state_dir, ReplayOptions{}, &rebuilt, &rs);
      if (st.ok()) st = replayed;
      if (replayed.ok()) stats_->state_digest = rebuilt.Digest();
    }
    return st;
  }

 private:
  Status Subscribe(uint64_t from) {
    const std::string stream = StreamName(o_.partition);
    const std::string subject = BatchSubject(o_.partition);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
    so.Config.AckPolicy = js_AckNone;  // the local log is the position
    so.Config.InactiveThreshold = int64_t{10} * 1000000000;  // an abandoned one goes
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_PullSubscribe(&sub_, nats_->js(), subject.c_str(), nullptr, nullptr, &so, &code);
    if (s != NATS_OK) return nats_->Error("subscribing to " + stream, s, code);
    return Status::Ok();
  }

  Status Consume() {
    while (o_.stop == nullptr || !o_.stop->load()) {
      natsMsgList list{nullptr, 0};
      jsErrCode code = static_cast<jsErrCode>(0);
      const natsStatus s =
          natsSubscription_Fetch(&list, sub_, static_cast<int>(o_.fetch_batch), 200, &code);
      const auto now = std::chrono::steady_clock::now();
      if (s == NATS_OK && list.Count > 0) {
        last_message_ = now;
        Status st;
        bool gap = false;
        for (int i = 0; i < list.Count && st.ok() && !gap; ++i) {
          st = OnMessage(list.Msgs[i], &gap);
        }
        natsMsgList_Destroy(&list);
        if (!st.ok()) return st;
        // A message the consumer counted as delivered never came (a node
        // went away mid-fetch; with no acks it is not sent again): read
        // again from the first sequence not applied.
        if (gap && !Resubscribe()) return GaveUp();
        continue;
      }
      natsMsgList_Destroy(&list);
      if (s != NATS_OK && s != NATS_TIMEOUT) {
        spdlog::warn("{}", nats_->Error("fetching from " + StreamName(o_.partition), s, code)
                               .message());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      const auto quiet = now - std::max(last_message_, last_subscribe_);
      if (o_.until_idle_ms > 0 && now - last_message_ >= std::chrono::milliseconds(o_.until_idle_ms)) {
        // Idle: done, if nothing in the stream is left to read.
        uint64_t stream_last = 0;
        const Status st = StreamLastSequence(&stream_last);
        if (st.ok() && stats_->last_stream_seq >= stream_last) return Status::Ok();
        if (!st.ok()) {
          // A node restarting: ask again after another idle period, a few times.
          if (++unanswered_idle_checks_ > 5) {
            return Status::IOError(
                "idle, but cannot tell whether the stream is read to its end: " + st.message());
          }
          spdlog::warn("{}; asking again", st.message());
        }
        last_message_ = now;  // more to read (or unknown): a new consumer, and wait again
        if (!Resubscribe()) return GaveUp();
        continue;
      }
      // The fetch failed, or nothing came for a while: the consumer may have
      // gone with a node (an ephemeral consumer lives on one). A new one
      // from the next sequence this shard needs costs little and resumes
      // exactly there.
      if (s != NATS_TIMEOUT || quiet >= std::chrono::seconds(2)) {
        if (!Resubscribe()) return GaveUp();
      }
    }
    return Status::Ok();
  }

  // Resubscribe gave up: stopped (fine), or idle past --until-idle without
  // a consumer (not fine: the stream may hold more).
  Status GaveUp() const {
    if (o_.stop != nullptr && o_.stop->load()) return Status::Ok();
    return Status::IOError("partition " + std::to_string(o_.partition) +
                           ": no consumer could be made for " +
                           std::to_string(o_.until_idle_ms) +
                           " ms; the stream may hold more than was applied");
  }

  Status StreamLastSequence(uint64_t* last) {
    jsStreamInfo* si = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const std::string name = StreamName(o_.partition);
    const natsStatus s = js_GetStreamInfo(&si, nats_->js(), name.c_str(), nullptr, &code);
    if (s != NATS_OK) return nats_->Error("reading stream " + name + "'s state", s, code);
    *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return Status::Ok();
  }

  bool Stopped() const {
    if (o_.stop != nullptr && o_.stop->load()) return true;
    return o_.until_idle_ms > 0 && std::chrono::steady_clock::now() - last_message_ >=
                                       std::chrono::milliseconds(o_.until_idle_ms);
  }

  template <typename Fn>
  Status Retrying(Fn fn) {
    for (int attempt = 0;; ++attempt) {
      const Status st = fn();
      if (st.ok() || st.code() != Status::Code::kIOError || Stopped()) return st;
      if (attempt % 10 == 0) spdlog::warn("{}; retrying", st.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }

  // Replaces the consumer with one from the next sequence this shard
  // needs, retrying until there is one (a stream electing its leader, a
  // node restarting); false if the shard was stopped meanwhile.
  bool Resubscribe() {
    DropSubscription();
    for (int attempt = 0;; ++attempt) {
      const Status st = Subscribe(stats_->last_stream_seq + 1);
      last_subscribe_ = std::chrono::steady_clock::now();
      if (st.ok()) {
        next_consumer_seq_ = 1;  // a new consumer counts from 1
        return true;
      }
      if (Stopped()) return false;  // stopped, or idle long enough
      if (attempt % 25 == 0) spdlog::warn("{}; retrying", st.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  void DropSubscription() {
    if (sub_ == nullptr) return;
    natsSubscription_Unsubscribe(sub_);  // deletes the ephemeral consumer
    natsSubscription_Destroy(sub_);
    sub_ = nullptr;
  }

  Status OnMessage(natsMsg* msg, bool* gap) {
    jsMsgMetaData* meta = nullptr;
    natsStatus s = natsMsg_GetMetaData(&meta, msg);
    if (s != NATS_OK) return nats_->Error("reading a message's stream sequence", s);
    const uint64_t seq = meta->Sequence.Stream;
    const uint64_t consumer_seq = meta->Sequence.Consumer;
    jsMsgMetaData_Destroy(meta);
    if (consumer_seq != next_consumer_seq_) {
      spdlog::warn("partition {}: consumer sequence {} where {} was due (a message lost in "
                   "transit): reading again after stream sequence {}",
                   o_.partition, consumer_seq, next_consumer_seq_, stats_->last_stream_seq);
      *gap = true;
      return Status::Ok();
    }
    next_consumer_seq_++;
    if (seq <= stats_->last_stream_seq) return Status::Ok();  // already applied
    stats_->last_stream_seq = seq;
    stats_->messages++;
    v1::Response notice;
    notice.set_request_id(seq);
    const Status st = Apply(msg, seq, &notice);
    if (st.ok()) Notify(seq, &notice);
    return st;
  }

  // One message: applied (its notice the AppendAck: accepted events, the
  // refusals, the local log's sequences) or refused whole (an Error).
  Status Apply(natsMsg* msg, uint64_t seq, v1::Response* notice) {
    const std::string_view payload(natsMsg_GetData(msg),
                                   static_cast<size_t>(natsMsg_GetDataLength(msg)));
    const char* count_text = nullptr;
    uint64_t count = 0;
    if (natsMsgHeader_Get(msg, "Billsim-Events", &count_text) != NATS_OK ||
        !ParseCount(count_text, &count)) {
      return RefuseMessage(seq, "Billsim-Events", "the header is missing or not a count 1..1000000",
                           notice);
    }
    Status st = decoder_.Parse(payload, static_cast<uint32_t>(count));
    if (!st.ok()) return RefuseMessage(seq, "payload", st.message(), notice);
    st = CheckOwnership(seq);
    if (!st.ok()) return RefuseMessage(seq, "account_id", st.message(), notice);
    refusals_.clear();
    std::lock_guard<std::mutex> lock(mu_);  // queries read the ledger
    const uint32_t accepted = journal_->ApplyBatch(decoder_, &refusals_);
    stats_->events_applied += accepted;
    stats_->events_refused += refusals_.size();
    v1::AppendAck* ack = notice->mutable_append();
    ack->set_accepted(accepted);
    for (const Refusal& r : refusals_) {
      Report(seq, r.event_id, r.field, r.reason);
      v1::Rejection* rejection = ack->add_rejections();
      rejection->set_event_id(r.event_id);
      rejection->set_field(r.field);
      rejection->set_reason(r.reason);
      rejection->set_duplicate(r.duplicate);
    }
    if (journal_->pending() == 0) return Status::Ok();
    journal_->SetStreamSequence(seq);
    log::SeqRange range;
    st = journal_->Append(&range);
    ack->set_first_seq(range.first);
    ack->set_last_seq(range.last);
    return st;
  }

  static bool ParseCount(const char* text, uint64_t* out) {
    if (text == nullptr || *text == '\0') return false;
    uint64_t v = 0;
    for (const char* p = text; *p != '\0'; ++p) {
      if (*p < '0' || *p > '9') return false;
      v = v * 10 + static_cast<uint64_t>(*p - '0');
      if (v > 1000000) return false;
    }
    *out = v;
    return v > 0;
  }

  // Every account the message names directly belongs to this partition
  // (a publisher that routes by another hash or count is refused, not
  // half-applied).
  Status CheckOwnership(uint64_t seq) {
    auto check = [&](std::string_view account) {
      if (account.empty()) return Status::Ok();
      const uint32_t p = PartitionOf(account, partitions_);
      if (p == o_.partition) return Status::Ok();
      return Status::InvalidArgument("account \"" + std::string(account) + "\" belongs to partition " +
                                     std::to_string(p) + ", not " + std::to_string(o_.partition));
    };
    for (uint32_t i = 0; i < decoder_.dictionary_size(); ++i) {
      const Status st = check(decoder_.account(i));
      if (!st.ok()) return st;
    }
    for (uint32_t i = 0; i < decoder_.other_events(); ++i) {
      const Status st = check(EventAccountId(decoder_.other_event(i)));
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  Status RefuseMessage(uint64_t seq, const std::string& field, const std::string& reason,
                       v1::Response* notice) {
    stats_->messages_refused++;
    Report(seq, 0, field, "message refused whole: " + reason);
    *notice = server::ErrorResponse(seq, v1::Error::BAD_REQUEST,
                                    "stream sequence " + std::to_string(seq) + ": " + field +
                                        ": message refused whole: " + reason);
    return Status::Ok();
  }

  // --- What the shard says and answers (partition.h) ----------------------------

  // The notice of a message: published on the applied subject (for a
  // gateway waiting on it) and kept in a bounded memory of recent ones
  // (for one that missed it: the status request).
  void Notify(uint64_t seq, v1::Response* notice) {
    std::string bytes = notice->SerializeAsString();
    if (bytes.size() > kMaxNoticeBytes && notice->has_append()) {
      for (v1::Rejection& r : *notice->mutable_append()->mutable_rejections()) {
        if (r.reason().size() > 120) r.set_reason(Utf8Prefix(r.reason(), 120) + "...");
      }
      bytes = notice->SerializeAsString();
    }
    if (bytes.size() > kMaxNoticeBytes) {
      bytes = server::ErrorResponse(seq, v1::Error::RESOURCE_EXHAUSTED,
                                    "stream sequence " + std::to_string(seq) + ": " +
                                        std::to_string(notice->append().rejections_size()) +
                                        " refusals, too many for one notice; they are on " +
                                        RefusedSubject(o_.partition))
                  .SerializeAsString();
    }
    const std::string subject = AppliedSubject(o_.partition);
    natsConnection_Publish(nats_->connection(), subject.c_str(), bytes.data(),
                           static_cast<int>(bytes.size()));
    std::lock_guard<std::mutex> lock(mu_);
    recent_bytes_ += bytes.size();
    recent_.emplace_back(seq, std::move(bytes));
    while (recent_.size() > kRecentNotices || recent_bytes_ > kRecentNoticeBytes) {
      recent_bytes_ -= recent_.front().second.size();
      recent_.pop_front();
    }
    applied_seq_ = seq;
    applied_cv_.notify_all();
  }

  static std::string Utf8Prefix(const std::string& s, size_t n) {
    while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
  }

  // Subscribes to the status and query subjects, in the replicas' queue group.
  Status Serve() {
    const std::string status = StatusSubject(o_.partition);
    const std::string query = QuerySubject(o_.partition);
    natsStatus s = natsConnection_QueueSubscribe(&status_sub_, nats_->connection(), status.c_str(),
                                                 kShardQueueGroup, &ShardRun::OnStatus, this);
    if (s == NATS_OK) {
      s = natsConnection_QueueSubscribe(&query_sub_, nats_->connection(), query.c_str(),
                                        kShardQueueGroup, &ShardRun::OnQuery, this);
    }
    if (s != NATS_OK) {
      StopServing();
      return nats_->Error("subscribing to " + status + " and " + query, s);
    }
    return Status::Ok();
  }

  // Queries waiting are answered UNAVAILABLE, those in hand are finished,
  // then the subscriptions go (before the journal does).
  void StopServing() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      serving_ = false;
      applied_cv_.notify_all();
    }
    for (natsSubscription** sub : {&status_sub_, &query_sub_}) {
      if (*sub == nullptr) continue;
      if (natsSubscription_Drain(*sub) == NATS_OK) {
        natsSubscription_WaitForDrainCompletion(*sub, kQueryWaitMs + 1000);
      }
      natsSubscription_Destroy(*sub);
      *sub = nullptr;
    }
  }

  void Reply(natsMsg* request, const std::string& bytes, const char* status) {
    const char* reply = natsMsg_GetReply(request);
    if (reply == nullptr) return;
    natsMsg* msg = nullptr;
    if (natsMsg_Create(&msg, reply, nullptr, bytes.data(), static_cast<int>(bytes.size())) !=
        NATS_OK) {
      return;
    }
    if (status != nullptr) natsMsgHeader_Set(msg, "Billsim-Status", status);
    natsConnection_PublishMsg(nats_->connection(), msg);
    natsMsg_Destroy(msg);
  }

  // "<seq>": that message's notice; or Billsim-Status "pending" (not applied
  // yet) or "forgotten" (applied before this shard's memory of notices).
  static void OnStatus(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<ShardRun*>(closure);
    uint64_t seq = 0;  // 0: not a sequence
    const char* text = natsMsg_GetData(msg);
    const char* end = text + natsMsg_GetDataLength(msg);
    if (std::from_chars(text, end, seq).ptr != end) seq = 0;
    std::string bytes;
    const char* status = "forgotten";
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (seq == 0 || seq > self->applied_seq_) {
        status = "pending";
      } else {
        auto it = std::lower_bound(self->recent_.begin(), self->recent_.end(), seq,
                                   [](const auto& e, uint64_t s) { return e.first < s; });
        if (it != self->recent_.end() && it->first == seq) {
          bytes = it->second;
          status = nullptr;
        }
      }
    }
    self->Reply(msg, bytes, status);
    natsMsg_Destroy(msg);
  }

  // A serialized v1::Request (a live-state query or a Ping), answered once
  // this shard has applied the stream up to the Billsim-After header (what
  // the asker has seen acknowledged), so a replica behind the other does
  // not answer from before it; UNAVAILABLE after kQueryWaitMs.
  static void OnQuery(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<ShardRun*>(closure);
    v1::Request request;
    v1::Response response;
    const char* after_text = nullptr;
    uint64_t after = 0;
    if (natsMsgHeader_Get(msg, "Billsim-After", &after_text) == NATS_OK && after_text != nullptr) {
      after = std::strtoull(after_text, nullptr, 10);
    }
    if (!request.ParseFromArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg))) {
      response = server::ErrorResponse(0, v1::Error::BAD_REQUEST, "the query does not decode");
    } else {
      std::unique_lock<std::mutex> lock(self->mu_);
      const bool caught_up = self->applied_cv_.wait_for(
          lock, std::chrono::milliseconds(kQueryWaitMs),
          [&] { return self->applied_seq_ >= after || !self->serving_; });
      if (!caught_up || self->journal_ == nullptr || !self->serving_) {
        response = server::ErrorResponse(
            0, v1::Error::UNAVAILABLE,
            "partition " + std::to_string(self->o_.partition) + ": this shard has applied stream "
                "sequence " + std::to_string(self->applied_seq_) + ", not yet " +
                std::to_string(after) + "; try again");
      } else if (request.has_ping()) {
        v1::Pong* pong = response.mutable_pong();
        pong->set_durable_seq(self->journal_->last_seq());
        pong->set_log_dir(self->o_.state_dir);
        pong->set_fsync(self->o_.fsync.ToString());
        pong->set_events_applied(self->journal_->ledger().events_applied());
      } else if (!server::AnswerLiveQuery(self->journal_->ledger(), request, &response)) {
        response = server::ErrorResponse(0, v1::Error::BAD_REQUEST,
                                          "a shard answers live-state queries only");
      }
    }
    response.set_request_id(request.request_id());
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      response.set_acknowledged_seq(self->applied_seq_);  // the stream sequence it reflects
    }
    self->Reply(msg, response.SerializeAsString(), nullptr);
    natsMsg_Destroy(msg);
  }

  void Report(uint64_t seq, uint64_t event_id, const std::string& field, const std::string& reason) {
    spdlog::warn("partition {} stream sequence {}: event {}: {}: {}", o_.partition, seq, event_id,
                 field, reason);
    const std::string text = nlohmann::json{{"partition", o_.partition},
                                            {"stream_sequence", seq},
                                            {"event_id", event_id},
                                            {"field", field},
                                            {"reason", reason}}
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::string subject = RefusedSubject(o_.partition);
    natsConnection_Publish(nats_->connection(), subject.c_str(), text.data(),
                           static_cast<int>(text.size()));
  }

  const ShardOptions& o_;
  ShardStats* stats_;
  std::unique_ptr<NatsClient> nats_;
  std::unique_ptr<Journal> journal_;
  natsSubscription* sub_ = nullptr;
  std::chrono::steady_clock::time_point last_message_;    // or the start
  std::chrono::steady_clock::time_point last_subscribe_;
  uint64_t next_consumer_seq_ = 1;  // of the current consumer
  int unanswered_idle_checks_ = 0;  // stream state requests that failed
  uint32_t partitions_ = 0;
  log::BatchDecoder decoder_;
  std::vector<Refusal> refusals_;

  // Guards journal_ (its ledger: queries read it on NATS's threads), the
  // notices and applied_seq_.
  static constexpr size_t kMaxNoticeBytes = 900 * 1024;  // under NATS's 1 MiB
  static constexpr size_t kRecentNotices = 4096;
  static constexpr size_t kRecentNoticeBytes = 64u << 20;
  static constexpr int64_t kQueryWaitMs = 1000;
  std::mutex mu_;
  std::condition_variable applied_cv_;
  uint64_t applied_seq_ = 0;  // the last stream sequence applied (or refused)
  bool serving_ = true;
  std::deque<std::pair<uint64_t, std::string>> recent_;  // (seq, notice), ascending
  size_t recent_bytes_ = 0;
  natsSubscription* status_sub_ = nullptr;
  natsSubscription* query_sub_ = nullptr;
};

}  // namespace

Status RunShard(const ShardOptions& options, ShardStats* stats) {
  *stats = ShardStats{};
  ShardRun run(options, stats);
  return run.Run();
}

}  // namespace billsim::cluster
