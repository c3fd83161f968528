// NatsClient: one connection to NATS and its JetStream context, closed on
// destruction, and NATS errors as billsim Statuses (naming what was being
// done, the server's URL and NATS's own text).
#ifndef BILLSIM_CLUSTER_NATS_CLIENT_H_
#define BILLSIM_CLUSTER_NATS_CLIENT_H_

#include <nats/nats.h>

#include <memory>
#include <string>

#include "util/status.h"

namespace billsim::cluster {

class NatsClient {
 public:
  // Connects to `url` (nats://HOST:PORT, or several, comma-separated).
  // `timeout_ms` bounds each JetStream request.
  static Status Connect(const std::string& url, int64_t timeout_ms,
                        std::unique_ptr<NatsClient>* out);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  natsConnection* connection() { return conn_; }
  jsCtx* js() { return js_; }
  const std::string& url() const { return url_; }

  // `s` (not NATS_OK) as a Status: "<what> (NATS at <url>): <NATS's text>",
  // with the JetStream error code when there is one.
  Status Error(const std::string& what, natsStatus s, jsErrCode code = static_cast<jsErrCode>(0)) const;

 private:
  NatsClient() = default;
  std::string url_;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_NATS_CLIENT_H_
