// billsim bench http: figures for the HTTP/JSON API of a running server
// (README "HTTP/JSON API"): events/s acknowledged when appended as JSON
// lines over HTTP, beside the same kind of events sent over the binary
// protocol (one Event message each); then the latency of history pages and
// timelines over HTTP (run it while `billsim stress` loads the server to
// measure them under ingest). A benchmark prints what it measured; it
// asserts nothing about speed.
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "bench/workload.h"
#include "cli/bench_util.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "http/http_client.h"
#include "net/client.h"
#include "util/thread_name.h"

namespace billsim::cli {

namespace {

using Clock = BenchClock;

// The account an event belongs to ("" for a ClockAdvanced of every account).
std::string AccountOf(const v1::Event& e) {
  const auto* oneof = e.GetDescriptor()->FindOneofByName("payload");
  const auto* field = e.GetReflection()->GetOneofFieldDescriptor(e, oneof);
  if (field == nullptr) return {};
  const auto& payload = e.GetReflection()->GetMessage(e, field);
  const auto* account = payload.GetDescriptor()->FindFieldByName("account_id");
  return account == nullptr ? std::string() : payload.GetReflection()->GetString(payload, account);
}

std::string JsonLine(const v1::Event& e) {
  std::string line;
  (void)google::protobuf::util::MessageToJsonString(e, &line);
  line.push_back('\n');
  return line;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Ingest {
  double seconds = 0;
  uint64_t accepted = 0, refused = 0;
  Status failure;
};

// Sends each connection's requests in order, the connections at once.
template <typename SendFn>
Ingest RunConnections(size_t connections, const SendFn& send) {
  Ingest out;
  std::vector<Ingest> parts(connections);
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      SetThreadName("bench-conn");
      send(c, &parts[c]);
    });
  }
  for (auto& t : threads) t.join();
  out.seconds = Seconds(Clock::now() - t0);
  for (const Ingest& p : parts) {
    out.accepted += p.accepted;
    out.refused += p.refused;
    if (out.failure.ok() && !p.failure.ok()) out.failure = p.failure;
  }
  return out;
}

// Appends JSON-lines bodies over HTTP; counts what the acks say.
void SendHttp(const std::string& address, const std::string& token,
              const std::vector<std::string>& bodies, Ingest* out) {
  http::HttpClient client(address, token);
  for (const std::string& body : bodies) {
    http::HttpReply reply;
    Status st = client.Request("POST", "/api/v1/events", body, "application/x-ndjson", &reply);
    if (st.ok() && reply.status != 200) {
      st = Status::IOError("POST /api/v1/events: " + std::to_string(reply.status) + " " + reply.body);
    }
    if (!st.ok()) {
      out->failure = st;
      return;
    }
    const auto ack = nlohmann::json::parse(reply.body, nullptr, false);
    if (ack.is_discarded()) {
      out->failure = Status::IOError("POST /api/v1/events: an answer that is not JSON");
      return;
    }
    out->accepted += ack.value("accepted", 0u);
    out->refused += ack.contains("rejections") ? ack["rejections"].size() : 0;
  }
}

// The same over the binary protocol, one Event message per event.
void SendWire(const std::string& address, const std::string& token,
              const std::vector<std::vector<v1::Event>>& batches, Ingest* out) {
  net::Client client;
  Status st = client.Connect(address);
  v1::HelloAck::Role role;
  if (st.ok() && !token.empty()) st = client.Hello(token, &role);
  for (size_t i = 0; st.ok() && i < batches.size(); ++i) {
    v1::Request request;
    request.set_request_id(client.NextRequestId());
    for (const v1::Event& e : batches[i]) *request.mutable_append()->add_events() = e;
    v1::Response response;
    st = client.Call(request, &response);
    if (st.ok() && response.has_error()) st = Status::IOError(response.error().message());
    if (st.ok()) {
      out->accepted += response.append().accepted();
      out->refused += response.append().rejections_size();
    }
  }
  out->failure = st;
}

// Latencies of `n` GETs of `target(i)`, one after another, in microseconds.
std::vector<double> TimeGets(http::HttpClient& client, uint32_t n,
                             const std::function<std::string(uint32_t)>& target, Status* failure) {
  std::vector<double> us;
  for (uint32_t i = 0; i < n && failure->ok(); ++i) {
    http::HttpReply reply;
    const std::string t = target(i);
    const auto t0 = Clock::now();
    *failure = client.Request("GET", t, "", "", &reply);
    us.push_back(Seconds(Clock::now() - t0) * 1e6);
    if (failure->ok() && reply.status != 200) {
      *failure = Status::IOError("GET " + t + ": " + std::to_string(reply.status) + " " + reply.body);
    }
  }
  return us;
}

}  // namespace

