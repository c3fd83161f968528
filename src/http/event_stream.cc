#include "http/event_stream.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "net/frame.h"
#include "report/format.h"

namespace billsim::http {

namespace asio = boost::asio;
using asio::ip::tcp;

EventStream::EventStream(std::shared_ptr<server::ConnectionManager> manager, tcp::socket socket,
                         uint64_t id, std::string account, uint64_t since_seq,
                         uint64_t after_entry)
    : manager_(std::move(manager)),
      socket_(std::move(socket)),
      timer_(manager_->io()),
      id_(id),
      account_(std::move(account)),
      since_seq_(since_seq == kNow ? manager_->acked_seq() : since_seq),
      cursor_(after_entry),
      queried_through_(since_seq_) {
  manager_->streams++;  // until Close
}

void EventStream::Start() {
  Send("HTTP/1.1 200 OK\r\nServer: billsim\r\nContent-Type: text/event-stream\r\n"
       "Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
       ": billsim event stream\n\n");
  Tick();
}

void EventStream::Arm() {
  timer_.expires_after(std::chrono::milliseconds(kPollMs));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->Tick();
  });
}

void EventStream::Tick() {
  if (closed_) return;
  if (manager_->stopping) {
    Shutdown();
    return;
  }
  const uint64_t acked = manager_->acked_seq();
  if (acked > sent_ack_) {
    sent_ack_ = acked;
    const nlohmann::json data = {{"acked_seq", std::to_string(acked)}};  // int64 as proto3 JSON
    Send("event: ack\ndata: " + data.dump() + "\n\n");
  }
  if (!account_.empty() && !query_in_flight_ && (more_ || acked > queried_through_) &&
      out_.size() + writing_.size() < kQueryBelowBytes) {
    Query();
  }
  if (std::chrono::steady_clock::now() - last_write_ >= std::chrono::milliseconds(kKeepAliveMs)) {
    Send(": keep-alive\n\n");
  }
  Arm();
}

// The account's entries after the last one sent, as of the acknowledged
// sequence now, through the query service like any history page.
void EventStream::Query() {
  server::Work work;
  work.session = shared_from_this();
  work.slot = ++slot_;
  v1::HistoryQuery* q = work.parsed.request.mutable_history();
  q->set_account_id(account_);
  q->set_since_seq(since_seq_);
  q->set_cursor(cursor_);
  q->set_limit(kPageEntries);
  work.parsed.request.set_request_id(slot_);
  work.at_least_seq = std::max(manager_->acked_seq(), manager_->recovered_seq());
  work.at_most_seq = work.at_least_seq;
  const uint64_t through = work.at_least_seq;
  switch (manager_->Route(work)) {
    case server::Push::kOk:
      query_in_flight_ = true;
      queried_through_ = through;
      return;
    case server::Push::kFull:  // the next tick tries again
      return;
    case server::Push::kClosed:
      Close();
      return;
  }
}

void EventStream::Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) {
  if (closed_ || slot != slot_) return;
  query_in_flight_ = false;
  if (!frame.empty()) {
    response.Clear();
    if (frame.size() < net::kFrameHeaderBytes ||
        !response.ParseFromArray(frame.data() + net::kFrameHeaderBytes,
                                 static_cast<int>(frame.size() - net::kFrameHeaderBytes))) {
      Close();
      return;
    }
  }
  if (response.has_error()) {
    // An account not opened yet has no entries: poll on. Anything else
    // ends the stream, saying why.
    if (response.error().code() == v1::Error::NOT_FOUND) {
      queried_through_ = since_seq_;
      return;
    }
    Send("event: error\ndata: " + response.error().message() + "\n\n");
    Shutdown();
    return;
  }
  std::string text;
  std::string json;
  for (const v1::HistoryResult::Item& item : response.history().items()) {
    if (!ToJson(item, &json)) continue;
    text += "id: " + std::to_string(item.entry().seq()) + "\nevent: entry\ndata: " + json + "\n\n";
    cursor_ = std::max(cursor_, item.entry().seq());
  }
  if (!text.empty()) Send(std::move(text));
  more_ = response.history().truncated();
  // More of it: now if the client keeps up, else once its writes drain.
  if (more_ && out_.size() + writing_.size() < kQueryBelowBytes) Query();
}

void EventStream::Send(std::string&& text) {
  if (closed_) return;
  if (out_.size() + writing_.size() + text.size() > kMaxBufferedBytes) {
    spdlog::info("event stream {}: the client does not read ({} bytes unsent): closing", id_,
                 out_.size() + writing_.size());
    Close();
    return;
  }
  manager_->AddOutput(text.size());
  out_.append(text);
  DoWrite();
}

void EventStream::DoWrite() {
  if (closed_ || writing_in_progress_ || out_.empty()) return;
  writing_.swap(out_);
  out_.clear();
  writing_in_progress_ = true;
  last_write_ = std::chrono::steady_clock::now();
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
                      self->DoWrite();
                      if (self->more_ && !self->query_in_flight_ &&
                          self->out_.size() + self->writing_.size() < kQueryBelowBytes) {
                        self->Query();
                      }
                    });
}

void EventStream::Resume() {}  // it never waits: a full queue is tried again next tick

void EventStream::Shutdown() {
  // Nothing is owed but what is buffered: give it a moment, then close.
  timer_.cancel();
  if (closed_) return;
  if (out_.empty() && !writing_in_progress_) {
    Close();
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(200));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    self->Close();
  });
}

void EventStream::Close() {
  if (closed_) return;
  closed_ = true;
  manager_->streams--;
  timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  manager_->RemoveOutput(out_.size() + writing_.size());
  out_.clear();
  manager_->Forget(id_);
}

}  // namespace billsim::http
