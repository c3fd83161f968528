// Runs a recorded scenario: applies its events to a fresh ledger, checks
// every expectation at its point, and says which passed and, for each that
// failed, the difference ("field: expected X, got Y").
#ifndef BILLSIM_SCENARIO_SCENARIO_RUNNER_H_
#define BILLSIM_SCENARIO_SCENARIO_RUNNER_H_

#include <string>
#include <vector>

#include "billsim/v1/projections.pb.h"
#include "billsim/v1/scenario.pb.h"
#include "ledger/ledger.h"

namespace billsim {

struct ScenarioOutcome {
  v1::ScenarioResult result;
  v1::BalanceReport report;              // after the last event
  std::vector<v1::LedgerEntry> entries;  // the whole history, in order
};

ScenarioOutcome RunScenario(const v1::Scenario& scenario,
                            const std::string& file,
                            const LedgerOptions& options = {});

}  // namespace billsim

#endif  // BILLSIM_SCENARIO_SCENARIO_RUNNER_H_
