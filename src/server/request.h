// The unit of work that travels between the server's threads: a request as
// the network thread parsed it, tagged with its connection and its slot
// (the connection's count of requests, which orders its responses), and the
// response that travels back. The session is opaque here: the commit
// pipeline and the query service never touch it, they only hand it back
// with the response to the network thread (Responder).
#ifndef BILLSIM_SERVER_REQUEST_H_
#define BILLSIM_SERVER_REQUEST_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "log/batch_codec.h"
#include "util/status.h"

namespace billsim::server {

// A client connection, of the binary protocol (Session) or of HTTP
// (http/http_session.h), on the network thread only: what the commit
// pipeline and the query service answer to, and what the connection
// manager wakes and stops.
class Peer {
 public:
  virtual ~Peer() = default;
  // An answer for one of this connection's slots: the response, or its
  // frame (net/frame.h) when the sender serialized it already.
  virtual void Deliver(uint64_t slot, v1::Response&& response, std::string&& frame) = 0;
  // Room came back (queue, budgets): go on where it stopped.
  virtual void Resume() = 0;
  // Graceful stop: no more requests; finish what is in flight, then close.
  virtual void Shutdown() = 0;
  virtual void Close() = 0;
};

// A request as the network thread parsed it: for a columnar append, with
// its batch decoded (and its bytes dropped), so the committer reads columns.
struct Parsed {
  v1::Request request;
  std::unique_ptr<log::BatchDecoder> batch;
  // The bytes `batch` was decoded from, when the log may take them as they
  // are (DecodeAppend's keep_payload): the committer then writes them, not
  // a re-encoding (Journal::ApplyBatch). Else empty.
  std::string payload;
  uint64_t bytes = 0;  // frame body size
  // The batch's pairs as the commit pipeline numbered them on the network
  // thread (log/pair_numbering.h): by dictionary entry, and by other event
  // (a CampaignCreated's pair). Empty until then.
  std::vector<uint32_t> pairs;
  std::vector<uint32_t> created_pairs;

  // Events in an append (0 for a query).
  uint64_t events() const {
    if (!request.has_append()) return 0;
    return batch ? request.append().batch_events()
                 : static_cast<uint64_t>(request.append().events_size());
  }
};

// Checks an append's shape (events or a batch, not both) and size (at most
// max_events) and decodes its batch, if any, into parsed->batch: a set-up
// batch (mostly whole events) into an arena, delivery columns into the
// heap, which holds them in half the memory. Its bytes are dropped, but
// with `keep_payload` (a backend that writes its own log) kept in
// parsed->payload for a batch that log may take as it is
// (Journal::ApplyBatch, Journal::MayKeepWhole) in at most
// kPayloadKeptPerEvent bytes an event. What every
// entry of appends does (a session, the in-process gateway client). On a
// violation *code is BAD_REQUEST or MALFORMED and the message names the
// request and why. REQUIRES: parsed->request is an append.
Status DecodeAppend(uint32_t max_events, Parsed* parsed, v1::Error::Code* code,
                    bool keep_payload);
// A bound on the bytes kept (a batch naming a distinct campaign a row, as
// a large book's do, takes about 40).
inline constexpr uint64_t kPayloadKeptPerEvent = 64;

// Decoders of delivery batches, given back by the committer once it has
// applied their batch and taken again by DecodeAppend for the next one. A
// decoder parsed into again keeps its strings and columns (Protobuf's Clear
// keeps them for reuse), so a batch of thousands of dictionary strings
// costs no malloc per string to parse and, above all, no free per string
// on the committer, whose one core bounds the server's rate.
//
// Bounded: at most kKeptMax decoders are kept, and only decoders that never
// parsed a batch over kPayloadBytesMax. A decoder holds at most about 16
// bytes per payload byte (a 2-byte empty string parses to a 32-byte one), so
// the pool at most 64 MiB, and a few MiB for delivery batches of 10,000
// rows. Set-up batches (OneShot, an arena) are not kept, and not freed by
// the giver either when they are small: they wait (at most kDroppedMax of
// them, each of a payload within kPayloadBytesMax: 64 MiB in all, by the
// same reckoning) for the next DecodeAppend, on another thread, to free
// them (Collect), so that the committer does not pay for freeing their
// strings. Larger ones, or more, are freed by the giver.
//
// Thread-safe; one pool for the process (Shared), as the network thread,
// the in-process gateway client and the committer all reach it.
class DecoderPool {
 public:
  static constexpr size_t kKeptMax = 4;
  static constexpr uint64_t kPayloadBytesMax = 1 << 20;
  static constexpr size_t kDroppedMax = 4;

  static DecoderPool& Shared();

  // A kept decoder (to parse a delivery batch into), else a new one.
  std::unique_ptr<log::BatchDecoder> Take();
  // Keeps `decoder` if it may be reused, or for Collect to free (see
  // above); else it is destroyed here.
  void Give(std::unique_ptr<log::BatchDecoder> decoder);
  // Frees the one-shot decoders given since the last Collect, on the
  // caller's thread.
  void Collect();
  size_t kept() const;
  size_t dropped() const;  // waiting for Collect

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<log::BatchDecoder>> kept_;
  std::vector<std::unique_ptr<log::BatchDecoder>> dropped_;
};

// A request on its way to the committer or a query worker.
struct Work {
  std::shared_ptr<Peer> session;
  uint64_t slot = 0;
  Parsed parsed;
  // Queries answered off the committer reflect a sequence in
  // [at_least_seq, at_most_seq]: at least the connection's acknowledged
  // appends (and the log as recovered), at most what was acknowledged when
  // the query was routed, so never a request sent after it.
  uint64_t at_least_seq = 0;
  uint64_t at_most_seq = 0;
  // When the committer's queue took it (appends: the ack latency's start).
  std::chrono::steady_clock::time_point queued_at{};
};

// A response on its way back to its session.
struct Delivery {
  std::shared_ptr<Peer> session;
  uint64_t slot = 0;
  v1::Response response;
  // The response already framed (header + bytes), when the sender
  // serialized it off the network thread (query workers: large pages).
  std::string frame;
  std::chrono::steady_clock::time_point queued_at{};  // Work::queued_at
};

// Carries responses back to the network thread (the server posts them to
// its io_context). Thread-safe.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void Send(std::vector<Delivery>&& deliveries) = 0;
};

inline v1::Response ErrorResponse(uint64_t request_id, v1::Error::Code code,
                                  std::string message) {
  v1::Response r;
  r.set_request_id(request_id);
  r.mutable_error()->set_code(code);
  r.mutable_error()->set_message(std::move(message));
  return r;
}

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_REQUEST_H_
