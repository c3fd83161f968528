#include "server/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "ledger/ledger.h"
#include "log/batch_codec.h"
#include "log/log_scrub.h"
#include "net/client.h"
#include "replay/batch_applier.h"
#include "replay/replayer.h"

namespace billsim::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxPendingOutBytes = 8u << 20;  // stop reading above this
// Group commit limits, below the log's batch limits (kMaxBatchEvents,
// kMaxPayloadBytes): a group larger than this is appended in several batches.
constexpr uint32_t kMaxBatchEventsPerAppend = 500'000;
constexpr uint64_t kMaxBatchBytesPerAppend = 32u << 20;

v1::Response ErrorResponse(uint64_t request_id, v1::Error::Code code, std::string message) {
  v1::Response r;
  r.set_request_id(request_id);
  r.mutable_error()->set_code(code);
  r.mutable_error()->set_message(std::move(message));
  return r;
}

}  // namespace

class Session;

// A request as the network thread parsed it: for a columnar append, with
// its batch decoded (and its bytes dropped), so the committer reads columns.
struct Parsed {
  v1::Request request;
  std::unique_ptr<log::BatchDecoder> batch;
  uint64_t bytes = 0;  // frame body size
};

// A request on its way to the committer.
struct Work {
  std::shared_ptr<Session> session;
  Parsed parsed;
  uint64_t weight = 1;  // events (at least 1): the queue's bound counts these
};

// Multi-producer (network thread), single-consumer (committer) hand-off,
// bounded by the total weight queued and not yet committed.
class CommitQueue {
 public:
  enum class Push { kOk, kFull, kClosed };
  explicit CommitQueue(uint64_t capacity) : capacity_(capacity) {}

  Push TryPush(Work&& work) {
    std::lock_guard lock(mu_);
    if (closed_) return Push::kClosed;
    // An empty queue takes any request, so one large request cannot stall.
    if (held_ > 0 && held_ + work.weight > capacity_) return Push::kFull;
    held_ += work.weight;
    items_.push_back(std::move(work));
    cv_.notify_one();
    return Push::kOk;
  }
  // Takes everything queued; waits up to `wait` for something. False when
  // closed and drained.
  bool PopAll(std::vector<Work>* out, std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return closed_ || !items_.empty(); });
    out->clear();
    std::swap(*out, items_);
    return !(closed_ && out->empty());
  }
  // The weight of a committed group no longer counts.
  void Release(uint64_t weight) {
    std::lock_guard lock(mu_);
    held_ -= std::min(held_, weight);
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Work> items_;
  uint64_t held_ = 0;
  uint64_t capacity_;
  bool closed_ = false;
};

// A response on its way back to its session.
struct Delivery {
  std::shared_ptr<Session> session;
  v1::Response response;
};

// A committed group waiting for its fdatasync (with --fsync always): the
// committer writes a group, hands it here and goes on with the next group
// while the syncer thread makes this one durable; only then do its
// responses go out. Groups leave in the order they came, and one
// fdatasync covers every group waiting. Bounded: the committer waits when
// kMaxWaiting groups are not yet synced.
struct Commit {
  log::LogWriter::SyncTicket ticket;
  std::vector<Delivery> deliveries;
};

class SyncQueue {
 public:
  static constexpr size_t kMaxWaiting = 4;

  // Waits while kMaxWaiting groups wait. REQUIRES: not closed.
  void Push(Commit&& commit) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return items_.size() < kMaxWaiting; });
    items_.push_back(std::move(commit));
    ready_.notify_one();
  }
  // Takes every waiting group; false when closed and drained.
  bool PopAll(std::vector<Commit>* out) {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
    out->clear();
    for (auto& c : items_) out->push_back(std::move(c));
    items_.clear();
    room_.notify_all();
    return !out->empty();
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    ready_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<Commit> items_;
  bool closed_ = false;
};

