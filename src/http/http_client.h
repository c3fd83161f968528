// HttpClient: a blocking HTTP/1.1 client over one keep-alive connection
// (Boost.Beast), for the tools that drive the HTTP/JSON API (bench http).
// Every operation has a timeout; a failure closes the connection and the
// next request reconnects.
#ifndef BILLSIM_HTTP_HTTP_CLIENT_H_
#define BILLSIM_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include "util/status.h"

namespace billsim::http {

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

class HttpClient {
 public:
  // `host_port`: "HOST:PORT". `token`: sent as Authorization: Bearer (empty: none).
  HttpClient(std::string host_port, std::string token,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // IOError naming the server on a connection or protocol failure; any
  // status is a reply.
  Status Request(const std::string& method, const std::string& target, const std::string& body,
                 const std::string& content_type, HttpReply* reply);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace billsim::http

#endif  // BILLSIM_HTTP_HTTP_CLIENT_H_
