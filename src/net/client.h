// Client: a simple blocking client of `billsim serve` over one TCP
// connection (boost::asio). Send writes one framed Request; Receive waits
// (with a timeout) for the next framed Response; Call is both. Requests may
// be pipelined: Send several, then Receive their responses in order.
//
// Access: on a server that checks tokens (serve --token-file) the first
// request on a connection must be a Hello with the token; Hello sends it
// and reads the role granted. ReadTokenFile reads a client's token file.
//
// Errors are Status values: IOError for connect/read/write failures (the
// message names the peer and the cause), "timed out" in the message for a
// timeout (after which the connection is closed: a late response would
// otherwise be mistaken for the next one), Corruption for a response that
// does not parse or a frame above the maximum.
//
// Not thread-safe: one thread per Client.
#ifndef BILLSIM_NET_CLIENT_H_
#define BILLSIM_NET_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "billsim/v1/wire.pb.h"
#include "net/frame.h"
#include "util/status.h"

namespace billsim::net {

// "HOST:PORT" (HOST a name or IPv4 address, or [IPv6]) into its parts.
Status ParseHostPort(const std::string& text, std::string* host, uint16_t* port);

// A client's token file (--token-file of client, query, stress): the token
// alone, on the first line that is neither blank nor a '#' comment
// (spaces around it and a trailing '\r' are dropped; later lines are not
// read as tokens). A line of two fields is refused, naming path:line: it
// looks like a line of the server's table ("ROLE TOKEN"), which is not a
// client's file. At most 64 KiB; warns if the group or others may read it.
Status ReadTokenFile(const std::string& path, std::string* token);

class Client {
 public:
  using Millis = std::chrono::milliseconds;

  explicit Client(uint32_t max_frame_bytes = kDefaultMaxFrameBytes);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects to "HOST:PORT" (closing any previous connection).
  Status Connect(const std::string& host_port, Millis timeout = Millis(5000));
  void Close();
  bool connected() const;

  // Writes one framed request (blocking until written).
  Status Send(const v1::Request& request);
  // Waits up to `timeout` for the next response.
  Status Receive(v1::Response* response, Millis timeout = Millis(30000));
  // Like Receive, but a response not complete within `wait` is not an
  // error: *got is false and the connection stays open (bytes already read
  // are kept for the next call). For a client that has other work to do
  // while it waits, such as a paced sender.
  Status TryReceive(v1::Response* response, Millis wait, bool* got);
  // Send, then Receive; checks the response's request_id matches.
  Status Call(const v1::Request& request, v1::Response* response,
              Millis timeout = Millis(30000));

  // Sends a Hello with `token` (the first request on a connection to a
  // server that checks access) and waits for its HelloAck: *role is what
  // the token may do. A refused token (Error UNAUTHENTICATED or
  // PERMISSION_DENIED; the server then closes the connection) is
  // PermissionDenied, another Error is IOError, each naming the server and
  // quoting its message.
  Status Hello(const std::string& token, v1::HelloAck::Role* role,
               Millis timeout = Millis(30000));

  // A fresh request id (1, 2, ...) for this client.
  uint64_t NextRequestId() { return ++last_request_id_; }

  // Writes raw bytes (tests: malformed frames).
  Status SendRaw(std::string_view bytes);
  // True if the peer closed the connection within `timeout` (reading and
  // discarding anything that arrives before).
  bool WaitClosed(Millis timeout);

  const std::string& peer() const { return peer_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint32_t max_frame_bytes_;
  uint64_t last_request_id_ = 0;
  std::string peer_;
};

}  // namespace billsim::net

#endif  // BILLSIM_NET_CLIENT_H_