// --- The server's shared state ---------------------------------------------------

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  explicit Impl(ServerOptions options)
      : options_(std::move(options)),
        acceptor_(io_),
        signals_(io_),
        shutdown_timer_(io_),
        work_guard_(asio::make_work_guard(io_)),
        queue_(options_.max_queued_events) {}

  Status Start();
  Status Run();
  void Stop() {
    asio::post(io_, [self = shared_from_this()] { self->BeginShutdown(); });
  }

  // Network thread only.
  // On kFull or kClosed, `parsed` is left with the caller.
  CommitQueue::Push Enqueue(std::shared_ptr<Session> session, Parsed& parsed);
  void AddBlocked(const std::shared_ptr<Session>& s) { blocked_.push_back(s); }
  void ResumeBlocked();
  void Forget(uint64_t id);
  void AbandonIfNotRun();  // Start without Run: stops the committer
  bool stopping() const { return stopping_; }
  const ServerOptions& options() const { return options_; }
  asio::io_context& io() { return io_; }

  std::string address_;
  uint16_t port_ = 0;

 private:
  void DoAccept();
  void BeginShutdown();
  void OnCommitterDone();

  // Committer thread.
  void CommitterLoop();
  // Syncer thread (--fsync always): fdatasync, then the responses.
  void SyncerLoop();
  void Send(std::vector<Delivery>&& deliveries);
  void ProcessGroup(std::vector<Work>& group);
  // Applies one append's events; the accepted go into builder_, the
  // refused into `ack`.
  void ApplyEvents(const v1::AppendRequest& append, v1::AppendAck* ack);
  void ApplyBatch(const log::BatchDecoder& batch, v1::AppendAck* ack);
  // Records the ledger's verdict on one event; true if it was applied.
  static bool Admitted(const Ledger::Result& r, uint64_t event_id, v1::AppendAck* ack);
  void AnswerQuery(const v1::Request& request, v1::Response* response);
  void AnswerHistory(const v1::HistoryQuery& q, v1::Response* response);

  ServerOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer shutdown_timer_;
  asio::executor_work_guard<asio::io_context::executor_type> work_guard_;

  // Network thread state.
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions_;
  std::vector<std::weak_ptr<Session>> blocked_;
  uint64_t next_session_id_ = 0;
  bool stopping_ = false;
  bool committer_done_ = false;

  // Committer state (owned by the committer thread once started).
  CommitQueue queue_;
  std::thread committer_;
  Ledger ledger_;
  std::unique_ptr<log::LogWriter> writer_;
  log::BatchBuilder builder_;
  BatchApplier applier_{&ledger_};
  Status log_failed_;  // the first Append/Sync failure
  // Pipelined durability (--fsync always): the syncer's queue and thread,
  // and its first failure, which the committer adopts as log_failed_.
  const bool pipelined_ = options_.fsync.mode == log::FsyncPolicy::Mode::kAlways;
  SyncQueue syncs_;
  std::thread syncer_;
  std::mutex sync_failed_mu_;
  Status sync_failed_;
  std::atomic<uint64_t> synced_seq_{0};  // the syncer's last good fdatasync
  uint64_t DurableSeq() const { return pipelined_ ? synced_seq_.load() : writer_->durable_seq(); }
  std::string log_dir_abs_;
  // Checks the log recovered at start in the background (Pong reports it).
  log::LogScrubber scrubber_;
  void FillScrub(v1::Pong* pong) const;
};

