#include "cli/options.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli/commands.h"

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
  if (!text.empty() && text.find_first_not_of("0123456789-") == std::string::npos &&
      text.find('-', 1) == std::string::npos) {
    try {
      *out = std::stoll(text);
      return Status::Ok();
    } catch (...) {
    }
  }
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, micros = 0;
  char frac[8] = {0};
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6[0-9]Z", &year, &month, &day,
                      &hour, &minute, &second, frac);
  if (n == 7) {
    std::string f(frac);
    f.resize(6, '0');
    micros = std::stoi(f);
  } else if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &year, &month, &day, &hour,
                         &minute, &second) != 6 &&
             !(std::sscanf(text.c_str(), "%4d-%2d-%2d", &year, &month, &day) == 3 &&
               text.size() == 10)) {
    return Status::InvalidArgument(option + ": expected microseconds or an ISO 8601 UTC time "
                                   "like 2026-01-15T09:30:00Z, got \"" + text + "\"");
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  *out = static_cast<int64_t>(t) * 1'000'000 + micros;
  return Status::Ok();
}

bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }
bool StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

}  // namespace billsim::cli
