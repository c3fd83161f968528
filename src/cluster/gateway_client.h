// GatewayClient: the cluster gateway (gateway.h) in this process, called
// one request at a time, for `billsim client --nats` and `query --nats`:
// what they send goes exactly the way it goes through `serve --nats`
// (routed, published, acknowledged once the shards applied it; queries to
// the shards), with no gateway process between.
#ifndef BILLSIM_CLUSTER_GATEWAY_CLIENT_H_
#define BILLSIM_CLUSTER_GATEWAY_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "billsim/v1/wire.pb.h"
#include "util/status.h"

namespace billsim::cluster {

class GatewayClient {
 public:
  static Status Open(const std::string& nats_url, std::unique_ptr<GatewayClient>* out);
  ~GatewayClient();  // answers what is in flight, then closes
  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  // Sends `request` and waits up to `timeout` for its response (an
  // append's: once applied; then IOError naming the wait).
  Status Call(const v1::Request& request, v1::Response* response,
              std::chrono::milliseconds timeout);
  uint64_t NextRequestId() { return ++last_request_id_; }

  class Impl;

 private:
  GatewayClient() = default;
  std::shared_ptr<Impl> impl_;
  uint64_t last_request_id_ = 0;
};

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_GATEWAY_CLIENT_H_