// --- One connection ---------------------------------------------------------------

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Server::Impl> server, tcp::socket socket, uint64_t id)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        idle_timer_(server_->io()),
        decoder_(server_->options().max_frame_bytes),
        id_(id) {}

  void Start() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    last_activity_ = Clock::now();
    ArmIdle(std::chrono::milliseconds(server_->options().idle_timeout_ms));
    MaybeRead();
  }

  // A response from the committer (network thread).
  void Deliver(v1::Response&& response) {
    if (in_flight_ > 0) --in_flight_;
    if (closed_) return;
    Write(response);
    if (in_flight_ == 0 && pending_error_) {
      Write(*pending_error_);
      pending_error_.reset();
    }
    MaybeRead();
    MaybeFinish();
  }

  // The queue has room again.
  void Resume() {
    if (closed_ || !blocked_) return;
    Parsed parsed = std::move(*blocked_);
    blocked_.reset();
    Submit(std::move(parsed));
    MaybeRead();
    MaybeFinish();
  }

  // Graceful stop: no more reads; finish what is in flight, then close.
  void Shutdown() {
    closing_ = true;
    if (blocked_) Resume();  // the queue is closed: answered UNAVAILABLE
    MaybeFinish();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    idle_timer_.cancel();
    blocked_.reset();
    server_->Forget(id_);
  }

 private:
  bool CanRead() const {
    return !closed_ && !closing_ && !eof_ && !blocked_ &&
           in_flight_ < server_->options().max_in_flight &&
           out_.size() + writing_.size() < kMaxPendingOutBytes && !server_->stopping();
  }

  void MaybeRead() {
    if (closed_) return;
    ProcessFrames();
    if (!CanRead() || reading_) return;
    reading_ = true;
    socket_.async_read_some(
        asio::buffer(read_buf_, sizeof read_buf_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          self->OnRead(ec, n);
        });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      if (ec != asio::error::eof) {
        Close();
        return;
      }
      // EOF: the client sent all it will (it may still read): answer the
      // whole frames it sent, then close.
      eof_ = true;
      MaybeRead();
      MaybeFinish();
      return;
    }
    last_activity_ = Clock::now();
    if (!closing_) decoder_.Feed(read_buf_, n);
    MaybeRead();
    MaybeFinish();
  }

  void ProcessFrames() {
    while (!closed_ && !closing_ && !blocked_ &&
           in_flight_ < server_->options().max_in_flight && !server_->stopping()) {
      std::string_view body;
      Status error;
      const auto result = decoder_.Next(&body, &error);
      if (result == net::FrameDecoder::Result::kNeedMore) return;
      if (result == net::FrameDecoder::Result::kError) {
        Fail(0, v1::Error::FRAME_TOO_LARGE, error.message());
        return;
      }
      v1::Request request;
      if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        Fail(0, v1::Error::MALFORMED,
             "frame of " + std::to_string(body.size()) + " bytes is not a Request");
        return;
      }
      if (request.body_case() == v1::Request::BODY_NOT_SET) {
        Fail(request.request_id(), v1::Error::MALFORMED,
             "request " + std::to_string(request.request_id()) + " has no body");
        return;
      }
      Parsed parsed;
      parsed.bytes = body.size();
      if (request.has_append() && !ParseAppend(&request, &parsed.batch)) return;
      parsed.request = std::move(request);
      Submit(std::move(parsed));
    }
  }

  // Checks an append's size and shape and decodes its batch, if any. On a
  // violation: Fail and false.
  bool ParseAppend(v1::Request* request, std::unique_ptr<log::BatchDecoder>* batch) {
    const uint64_t id = request->request_id();
    const std::string what = "request " + std::to_string(id);
    v1::AppendRequest* append = request->mutable_append();
    const bool columnar = !append->batch().empty() || append->batch_events() > 0;
    if (columnar && append->events_size() > 0) {
      Fail(id, v1::Error::BAD_REQUEST, what + " has both events and a batch; send one or the other");
      return false;
    }
    const uint64_t n = columnar ? append->batch_events()
                                : static_cast<uint64_t>(append->events_size());
    if (n > server_->options().max_events_per_request) {
      Fail(id, v1::Error::BAD_REQUEST,
           what + " has " + std::to_string(n) + " events; the maximum is " +
               std::to_string(server_->options().max_events_per_request));
      return false;
    }
    if (!columnar) return true;
    *batch = std::make_unique<log::BatchDecoder>();
    Status st = (*batch)->Parse(append->batch(), append->batch_events());
    if (!st.ok()) {
      Fail(id, v1::Error::MALFORMED, what + ": batch: " + st.message());
      return false;
    }
    append->clear_batch();  // decoded: the columns hold it now
    return true;
  }

  void Submit(Parsed&& parsed) {
    switch (server_->Enqueue(shared_from_this(), parsed)) {
      case CommitQueue::Push::kOk:
        ++in_flight_;
        break;
      case CommitQueue::Push::kFull:
        // Enqueue left the request with us: keep it and wait for room.
        blocked_ = std::move(parsed);
        server_->AddBlocked(shared_from_this());
        break;
      case CommitQueue::Push::kClosed: {
        const uint64_t id = parsed.request.request_id();
        ++in_flight_;  // Deliver decrements
        Deliver(ErrorResponse(id, v1::Error::UNAVAILABLE, "the server is shutting down"));
        closing_ = true;
        break;
      }
    }
  }

  // A protocol violation: an Error (after the responses in flight), then close.
  void Fail(uint64_t request_id, v1::Error::Code code, std::string message) {
    spdlog::warn("connection {}: {}: closing", id_, message);
    closing_ = true;
    v1::Response r = ErrorResponse(request_id, code, std::move(message));
    if (in_flight_ == 0) {
      Write(r);
    } else {
      pending_error_ = std::move(r);
    }
    MaybeFinish();
  }

  void Write(const v1::Response& response) {
    Status st = net::AppendFrame(response, &out_, UINT32_MAX);
    if (!st.ok()) {
      spdlog::error("connection {}: response not sent: {}", id_, st.message());
      Close();
      return;
    }
    DoWrite();
  }

  void DoWrite() {
    if (closed_ || writing_in_progress_ || out_.empty()) return;
    writing_.swap(out_);
    out_.clear();
    writing_in_progress_ = true;
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_in_progress_ = false;
                        self->writing_.clear();
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->last_activity_ = Clock::now();
                        self->DoWrite();
                        self->MaybeRead();
                        self->MaybeFinish();
                      });
  }

  void MaybeFinish() {
    // With eof_, in_flight_ == 0 means ProcessFrames found no whole frame left.
    if (!closed_ && (closing_ || eof_) && in_flight_ == 0 && !blocked_ && !pending_error_ &&
        !writing_in_progress_ && out_.empty()) {
      Close();
    }
  }

  void ArmIdle(std::chrono::milliseconds after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      const auto idle = std::chrono::milliseconds(self->server_->options().idle_timeout_ms);
      const auto since = Clock::now() - self->last_activity_;
      if (since >= idle && self->in_flight_ == 0 && !self->blocked_ &&
          !self->writing_in_progress_) {
        spdlog::info("connection {}: idle for {} ms: closing", self->id_, idle.count());
        self->Close();
        return;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(idle - since);
      self->ArmIdle(std::max(left, std::chrono::milliseconds(10)));
    });
  }

  std::shared_ptr<Server::Impl> server_;
  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  net::FrameDecoder decoder_;
  const uint64_t id_;
  char read_buf_[kReadChunk];
  bool reading_ = false;
  bool closing_ = false;  // no more requests; close once answered
  bool eof_ = false;      // the peer finished sending
  bool closed_ = false;
  uint32_t in_flight_ = 0;  // queued to the committer, not yet answered
  std::optional<Parsed> blocked_;  // refused by a full queue
  std::optional<v1::Response> pending_error_;
  std::string out_, writing_;
  bool writing_in_progress_ = false;
  Clock::time_point last_activity_;
};

