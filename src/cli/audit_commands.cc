// Placeholder so the program links while the real commands are written;
// replaced in the same series of commits.
#include <spdlog/spdlog.h>

#include "cli/commands.h"

namespace billsim::cli {

int AuditMain(const std::vector<std::string>& args) {
  spdlog::error("billsim audit: not implemented yet");
  return kExitUsage;
}

}  // namespace billsim::cli
