// Access (src/server/access.h): the token file, Authenticate, the Permit
// table, the loopback rule; and the client's token file (src/net/client.h).
// <utility> before any Boost header (Boost 1.74 + g++ 12, TOOLCHAIN.md).
#include <utility>

#include "server/access.h"

#include <sys/stat.h>

#include <boost/asio.hpp>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "log/batch_codec.h"
#include "net/client.h"
#include "net/frame.h"
#include "test_support.h"

namespace billsim::server {
namespace {

using test_support::CaptureLog;
using test_support::TempDir;

const std::string kReader = "r0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kWriter = "w1-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const std::string kOperator = "o2-cccccccccccccccccccccccccccccc";

std::string GoodTable() {
  return "# tokens of the test server\n"
         "\n"
         "read-only " + kReader + "\n"
         "  read-write\t" + kWriter + "  \r\n"
         "   # an indented comment\n"
         "operator " + kOperator;  // no final newline
}

Status ParseText(const std::string& text, TokenTable* table) {
  return TokenTable::Parse(text, "tokens.txt", table);
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// --- the token file --------------------------------------------------------

TEST(AccessTokenFile, ReadsRolesSkippingCommentsBlankLinesAndCarriageReturns) {
  TokenTable table;
  Status st = ParseText(GoodTable(), &table);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.count(Role::kReadOnly), 1u);
  EXPECT_EQ(table.count(Role::kReadWrite), 1u);
  EXPECT_EQ(table.count(Role::kOperator), 1u);
}

struct BadLine {
  std::string text;
  std::string where;   // path:line
  std::string reason;  // a piece of the message
};

TEST(AccessTokenFile, BadLinesAreRefusedNamingTheLineAndTheReason) {
  const std::string long_token(kTokenBytesMax + 1, 'x');
  const std::vector<BadLine> cases = {
      {"read-only " + kReader + "\n\nadmin " + kWriter + "\n", "tokens.txt:3: ",
       "unknown role 'admin'"},
      {"# c\nread-only 0123456789\n", "tokens.txt:2: ",
       "the token is 10 bytes; at least 16 are required"},
      {"read-write " + kWriter + " extra\n", "tokens.txt:1: ", "expected ROLE TOKEN, found 3 fields"},
      {"\n" + kWriter + "\n", "tokens.txt:2: ", "expected ROLE TOKEN, found 1 field"},
      {"read-only " + long_token + "\n", "tokens.txt:1: ", "at most 1024 are allowed"},
      {"read-only abcdefgh\x01ijklmnopqrs\n", "tokens.txt:1: ",
       "byte 9 of the token is not printable ASCII"},
      {"read-only " + kReader + "\n# again, as operator:\noperator " + kReader + "\n",
       "tokens.txt:3: ", "the same token as line 1"},
  };
  for (const BadLine& c : cases) {
    TokenTable table;
    const Status st = ParseText(c.text, &table);
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(st.message().rfind(c.where, 0), 0u) << st.message();
    EXPECT_NE(st.message().find(c.reason), std::string::npos) << st.message();
    EXPECT_EQ(table.size(), 0u);
  }
}

TEST(AccessTokenFile, NeverQuotesATokenInAnError) {
  TokenTable table;
  const Status st = ParseText("read-only shortsecret\n", &table);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("shortsecret"), std::string::npos) << st.message();
}

TEST(AccessTokenFile, AFileWithoutATokenIsRefused) {
  for (const std::string text : {"", "\n\n", "# only a comment\n   \n"}) {
    TokenTable table;
    const Status st = ParseText(text, &table);
    ASSERT_FALSE(st.ok()) << "'" << text << "'";
    EXPECT_NE(st.message().find("tokens.txt: no token"), std::string::npos) << st.message();
  }
}

TEST(AccessTokenFile, MoreThanTheBoundIsRefused) {
  std::string text;
  for (size_t i = 0; i <= kTokensMax; ++i) text += "read-only token-" + std::to_string(100000 + i) + "-pad\n";
  TokenTable table;
  const Status st = ParseText(text, &table);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tokens.txt:10001: more than 10000 tokens"), std::string::npos)
      << st.message();
}

TEST(AccessTokenFile, LoadWarnsWhenOthersMayReadTheFile) {
  TempDir dir;
  const std::string path = dir.sub("tokens");
  WriteFile(path, GoodTable(), 0644);
  {
    CaptureLog log;
    TokenTable table;
    ASSERT_TRUE(TokenTable::Load(path, &table).ok());
    EXPECT_EQ(table.size(), 3u);
    EXPECT_NE(log.text().find(path + ": holds access tokens but the group or others may access "
                                     "it (mode 0644)"),
              std::string::npos)
        << log.text();
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  CaptureLog log;
  TokenTable table;
  ASSERT_TRUE(TokenTable::Load(path, &table).ok());
  EXPECT_EQ(log.text().find("may access"), std::string::npos) << log.text();
}

TEST(AccessTokenFile, LoadNamesThePathOfAMissingOrOversizedFile) {
  TempDir dir;
  TokenTable table;
  Status st = TokenTable::Load(dir.sub("absent"), &table);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_NE(st.message().find(dir.sub("absent") + ": no such file"), std::string::npos);

  const std::string big = dir.sub("big");
  WriteFile(big, std::string(kTokenFileBytesMax + 1, '#'), 0600);
  st = TokenTable::Load(big, &table);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find(big + ": 1048577 bytes"), std::string::npos) << st.message();

  const std::string bad = dir.sub("bad");
  WriteFile(bad, "read-only " + kReader + "\nroot " + kWriter + "\n", 0600);
  st = TokenTable::Load(bad, &table);
  EXPECT_NE(st.message().find(bad + ":2: unknown role 'root'"), std::string::npos)
      << st.message();
}

// --- Authenticate ----------------------------------------------------------

class AccessAuthenticate : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ParseText(GoodTable(), &table_).ok()); }
  TokenTable table_;
};