// --- Server::Impl: network side ------------------------------------------------------

CommitQueue::Push Server::Impl::Enqueue(std::shared_ptr<Session> session, Parsed& parsed) {
  Work work;
  const v1::Request& request = parsed.request;
  uint64_t events = 0;
  if (request.has_append()) {
    events = parsed.batch ? request.append().batch_events()
                          : static_cast<uint64_t>(request.append().events_size());
  }
  work.weight = std::max<uint64_t>(1, events);
  work.session = std::move(session);
  work.parsed = std::move(parsed);
  auto result = queue_.TryPush(std::move(work));
  if (result != CommitQueue::Push::kOk) {
    // TryPush does not take the work on failure: give the request back.
    parsed = std::move(work.parsed);
  }
  return result;
}

void Server::Impl::ResumeBlocked() {
  std::vector<std::weak_ptr<Session>> blocked;
  blocked.swap(blocked_);
  for (auto& weak : blocked) {
    if (auto s = weak.lock()) s->Resume();
  }
}

Status Server::Impl::Start() {
  log::LogOptions log_options;
  log_options.fsync = options_.fsync;
  log_options.env = options_.env;
  if (options_.segment_bytes) log_options.segment_bytes = options_.segment_bytes;
  std::error_code fs_ec;
  std::filesystem::create_directories(options_.log_dir, fs_ec);
  log_dir_abs_ = std::filesystem::absolute(options_.log_dir, fs_ec).lexically_normal().string();
  Status st = log::LogWriter::Open(options_.log_dir, log_options, &writer_);
  if (!st.ok()) return st;
  ReplayStats stats;
  ReplayOptions replay_options;
  replay_options.env = options_.env;
  replay_options.check_skipped = false;  // the scrubber does, in the background
  st = Replay(options_.log_dir, replay_options, &ledger_, &stats);
  if (!st.ok()) return st;
  if (stats.last_seq + 1 != writer_->next_seq()) {
    return Status::Corruption("replay of " + options_.log_dir + " ended at sequence " +
                              std::to_string(stats.last_seq) + " but the log continues at " +
                              std::to_string(writer_->next_seq()));
  }
  spdlog::info("log {}: {} events, next sequence {}", options_.log_dir,
               ledger_.events_applied(), writer_->next_seq());

  std::string host;
  uint16_t port = 0;
  st = net::ParseHostPort(options_.listen, &host, &port);
  if (!st.ok()) return st;
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec || endpoints.empty()) {
    return Status::InvalidArgument("--listen " + options_.listen + ": " + ec.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("--listen " + options_.listen + ": " + ec.message());
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  port_ = bound.port();
  const auto addr = bound.address();
  address_ = (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
             std::to_string(port_);
  synced_seq_ = writer_->durable_seq();
  if (options_.scrub_bytes_per_sec_max > 0) {
    scrubber_.Start(options_.log_dir, writer_->next_seq() - 1, options_.scrub_bytes_per_sec_max);
  }
  committer_ = std::thread([self = shared_from_this()] { self->CommitterLoop(); });
  return Status::Ok();
}

Status Server::Impl::Run() {
  if (options_.handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}: stopping", sig);
      self->BeginShutdown();
    });
  }
  DoAccept();
  io_.run();
  if (committer_.joinable()) committer_.join();
  return log_failed_;
}

