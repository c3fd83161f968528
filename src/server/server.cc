// Server::Impl: the lifecycle of `billsim serve` (network thread): opens
// its backend (backend.h: the single node's log, or a cluster gateway),
// binds, accepts connections (refusing those past the limit with an
// Error), and stops gracefully. It is the Responder that carries answers
// from the backend's threads back to the network thread.
#include "server/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>

#include "http/http_session.h"
#include "http/metrics.h"
#include "net/client.h"
#include "server/connection_manager.h"
#include "server/local_backend.h"
#include "server/session.h"

namespace billsim::server {

namespace asio = boost::asio;
using asio::ip::tcp;

class Server::Impl : public std::enable_shared_from_this<Server::Impl>, public Responder {
 public:
  explicit Impl(ServerOptions options)
      : options_(std::move(options)),
        acceptor_(io_),
        http_acceptor_(io_),
        signals_(io_),
        shutdown_timer_(io_),
        work_guard_(asio::make_work_guard(io_)),
        backend_(options_.backend ? options_.backend(options_, this)
                                  : std::make_unique<LocalBackend>(options_, this)),
        manager_(std::make_shared<ConnectionManager>(options_, io_, backend_.get())) {}

  Status Start();
  Status Run();
  void Stop() {
    asio::post(io_, [self = shared_from_this()] { self->BeginShutdown(); });
  }
  void AbandonIfNotRun();  // Start without Run: stops the threads

  // Responder: from the committer, syncer and query threads.
  void Send(std::vector<Delivery>&& deliveries) override;

  std::string address_;
  uint16_t port_ = 0;
  std::string http_address_;

 private:
  Status Listen(const std::string& what, const std::string& listen, tcp::acceptor* acceptor,
                std::string* address, uint16_t* port);
  void DoAccept();
  void DoAcceptHttp();
  http::MetricsSnapshot Metrics() const;
  void Refuse(tcp::socket socket);
  void BeginShutdown();
  void OnCommitterDone();

  ServerOptions options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::acceptor http_acceptor_;
  asio::signal_set signals_;
  asio::steady_timer shutdown_timer_;
  asio::executor_work_guard<asio::io_context::executor_type> work_guard_;
  // Parses large HTTP bodies (JSON) off the network thread; declared after
  // io_, so that it stops before io_ goes.
  asio::thread_pool translate_pool_{2};
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<ConnectionManager> manager_;
  uint64_t next_session_id_ = 0;
  bool opened_ = false;  // the backend: Join it, whatever happens next
};

Status Server::Impl::Start() {
  if (options_.frame_bytes_max < options_.max_frame_bytes) {
    return Status::InvalidArgument("frame bytes budget " + std::to_string(options_.frame_bytes_max) +
                                   " is below the frame size limit " +
                                   std::to_string(options_.max_frame_bytes));
  }
  Status st = backend_->Open();
  if (!st.ok()) return st;
  opened_ = true;
  if (options_.listen.empty() && options_.http_listen.empty()) {
    return Status::InvalidArgument("nothing to listen on: no --listen and no --http");
  }
  if (!options_.listen.empty()) {
    st = Listen("--listen", options_.listen, &acceptor_, &address_, &port_);
    if (!st.ok()) return st;
  }
  if (!options_.http_listen.empty()) {
    uint16_t http_port = 0;
    st = Listen("--http", options_.http_listen, &http_acceptor_, &http_address_, &http_port);
    if (!st.ok()) return st;
  }
  manager_->metrics = [this] { return Metrics(); };
  manager_->translate_pool = &translate_pool_;
  // Not shared_from_this(): the backend is ours, a copy of us in it would
  // keep us (and the log's lock) alive for ever. Run joins it.
  backend_->on_done = [this] {
    asio::post(io_, [self = shared_from_this()] { self->OnCommitterDone(); });
  };
  backend_->Start();
  return Status::Ok();
}

Status Server::Impl::Listen(const std::string& what, const std::string& listen,
                            tcp::acceptor* acceptor, std::string* address, uint16_t* port) {
  std::string host;
  uint16_t wanted = 0;
  Status st = net::ParseHostPort(listen, &host, &wanted);
  if (!st.ok()) return Status::InvalidArgument(what + ": " + st.message());
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(host, std::to_string(wanted), ec);
  if (ec || endpoints.empty()) {
    return Status::InvalidArgument(what + " " + listen + ": " + ec.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError(what + " " + listen + ": " + ec.message());
  const tcp::endpoint bound = acceptor->local_endpoint(ec);
  *port = bound.port();
  const auto addr = bound.address();
  *address = (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
             std::to_string(*port);
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
  if (acceptor_.is_open()) DoAccept();
  if (http_acceptor_.is_open()) DoAcceptHttp();
  io_.run();
  translate_pool_.join();  // what it still parses goes nowhere: io_ has stopped
  backend_->Join();
  return backend_->failure();
}

void Server::Impl::Send(std::vector<Delivery>&& deliveries) {
  auto shared = std::make_shared<std::vector<Delivery>>(std::move(deliveries));
  asio::post(io_, [self = shared_from_this(), shared] {
    for (auto& d : *shared) d.session->Deliver(d.slot, std::move(d.response), std::move(d.frame));
    shared->clear();
    self->manager_->Resume();  // the queues have room again
  });
}

void Server::Impl::DoAccept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("accept: {}", ec.message());
    } else if (self->manager_->stopping || self->manager_->full()) {
      self->Refuse(std::move(socket));
    } else {
      const uint64_t id = ++self->next_session_id_;
      auto session = std::make_shared<Session>(self->manager_, std::move(socket), id);
      self->manager_->Add(session, id);
      session->Start();
    }
    self->DoAccept();
  });
}