int BenchHttpMain(const std::vector<std::string>& args) {
  po::options_description options("billsim bench http options");
  options.add_options()("http", po::value<std::string>()->required(),
                        "the server's HTTP address (serve --http)")(
      "connect", po::value<std::string>(),
      "the server's binary address (serve --listen): also send events over it, to compare")(
      "accounts", po::value<uint32_t>()->default_value(100), "accounts in the book it sets up")(
      "campaigns", po::value<uint32_t>()->default_value(1000), "campaigns in the book")(
      "events", po::value<uint64_t>()->default_value(200'000),
      "stream events per protocol; 0: no set-up and no ingest, queries only, over the accounts "
      "a `billsim stress` of the same --seed and --accounts opened")(
      "batch", po::value<uint32_t>()->default_value(1000), "events per request")(
      "connections", po::value<uint32_t>()->default_value(2),
      "connections sending at once (each gets the events of its accounts, in order)")(
      "queries", po::value<uint32_t>()->default_value(500),
      "history pages (100 entries) and timelines (500 slices) to time, each")(
      "seed", po::value<uint64_t>()->default_value(1),
      "workload seed (a log may hold a seed's events once: use a fresh log or another seed)")(
      "token-file", po::value<std::string>(), "a read-write token, for a server with tokens")(
      "json", "print one JSON object");
  po::variables_map vm;
  int exit = kExitOk;
  if (!ParseArgs(args,
                 "usage: billsim bench http --http HOST:PORT [--connect HOST:PORT] [OPTIONS]\n\n"
                 "Drives a running server's HTTP/JSON API (a fresh log: the book is set up\n"
                 "by this command). Sets up --accounts and --campaigns over HTTP, appends\n"
                 "--events stream events as JSON lines (POST /api/v1/events, x-ndjson,\n"
                 "--batch a request, over --connections), then with --connect as many more\n"
                 "over the binary protocol (one Event message each, the same batches), and\n"
                 "reports events/s acknowledged for each (durable under the server's fsync\n"
                 "policy). Then times --queries history pages (limit 100, random accounts)\n"
                 "and timelines (500 slices) over HTTP: p50, p99, max. To measure those\n"
                 "under ingest, run `billsim stress` against the same server meanwhile.\n",
                 options, nullptr, &vm, &exit)) {
    return exit;
  }
  std::string token;
  if (vm.count("token-file")) {
    const Status st = net::ReadTokenFile(vm["token-file"].as<std::string>(), &token);
    if (!st.ok()) {
      spdlog::error("{}", st.message());
      return kExitUsage;
    }
  }
  const std::string address = vm["http"].as<std::string>();
  const uint32_t batch = std::max<uint32_t>(1, vm["batch"].as<uint32_t>());
  const uint32_t connections = std::clamp<uint32_t>(vm["connections"].as<uint32_t>(), 1, 64);
  const uint64_t events = vm["events"].as<uint64_t>();
  const bool wire = vm.count("connect") > 0;

  WorkloadOptions wo;
  wo.seed = vm["seed"].as<uint64_t>();
  wo.accounts = std::max<uint32_t>(1, vm["accounts"].as<uint32_t>());
  wo.campaigns = std::max<uint32_t>(1, vm["campaigns"].as<uint32_t>());
  wo.first_event_id = wo.seed << 40;  // another seed, other event ids
  Workload workload(wo);

  // The book, over HTTP on one connection, in order.
  std::vector<std::string> setup_bodies(1);
  uint64_t setup_events = 0;
  if (events > 0) workload.Setup([&](v1::Event& e) {
    if (setup_events > 0 && setup_events % batch == 0) setup_bodies.emplace_back();
    setup_bodies.back() += JsonLine(e);
    ++setup_events;
  });
  // The stream: each connection gets the events of its accounts.
  std::vector<std::vector<std::string>> http_bodies(connections);
  std::vector<std::vector<std::vector<v1::Event>>> wire_batches(connections);
  std::vector<uint64_t> in_http(connections, 0), in_wire(connections, 0);
  const auto& accounts = workload.account_ids();
  for (uint64_t i = 0; i < (wire ? 2 : 1) * events; ++i) {
    Workload::Delivery d;
    v1::Event e;
    if (workload.Next(&d, &e)) {
      e.set_event_id(d.event_id);
      e.set_time_us(d.time_us);
      auto* m = e.mutable_delivery_reported();
      m->set_account_id(accounts[workload.campaign_account()[d.campaign]]);
      m->set_campaign_id(workload.campaign_ids()[d.campaign]);
      m->set_kind(d.kind);
      m->set_count(d.count);
      m->set_platform_fault(d.platform_fault);
    }
    const std::string account = AccountOf(e);
    const size_t c = account.empty() ? 0 : std::hash<std::string>()(account) % connections;
    if (i < events) {
      if (in_http[c]++ % batch == 0) http_bodies[c].emplace_back();
      http_bodies[c].back() += JsonLine(e);
    } else {
      if (in_wire[c]++ % batch == 0) wire_batches[c].emplace_back();
      wire_batches[c].back().push_back(std::move(e));
    }
  }

  // --events 0: queries only, over a book already there (the same seed's
  // accounts, as `billsim stress` names them).
  Ingest setup, http, binary;
  if (events > 0) {
    setup = RunConnections(1, [&](size_t, Ingest* out) {
      SendHttp(address, token, setup_bodies, out);
    });
    http = RunConnections(connections, [&](size_t c, Ingest* out) {
      SendHttp(address, token, http_bodies[c], out);
    });
  }
  if (wire && events > 0) {
    binary = RunConnections(connections, [&](size_t c, Ingest* out) {
      SendWire(vm["connect"].as<std::string>(), token, wire_batches[c], out);
    });
  }
  for (const Ingest* i : std::vector<const Ingest*>{&setup, &http, &binary}) {
    if (!i->failure.ok()) {
      spdlog::error("{}", i->failure.message());
      return kExitFailed;
    }
  }

  const uint32_t queries = vm["queries"].as<uint32_t>();
  http::HttpClient client(address, token);
  std::mt19937_64 rng(wo.seed);
  std::uniform_int_distribution<size_t> pick(0, accounts.size() - 1);
  Status failure;
  const std::vector<double> pages = TimeGets(client, queries, [&](uint32_t) {
    return "/api/v1/accounts/" + accounts[pick(rng)] + "/entries?limit=100";
  }, &failure);
  const std::vector<double> timelines = TimeGets(client, queries, [&](uint32_t) {
    return "/api/v1/accounts/" + accounts[pick(rng)] + "/timeline?points=500";
  }, &failure);
  if (!failure.ok()) {
    spdlog::error("{}", failure.message());
    return kExitFailed;
  }

  auto rate = [](const Ingest& i) { return i.seconds > 0 ? i.accepted / i.seconds : 0.0; };
  if (vm.count("json")) {
    nlohmann::ordered_json j = {
        {"setup_events", setup_events},
        {"setup_events_per_s", std::llround(rate(setup))},
        {"http_events_per_s", std::llround(rate(http))},
        {"http_accepted", http.accepted},
        {"http_refused", http.refused},
        {"page_p50_us", std::llround(Percentile(pages, 0.5))},
        {"page_p99_us", std::llround(Percentile(pages, 0.99))},
        {"page_max_us", std::llround(Percentile(pages, 1.0))},
        {"timeline_p50_us", std::llround(Percentile(timelines, 0.5))},
        {"timeline_p99_us", std::llround(Percentile(timelines, 0.99))},
        {"timeline_max_us", std::llround(Percentile(timelines, 1.0))},
    };
    if (wire && events > 0) {
      j["binary_events_per_s"] = std::llround(rate(binary));
      j["binary_accepted"] = binary.accepted;
      j["binary_refused"] = binary.refused;
    }
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  if (events > 0) {
    std::printf("set-up over HTTP        %10.0f events/s  (%" PRIu64 " events)\n", rate(setup),
                setup_events);
    std::printf("stream over HTTP        %10.0f events/s  (%" PRIu64 " accepted, %" PRIu64
                " refused; JSON lines, %u a request, %u connections)\n",
                rate(http), http.accepted, http.refused, batch, connections);
  }
  if (wire && events > 0) {
    std::printf("stream, binary protocol %10.0f events/s  (%" PRIu64 " accepted, %" PRIu64
                " refused; Event messages)\n",
                rate(binary), binary.accepted, binary.refused);
  }
  std::printf("history page (100)      p50 %.0f us  p99 %.0f us  max %.0f us  (%zu)\n",
              Percentile(pages, 0.5), Percentile(pages, 0.99), Percentile(pages, 1.0),
              pages.size());
  std::printf("timeline (500 slices)   p50 %.0f us  p99 %.0f us  max %.0f us  (%zu)\n",
              Percentile(timelines, 0.5), Percentile(timelines, 0.99), Percentile(timelines, 1.0),
              timelines.size());
  return kExitOk;
}

}  // namespace billsim::cli
