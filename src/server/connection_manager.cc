#include "server/connection_manager.h"

#include <boost/asio/post.hpp>

#include "server/backend.h"

namespace billsim::server {

bool ConnectionManager::backend_writes_own_log() const { return backend_->WritesOwnLog(); }

void ConnectionManager::Forget(uint64_t id) {
  sessions_.erase(id);
  if (committer_done && sessions_.empty() && on_all_closed) on_all_closed();
}

std::vector<std::shared_ptr<Peer>> ConnectionManager::All() const {
  std::vector<std::shared_ptr<Peer>> all;
  for (const auto& [id, weak] : sessions_) {
    if (auto s = weak.lock()) all.push_back(std::move(s));
  }
  return all;
}

std::chrono::milliseconds ConnectionManager::IdleTimeout() const {
  const bool near_limit = sessions_.size() * 10 >= uint64_t{options_.max_connections} * 9;
  return std::chrono::milliseconds(near_limit ? std::min(options_.idle_timeout_ms,
                                                         options_.idle_timeout_near_limit_ms)
                                              : options_.idle_timeout_ms);
}

bool ConnectionManager::ReserveFrame(uint64_t bytes) {
  if (frame_bytes_ + bytes > options_.frame_bytes_max) return false;
  frame_bytes_ += bytes;
  return true;
}

void ConnectionManager::ReleaseFrame(uint64_t bytes) {
  frame_bytes_ -= std::min(frame_bytes_, bytes);
  Resume();
}

void ConnectionManager::RemoveOutput(uint64_t bytes) {
  const bool was_full = OutputFull();
  out_bytes_ -= std::min(out_bytes_, bytes);
  if (was_full && !OutputFull()) Resume();
}

Push ConnectionManager::Route(Work& work) {
  return backend_->Submit(work);
}

uint64_t ConnectionManager::recovered_seq() const { return backend_->recovered_seq(); }
uint64_t ConnectionManager::acked_seq() const { return backend_->acked_seq(); }

// Wakes every waiting session, later (posted): the caller may be one of them.
void ConnectionManager::Resume() {
  if (resuming_ || waiting_.empty()) return;
  resuming_ = true;
  boost::asio::post(io_, [this] {
    resuming_ = false;
    std::vector<std::weak_ptr<Peer>> waiting;
    waiting.swap(waiting_);
    for (auto& weak : waiting) {
      if (auto s = weak.lock()) s->Resume();
    }
  });
}

}  // namespace billsim::server
