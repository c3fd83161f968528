#include "scenario/event_source.h"

#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>

#include "scenario/scenario_loader.h"
#include "scenario/time_fields.h"

namespace billsim {

Status LoadEvents(const std::string& path, std::vector<v1::Event>* events) {
  events->clear();
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".jsonl" || ext == ".ndjson") {
    std::ifstream in(path);
    if (!in) return Status::IOError(path + ": cannot open for reading");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Status rewritten = RewriteTimeStrings(path, n, &line);
      if (!rewritten.ok()) return rewritten;
      v1::Event e;
      const auto st = google::protobuf::util::JsonStringToMessage(line, &e);
      if (!st.ok()) {
        return Status::InvalidArgument(path + ":" + std::to_string(n) + ": " +
                                       std::string(st.message()));
      }
      events->push_back(std::move(e));
    }
    return Status::Ok();
  }
  v1::Scenario scenario;
  Status st = LoadScenario(path, &scenario);
  if (!st.ok()) return st;
  events->assign(scenario.events().begin(), scenario.events().end());
  return Status::Ok();
}

}  // namespace billsim
