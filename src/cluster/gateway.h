// Gateway: `billsim serve --nats URL`, the server's backend (server/backend.h)
// on a cluster (issue 15). Clients speak to it as to a single node (the
// binary protocol and HTTP, the same sessions, bounds and tokens); it keeps
// no log of its own.
//
// Appends. A request's events go to their accounts' partitions (routed as
// the publisher routes them, publisher.h; a ClockAdvanced for every
// account to every partition; an event naming no account to the empty
// id's partition, a dispute it cannot place to its dispute id's; the
// ledger there refuses it with the single node's words). A partition's
// sender thread gathers what every connection queued for it into one
// columnar message (at most message_events events, kMaxBatchPayloadBytes
// bytes, no event id twice), publishes it with a message id of its own
// (retried with the same id, so only a retry is a duplicate; a client's
// resend is judged again) and goes on with the next once JetStream
// acknowledged it. The
// request is answered once every message holding its events is durable
// AND a shard of each partition reported applying it (its notice on the
// applied subject, partition.h; or, if that notice was missed, the answer
// to a status request): its AppendAck counts the accepted events and lists
// the shards' refusals in request order, worded as a single node words
// them. No notice within applied_wait_ms: UNAVAILABLE (the events are in
// the stream and will be applied; a resend is refused as duplicate).
// Requests of one connection are published in their order.
//
// Queries. Balance and campaigns go to the account's partition, spend and
// dispute to every partition (the one that knows the id answers), through
// NATS request-reply in the shards' queue group, so replicas share them. A
// shard answers once it has applied what the gateway acknowledged on that
// partition (read your writes, whichever replica answers). A query waits
// for the connection's appends sent before it. History, as-of, timeline,
// evidence, statement, accounts and forecast queries are not served here
// (BAD_REQUEST naming the kind); nor are stamped appends.
//
// Bounds: events queued or in flight at most ServerOptions.max_queued_events
// (then sessions wait), queries in flight at most max_queued_queries.
#ifndef BILLSIM_CLUSTER_GATEWAY_H_
#define BILLSIM_CLUSTER_GATEWAY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "server/backend.h"

namespace billsim::cluster {

struct GatewayOptions {
  std::string nats_url;
  uint32_t message_events = 2048;    // events per published message, at most
  int64_t publish_retry_ms = 30000;  // a publish failing this long: UNAVAILABLE
  int64_t applied_wait_ms = 30000;   // no shard's notice this long: UNAVAILABLE
  int64_t query_timeout_ms = 10000;  // a shard's answer to a query
};

std::unique_ptr<server::Backend> MakeGateway(const GatewayOptions& gateway,
                                             const server::ServerOptions& options,
                                             server::Responder* responder);

}  // namespace billsim::cluster

#endif  // BILLSIM_CLUSTER_GATEWAY_H_