TEST_F(AccessAuthenticate, FindsEachTokensRole) {
  EXPECT_EQ(table_.Authenticate(kReader), Role::kReadOnly);
  EXPECT_EQ(table_.Authenticate(kWriter), Role::kReadWrite);
  EXPECT_EQ(table_.Authenticate(kOperator), Role::kOperator);
}

TEST_F(AccessAuthenticate, RefusesEveryNearMiss) {
  for (const std::string& token : {kReader, kWriter, kOperator}) {
    for (size_t i = 0; i < token.size(); ++i) {
      std::string off = token;
      off[i] = static_cast<char>(off[i] ^ 1);
      EXPECT_FALSE(table_.Authenticate(off).has_value()) << "byte " << i << " of " << token;
    }
    EXPECT_FALSE(table_.Authenticate(token.substr(0, token.size() - 1)).has_value());
    EXPECT_FALSE(table_.Authenticate(token.substr(0, kTokenBytesMin)).has_value());
    EXPECT_FALSE(table_.Authenticate(token + "x").has_value());
    EXPECT_FALSE(table_.Authenticate(token + '\0').has_value());
    EXPECT_FALSE(table_.Authenticate(" " + token).has_value());
  }
  EXPECT_FALSE(table_.Authenticate("").has_value());
  EXPECT_FALSE(TokenTable().Authenticate(kReader).has_value());  // an empty table
}

// --- Permit ----------------------------------------------------------------

v1::Event Deposit(uint64_t id) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(1'000'000);
  e.mutable_cash_deposited()->set_account_id("acct");
  e.mutable_cash_deposited()->set_amount_micros(5'000'000);
  return e;
}

v1::Event Clock(uint64_t id) {
  v1::Event e;
  e.set_event_id(id);
  e.set_time_us(2'000'000);
  e.mutable_clock_advanced();  // every account's clock
  return e;
}

v1::Request Append(uint64_t request_id, const std::vector<v1::Event>& events) {
  v1::Request r;
  r.set_request_id(request_id);
  for (const v1::Event& e : events) *r.mutable_append()->add_events() = e;
  return r;
}

// An append of one columnar batch: deliveries, then `other` at position 3.
v1::Request BatchAppend(uint64_t request_id, const v1::Event& other) {
  log::BatchBuilder builder;
  for (uint64_t id = 100; id < 103; ++id) {
    builder.AddDelivery(id, 1'500'000, "acct", "camp", v1::DeliveryReported::IMPRESSION, 10, false);
  }
  builder.Add(other);
  builder.AddDelivery(103, 1'600'000, "acct", "camp", v1::DeliveryReported::CLICK, 1, false);
  v1::Request r;
  r.set_request_id(request_id);
  builder.Finish(r.mutable_append()->mutable_batch());
  r.mutable_append()->set_batch_events(builder.count());
  return r;
}

const Role kRoles[] = {Role::kReadOnly, Role::kReadWrite, Role::kOperator};

TEST(AccessPermit, EveryRoleMayQuery) {
  std::vector<v1::Request> queries(7);
  queries[0].mutable_hello()->set_token(kReader);
  queries[1].mutable_ping();
  queries[2].mutable_balance()->set_account_id("acct");
  queries[3].mutable_spend()->set_campaign_id("camp");
  queries[4].mutable_dispute()->set_dispute_id("d");
  queries[5].mutable_history()->set_account_id("acct");
  queries[6].mutable_balance_as_of()->set_account_id("acct");
  for (Role role : kRoles) {
    for (const v1::Request& q : queries) {
      const Status st = Permit(role, q, nullptr);
      EXPECT_TRUE(st.ok()) << RoleName(role) << " " << q.ShortDebugString() << ": "
                           << st.ToString();
    }
  }
}

