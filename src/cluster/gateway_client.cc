#include "cluster/gateway_client.h"

#include <condition_variable>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "cluster/gateway.h"
#include "server/backend.h"

namespace billsim::cluster {

// The Responder the gateway answers to, and the one Peer it serves.
class GatewayClient::Impl : public server::Responder, public server::Peer {
 public:
  void Send(std::vector<server::Delivery>&& deliveries) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (server::Delivery& d : deliveries) {
      if (abandoned_.erase(d.slot) == 0) answers_[d.slot] = std::move(d.response);
    }
    cv_.notify_all();
  }
  // Peer: answers come through Send (the gateway never calls these).
  void Deliver(uint64_t, v1::Response&&, std::string&&) override {}
  void Resume() override {}
  void Shutdown() override {}
  void Close() override {}

  server::ServerOptions options;
  std::unique_ptr<server::Backend> backend;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, v1::Response> answers_;
  std::set<uint64_t> abandoned_;  // slots whose Call timed out: their answers are dropped
  bool done_ = false;             // on_done came
  uint64_t next_slot_ = 0;
};

Status GatewayClient::Open(const std::string& nats_url, std::unique_ptr<GatewayClient>* out) {
  std::unique_ptr<GatewayClient> client(new GatewayClient());
  client->impl_ = std::make_shared<Impl>();
  Impl& impl = *client->impl_;
  GatewayOptions g;
  g.nats_url = nats_url;
  impl.backend = MakeGateway(g, impl.options, &impl);
  Status st = impl.backend->Open();
  if (!st.ok()) return st;
  impl.backend->on_done = [&impl] {
    std::lock_guard<std::mutex> lock(impl.mu_);
    impl.done_ = true;
    impl.cv_.notify_all();
  };
  impl.backend->Start();
  *out = std::move(client);
  return Status::Ok();
}

// What is in flight is answered first (for up to a minute), then the
// gateway goes, and with it the Work holding impl_.
GatewayClient::~GatewayClient() {
  if (impl_ == nullptr || impl_->backend == nullptr) return;
  Impl& impl = *impl_;
  impl.backend->Close();
  {
    std::unique_lock<std::mutex> lock(impl.mu_);
    impl.cv_.wait_for(lock, std::chrono::minutes(1), [&] { return impl.done_; });
  }
  impl.backend->Join();
  impl.backend.reset();
}

Status GatewayClient::Call(const v1::Request& request, v1::Response* response,
                           std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  server::Work work;
  work.session = impl_;  // the Peer: its appends and queries keep their order
  work.slot = ++impl.next_slot_;
  work.parsed.request = request;
  work.parsed.bytes = request.ByteSizeLong();
  // An append is checked and its batch decoded here, as a server's session
  // does (the gateway reads the batch's columns, not its bytes).
  if (request.has_append()) {
    v1::Error::Code code = v1::Error::BAD_REQUEST;
    const Status st = server::DecodeAppend(impl.options.max_events_per_request, &work.parsed,
                                           &code, /*keep_payload=*/false);
    if (!st.ok()) return st;
  }
  const uint64_t slot = work.slot;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const server::Push push = impl.backend->Submit(work);
    if (push == server::Push::kOk) break;
    if (push == server::Push::kClosed) return Status::IOError("the gateway is closing");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::IOError("the gateway stayed full for " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::unique_lock<std::mutex> lock(impl.mu_);
  if (!impl.cv_.wait_until(lock, deadline, [&] { return impl.answers_.count(slot) > 0; })) {
    impl.abandoned_.insert(slot);
    return Status::IOError("no answer from the cluster within " + std::to_string(timeout.count()) +
                           " ms");
  }
  *response = std::move(impl.answers_[slot]);
  impl.answers_.erase(slot);
  return Status::Ok();
}

}  // namespace billsim::cluster