void Server::Impl::DoAccept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (!ec) {
      if (self->stopping_ || self->sessions_.size() >= self->options_.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        const uint64_t id = ++self->next_session_id_;
        auto session = std::make_shared<Session>(self, std::move(socket), id);
        self->sessions_[id] = session;
        session->Start();
      }
    } else {
      spdlog::warn("accept: {}", ec.message());
    }
    self->DoAccept();
  });
}

void Server::Impl::BeginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  signals_.cancel(ec);
  queue_.Close();
  // Sessions stop reading now; each closes once its requests are answered
  // (the committer drains the queue first). A client that does not read its
  // responses is cut off after a grace period.
  std::vector<std::shared_ptr<Session>> sessions;
  for (auto& [id, weak] : sessions_) {
    if (auto s = weak.lock()) sessions.push_back(s);
  }
  for (auto& s : sessions) s->Shutdown();
  ResumeBlocked();
}

void Server::Impl::OnCommitterDone() {
  committer_done_ = true;
  if (sessions_.empty()) {
    work_guard_.reset();
    return;
  }
  // Sessions close once their responses are written; a client that does not
  // read them is cut off after a grace period.
  shutdown_timer_.expires_after(std::chrono::seconds(5));
  shutdown_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    std::vector<std::shared_ptr<Session>> sessions;
    for (auto& [id, weak] : self->sessions_) {
      if (auto s = weak.lock()) sessions.push_back(s);
    }
    for (auto& s : sessions) s->Close();
  });
  work_guard_.reset();
}

void Server::Impl::Forget(uint64_t id) {
  sessions_.erase(id);
  if (committer_done_ && sessions_.empty()) shutdown_timer_.cancel();
}

void Server::Impl::AbandonIfNotRun() {
  if (!committer_.joinable()) return;
  queue_.Close();
  committer_.join();
}

// --- Server::Impl: the committer -------------------------------------------------------

void Server::Impl::CommitterLoop() {
  if (pipelined_) syncer_ = std::thread([this] { SyncerLoop(); });
  std::vector<Work> group;
  const bool interval = options_.fsync.mode == log::FsyncPolicy::Mode::kInterval;
  const auto wait = std::chrono::milliseconds(interval ? std::max<int64_t>(1, options_.fsync.interval_ms)
                                                       : 1000);
  while (queue_.PopAll(&group, wait)) {
    if (group.empty()) {
      // Idle: make interval-policy appends durable without waiting for more.
      if (interval && log_failed_.ok() && writer_->durable_seq() + 1 < writer_->next_seq()) {
        Status st = writer_->Sync();
        if (!st.ok()) {
          spdlog::error("log sync failed: {}; refusing all requests", st.ToString());
          log_failed_ = st;
        }
      }
      continue;
    }
    ProcessGroup(group);
  }
  if (pipelined_) {
    syncs_.Close();  // the syncer drains what waits, then stops
    syncer_.join();
    std::lock_guard lock(sync_failed_mu_);
    if (log_failed_.ok()) log_failed_ = sync_failed_;
  }
  scrubber_.Stop();
  if (log_failed_.ok()) {
    Status st = writer_->Close();
    if (!st.ok()) {
      spdlog::error("log close failed: {}", st.ToString());
      log_failed_ = st;
    }
  }
  spdlog::info("log closed at sequence {}", writer_->next_seq() - 1);
  asio::post(io_, [self = shared_from_this()] { self->OnCommitterDone(); });
}

