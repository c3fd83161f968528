// Placeholder so the program links while the real commands are written;
// replaced in the same series of commits.
#include <spdlog/spdlog.h>

#include "cli/commands.h"

namespace billsim::cli {

int BenchMain(const std::vector<std::string>& args) {
  spdlog::error("billsim bench: not implemented yet");
  return kExitUsage;
}

}  // namespace billsim::cli
