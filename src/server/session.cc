#include "server/session.h"

#include <spdlog/spdlog.h>

namespace billsim::server {

namespace asio = boost::asio;
using asio::ip::tcp;

Session::Session(std::shared_ptr<ConnectionManager> manager, tcp::socket socket, uint64_t id)
    : manager_(std::move(manager)),
      socket_(std::move(socket)),
      idle_timer_(manager_->io()),
      decoder_(manager_->options().max_frame_bytes),
      id_(id) {
  if (!manager_->options().tokens) role_ = Role::kOperator;  // nothing to check
}

Session::~Session() = default;

void Session::Start() {
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  last_activity_ = Clock::now();
  ArmIdle(manager_->IdleTimeout());
  MaybeRead();
}

// --- Reading ------------------------------------------------------------------------

bool Session::CanProcess() const {
  const ServerOptions& o = manager_->options();
  return !closed_ && !closing_ && !blocked_ && in_flight() < o.max_in_flight &&
         out_.size() + writing_.size() < o.session_output_bytes_max &&
         !manager_->OutputFull() && !manager_->stopping;
}

bool Session::CanRead() {
  if (!CanProcess() || eof_ || reading_) return false;
  // A long frame reserves its length before its body is read, so that
  // partial frames cannot hold more than the server's frame budget.
  const uint32_t next = decoder_.next_frame_bytes();
  if (next > ConnectionManager::kSmallFrameBytes && frame_reserved_ < next) {
    if (!manager_->ReserveFrame(next - frame_reserved_)) {
      WaitForRoom();
      return false;
    }
    frame_reserved_ = next;
    decoder_.ReserveNextFrame();
  }
  return true;
}

void Session::MaybeRead() {
  if (closed_) return;
  ProcessFrames();
  if (manager_->OutputFull() && !closing_) WaitForRoom();
  if (!CanRead()) return;
  if (!read_buf_) read_buf_ = std::make_unique<char[]>(kReadChunk);
  reading_ = true;
  socket_.async_read_some(
      asio::buffer(read_buf_.get(), kReadChunk),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        self->OnRead(ec, n);
      });
}

void Session::OnRead(const boost::system::error_code& ec, size_t n) {
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
  if (!closing_) decoder_.Feed(read_buf_.get(), n);
  MaybeRead();
  MaybeFinish();
}

void Session::ProcessFrames() {
  while (CanProcess()) {
    std::string_view body;
    Status error;
    const auto result = decoder_.Next(&body, &error);
    if (result == net::FrameDecoder::Result::kNeedMore) return;
    if (result == net::FrameDecoder::Result::kError) {
      Fail(0, v1::Error::FRAME_TOO_LARGE, error.message());
      return;
    }
    Work work;
    const bool ok = Parse(body, &work.parsed);
    if (frame_reserved_ > 0) {  // the frame is parsed: its bytes are ours no more
      manager_->ReleaseFrame(frame_reserved_);
      frame_reserved_ = 0;
    }
    if (!ok || !Authorize(work.parsed)) return;
    Submit(std::move(work));
  }
}

// Parses one request and checks its shape. On a violation: Fail and false.
bool Session::Parse(std::string_view body, Parsed* parsed) {
  v1::Request& request = parsed->request;
  if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    Fail(0, v1::Error::MALFORMED,
         "frame of " + std::to_string(body.size()) + " bytes is not a Request");
    return false;
  }
  if (request.body_case() == v1::Request::BODY_NOT_SET) {
    Fail(request.request_id(), v1::Error::MALFORMED,
         "request " + std::to_string(request.request_id()) + " has no body");
    return false;
  }
  parsed->bytes = body.size();
  return !request.has_append() || CheckAppend(parsed);
}

// Checks an append's size and shape and decodes its batch, if any.
bool Session::CheckAppend(Parsed* parsed) {
  v1::Error::Code code = v1::Error::BAD_REQUEST;
  const Status st = DecodeAppend(manager_->options().max_events_per_request, parsed, &code,
                                 manager_->backend_writes_own_log());
  if (!st.ok()) Fail(parsed->request.request_id(), code, st.message());
  return st.ok();
}

