// billsim serve|client|query: the ingest server and its command-line clients.
#include <google/protobuf/text_format.h>
#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <iostream>

#include "audit/audit.h"
#include "bulk/chunk_reader.h"
#include "bulk/event_reader.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cluster/gateway.h"
#include "cluster/gateway_client.h"
#include "net/client.h"
#include "report/format.h"
#include "server/access.h"
#include "server/server.h"

namespace billsim::cli {

namespace {

std::string ErrorText(const v1::Error& e) {
  return v1::Error::Code_Name(e.code()) + ": " + e.message();
}

const char* const kClientTokenFileHelp =
    "a file holding this client's access token alone, on its first line that is not a "
    "'#' comment (keep it mode 600); sent in a Hello before anything else. Needed by a "
    "server started with --token-file";

// Connects to `to` and, with a token file, says Hello with its token (a
// server checking access refuses everything else first). Logs why not.
bool ConnectAndHello(const po::variables_map& vm, net::Client* client) {
  v1::HelloAck::Role role = v1::HelloAck::ROLE_UNSPECIFIED;
  const Status st = ConnectWithToken(vm, "connect", client, &role);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return false;
  }
  if (vm.count("token-file")) {
    spdlog::debug("{}: the token's role is {}", client->peer(), v1::HelloAck::Role_Name(role));
  }
  return true;
}

// Where `client` and `query` send: a server (--connect, with its token) or
// a cluster (--nats: the gateway, in this process).
class Target {
 public:
  // Logs why not.
  bool Open(const po::variables_map& vm) {
    if (vm.count("connect") == vm.count("nats")) {
      spdlog::error("give --connect HOST:PORT (a server) or --nats URL (a cluster), one of them");
      return false;
    }
    if (vm.count("connect")) return ConnectAndHello(vm, &client_);
    const Status st = cluster::GatewayClient::Open(vm["nats"].as<std::string>(), &gateway_);
    if (!st.ok()) spdlog::error("{}", st.message());
    return st.ok();
  }
  Status Call(const v1::Request& request, v1::Response* response,
              std::chrono::milliseconds timeout) {
    return gateway_ ? gateway_->Call(request, response, timeout)
                    : client_.Call(request, response, timeout);
  }
  // Requests can be sent ahead of their answers (a server connection);
  // a cluster's gateway answers one Call at a time.
  bool pipelined() const { return !gateway_; }
  // A gateway's answer is had at once (Call) and kept for Receive.
  Status Send(const v1::Request& request, std::chrono::milliseconds timeout) {
    if (!gateway_) return client_.Send(request);
    answered_.emplace_back();
    return gateway_->Call(request, &answered_.back(), timeout);
  }
  Status Receive(v1::Response* response, std::chrono::milliseconds timeout) {
    if (!gateway_) return client_.Receive(response, timeout);
    if (answered_.empty()) return Status::Corruption("no request is waiting for an answer");
    *response = std::move(answered_.front());
    answered_.pop_front();
    return Status::Ok();
  }
  // The gateway's Call; a server's Send then Receive.
  uint64_t NextRequestId() {
    return gateway_ ? gateway_->NextRequestId() : client_.NextRequestId();
  }
  ~Target() {
    if (!gateway_) return;
    gateway_.reset();
    nats_Close();  // NATS's own threads and memory
  }

