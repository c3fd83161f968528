#include "cli/options.h"

#include "net/client.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "util/time_parse.h"

namespace billsim::cli {

bool ParseArgs(const std::vector<std::string>& args, const char* usage,
               po::options_description& options, const char* positional,
               po::variables_map* vm, int* exit) {
  options.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  if (positional != nullptr) pos.add(positional, -1);
  try {
    po::store(po::command_line_parser(args).options(options).positional(pos).run(), *vm);
    if (vm->count("help")) {
      std::cout << usage << "\n" << options;
      *exit = kExitOk;
      return false;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    spdlog::error("{}; see --help", e.what());
    *exit = kExitUsage;
    return false;
  }
  return true;
}

Status ParseTime(const std::string& text, const std::string& option, int64_t* out) {
  return ParseTimeUs(text, option, out);
}

bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }
bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

Status ConnectWithToken(const po::variables_map& vm, const char* address_option,
                        net::Client* client, v1::HelloAck::Role* role) {
  std::string token;
  const bool hello = vm.count("token-file") > 0;
  if (hello) {
    Status st = net::ReadTokenFile(vm["token-file"].as<std::string>(), &token);
    if (!st.ok()) return Status::InvalidArgument("--token-file: " + st.message());
  }
  Status st = client->Connect(vm[address_option].as<std::string>());
  if (!st.ok() || !hello) return st;
  v1::HelloAck::Role got = v1::HelloAck::ROLE_UNSPECIFIED;
  st = client->Hello(token, &got);
  if (role != nullptr) *role = got;
  return st;
}

}  // namespace billsim::cli