// The token of a Hello gives the connection its role; every other request
// needs one that permits it. On a refusal: Fail and false.
bool Session::Authorize(const Parsed& parsed) {
  const v1::Request& request = parsed.request;
  const std::shared_ptr<const TokenTable>& tokens = manager_->options().tokens;
  if (request.has_hello()) {
    if (!tokens) return true;  // no table: everything is allowed
    std::optional<Role> role = tokens->Authenticate(request.hello().token());
    if (!role) {
      Fail(request.request_id(), v1::Error::UNAUTHENTICATED,
           "request " + std::to_string(request.request_id()) + ": hello: unknown token");
      return false;
    }
    role_ = role;
    return true;
  }
  if (!role_) {
    Fail(request.request_id(), v1::Error::UNAUTHENTICATED,
         "request " + std::to_string(request.request_id()) +
             ": this server checks access: send a Hello with a token first (--token-file)");
    return false;
  }
  if (manager_->options().read_only && request.has_append()) {
    Fail(request.request_id(), v1::Error::PERMISSION_DENIED,
         "request " + std::to_string(request.request_id()) +
             ": this server serves its log read-only: no appends");
    return false;
  }
  Status st = Permit(*role_, request, parsed.batch.get());
  if (!st.ok()) {
    Fail(request.request_id(), v1::Error::PERMISSION_DENIED, st.message());
    return false;
  }
  return true;
}

// --- Routing and answers ----------------------------------------------------------

void Session::Submit(Work&& work) {
  const v1::Request& request = work.parsed.request;
  work.session = shared_from_this();
  work.slot = next_slot_++;
  slots_.push_back(Slot{request.has_append(), std::nullopt});
  if (request.has_hello()) {  // answered here, Authorize judged it
    v1::Response r;
    r.mutable_hello()->set_role(ToWire(*role_));
    r.set_request_id(request.request_id());
    Answer(work.slot, std::move(r));
    return;
  }
  blocked_ = std::move(work);
  Route();
}

void Session::Resume() {
  waiting_ = false;
  if (closed_) return;
  Route();
  MaybeRead();
  MaybeFinish();
}

// Once on the manager's list until it resumes us.
void Session::WaitForRoom() {
  if (waiting_) return;
  waiting_ = true;
  manager_->Wait(shared_from_this());
}

// Routes blocked_; true if it left (queued, or answered at once).
bool Session::Route() {
  if (closed_ || !blocked_) return false;
  Work& work = *blocked_;
  if (ConnectionManager::OffCommitter(work.parsed.request)) {
    if (appends_in_flight_ > 0) return false;  // Deliver routes it
    work.at_least_seq = std::max(own_acked_seq_, manager_->recovered_seq());
    work.at_most_seq = std::max(work.at_least_seq, manager_->acked_seq());
  }
  const bool append = work.parsed.request.has_append();
  const uint64_t slot = work.slot;
  const uint64_t request_id = work.parsed.request.request_id();
  switch (manager_->Route(work)) {
    case Push::kOk:
      blocked_.reset();
      if (append) ++appends_in_flight_;
      break;
    case Push::kFull:
      WaitForRoom();  // stays blocked_
      return false;
    case Push::kClosed:
      blocked_.reset();
      closing_ = true;
      Answer(slot, ErrorResponse(request_id, v1::Error::UNAVAILABLE,
                                 "the server is shutting down"));
      break;
  }
  return true;
}

void Session::Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) {
  if (response.has_append()) {  // read your writes: later history reflects it
    own_acked_seq_ = std::max(own_acked_seq_, response.acknowledged_seq());
  }
  if (frame.empty()) {
    Answer(slot, std::move(response));
  } else {
    AnswerFramed(slot, std::move(frame));
  }
  if (blocked_ && appends_in_flight_ == 0) Resume();
  MaybeRead();
  MaybeFinish();
}

// Files an answer in its slot and writes every answer now in order. No
// reads from here: Submit calls it too, and must not recurse.
void Session::Answer(uint64_t slot, v1::Response&& response) {
  std::string frame;
  Status st = net::AppendFrame(response, &frame, UINT32_MAX);
  if (!st.ok()) {
    spdlog::error("connection {}: response not sent: {}", id_, st.message());
    Close();
    return;
  }
  AnswerFramed(slot, std::move(frame));
}