 private:
  net::Client client_;
  std::unique_ptr<cluster::GatewayClient> gateway_;
  std::deque<v1::Response> answered_;  // the gateway's, not yet received
};

const char* const kNatsTargetHelp =
    "instead of --connect: a cluster's NATS URL(s); the events go (and queries are "
    "answered) as through a gateway, `serve --nats` (README \"Running on a cluster\")";

// serve --token-file: the table of tokens and roles, or null without one.
// Logs why not.
bool LoadTokens(const po::variables_map& vm, std::shared_ptr<const server::TokenTable>* out) {
  server::AccessOptions access;
  if (vm.count("token-file")) access.token_file = vm["token-file"].as<std::string>();
  out->reset();
  if (!access.token_file.empty()) {
    auto table = std::make_shared<server::TokenTable>();
    const Status st = server::TokenTable::Load(access.token_file, table.get());
    if (!st.ok()) {
      spdlog::error("--token-file: {}", st.message());
      return false;
    }
    spdlog::info("{}: {} tokens ({} read-only, {} read-write, {} operator)", access.token_file,
                 table->size(), table->count(server::Role::kReadOnly),
                 table->count(server::Role::kReadWrite), table->count(server::Role::kOperator));
    *out = std::move(table);
  }
  return true;
}

// What serve and console both check: the connection limit, the query
// threads, and that an address other than loopback comes with tokens.
Status CheckShared(const server::ServerOptions& so, bool have_tokens) {
  if (so.max_connections == 0) return Status::InvalidArgument("--max-connections: must be positive");
  if (so.query_threads == 0 || so.query_threads > 64) {
    return Status::InvalidArgument("--query-threads: must be 1..64, got " +
                                   std::to_string(so.query_threads));
  }
  if (!so.listen.empty()) {
    Status st = server::CheckListenAccess(so.listen, have_tokens);
    if (!st.ok()) return st;
  }
  if (!so.http_listen.empty()) {
    Status st = server::CheckListenAccess(so.http_listen, have_tokens);
    if (!st.ok()) return Status::InvalidArgument("--http: " + st.message());
  }
  return Status::Ok();
}

// Starts the server, prints its addresses, runs it until stopped.
int RunServer(const server::ServerOptions& so) {
  server::Server server(so);
  const Status started = server.Start();
  if (!started.ok()) {
    spdlog::error("{}", started.ToString());
    return kExitUsage;
  }
  if (!so.listen.empty()) std::cout << "listening on " << server.address() << "\n";
  if (!so.http_listen.empty()) std::cout << "http on " << server.http_address() << "\n";
  std::cout.flush();
  const Status st = server.Run();
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

// --- serve ----------------------------------------------------------------------

int ServeMain(const std::vector<std::string>& args) {
  po::options_description options("billsim serve options");
  options.add_options()("log", po::value<std::string>(), "log directory (this node's own log)")(
      "nats", po::value<std::string>(),
      "instead of --log: a gateway to a cluster (README \"Running on a cluster\"): NATS "
      "URL(s), comma-separated; appends go to the partitions' streams and are acknowledged "
      "once a shard of each applied them, queries go to the shards")(
      "listen", po::value<std::string>()->default_value("127.0.0.1:7600"),
      "HOST:PORT to listen on (port 0: any free port); an address other than loopback "
      "(127.0.0.0/8, ::1, localhost) needs --token-file")(
      "http", po::value<std::string>(),
      "HOST:PORT to serve the HTTP/JSON API on as well (README \"HTTP API\"; port 0: any "
      "free port; not loopback: needs --token-file, whose tokens go as Authorization: Bearer)")(
      "token-file", po::value<std::string>(),
      "access tokens, one per line: ROLE TOKEN (ROLE read-only, read-write or operator; "
      "TOKEN 16..1024 printable bytes; at most 10000; '#' comments); every connection must "
      "then say Hello with one first")(
      "fsync", po::value<std::string>()->default_value("always"),
      "always, interval=MS or never")(
      "max-connections", po::value<uint32_t>()->default_value(1024),
      "connections beyond this get an Error (RESOURCE_EXHAUSTED) naming the limit and are "
      "closed")(
      "max-frame-bytes", po::value<uint32_t>()->default_value(net::kDefaultMaxFrameBytes),
      "largest request accepted, in bytes (at most 32 MiB: a request goes to the log as one batch)")(
      "idle-timeout-ms", po::value<int64_t>()->default_value(60'000),
      "close a connection silent this long")(
      "idle-timeout-near-limit-ms", po::value<int64_t>()->default_value(2'000),
      "... this long while 90% of --max-connections are open")(
      "max-in-flight", po::value<uint32_t>()->default_value(8),
      "requests per connection awaiting their response")(
      "max-queued-events", po::value<uint64_t>()->default_value(2'000'000),
      "events queued for the committer before connections stop reading")(
      "max-queued-queries", po::value<uint32_t>()->default_value(1'024),
      "history and as-of queries queued before connections stop reading")(
      "query-threads", po::value<uint32_t>()->default_value(2),
      "threads answering history and as-of queries from the history index")(
      "index-follow-ms", po::value<int64_t>()->default_value(5),
      "how often the history index follows the log when no query waits for it (0: only "
      "when one does); a page reflects what it covers")(
      "frame-budget-mb", po::value<uint64_t>()->default_value(128),
      "all connections' partial frames above 64 KiB, in MiB (at least --max-frame-bytes): "
      "a frame reserves its length before its body is read, else waits")(
      "output-budget-mb", po::value<uint64_t>()->default_value(128),
      "answers written and not yet read by their clients, all connections, in MiB; above it "
      "no connection takes new requests (per connection: 4 MiB)")(
      "segment-mb", po::value<uint64_t>()->default_value(128), "segment size in MiB")(
      "scrub-mb-per-sec", po::value<uint64_t>()->default_value(64),
      "read rate of the background checksum scan of the log (0: no scan)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim serve --log DIR [--listen HOST:PORT] [--fsync P] [OPTIONS]\n"
                 "       billsim serve --nats URL [--listen HOST:PORT] [OPTIONS]   (a cluster gateway)\n\n"
                 "Recovers the log, rebuilds the ledger by replay, then accepts events\n"
                 "over TCP (proto/billsim/v1/wire.proto: 4-byte little-endian length,\n"
                 "then one Request). Every append is validated by the live ledger; the\n"
                 "accepted events are appended and acknowledged once durable under the\n"
                 "fsync policy (group commit: one fsync for every connection's batch).\n"
                 "Prints \"listening on HOST:PORT\" once ready (then \"http on HOST:PORT\"\n"
                 "with --http). SIGINT/SIGTERM: stops\n"
                 "accepting, commits and acknowledges what was received, exits 0.\n\n"
                 "Takes the log's lock (DIR/LOCK): a second writer on DIR fails at once,\n"
                 "naming the holder's pid. A damaged log (anything but a write torn at\n"
                 "its tail) is refused at start, naming segment, offset and sequence.\n"
                 "The part of the log behind the snapshot it starts from is checked in\n"
                 "the background (--scrub-mb-per-sec); `billsim query --ping` shows the\n"
                 "scrub's state and the first damage it found.\n\n"
                 "Access: without --token-file anyone who reaches the port may do\n"
                 "anything, so the server listens on loopback only. With it, a\n"
                 "connection's first request must be a Hello with a token of the file\n"
                 "(compared in constant time); its role decides the rest: read-only\n"
                 "may query, read-write may also append, operator may also append\n"
                 "ClockAdvanced events (moving the clock expires credit, R4, R6).\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  std::shared_ptr<const server::TokenTable> tokens;
  if (!LoadTokens(vm, &tokens)) return kExitUsage;
  if (vm.count("log") == vm.count("nats")) {
    spdlog::error("give --log DIR (a single node) or --nats URL (a cluster gateway), one of them");
    return kExitUsage;
  }
  server::ServerOptions so;
  if (vm.count("log")) so.log_dir = vm["log"].as<std::string>();
  if (vm.count("nats")) {
    cluster::GatewayOptions gateway;
    gateway.nats_url = vm["nats"].as<std::string>();
    so.backend = [gateway](const server::ServerOptions& o, server::Responder* responder) {
      return cluster::MakeGateway(gateway, o, responder);
    };
  }
  so.listen = vm["listen"].as<std::string>();
  if (vm.count("http")) so.http_listen = vm["http"].as<std::string>();
  Status st = log::FsyncPolicy::Parse(vm["fsync"].as<std::string>(), &so.fsync);
  so.max_connections = vm["max-connections"].as<uint32_t>();
  so.max_frame_bytes = vm["max-frame-bytes"].as<uint32_t>();
  so.idle_timeout_ms = vm["idle-timeout-ms"].as<int64_t>();
  so.max_in_flight = vm["max-in-flight"].as<uint32_t>();
  so.max_queued_events = vm["max-queued-events"].as<uint64_t>();
  so.idle_timeout_near_limit_ms = vm["idle-timeout-near-limit-ms"].as<int64_t>();
  so.max_queued_queries = vm["max-queued-queries"].as<uint32_t>();
  so.query_threads = vm["query-threads"].as<uint32_t>();
  so.index_follow_ms = vm["index-follow-ms"].as<int64_t>();
  const uint64_t frame_mb = vm["frame-budget-mb"].as<uint64_t>();
  const uint64_t output_mb = vm["output-budget-mb"].as<uint64_t>();
  so.frame_bytes_max = frame_mb << 20;
  so.output_bytes_max = output_mb << 20;
  so.segment_bytes = vm["segment-mb"].as<uint64_t>() << 20;
  const uint64_t scrub_mb = vm["scrub-mb-per-sec"].as<uint64_t>();
  so.scrub_bytes_per_sec_max = scrub_mb << 20;
  so.handle_signals = true;
  if (st.ok() && scrub_mb > 1'000'000) {
    st = Status::InvalidArgument("--scrub-mb-per-sec: must be 0..1000000, got " +
                                 std::to_string(scrub_mb));
  }
  if (st.ok() && so.max_frame_bytes < 16) st = Status::InvalidArgument("--max-frame-bytes: must be at least 16");
  if (st.ok() && so.max_frame_bytes > server::kMaxFrameBytesLimit) {
    st = Status::InvalidArgument("--max-frame-bytes: must be at most " +
                                 std::to_string(server::kMaxFrameBytesLimit) +
                                 " (a request goes to the log as one batch), got " +
                                 std::to_string(so.max_frame_bytes));
  }
  if (st.ok() && so.idle_timeout_ms <= 0) st = Status::InvalidArgument("--idle-timeout-ms: must be positive");
  if (st.ok() && so.max_in_flight == 0) st = Status::InvalidArgument("--max-in-flight: must be positive");
  if (st.ok() && so.max_queued_events == 0) st = Status::InvalidArgument("--max-queued-events: must be positive");
  if (st.ok() && so.segment_bytes == 0) st = Status::InvalidArgument("--segment-mb: must be positive");
  if (st.ok() && so.idle_timeout_near_limit_ms <= 0) {
    st = Status::InvalidArgument("--idle-timeout-near-limit-ms: must be positive");
  }
  if (st.ok() && (so.index_follow_ms < 0 || so.index_follow_ms > 3'600'000)) {
    st = Status::InvalidArgument("--index-follow-ms: must be 0..3600000");
  }
  if (st.ok() && so.max_queued_queries == 0) st = Status::InvalidArgument("--max-queued-queries: must be positive");
  if (st.ok() && (frame_mb > (1u << 20) || so.frame_bytes_max < so.max_frame_bytes)) {
    st = Status::InvalidArgument("--frame-budget-mb: must hold one frame of --max-frame-bytes (" +
                                 std::to_string(so.max_frame_bytes) + " bytes) and be at most 1048576");
  }
  if (st.ok() && (output_mb == 0 || output_mb > (1u << 20))) {
    st = Status::InvalidArgument("--output-budget-mb: must be 1..1048576");
  }
  if (st.ok()) st = CheckShared(so, tokens != nullptr);
  so.tokens = tokens;
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  if (vm.count("nats")) spdlog::info("a gateway to the cluster at {}", vm["nats"].as<std::string>());
  const int code = RunServer(so);
  if (vm.count("nats")) nats_Close();  // NATS's own threads and memory
  return code;
}

// --- console --------------------------------------------------------------------

int ConsoleMain(const std::vector<std::string>& args) {
  po::options_description options("billsim console options");
  options.add_options()("log", po::value<std::string>()->required(), "log directory")(
      "http", po::value<std::string>()->default_value("127.0.0.1:8080"),
      "HOST:PORT of the HTTP/JSON API (port 0: any free port); an address other than "
      "loopback needs --token-file")(
      "token-file", po::value<std::string>(),
      "access tokens, as for serve (sent as Authorization: Bearer TOKEN)")(
      "max-connections", po::value<uint32_t>()->default_value(1024),
      "connections beyond this get a 503 naming the limit")(
      "query-threads", po::value<uint32_t>()->default_value(2),
      "threads answering history and as-of queries");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim console --log DIR [--http HOST:PORT] [--token-file F]\n\n"
                 "Serves the HTTP/JSON API of `serve --http` (README \"HTTP/JSON API\")\n"
                 "over a log with no ingest, for auditing it: balances, entries, as-of\n"
                 "balances, spend, disputes and metrics; every append is refused (403).\n"
                 "Recovers and replays the log like serve, and takes its lock: not for a\n"
                 "log a server is writing. Prints \"http on HOST:PORT\" once ready;\n"
                 "SIGINT/SIGTERM stop it.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  std::shared_ptr<const server::TokenTable> tokens;
  if (!LoadTokens(vm, &tokens)) return kExitUsage;
  server::ServerOptions so;
  so.log_dir = vm["log"].as<std::string>();
  so.listen.clear();  // HTTP only
  so.http_listen = vm["http"].as<std::string>();
  so.read_only = true;
  so.max_connections = vm["max-connections"].as<uint32_t>();
  so.query_threads = vm["query-threads"].as<uint32_t>();
  so.tokens = tokens;
  so.handle_signals = true;
  const Status st = CheckShared(so, tokens != nullptr);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  return RunServer(so);
}

// --- client ---------------------------------------------------------------------

int ClientMain(const std::vector<std::string>& args) {
  po::options_description options("billsim client options");
  options.add_options()("connect", po::value<std::string>(), "server HOST:PORT")(
      "nats", po::value<std::string>(), kNatsTargetHelp)(
      "batch", po::value<uint32_t>()->default_value(10000), "events per request (1..500000)")(
      "format", po::value<std::string>()->default_value("auto"),
      "auto (from the name), jsonl, csv or scenario")(
      "first-event-id", po::value<uint64_t>()->default_value(0),
      "CSV without an event_id column: the first row's id (then +1 a row)")(
      "timeout-ms", po::value<int64_t>()->default_value(60'000), "wait this long for an ack")(
      "token-file", po::value<std::string>(), kClientTokenFileHelp)(
      "file", po::value<std::vector<std::string>>(), "event files (- for standard input)");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim client (--connect HOST:PORT | --nats URL) [--batch N]\n"
                 "       [--format F] [--first-event-id N] [--token-file PATH] FILE...\n\n"
                 "Sends the events of files to a server: JSON lines, CSV deliveries or\n"
                 "scenarios, plain or compressed, or standard input (-), read as a stream\n"
                 "as `log append` reads them (see its --help). Each request carries one\n"
                 "columnar batch of up to --batch events; the next is sent when it is\n"
                 "answered (the file is parsed ahead meanwhile: a second request in\n"
                 "flight could stall both sides behind an ack of many refusals). Prints\n"
                 "one line per ack (its sequence range and accepted\n"
                 "count) and one per refused event (id and reason). A malformed line\n"
                 "stops the client after the requests already sent are answered. Exit 0:\n"
                 "all accepted; 1: some refused (duplicates included); 2: bad usage,\n"
                 "input, or a connection or server error.\n",
                 options, "file", &vm, &exit)) {
    return exit;
  }
  if (!vm.count("file")) {
    spdlog::error("no event file given; see --help");
    return kExitUsage;
  }
  const uint32_t batch = vm["batch"].as<uint32_t>();
  if (batch == 0 || batch > 500'000) {
    spdlog::error("--batch: must be 1..500000, got {}", batch);
    return kExitUsage;
  }
  // One request at a time: while the client writes a request it reads no
  // answer, and a server stops reading a connection whose answers wait
  // unread (server.h's output bound), so a second request in flight could
  // stall both behind a large ack. Parsing ahead keeps the pipe full.
  constexpr size_t window = 1;
  bulk::ReaderOptions reader_options;
  Status st = bulk::ParseFormat(vm["format"].as<std::string>(), "--format", &reader_options.format);
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  reader_options.first_event_id = vm["first-event-id"].as<uint64_t>();
  if (reader_options.first_event_id != 0 && vm["file"].as<std::vector<std::string>>().size() > 1) {
    spdlog::error("--first-event-id numbers the rows of one file: give one file per command");
    return kExitUsage;
  }
  const auto timeout = std::chrono::milliseconds(vm["timeout-ms"].as<int64_t>());
  // Every file opens before anything is sent: a missing one changes nothing.
  std::vector<std::unique_ptr<bulk::EventReader>> readers;
  for (const std::string& file : vm["file"].as<std::vector<std::string>>()) {
    readers.emplace_back();
    st = bulk::EventReader::Open(file, reader_options, &readers.back());
    if (!st.ok()) {
      spdlog::error("{}", st.message());
      return kExitUsage;
    }
  }
  Target client;
  if (!client.Open(vm)) return kExitUsage;
  struct Sent {
    uint64_t id;
    uint32_t count;
  };
  std::deque<Sent> in_flight;
  uint64_t accepted = 0, refused = 0;
  // The answer to the oldest request in flight (a server answers a
  // connection's requests in order).
  auto receive = [&]() -> Status {
    const Sent sent = in_flight.front();
    in_flight.pop_front();
    v1::Response response;
    Status rst = client.Receive(&response, timeout);
    if (!rst.ok()) return rst;
    if (response.request_id() != sent.id) {
      return Status::Corruption("the server answered request " +
                                std::to_string(response.request_id()) + " where " +
                                std::to_string(sent.id) + " was next");
    }
    if (response.has_error()) {
      return Status::InvalidArgument("request " + std::to_string(sent.id) + ": " +
                                     ErrorText(response.error()));
    }
    const v1::AppendAck& ack = response.append();
    if (ack.accepted() > 0) {
      std::cout << "ack " << sent.id << ": sequences " << ack.first_seq() << ".."
                << ack.last_seq() << ", " << ack.accepted() << " of " << sent.count
                << " accepted\n";
    } else {
      std::cout << "ack " << sent.id << ": 0 of " << sent.count << " accepted\n";
    }
    for (const v1::Rejection& r : ack.rejections()) {
      std::cout << "refused " << r.event_id() << ": " << (r.duplicate() ? "duplicate: " : "")
                << r.reason() << "\n";
    }
    accepted += ack.accepted();
    refused += ack.rejections_size();
    return Status::Ok();
  };
  Status input;  // a malformed line: what was sent before it is answered first
  bulk::ChunkReader::Chunk chunk;
  for (auto& reader : readers) {
    bulk::ChunkReader chunks(std::move(reader), batch);
    for (bool done = false; st.ok() && input.ok();) {
      input = chunks.Next(&chunk, &done);
      if (!input.ok() || done) break;
      while (st.ok() && in_flight.size() >= window) st = receive();
      if (!st.ok()) break;
      v1::Request request;
      request.set_request_id(client.NextRequestId());
      request.mutable_append()->set_batch(chunk.payload);
      request.mutable_append()->set_batch_events(chunk.count);
      st = client.Send(request, timeout);
      in_flight.push_back({request.request_id(), chunk.count});
    }
    if (!st.ok() || !input.ok()) break;
  }
  while (st.ok() && !in_flight.empty()) st = receive();
  if (!st.ok() || !input.ok()) {
    spdlog::error("{}", (st.ok() ? input : st).message());
    std::cout << "accepted " << accepted << " events, refused " << refused
              << " before the error\n";
    return kExitUsage;
  }
  std::cout << "accepted " << accepted << " events, refused " << refused << "\n";
  return refused > 0 ? kExitFailed : kExitOk;
}

// --- query ----------------------------------------------------------------------

int QueryMain(const std::vector<std::string>& args) {
  po::options_description options("billsim query options");
  options.add_options()("connect", po::value<std::string>(), "server HOST:PORT")(
      "nats", po::value<std::string>(), kNatsTargetHelp)(
      "account", po::value<std::string>(), "an account's balances")(
      "campaign", po::value<std::string>(), "a campaign's spend")(
      "dispute", po::value<std::string>(), "a dispute's state")(
      "history", po::value<std::string>(), "an account's ledger entries")(
      "since", po::value<uint64_t>()->default_value(0), "--history: after this log sequence")(
      "limit", po::value<uint32_t>()->default_value(0), "--history: at most this many (0: server max)")(
      "cursor", po::value<uint64_t>()->default_value(0),
      "--history: the next page: the cursor the last page printed")(
      "to", po::value<std::string>(), "--history: entries stamped at or before this time")(
      "as-of", po::value<std::string>(),
      "--account: its balances as of this time, from the history index")(
      "ping", "the server's durable sequence, log and fsync policy")(
      "json", "print JSON (one object per line)")(
      "timeout-ms", po::value<int64_t>()->default_value(60'000), "wait this long")(
      "token-file", po::value<std::string>(), kClientTokenFileHelp);
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim query (--connect HOST:PORT | --nats URL) (--account ID |\n"
                 "       --campaign ID |\n"
                 "       --dispute ID | --history ACCOUNT [--since SEQ] [--limit N] [--cursor C]\n"
                 "       [--to TIME] | --account ID --as-of TIME | --ping) [--json]\n"
                 "       [--token-file PATH]\n\n"
                 "Asks a server for a view. The answer reflects the state at an\n"
                 "acknowledged (durable) log sequence, printed with it. Exit 0; 1 when\n"
                 "the account, campaign or dispute is unknown; 2 on bad usage or a\n"
                 "connection or server error.\n\n"
                 "History comes a page at a time (--limit, up to the server's 10,000);\n"
                 "when more exists, the cursor of the next page is printed on stderr:\n"
                 "ask again with --cursor C. TIME: ISO 8601 UTC or integer microseconds.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  const int chosen = static_cast<int>(vm.count("account") + vm.count("campaign") +
                                      vm.count("dispute") + vm.count("history") + vm.count("ping"));
  if (chosen != 1) {
    spdlog::error("give exactly one of --account, --campaign, --dispute, --history, --ping");
    return kExitUsage;
  }
  const bool json = vm.count("json") > 0;
  Target client;
  if (!client.Open(vm)) return kExitUsage;
  Status st;
  v1::Request request;
  request.set_request_id(client.NextRequestId());
  int64_t to_us = 0, as_of_us = 0;
  if (vm.count("to")) st = ParseTime(vm["to"].as<std::string>(), "--to", &to_us);
  if (st.ok() && vm.count("as-of")) {
    st = ParseTime(vm["as-of"].as<std::string>(), "--as-of", &as_of_us);
    if (st.ok() && !vm.count("account")) st = Status::InvalidArgument("--as-of: goes with --account");
  }
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  if (vm.count("as-of")) {
    request.mutable_balance_as_of()->set_account_id(vm["account"].as<std::string>());
    request.mutable_balance_as_of()->set_as_of_us(as_of_us);
  } else if (vm.count("account")) {
    request.mutable_balance()->set_account_id(vm["account"].as<std::string>());
  } else if (vm.count("campaign")) {
    request.mutable_spend()->set_campaign_id(vm["campaign"].as<std::string>());
  } else if (vm.count("dispute")) {
    request.mutable_dispute()->set_dispute_id(vm["dispute"].as<std::string>());
  } else if (vm.count("history")) {
    auto* h = request.mutable_history();
    h->set_account_id(vm["history"].as<std::string>());
    h->set_since_seq(vm["since"].as<uint64_t>());
    h->set_limit(vm["limit"].as<uint32_t>());
    h->set_cursor(vm["cursor"].as<uint64_t>());
    h->set_to_us(to_us);
  } else {
    request.mutable_ping();
  }
  v1::Response response;
  st = client.Call(request, &response, std::chrono::milliseconds(vm["timeout-ms"].as<int64_t>()));
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return kExitUsage;
  }
  if (response.has_error()) {
    spdlog::error("{}", ErrorText(response.error()));
    return response.error().code() == v1::Error::NOT_FOUND ? kExitFailed : kExitUsage;
  }
  auto print_message = [&](const google::protobuf::Message& m) {
    if (json) {
      std::cout << ToJson(m) << "\n";
    } else {
      std::string text;
      google::protobuf::TextFormat::PrintToString(m, &text);
      std::cout << text;
    }
  };
  if (!json) std::cout << "as of sequence " << response.acknowledged_seq() << "\n";
  switch (response.body_case()) {
    case v1::Response::kBalance: {
      if (json) {
        print_message(response.balance());
      } else {
        v1::BalanceReport report;
        *report.add_accounts() = response.balance();
        WriteBalances(report, Format::kTable, std::cout);
      }
      break;
    }
    case v1::Response::kSpend:
      print_message(response.spend());
      break;
    case v1::Response::kDispute:
      print_message(response.dispute());
      break;
    case v1::Response::kHistory: {
      std::vector<audit::AuditEntry> entries;
      for (const auto& item : response.history().items()) {
        entries.push_back({item.log_seq(), item.entry()});
      }
      audit::WriteAuditHistory(entries, json ? Format::kJson : Format::kTable, std::cout);
      if (response.history().truncated()) {
        spdlog::warn("more entries exist: ask again with --cursor {}",
                     response.history().next_cursor());
      }
      break;
    }
    case v1::Response::kBalanceAsOf:
      print_message(response.balance_as_of());
      break;
    case v1::Response::kPong:
      print_message(response.pong());
      break;
    default:
      spdlog::error("unexpected response to request {}", request.request_id());
      return kExitUsage;
  }
  return kExitOk;
}

}  // namespace billsim::cli