TEST(AccessPermit, AppendsNeedReadWrite) {
  const v1::Request append = Append(7, {Deposit(41), Deposit(42)});
  const Status st = Permit(Role::kReadOnly, append, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(st.message(),
            "request 7: an append needs a read-write token or better; this connection's token "
            "is read-only");
  EXPECT_TRUE(Permit(Role::kReadWrite, append, nullptr).ok());
  EXPECT_TRUE(Permit(Role::kOperator, append, nullptr).ok());
  const v1::Request batch = BatchAppend(8, Deposit(50));
  EXPECT_FALSE(Permit(Role::kReadOnly, batch, nullptr).ok());
  EXPECT_TRUE(Permit(Role::kReadWrite, batch, nullptr).ok());
}

TEST(AccessPermit, ClockAdvancedInEventsNeedsAnOperator) {
  const v1::Request append = Append(9, {Deposit(41), Clock(42), Clock(43)});
  for (Role role : {Role::kReadOnly, Role::kReadWrite}) {
    const Status st = Permit(role, append, nullptr);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
    EXPECT_NE(st.message().find("request 9: "), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(RoleName(role)), std::string::npos) << st.message();
  }
  const Status st = Permit(Role::kReadWrite, append, nullptr);
  EXPECT_EQ(st.message(),
            "request 9: event 42 (position 1) is a ClockAdvanced, which expires credit and turns "
            "days for accounts (R4, R6): it needs an operator token or better; this "
            "connection's token is read-write");
  EXPECT_TRUE(Permit(Role::kOperator, append, nullptr).ok());

  // An account's ClockAdvanced moves that account's clock: operator too.
  v1::Event one = Clock(44);
  one.mutable_clock_advanced()->set_account_id("acct");
  EXPECT_FALSE(Permit(Role::kReadWrite, Append(10, {one}), nullptr).ok());
}

TEST(AccessPermit, ClockAdvancedInsideAColumnarBatchNeedsAnOperator) {
  const v1::Request request = BatchAppend(11, Clock(77));
  log::BatchDecoder decoder;
  ASSERT_TRUE(decoder.Parse(request.append().batch(), request.append().batch_events()).ok());
  // Decoded by the caller, or by Permit itself: the same answer.
  for (const log::BatchDecoder* batch : {static_cast<const log::BatchDecoder*>(&decoder),
                                         static_cast<const log::BatchDecoder*>(nullptr)}) {
    const Status st = Permit(Role::kReadWrite, request, batch);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
    EXPECT_EQ(st.message().rfind("request 11: event 77 (position 3) is a ClockAdvanced", 0), 0u)
        << st.message();
    EXPECT_TRUE(Permit(Role::kOperator, request, batch).ok());
  }
}

TEST(AccessPermit, AnUndecodableBatchOrNoBodyIsRefused) {
  v1::Request request = BatchAppend(12, Deposit(1));
  request.mutable_append()->set_batch_events(99);  // the batch holds 5
  const Status st = Permit(Role::kReadWrite, request, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("request 12: the batch does not decode"), std::string::npos)
      << st.message();
  v1::Request empty;
  empty.set_request_id(13);
  for (Role role : kRoles) EXPECT_FALSE(Permit(role, empty, nullptr).ok());
}

// Every kind of request on the wire has a rule: an operator may send each
// (a kind added to wire.proto but not to Permit is refused for everyone).
TEST(AccessPermit, EveryRequestKindOnTheWireHasARule) {
  const google::protobuf::OneofDescriptor* body =
      v1::Request::descriptor()->FindOneofByName("body");
  ASSERT_NE(body, nullptr);
  ASSERT_GE(body->field_count(), 8);  // the 8 of issue 10
  for (int i = 0; i < body->field_count(); ++i) {
    v1::Request request;
    request.set_request_id(1);
    request.GetReflection()->MutableMessage(&request, body->field(i));
    const Status st = Permit(Role::kOperator, request, nullptr);
    EXPECT_TRUE(st.ok()) << body->field(i)->name() << ": " << st.ToString();
  }
}

// --- roles and listening ---------------------------------------------------

TEST(AccessRoles, NamesAndWireValuesRoundTrip) {
  for (Role role : kRoles) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
    EXPECT_EQ(FromWire(ToWire(role)), role);
  }
  EXPECT_EQ(ToWire(Role::kReadWrite), v1::HelloAck::READ_WRITE);
  EXPECT_FALSE(ParseRole("Operator").has_value());
  EXPECT_FALSE(FromWire(v1::HelloAck::ROLE_UNSPECIFIED).has_value());
  EXPECT_LT(Role::kReadOnly, Role::kReadWrite);
  EXPECT_LT(Role::kReadWrite, Role::kOperator);
}

