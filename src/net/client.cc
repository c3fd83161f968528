#include "net/client.h"

#include <poll.h>

#include <boost/asio.hpp>

#include "net/secret_file.h"

namespace billsim::net {

namespace asio = boost::asio;
using asio::ip::tcp;

Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("address '" + text + "': expected HOST:PORT");
  }
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string p = text.substr(colon + 1);
  unsigned long value = 0;
  for (char c : p) {
    if (c < '0' || c > '9' || value > 65535) {
      return Status::InvalidArgument("address '" + text + "': bad port '" + p + "'");
    }
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  if (value > 65535) {
    return Status::InvalidArgument("address '" + text + "': port out of range");
  }
  *host = h;
  *port = static_cast<uint16_t>(value);
  return Status::Ok();
}

Status ReadTokenFile(const std::string& path, std::string* token) {
  token->clear();
  std::string text;
  Status st = ReadSecretFile(path, 64 << 10, &text);
  if (!st.ok()) return st;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    line_no++;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.find_first_of(" \t") != std::string_view::npos) {
      return Status::InvalidArgument(
          path + ":" + std::to_string(line_no) +
          ": more than one field; a client's token file holds the token alone (lines of ROLE "
          "TOKEN are the server's table)");
    }
    *token = std::string(line);
    return Status::Ok();
  }
  return Status::InvalidArgument(path + ": no token (the token alone, on one line)");
}

struct Client::Impl {
  explicit Impl(uint32_t max_frame) : socket(io), decoder(max_frame) {}
  asio::io_context io;
  tcp::socket socket;
  FrameDecoder decoder;
  std::string out;  // reused send buffer
  char in[64 * 1024];
};

Client::Client(uint32_t max_frame_bytes)
    : impl_(std::make_unique<Impl>(max_frame_bytes)), max_frame_bytes_(max_frame_bytes) {}

Client::~Client() { Close(); }

bool Client::connected() const { return impl_->socket.is_open(); }

void Client::Close() {
  boost::system::error_code ec;
  if (impl_->socket.is_open()) {
    impl_->socket.shutdown(tcp::socket::shutdown_both, ec);
    impl_->socket.close(ec);
  }
}

Status Client::Connect(const std::string& host_port, Millis timeout) {
  Close();
  impl_ = std::make_unique<Impl>(max_frame_bytes_);
  std::string host;
  uint16_t port = 0;
  Status st = ParseHostPort(host_port, &host, &port);
  if (!st.ok()) return st;
  peer_ = host_port;
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return Status::IOError("resolve " + host_port + ": " + ec.message());
  boost::system::error_code result = asio::error::would_block;
  asio::async_connect(impl_->socket, endpoints,
                      [&](const boost::system::error_code& e, const tcp::endpoint&) {
                        result = e;
                      });
  impl_->io.restart();
  impl_->io.run_for(timeout);
  if (result == asio::error::would_block) {
    Close();
    impl_->io.restart();
    impl_->io.run();  // let the cancelled handler finish
    return Status::IOError("connect " + host_port + ": timed out after " +
                           std::to_string(timeout.count()) + " ms");
  }
  if (result) {
    Close();
    return Status::IOError("connect " + host_port + ": " + result.message());
  }
  impl_->socket.set_option(tcp::no_delay(true), ec);
  return Status::Ok();
}

Status Client::SendRaw(std::string_view bytes) {
  if (!connected()) return Status::IOError("send to " + peer_ + ": not connected");
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) {
    Close();
    return Status::IOError("send to " + peer_ + ": " + ec.message());
  }
  return Status::Ok();
}

Status Client::Send(const v1::Request& request) {
  impl_->out.clear();
  Status st = AppendFrame(request, &impl_->out, max_frame_bytes_);
  if (!st.ok()) return st;
  return SendRaw(impl_->out);
}

Status Client::Receive(v1::Response* response, Millis timeout) {
  bool got = false;
  Status st = TryReceive(response, timeout, &got);
  if (st.ok() && !got) {
    Close();
    return Status::IOError("receive from " + peer_ + ": timed out after " +
                           std::to_string(timeout.count()) + " ms");
  }
  return st;
}

Status Client::TryReceive(v1::Response* response, Millis wait, bool* got) {
  *got = false;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::string_view body;
    Status error;
    switch (impl_->decoder.Next(&body, &error)) {
      case FrameDecoder::Result::kFrame:
        if (!response->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
          Close();
          return Status::Corruption("response from " + peer_ + " does not parse (" +
                                    std::to_string(body.size()) + " bytes)");
        }
        *got = true;
        return Status::Ok();
      case FrameDecoder::Result::kError:
        Close();
        return Status::Corruption("response from " + peer_ + ": " + error.message());
      case FrameDecoder::Result::kNeedMore:
        break;
    }
    if (!connected()) return Status::IOError("receive from " + peer_ + ": not connected");
    // Look at least once, even with no time left.
    const auto left = std::chrono::ceil<Millis>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{impl_->socket.native_handle(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30)));
    if (ready < 0 && errno != EINTR) {
      Close();
      return Status::IOError("receive from " + peer_ + ": poll failed");
    }
    if (ready <= 0) {
      if (std::chrono::steady_clock::now() >= deadline) return Status::Ok();  // nothing whole yet
      continue;
    }
    boost::system::error_code ec;
    const size_t n = impl_->socket.read_some(asio::buffer(impl_->in, sizeof impl_->in), ec);
    if (ec) {
      Close();
      return Status::IOError("receive from " + peer_ + ": " +
                             (ec == asio::error::eof ? std::string("connection closed by server")
                                                     : ec.message()));
    }
    impl_->decoder.Feed(impl_->in, n);
  }
}

Status Client::Call(const v1::Request& request, v1::Response* response, Millis timeout) {
  Status st = Send(request);
  if (!st.ok()) return st;
  st = Receive(response, timeout);
  if (!st.ok()) return st;
  if (response->request_id() != request.request_id()) {
    return Status::Corruption("response from " + peer_ + " for request " +
                              std::to_string(response->request_id()) + ", expected " +
                              std::to_string(request.request_id()));
  }
  return Status::Ok();
}

Status Client::Hello(const std::string& token, v1::HelloAck::Role* role, Millis timeout) {
  v1::Request request;
  request.set_request_id(NextRequestId());
  request.mutable_hello()->set_token(token);
  v1::Response response;
  Status st = Call(request, &response, timeout);
  if (!st.ok()) return st;
  if (response.has_error()) {
    const v1::Error& e = response.error();
    const std::string text = "server " + peer_ + " refused Hello: " +
                             v1::Error::Code_Name(e.code()) + ": " + e.message();
    if (e.code() == v1::Error::UNAUTHENTICATED || e.code() == v1::Error::PERMISSION_DENIED) {
      return Status::PermissionDenied(text);
    }
    return Status::IOError(text);
  }
  if (!response.has_hello()) {
    return Status::Corruption("server " + peer_ + " answered Hello without a HelloAck");
  }
  *role = response.hello().role();
  return Status::Ok();
}

bool Client::WaitClosed(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (connected()) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{impl_->socket.native_handle(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready <= 0) continue;
    boost::system::error_code ec;
    impl_->socket.read_some(asio::buffer(impl_->in, sizeof impl_->in), ec);
    if (ec) {
      Close();
      return true;
    }
  }
  return true;
}

}  // namespace billsim::net
