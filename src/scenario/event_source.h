// Reads events from files for `log append` and `client`: a scenario
// (.textproto, .txtpb, .pbtxt, .json: its events) or JSON lines (.jsonl,
// .ndjson: one v1::Event per line). Errors name the file and line. Time
// fields may be ISO 8601 strings (src/scenario/time_fields.h).
#ifndef BILLSIM_SCENARIO_EVENT_SOURCE_H_
#define BILLSIM_SCENARIO_EVENT_SOURCE_H_

#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "util/status.h"

namespace billsim {

Status LoadEvents(const std::string& path, std::vector<v1::Event>* events);

}  // namespace billsim

#endif  // BILLSIM_SCENARIO_EVENT_SOURCE_H_