TEST(AccessListen, LoopbackAddressesOnly) {
  for (const char* a : {"127.0.0.1:7600", "127.1.2.3:0", "[::1]:7600", "localhost:1",
                        "LocalHost:1", "[::ffff:127.0.0.1]:5", "[0:0:0:0:0:0:0:1]:9"}) {
    EXPECT_TRUE(IsLoopback(a)) << a;
  }
  for (const char* a : {"0.0.0.0:7600", "[::]:7600", "10.0.0.1:7600", "128.0.0.1:1",
                        "example.com:7600", "localhost.example.com:1", ":7600", "127.0.0.1",
                        "", "[::ffff:10.0.0.1]:5"}) {
    EXPECT_FALSE(IsLoopback(a)) << a;
  }
}

TEST(AccessListen, ANonLoopbackListenNeedsTokens) {
  EXPECT_TRUE(CheckListenAccess("127.0.0.1:7600", false).ok());
  EXPECT_TRUE(CheckListenAccess("0.0.0.0:7600", true).ok());
  const Status st = CheckListenAccess("0.0.0.0:7600", false);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("--listen 0.0.0.0:7600: not a loopback address, and no "
                               "--token-file",
                               0),
            0u)
      << st.message();
}

// --- the client's side ----------------------------------------------------

TEST(AccessClientTokenFile, TheTokenAloneOnTheFirstLineThatIsNotAComment) {
  TempDir dir;
  const std::string path = dir.sub("token");
  WriteFile(path, "# my token\n\n   " + kWriter + "  \r\n" + kOperator + "\n", 0600);
  std::string token;
  Status st = net::ReadTokenFile(path, &token);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(token, kWriter);

  WriteFile(path, "# c\nread-write " + kWriter + "\n", 0600);
  st = net::ReadTokenFile(path, &token);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find(path + ":2: more than one field"), std::string::npos)
      << st.message();

  WriteFile(path, "# nothing\n\n", 0600);
  st = net::ReadTokenFile(path, &token);
  EXPECT_NE(st.message().find(path + ": no token"), std::string::npos) << st.message();

  st = net::ReadTokenFile(dir.sub("absent"), &token);
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
}

// A one-connection server on loopback that answers the first request with
// `answer` (its request id copied) and records the request.
class OneShotServer {
 public:
  explicit OneShotServer(v1::Response answer)
      : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}),
        answer_(std::move(answer)) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  const v1::Request& received() const { return received_; }  // after Join

 private:
  void Serve() {
    boost::asio::ip::tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (ec) return;
    net::FrameDecoder decoder(net::kDefaultMaxFrameBytes);
    std::string_view body;
    char in[4096];
    while (decoder.Next(&body) == net::FrameDecoder::Result::kNeedMore) {
      const size_t n = socket.read_some(boost::asio::buffer(in), ec);
      if (ec) return;
      decoder.Feed(in, n);
    }
    received_.ParseFromArray(body.data(), static_cast<int>(body.size()));
    answer_.set_request_id(received_.request_id());
    std::string out;
    if (!net::AppendFrame(answer_, &out).ok()) return;
    boost::asio::write(socket, boost::asio::buffer(out), ec);
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  v1::Response answer_;
  v1::Request received_;
  std::thread thread_;
};

TEST(AccessClientHello, SendsTheTokenAndReadsTheRole) {
  v1::Response ack;
  ack.mutable_hello()->set_role(v1::HelloAck::READ_WRITE);
  v1::HelloAck::Role role = v1::HelloAck::ROLE_UNSPECIFIED;
  {
    OneShotServer server(ack);
    net::Client client;
    ASSERT_TRUE(client.Connect(server.address()).ok());
    const Status st = client.Hello(kWriter, &role);
    ASSERT_TRUE(st.ok()) << st.ToString();
    client.Close();
    server.Join();
    EXPECT_EQ(server.received().hello().token(), kWriter);
  }
  EXPECT_EQ(role, v1::HelloAck::READ_WRITE);
}

TEST(AccessClientHello, ARefusalNamesTheServerAndItsReason) {
  v1::Response refusal;
  refusal.mutable_error()->set_code(v1::Error::UNAUTHENTICATED);
  refusal.mutable_error()->set_message("unknown token");
  OneShotServer server(refusal);
  net::Client client;
  ASSERT_TRUE(client.Connect(server.address()).ok());
  v1::HelloAck::Role role = v1::HelloAck::ROLE_UNSPECIFIED;
  const Status st = client.Hello("not-a-token-of-this-server", &role);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(st.message(), "server " + server.address() +
                              " refused Hello: UNAUTHENTICATED: unknown token");
  EXPECT_EQ(role, v1::HelloAck::ROLE_UNSPECIFIED);
}

}  // namespace
}  // namespace billsim::server
