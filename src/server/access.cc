// <utility> before any Boost header (Boost 1.74 + g++ 12, TOOLCHAIN.md).
#include <utility>

#include "server/access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/asio/ip/address.hpp>
#include <memory>

#include "net/client.h"
#include "net/secret_file.h"
#include "util/assert.h"

namespace billsim::server {

namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// The fields of a line, split at runs of spaces and tabs.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsBlank(line[i])) i++;
    const size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) i++;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// Why `token` cannot be a token, or empty if it can. Never quotes the
// token: it is a secret, and the message goes to a log.
std::string TokenProblem(std::string_view token) {
  if (token.size() < kTokenBytesMin) {
    return "the token is " + std::to_string(token.size()) + " bytes; at least " +
           std::to_string(kTokenBytesMin) +
           " are required so that it cannot be guessed (make one with `openssl rand -hex 32`)";
  }
  if (token.size() > kTokenBytesMax) {
    return "the token is " + std::to_string(token.size()) + " bytes; at most " +
           std::to_string(kTokenBytesMax) + " are allowed";
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x21 || c > 0x7e) {
      return "byte " + std::to_string(i + 1) + " of the token is not printable ASCII";
    }
  }
  return {};
}

std::string RequestName(const v1::Request& request) {
  return "request " + std::to_string(request.request_id());
}

Status NeedRole(const v1::Request& request, const std::string& what, Role need, Role have) {
  const char* article = need == Role::kOperator ? " needs an " : " needs a ";
  return Status::PermissionDenied(RequestName(request) + ": " + what + article + RoleName(need) +
                                  " token or better; this connection's token is " +
                                  RoleName(have));
}

// R4, R6: a ClockAdvanced makes time pass for accounts (for every account
// without an account_id), expiring their credit and turning their days.
Status ClockDenied(const v1::Request& request, const v1::Event& event, uint32_t position,
                   Role have) {
  return NeedRole(request,
                  "event " + std::to_string(event.event_id()) + " (position " +
                      std::to_string(position) +
                      ") is a ClockAdvanced, which expires credit and turns days for accounts "
                      "(R4, R6): it",
                  Role::kOperator, have);
}

// The first ClockAdvanced of an append, in `events` or among a columnar
// batch's whole events (deliveries are never clock events: not visited).
Status CheckClockEvents(Role role, const v1::Request& request, const log::BatchDecoder* batch) {
  const v1::AppendRequest& append = request.append();
  for (int i = 0; i < append.events_size(); ++i) {
    if (append.events(i).has_clock_advanced()) {
      return ClockDenied(request, append.events(i), static_cast<uint32_t>(i), role);
    }
  }
  if (append.batch().empty() && append.batch_events() == 0) return Status::Ok();
  std::unique_ptr<log::BatchDecoder> own;
  if (batch == nullptr) {
    own = std::make_unique<log::BatchDecoder>();
    Status st = own->Parse(append.batch(), append.batch_events());
    if (!st.ok()) {
      return Status::InvalidArgument(RequestName(request) + ": the batch does not decode (" +
                                     st.message() + "): refused");
    }
    batch = own.get();
  }
  for (uint32_t i = 0; i < batch->other_events(); ++i) {
    if (batch->other_event(i).has_clock_advanced()) {
      return ClockDenied(request, batch->other_event(i), batch->other_position(i), role);
    }
  }
  return Status::Ok();
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kReadOnly: return "read-only";
    case Role::kReadWrite: return "read-write";
    case Role::kOperator: return "operator";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kReadOnly, Role::kReadWrite, Role::kOperator}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

v1::HelloAck::Role ToWire(Role role) {
  switch (role) {
    case Role::kReadOnly: return v1::HelloAck::READ_ONLY;
    case Role::kReadWrite: return v1::HelloAck::READ_WRITE;
    case Role::kOperator: return v1::HelloAck::OPERATOR;
  }
  return v1::HelloAck::ROLE_UNSPECIFIED;
}

std::optional<Role> FromWire(v1::HelloAck::Role role) {
  switch (role) {
    case v1::HelloAck::READ_ONLY: return Role::kReadOnly;
    case v1::HelloAck::READ_WRITE: return Role::kReadWrite;
    case v1::HelloAck::OPERATOR: return Role::kOperator;
    default: return std::nullopt;
  }
}

// --- TokenTable --------------------------------------------------------------

TokenTable::Digest TokenTable::Hash(std::string_view token) {
  Digest d{};
  unsigned int len = 0;
  const int ok = EVP_Digest(token.data(), token.size(), d.data(), &len, EVP_sha256(), nullptr);
  BILLSIM_ASSERT(ok == 1 && len == d.size());  // OpenSSL itself failed
  return d;
}

Status TokenTable::Load(const std::string& path, TokenTable* out) {
  out->entries_.clear();
  std::string text;
  Status st = net::ReadSecretFile(path, kTokenFileBytesMax, &text);
  if (!st.ok()) return st;
  return Parse(text, path, out);
}

