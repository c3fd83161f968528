#include "cluster/nats_client.h"

#include <algorithm>
#include <vector>

namespace billsim::cluster {

Status NatsClient::Connect(const std::string& url, int64_t timeout_ms,
                           std::unique_ptr<NatsClient>* out) {
  std::unique_ptr<NatsClient> c(new NatsClient());
  c->url_ = url;
  // A comma-separated list: every node of a cluster, tried in turn.
  std::vector<std::string> urls;
  for (size_t start = 0; start <= url.size();) {
    const size_t comma = std::min(url.find(',', start), url.size());
    if (comma > start) urls.push_back(url.substr(start, comma - start));
    start = comma + 1;
  }
  if (urls.empty()) return Status::InvalidArgument("--nats: no URL given");
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> servers;
  for (const std::string& u : urls) servers.push_back(u.c_str());
  if (s == NATS_OK) {
    s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  }
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, true);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, timeout_ms);
  // Keep reconnecting through a node's restart (the cluster's other nodes
  // or the same one): a shard or a publisher outlives a failover.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 100);
  if (s == NATS_OK) s = natsConnection_Connect(&c->conn_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return c->Error("connecting", s);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms;
  s = natsConnection_JetStream(&c->js_, c->conn_, &jo);
  if (s != NATS_OK) return c->Error("opening JetStream", s);
  *out = std::move(c);
  return Status::Ok();
}

NatsClient::~NatsClient() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (conn_ != nullptr) natsConnection_Destroy(conn_);
}

Status NatsClient::Error(const std::string& what, natsStatus s, jsErrCode code) const {
  std::string text = natsStatus_GetText(s);
  // The library's last error text, when it is about this error (it is
  // per thread and not cleared, so it may be an earlier call's).
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (last == s && detail != nullptr && *detail != '\0' &&
      text.find(detail) == std::string::npos) {
    text += ": " + std::string(detail);
  }
  if (code != 0) text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  const std::string message = what + " (NATS at " + url_ + "): " + text;
  if (s == NATS_NOT_FOUND) return Status::NotFound(message);
  return Status::IOError(message);
}

}  // namespace billsim::cluster
