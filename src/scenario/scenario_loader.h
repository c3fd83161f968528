// Loads recorded scenarios from files: Protobuf text format (.textproto,
// .txtpb, .pbtxt) or JSON (.json), through Protobuf's own parsers. Errors
// name the file, the line and column where known, and the field. Time
// fields may be ISO 8601 strings (src/scenario/time_fields.h).
#ifndef BILLSIM_SCENARIO_SCENARIO_LOADER_H_
#define BILLSIM_SCENARIO_SCENARIO_LOADER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "billsim/v1/scenario.pb.h"
#include "util/status.h"

namespace billsim {

// A scenario read from standard input is at most this large (a file is
// read whole too: scenarios are documents; streams of events of any size
// go through `log append`).
inline constexpr size_t kScenarioBytesMax = size_t{256} << 20;

// Parses `path` into `out` and checks that the scenario is well formed:
// every expectation names an event of the scenario (or none, for the end).
// "-" is standard input: JSON when it starts with '{', else text format.
Status LoadScenario(const std::string& path, v1::Scenario* out);

// Expands files and folders into scenario files: a folder contributes its
// .textproto/.txtpb/.pbtxt/.json files, sorted by name; "-" (standard
// input) is kept. Errors name the path.
Status ExpandScenarioPaths(const std::vector<std::string>& paths,
                           std::vector<std::string>* files);

}  // namespace billsim

#endif  // BILLSIM_SCENARIO_SCENARIO_LOADER_H_