Status TokenTable::Parse(std::string_view text, const std::string& name, TokenTable* out) {
  out->entries_.clear();
  std::vector<Entry> entries;
  std::vector<size_t> lines;  // the line of each entry, for duplicates
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    line_no++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::vector<std::string_view> fields = Fields(line);
    if (fields.empty() || fields[0].front() == '#') continue;
    const std::string where = name + ":" + std::to_string(line_no) + ": ";
    if (fields.size() != 2) {
      return Status::InvalidArgument(where + "expected ROLE TOKEN, found " +
                                     std::to_string(fields.size()) + " field" +
                                     (fields.size() == 1 ? "" : "s"));
    }
    const std::optional<Role> role = ParseRole(fields[0]);
    if (!role) {
      return Status::InvalidArgument(where + "unknown role '" + std::string(fields[0]) +
                                     "' (read-only, read-write or operator)");
    }
    const std::string problem = TokenProblem(fields[1]);
    if (!problem.empty()) return Status::InvalidArgument(where + problem);
    const Digest digest = Hash(fields[1]);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].digest == digest) {
        return Status::InvalidArgument(where + "the same token as line " +
                                       std::to_string(lines[i]) + "; each token has one role");
      }
    }
    if (entries.size() == kTokensMax) {
      return Status::InvalidArgument(where + "more than " + std::to_string(kTokensMax) +
                                     " tokens");
    }
    entries.push_back({digest, *role});
    lines.push_back(line_no);
  }
  if (entries.empty()) {
    return Status::InvalidArgument(name + ": no token (lines of ROLE TOKEN); a server with "
                                          "--token-file and no token would refuse everyone");
  }
  out->entries_ = std::move(entries);
  return Status::Ok();
}

std::optional<Role> TokenTable::Authenticate(std::string_view token) const {
  const Digest digest = Hash(token);
  // Every entry is compared, in constant time, whatever matched: `found`
  // is the matching entry's role + 1, 0 if none (tokens are unique).
  uint32_t found = 0;
  for (const Entry& e : entries_) {
    const uint32_t equal =
        static_cast<uint32_t>(CRYPTO_memcmp(digest.data(), e.digest.data(), digest.size()) == 0);
    found |= (0u - equal) & (static_cast<uint32_t>(e.role) + 1);
  }
  if (found == 0) return std::nullopt;
  return static_cast<Role>(found - 1);
}

size_t TokenTable::count(Role role) const {
  size_t n = 0;
  for (const Entry& e : entries_) n += e.role == role ? 1 : 0;
  return n;
}

// --- Permit ------------------------------------------------------------------

Status Permit(Role role, const v1::Request& request, const log::BatchDecoder* batch) {
  switch (request.body_case()) {
    case v1::Request::kHello:
    case v1::Request::kPing:
    case v1::Request::kBalance:
    case v1::Request::kSpend:
    case v1::Request::kDispute:
    case v1::Request::kHistory:
    case v1::Request::kBalanceAsOf:
    case v1::Request::kTimeline:
    case v1::Request::kAccounts:
    case v1::Request::kEvidence:
    case v1::Request::kForecast:
    case v1::Request::kCampaigns:
    case v1::Request::kStatement:
      return Status::Ok();  // queries: every role
    case v1::Request::kAppend:
      if (role < Role::kReadWrite) {
        return NeedRole(request, "an append", Role::kReadWrite, role);
      }
      if (role == Role::kOperator) return Status::Ok();
      return CheckClockEvents(role, request, batch);
    case v1::Request::BODY_NOT_SET:
      return Status::InvalidArgument(RequestName(request) + ": no body: refused");
  }
  // A kind added to wire.proto but not to this table: refused until it is.
  return Status::PermissionDenied(RequestName(request) + ": request kind " +
                                  std::to_string(static_cast<int>(request.body_case())) +
                                  " is not in the access table: refused");
}

// --- Listening -----------------------------------------------------------------

bool IsLoopback(const std::string& listen_host_port) {
  std::string host;
  uint16_t port = 0;
  if (!net::ParseHostPort(listen_host_port, &host, &port).ok()) return false;
  std::string lower = host;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "localhost") return true;
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  if (ec) return false;  // another name: it may resolve anywhere
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
        .is_loopback();
  }
  return address.is_loopback();
}

Status CheckListenAccess(const std::string& listen, bool have_tokens) {
  if (have_tokens || IsLoopback(listen)) return Status::Ok();
  return Status::InvalidArgument(
      "--listen " + listen +
      ": not a loopback address, and no --token-file: anyone who reaches the port could "
      "append, query any account and move the clock. Give --token-file PATH (lines of "
      "ROLE TOKEN), or listen on 127.0.0.1, ::1 or localhost");
}

}  // namespace billsim::server