void Session::AnswerFramed(uint64_t slot, std::string&& frame) {
  if (closed_ || slot < write_slot_ || slot >= next_slot_) return;
  Slot& s = slots_[slot - write_slot_];
  if (s.append && appends_in_flight_ > 0 && !s.frame) --appends_in_flight_;
  s.frame = std::move(frame);
  while (!slots_.empty() && slots_.front().frame) {
    WriteFrame(std::move(*slots_.front().frame));
    slots_.pop_front();
    ++write_slot_;
    if (closed_) return;
  }
  if (in_flight() == 0 && pending_error_) {
    Write(*pending_error_);
    pending_error_.reset();
  }
}

// A protocol violation: an Error (after the responses in flight), then close.
void Session::Fail(uint64_t request_id, v1::Error::Code code, std::string message) {
  spdlog::warn("connection {}: {}: closing", id_, message);
  closing_ = true;
  v1::Response r = ErrorResponse(request_id, code, std::move(message));
  if (in_flight() == 0) {
    Write(r);
  } else {
    pending_error_ = std::move(r);
  }
  MaybeFinish();
}

// --- Writing ------------------------------------------------------------------------

void Session::Write(const v1::Response& response) {
  const size_t before = out_.size();
  Status st = net::AppendFrame(response, &out_, UINT32_MAX);
  if (!st.ok()) {
    spdlog::error("connection {}: response not sent: {}", id_, st.message());
    Close();
    return;
  }
  manager_->AddOutput(out_.size() - before);
  DoWrite();
}

void Session::WriteFrame(std::string&& frame) {
  manager_->AddOutput(frame.size());
  if (out_.empty()) {
    out_.swap(frame);  // a large page is not copied
  } else {
    out_.append(frame);
  }
  DoWrite();
}

void Session::DoWrite() {
  if (closed_ || writing_in_progress_ || out_.empty()) return;
  writing_.swap(out_);
  out_.clear();
  writing_in_progress_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->writing_in_progress_ = false;
                      if (!self->closed_) self->manager_->RemoveOutput(self->writing_.size());
                      self->writing_.clear();
                      if (self->closed_) return;
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

void Session::MaybeFinish() {
  // With eof_, in_flight() == 0 means ProcessFrames found no whole frame left.
  if (!closed_ && (closing_ || eof_) && in_flight() == 0 && !blocked_ && !pending_error_ &&
      !writing_in_progress_ && out_.empty()) {
    Close();
  }
}

// --- Lifetime -----------------------------------------------------------------------

void Session::Shutdown() {
  closing_ = true;
  if (blocked_) Resume();  // the queues are closed: answered UNAVAILABLE
  MaybeFinish();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  idle_timer_.cancel();
  blocked_.reset();
  if (frame_reserved_ > 0) manager_->ReleaseFrame(frame_reserved_);
  frame_reserved_ = 0;
  manager_->RemoveOutput(out_.size() + writing_.size());
  out_.clear();
  manager_->Forget(id_);
}

// Wakes at least every idle_timeout_near_limit_ms: the server may come
// near its connection limit meanwhile, and then idle connections go sooner.
void Session::ArmIdle(std::chrono::milliseconds after) {
  const auto near = std::chrono::milliseconds(manager_->options().idle_timeout_near_limit_ms);
  idle_timer_.expires_after(std::clamp(after, std::chrono::milliseconds(10), near));
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    // Shorter near the connection limit: idle slots are reclaimed sooner.
    const auto idle = self->manager_->IdleTimeout();
    const auto since = Clock::now() - self->last_activity_;
    if (since >= idle && self->in_flight() == 0 && !self->blocked_ &&
        !self->writing_in_progress_) {
      spdlog::info("connection {}: idle for {} ms: closing", self->id_, idle.count());
      self->Close();
      return;
    }
    self->ArmIdle(std::chrono::duration_cast<std::chrono::milliseconds>(idle - since));
  });
}

}  // namespace billsim::server
