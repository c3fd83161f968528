// What every subcommand shares: option parsing with --help, and the parsing
// of times and formats given on the command line.
#ifndef BILLSIM_CLI_OPTIONS_H_
#define BILLSIM_CLI_OPTIONS_H_

#include <boost/program_options.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "billsim/v1/wire.pb.h"
#include "util/status.h"

namespace billsim::net {
class Client;
}

namespace billsim::cli {

namespace po = boost::program_options;

// Parses `args` against `options` (to which --help is added). Positional
// arguments go to the option named `positional` (if not null). Returns false
// when the caller should stop and return *exit: after --help (0) or a usage
// error (2, logged naming the option).
bool ParseArgs(const std::vector<std::string>& args, const char* usage,
               po::options_description& options, const char* positional,
               po::variables_map* vm, int* exit);

// A time on the command line: integer microseconds UTC, or ISO 8601 UTC
// ("2026-01-15", "2026-01-15T09:30:00Z", with optional .ffffff), within
// [0, kTimeMaxUs]; the rules are ParseTimeUs's (src/util/time_parse.h).
Status ParseTime(const std::string& text, const std::string& option, int64_t* out);

// Connects `client` to the HOST:PORT given as option `address_option` and,
// with --token-file, says Hello with its token first (a server that checks
// access refuses everything else); *role (may be null) gets the token's
// role. A bad token file is InvalidArgument naming --token-file.
Status ConnectWithToken(const po::variables_map& vm, const char* address_option,
                        net::Client* client, v1::HelloAck::Role* role = nullptr);

// True when stdout is a terminal (progress is shown only then).
bool StdoutIsTerminal();
bool StderrIsTerminal();

}  // namespace billsim::cli

#endif  // BILLSIM_CLI_OPTIONS_H_
