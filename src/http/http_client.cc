#include "http/http_client.h"

#include <utility>  // before Boost: Asio 1.74 uses std::exchange (TOOLCHAIN.md)
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/client.h"

namespace billsim::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct HttpClient::Impl {
  std::string host_port, token;
  std::chrono::milliseconds timeout;
  asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Status Connect() {
    std::string host;
    uint16_t port = 0;
    Status st = net::ParseHostPort(host_port, &host, &port);
    if (!st.ok()) return st;
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return Status::IOError(host_port + ": " + ec.message());
    stream = std::make_unique<beast::tcp_stream>(io);
    stream->expires_after(timeout);
    stream->connect(endpoints, ec);
    if (ec) {
      stream.reset();
      return Status::IOError(host_port + ": " + ec.message());
    }
    buffer.clear();
    return Status::Ok();
  }
};

HttpClient::HttpClient(std::string host_port, std::string token,
                       std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host_port = std::move(host_port);
  impl_->token = std::move(token);
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

Status HttpClient::Request(const std::string& method, const std::string& target,
                           const std::string& body, const std::string& content_type,
                           HttpReply* reply) {
  if (!impl_->stream) {
    Status st = impl_->Connect();
    if (!st.ok()) return st;
  }
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, impl_->host_port);
  if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
  if (!impl_->token.empty()) req.set(bhttp::field::authorization, "Bearer " + impl_->token);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  impl_->stream->expires_after(impl_->timeout);
  bhttp::write(*impl_->stream, req, ec);
  bhttp::response<bhttp::string_body> res;
  if (!ec) bhttp::read(*impl_->stream, impl_->buffer, res, ec);
  if (ec) {
    impl_->stream.reset();
    return Status::IOError(impl_->host_port + " " + method + " " + target + ": " + ec.message());
  }
  reply->status = res.result_int();
  reply->body = std::move(res.body());
  if (!res.keep_alive()) impl_->stream.reset();
  return Status::Ok();
}

}  // namespace billsim::http