void Server::Impl::ProcessGroup(std::vector<Work>& group) {
  if (pipelined_ && log_failed_.ok()) {
    std::lock_guard lock(sync_failed_mu_);
    if (!sync_failed_.ok()) log_failed_ = sync_failed_;
  }
  std::vector<v1::Response> responses(group.size());
  uint64_t weight = 0;
  for (auto& w : group) weight += w.weight;

  // Appends: each request's accepted events are contiguous in the batch.
  struct Pending {
    size_t index;
    uint32_t first;  // position in the batch
    uint32_t accepted;
  };
  std::vector<Pending> pending;
  uint64_t batch_bytes = 0;
  auto flush = [&]() {
    if (builder_.count() > 0 && log_failed_.ok()) {
      log::SeqRange range;
      // Pipelined, the syncer thread makes it durable before any ack.
      Status st = pipelined_ ? writer_->Write(builder_, &range) : writer_->Append(builder_, &range);
      if (!st.ok()) {
        spdlog::error("log append failed: {}; refusing all requests", st.ToString());
        log_failed_ = st;
      } else {
        for (const Pending& p : pending) {
          v1::AppendAck* ack = responses[p.index].mutable_append();
          if (p.accepted > 0) {
            ack->set_first_seq(range.first + p.first);
            ack->set_last_seq(range.first + p.first + p.accepted - 1);
          }
        }
      }
    }
    builder_.Clear();
    pending.clear();
    batch_bytes = 0;
  };

  for (size_t i = 0; i < group.size(); ++i) {
    const Parsed& parsed = group[i].parsed;
    const v1::Request& request = parsed.request;
    if (!request.has_append() || !log_failed_.ok()) continue;
    if (builder_.count() > 0 &&
        (builder_.count() + group[i].weight > kMaxBatchEventsPerAppend ||
         batch_bytes + parsed.bytes > kMaxBatchBytesPerAppend)) {
      flush();
      if (!log_failed_.ok()) break;
    }
    v1::AppendAck* ack = responses[i].mutable_append();
    const uint32_t first = builder_.count();
    if (parsed.batch) {
      ApplyBatch(*parsed.batch, ack);
    } else {
      ApplyEvents(request.append(), ack);
    }
    const uint32_t accepted = builder_.count() - first;
    ack->set_accepted(accepted);
    pending.push_back({i, first, accepted});
    batch_bytes += parsed.bytes;
  }
  flush();

  const uint64_t acked = writer_->next_seq() - 1;
  for (size_t i = 0; i < group.size(); ++i) {
    const v1::Request& request = group[i].parsed.request;
    v1::Response& response = responses[i];
    if (!log_failed_.ok()) {
      response = ErrorResponse(0, v1::Error::UNAVAILABLE,
                               "the log failed (" + log_failed_.message() +
                                   "): the server accepts nothing more");
    } else if (!request.has_append()) {
      AnswerQuery(request, &response);
    }
    response.set_request_id(request.request_id());
    response.set_acknowledged_seq(log_failed_.ok() ? acked : DurableSeq());
  }
  queue_.Release(weight);

  std::vector<Delivery> deliveries;
  deliveries.reserve(group.size());
  for (size_t i = 0; i < group.size(); ++i) {
    deliveries.push_back({std::move(group[i].session), std::move(responses[i])});
  }
  group.clear();
  if (!pipelined_) {
    Send(std::move(deliveries));
    return;
  }
  // Pipelined, every group's responses go through the syncer, errors too,
  // so a connection's responses keep their order. A group after a failure
  // carries no ticket (nothing to sync).
  Commit commit;
  if (log_failed_.ok()) {
    Status st = writer_->StartSync(&commit.ticket);
    if (!st.ok()) {
      spdlog::error("log sync failed: {}; refusing all requests", st.ToString());
      log_failed_ = st;
      commit.ticket = log::LogWriter::SyncTicket{};
      for (Delivery& d : deliveries) {
        d.response = ErrorResponse(d.response.request_id(), v1::Error::UNAVAILABLE,
                                   "the log failed (" + st.message() + ")");
      }
    }
  }
  commit.deliveries = std::move(deliveries);
  syncs_.Push(std::move(commit));  // waits while the syncer is far behind
}

// Back to the network thread: each session writes its own responses.
void Server::Impl::Send(std::vector<Delivery>&& deliveries) {
  auto shared = std::make_shared<std::vector<Delivery>>(std::move(deliveries));
  asio::post(io_, [self = shared_from_this(), shared] {
    for (auto& d : *shared) d.session->Deliver(std::move(d.response));
    shared->clear();
    self->ResumeBlocked();
  });
}

