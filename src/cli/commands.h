// The subcommands of the billsim program. Each takes its own arguments (after
// the subcommand's name), writes results to stdout and logs to stderr, and
// returns the process exit code: 0 success, 1 a check failed, 2 bad usage or
// input.
#ifndef BILLSIM_CLI_COMMANDS_H_
#define BILLSIM_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace billsim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// billsim scenario run|report|history ...
int ScenarioMain(const std::vector<std::string>& args);

}  // namespace billsim::cli

#endif  // BILLSIM_CLI_COMMANDS_H_
