// Access: who may do what on `billsim serve` (issue 10, "Who may do what").
//
// A server started with --token-file holds a TokenTable: each token has a
// Role. A connection's first frame is a Hello carrying a token;
// TokenTable::Authenticate gives the token's role (or none: the server
// answers Error UNAUTHENTICATED and closes the connection). Every later
// request is checked by Permit against that role:
//
//   request                                          role needed
//   hello, ping, balance, spend, dispute,            read-only
//     history, balance_as_of
//   append                                           read-write
//   append holding a ClockAdvanced event             operator
//     (in `events` or in a columnar batch)
//
// Roles are ordered: operator may do everything read-write may, which may
// do everything read-only may. ClockAdvanced needs an operator because
// moving the clock makes time pass for accounts: it expires their credit
// (R6) and turns their days, renewing daily budget holds (R4); without an
// account_id it does so for the whole book. (Ordinary events move only
// their own account's clock, R6, so a read-write token cannot expire
// another account's credit.)
//
// Tokens are secrets: the table keeps only their SHA-256 digests, and
// Authenticate compares a digest with every entry using CRYPTO_memcmp and
// no early exit, so its timing depends neither on which token matched nor
// on how many leading bytes of a wrong token were right.
//
// Without --token-file a server checks nothing, and then it may listen on
// loopback only (CheckListenAccess).
//
// Threads: a TokenTable is immutable after Load; any number of threads may
// call Authenticate at once (the server shares it as
// std::shared_ptr<const TokenTable>). The free functions have no state.
#ifndef BILLSIM_SERVER_ACCESS_H_
#define BILLSIM_SERVER_ACCESS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "log/batch_codec.h"
#include "util/status.h"

namespace billsim::server {

// Ordered: each role may do everything the roles before it may.
enum class Role { kReadOnly, kReadWrite, kOperator };

// "read-only", "read-write", "operator": the spelling of the token file.
const char* RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);
// To and from HelloAck.Role (ROLE_UNSPECIFIED and unknown values: none).
v1::HelloAck::Role ToWire(Role role);
std::optional<Role> FromWire(v1::HelloAck::Role role);

// Bounds of a token file.
inline constexpr size_t kTokenBytesMin = 16;  // shorter ones can be guessed
inline constexpr size_t kTokenBytesMax = 1024;
inline constexpr size_t kTokensMax = 10'000;  // Authenticate is linear in it
inline constexpr size_t kTokenFileBytesMax = 1 << 20;

class TokenTable {
 public:
  TokenTable() = default;

  // Reads a token file: one token per line, "ROLE TOKEN" (ROLE one of
  // read-only, read-write, operator; separated by spaces or tabs; TOKEN of
  // kTokenBytesMin..kTokenBytesMax printable ASCII bytes, no spaces). Lines
  // whose first non-blank byte is '#' and blank lines are ignored; a
  // trailing '\r' is dropped. Refused (InvalidArgument naming path:line and
  // the reason): an unknown role, a missing or extra field, a token too
  // short or too long or with other bytes, the same token twice, more than
  // kTokensMax tokens, a file with no token. NotFound/IOError when the file
  // cannot be read. Logs a warning when the group or others may read it.
  // On failure *out is left empty.
  static Status Load(const std::string& path, TokenTable* out);

  // The same from text already read; `name` stands for the path in messages
  // (tests).
  static Status Parse(std::string_view text, const std::string& name, TokenTable* out);

  // The role of `token`, or none if it is not in the table. Hashes the token
  // and compares its digest with every entry in constant time.
  std::optional<Role> Authenticate(std::string_view token) const;

  size_t size() const { return entries_.size(); }
  size_t count(Role role) const;

 private:
  using Digest = std::array<uint8_t, 32>;  // SHA-256
  struct Entry {
    Digest digest;
    Role role;
  };
  static Digest Hash(std::string_view token);

  std::vector<Entry> entries_;
};

// Whether `request`, from a connection holding `role`, may be served.
// OK, or PermissionDenied naming the request id, the event (id and
// position) where it matters, the role needed and the role held. A request
// without a body, or of a kind this table does not know, is refused.
// `batch` is the request's columnar batch already decoded by the caller
// (the server decodes it anyway); if the request has one and `batch` is
// null, Permit decodes it itself (and an undecodable batch is refused).
Status Permit(Role role, const v1::Request& request, const log::BatchDecoder* batch);

// True if "HOST:PORT" names a loopback host: 127.0.0.0/8, ::1 (also
// IPv4-mapped ::ffff:127.x.y.z) or "localhost". An empty host, a wildcard
// (0.0.0.0, ::) or any other name is not: a name may resolve anywhere.
bool IsLoopback(const std::string& listen_host_port);

// serve's access options (the lead passes the loaded table to ServerOptions).
struct AccessOptions {
  std::string token_file;  // empty: no tokens, loopback only
};

// OK when `listen` is loopback or the server checks tokens; otherwise
// InvalidArgument naming the address and what to do.
Status CheckListenAccess(const std::string& listen, bool have_tokens);

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_ACCESS_H_