void Server::Impl::SyncerLoop() {
  std::vector<Commit> waiting;
  uint64_t synced = synced_seq_;
  bool failed = false;
  while (syncs_.PopAll(&waiting)) {
    // The newest ticket covers every group before it: earlier writes went
    // to the same segment, or to one a roll synced when it left it. Groups
    // after a failure carry none.
    log::LogWriter::SyncTicket* newest = nullptr;
    for (auto it = waiting.rbegin(); it != waiting.rend() && newest == nullptr; ++it) {
      if (!it->ticket.segment.empty()) newest = &it->ticket;
    }
    Status st;
    if (!failed && newest != nullptr && newest->seq > synced) st = newest->Run();
    if (st.ok() && !failed) {
      if (newest != nullptr) synced = std::max(synced, newest->seq);
      synced_seq_ = synced;
    } else if (!failed) {
      // A failed fsync leaves the page cache's state unknown (fsyncgate):
      // nothing more is acknowledged.
      failed = true;
      spdlog::error("log sync failed: {}; refusing all requests", st.ToString());
      std::lock_guard lock(sync_failed_mu_);
      sync_failed_ = st;
    }
    for (Commit& c : waiting) {
      if (failed) {
        for (Delivery& d : c.deliveries) {
          d.response = ErrorResponse(d.response.request_id(), v1::Error::UNAVAILABLE,
                                     "the log failed to sync: the server accepts nothing more");
        }
      }
      Send(std::move(c.deliveries));
    }
  }
}

bool Server::Impl::Admitted(const Ledger::Result& r, uint64_t event_id, v1::AppendAck* ack) {
  switch (r.outcome) {
    case Ledger::Outcome::kApplied:
      return true;
    case Ledger::Outcome::kDuplicate: {
      v1::Rejection* rej = ack->add_rejections();
      rej->set_event_id(event_id);
      rej->set_duplicate(true);
      rej->set_field("id");
      rej->set_reason(r.reason.empty()
                          ? "event " + std::to_string(event_id) + ": id: already applied (duplicate)"
                          : r.reason);
      return false;
    }
    case Ledger::Outcome::kRejected: {
      v1::Rejection* rej = ack->add_rejections();
      rej->set_event_id(event_id);
      rej->set_field(r.field);
      rej->set_reason(r.reason);
      return false;
    }
  }
  return false;
}

void Server::Impl::ApplyEvents(const v1::AppendRequest& append, v1::AppendAck* ack) {
  for (const v1::Event& event : append.events()) {
    if (Admitted(ledger_.Apply(event, nullptr), event.event_id(), ack)) builder_.Add(event);
  }
}

void Server::Impl::ApplyBatch(const log::BatchDecoder& batch, v1::AppendAck* ack) {
  // Rows go through the BatchApplier (no v1::Event per delivery) and into
  // the log's batch by dictionary index (no string hashing per row).
  class Visitor : public log::BatchVisitor {
   public:
    Visitor(Impl* impl, const log::BatchDecoder& batch, v1::AppendAck* ack)
        : impl_(impl), batch_(batch), ack_(ack), to_builder_(batch.dictionary_size(), kNoIndex) {}
    bool OnDelivery(uint32_t, const log::DeliveryRow& row) override {
      if (!Admitted(impl_->applier_.Apply(row, nullptr), row.event_id, ack_)) return true;
      uint32_t& d = to_builder_[row.campaign];
      if (d == kNoIndex) d = impl_->builder_.Dictionary(batch_.account(row.campaign), batch_.campaign(row.campaign));
      impl_->builder_.AddDeliveryTo(d, row.event_id, row.time_us, row.kind, row.count,
                                    row.platform_fault);
      return true;
    }
    bool OnEvent(uint32_t, const v1::Event& event) override {
      if (Admitted(impl_->ledger_.Apply(event, nullptr), event.event_id(), ack_)) {
        impl_->builder_.Add(event);
      }
      return true;
    }

   private:
    Impl* impl_;
    const log::BatchDecoder& batch_;
    v1::AppendAck* ack_;
    std::vector<uint32_t> to_builder_;  // request dictionary -> builder dictionary
  };
  applier_.Start(&batch);
  Visitor visitor(this, batch, ack);
  batch.Visit(&visitor);
}