// A connection past the limit (or during the stop) gets one Error frame
// saying why, then is closed. The frame is small: one non-blocking write
// into an empty socket buffer; if even that does not fit, the close says it.
void Server::Impl::Refuse(tcp::socket socket) {
  v1::Response r = manager_->stopping
                       ? ErrorResponse(0, v1::Error::UNAVAILABLE, "the server is shutting down")
                       : ErrorResponse(0, v1::Error::RESOURCE_EXHAUSTED,
                                       "the server holds " + std::to_string(manager_->size()) +
                                           " connections, its limit (--max-connections " +
                                           std::to_string(options_.max_connections) +
                                           "); try again later");
  std::string frame;
  if (net::AppendFrame(r, &frame).ok()) {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(frame), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }
  boost::system::error_code ignored;
  socket.close(ignored);
}

void Server::Impl::DoAcceptHttp() {
  http_acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                          tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->http_acceptor_.is_open()) return;
    if (ec) {
      spdlog::warn("accept (http): {}", ec.message());
    } else if (self->manager_->stopping) {
      http::HttpSession::Refuse(std::move(socket), "the server is shutting down");
    } else if (self->manager_->full()) {
      http::HttpSession::Refuse(std::move(socket),
                                "the server holds " + std::to_string(self->manager_->size()) +
                                    " connections, its limit (--max-connections " +
                                    std::to_string(self->options_.max_connections) +
                                    "); try again later");
    } else {
      const uint64_t id = ++self->next_session_id_;
      auto session = std::make_shared<http::HttpSession>(self->manager_, std::move(socket), id);
      self->manager_->Add(session, id);
      session->Start();
    }
    self->DoAcceptHttp();
  });
}

http::MetricsSnapshot Server::Impl::Metrics() const {
  http::MetricsSnapshot m;
  backend_->FillMetrics(&m);
  m.connections = manager_->size();
  m.max_connections = options_.max_connections;
  m.output_bytes = manager_->output_bytes();
  m.resident_bytes = http::ResidentBytes();
  return m;
}

void Server::Impl::BeginShutdown() {
  if (manager_->stopping) return;
  manager_->stopping = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  http_acceptor_.close(ec);
  signals_.cancel(ec);
  backend_->Close();
  // Sessions stop reading now; each closes once its requests are answered
  // (the committer drains its queue first).
  for (auto& s : manager_->All()) s->Shutdown();
  manager_->Resume();
}

void Server::Impl::OnCommitterDone() {
  manager_->committer_done = true;
  // The query workers answer what they hold; then sessions close once
  // their responses are written. A client that does not read them is cut
  // off after a grace period.
  backend_->Drain();
  shutdown_timer_.expires_after(std::chrono::seconds(5));
  shutdown_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& s : self->manager_->All()) s->Close();
  });
  manager_->on_all_closed = [this] { shutdown_timer_.cancel(); };
  work_guard_.reset();
  if (manager_->size() == 0) shutdown_timer_.cancel();
}

void Server::Impl::AbandonIfNotRun() {
  if (opened_) backend_->Join();
}

// --- Server -------------------------------------------------------------------------------

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Server::~Server() { impl_->AbandonIfNotRun(); }
Status Server::Start() { return impl_->Start(); }
std::string Server::address() const { return impl_->address_; }
uint16_t Server::port() const { return impl_->port_; }
std::string Server::http_address() const { return impl_->http_address_; }
Status Server::Run() { return impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace billsim::server