void Server::Impl::AnswerQuery(const v1::Request& request, v1::Response* response) {
  switch (request.body_case()) {
    case v1::Request::kBalance: {
      auto v = ledger_.Balance(request.balance().account_id());
      if (v) {
        *response->mutable_balance() = std::move(*v);
      } else {
        *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                                  "account '" + request.balance().account_id() + "' is unknown");
      }
      break;
    }
    case v1::Request::kSpend: {
      auto v = ledger_.Spend(request.spend().campaign_id());
      if (v) {
        *response->mutable_spend() = std::move(*v);
      } else {
        *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                                  "campaign '" + request.spend().campaign_id() + "' is unknown");
      }
      break;
    }
    case v1::Request::kDispute: {
      auto v = ledger_.DisputeState(request.dispute().dispute_id());
      if (v) {
        *response->mutable_dispute() = std::move(*v);
      } else {
        *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                                  "dispute '" + request.dispute().dispute_id() + "' is unknown");
      }
      break;
    }
    case v1::Request::kHistory:
      AnswerHistory(request.history(), response);
      break;
    case v1::Request::kPing: {
      v1::Pong* pong = response->mutable_pong();
      // Pipelined, this answer goes out once its group is synced, and
      // everything written so far is in that group or before it.
      pong->set_durable_seq(pipelined_ && log_failed_.ok() ? writer_->next_seq() - 1 : DurableSeq());
      pong->set_log_dir(log_dir_abs_);
      pong->set_fsync(options_.fsync.ToString());
      pong->set_events_applied(ledger_.events_applied());
      FillScrub(pong);
      break;
    }
    default:
      *response = ErrorResponse(0, v1::Error::BAD_REQUEST, "unexpected request kind");
      break;
  }
}

void Server::Impl::FillScrub(v1::Pong* pong) const {
  if (options_.scrub_bytes_per_sec_max == 0) {
    pong->set_scrub_state(v1::Pong::SCRUB_OFF);
    return;
  }
  using Phase = log::LogScrubber::Phase;
  const log::LogScrubber::State s = scrubber_.state();
  switch (s.phase) {
    case Phase::kIdle:
    case Phase::kRunning: pong->set_scrub_state(v1::Pong::SCRUB_RUNNING); break;
    case Phase::kClean: pong->set_scrub_state(v1::Pong::SCRUB_CLEAN); break;
    case Phase::kDamaged: pong->set_scrub_state(v1::Pong::SCRUB_DAMAGED); break;
    case Phase::kStopped: pong->set_scrub_state(v1::Pong::SCRUB_STOPPED); break;
  }
  pong->set_scrub_through_seq(s.through_seq);
  pong->set_scrub_checked_seq(s.checked_seq);
  pong->set_scrub_damage(s.damage);
}

namespace {

// Keeps one account's entries after a sequence, up to a limit.
class HistorySink : public SeqEntrySink {
 public:
  HistorySink(const Ledger* ledger, std::string account, uint64_t since, uint32_t limit,
              v1::HistoryResult* out)
      : ledger_(ledger), account_(std::move(account)), since_(since), limit_(limit), out_(out) {}
  void Add(const Entry& entry) override {
    if (seq <= since_ || entry.account == kNoIndex) return;
    if (ledger_->accounts()[entry.account].id != account_) return;
    if (static_cast<uint32_t>(out_->items_size()) >= limit_) {
      out_->set_truncated(true);
      return;
    }
    auto* item = out_->add_items();
    item->set_log_seq(seq);
    *item->mutable_entry() = ledger_->ToProto(entry);
  }

 private:
  const Ledger* ledger_;
  std::string account_;
  uint64_t since_;
  uint32_t limit_;
  v1::HistoryResult* out_;
};

}  // namespace

void Server::Impl::AnswerHistory(const v1::HistoryQuery& q, v1::Response* response) {
  if (ledger_.FindAccount(q.account_id()) == kNoIndex) {
    *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                              "account '" + q.account_id() + "' is unknown");
    return;
  }
  const uint32_t limit = (q.limit() == 0 || q.limit() > options_.history_limit)
                             ? options_.history_limit
                             : q.limit();
  // The ledger keeps no history: replay the log (everything appended so far
  // is readable) with a sink that keeps this account's entries.
  Ledger replay_ledger;
  v1::HistoryResult result;
  HistorySink sink(&replay_ledger, q.account_id(), q.since_seq(), limit, &result);
  ReplayOptions options;
  options.use_snapshots = false;
  options.sink = &sink;
  options.to_seq = writer_->next_seq() - 1;
  options.env = options_.env;
  ReplayStats stats;
  Status st = Replay(options_.log_dir, options, &replay_ledger, &stats);
  if (!st.ok()) {
    *response = ErrorResponse(0, v1::Error::UNAVAILABLE, "history: " + st.ToString());
    return;
  }
  *response->mutable_history() = std::move(result);
}

// --- Server -------------------------------------------------------------------------------

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Server::~Server() { impl_->AbandonIfNotRun(); }
Status Server::Start() { return impl_->Start(); }
std::string Server::address() const { return impl_->address_; }
uint16_t Server::port() const { return impl_->port_; }
Status Server::Run() { return impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace billsim::server
