// The what-if of a log (sim/whatif_log.h): its two sides run on two threads
// (the ThreadSanitizer preset runs this file) over replay's columnar path.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "journal/journal.h"
#include "report/format.h"
#include "scenario/scenario_loader.h"
#include "sim/change_set.h"
#include "sim/whatif.h"
#include "sim/whatif_log.h"
#include "test_support.h"

namespace billsim {
namespace {

using test_support::TempDir;

// The log's what-if runs its two sides on two threads and takes replay's
// columnar path; it must give what the lockstep what-if gives over the same
// events, whatever the change, the batch boundaries and the start point.
TEST(LogWhatIfTest, TheTwoThreadedWhatIfOfALogIsTheLockstepOne) {
  v1::Scenario scenario;
  ASSERT_TRUE(LoadScenario(BILLSIM_SOURCE_DIR "/scenarios/mixed_three_accounts_four_months.textproto",
                           &scenario).ok());
  TempDir dir;
  std::unique_ptr<Journal> journal;
  ASSERT_TRUE(Journal::Open(dir.path(), JournalOptions{}, &journal).ok());
  std::vector<v1::Event> logged;  // what the log holds, in order
  for (int i = 0; i < scenario.events_size(); ++i) {
    if (journal->Apply(scenario.events(i), nullptr)) logged.push_back(scenario.events(i));
    if (i % 7 == 6) {  // batches of a few events: creations and deliveries across them
      log::SeqRange range;
      ASSERT_TRUE(journal->Append(&range).ok());
    }
  }
  log::SeqRange range;
  ASSERT_TRUE(journal->Append(&range).ok());
  ASSERT_TRUE(journal->Close().ok());
  ASSERT_GT(logged.size(), 40u);

  const std::vector<std::vector<std::pair<std::string, std::string>>> cases = {
      {},
      {{"--funding-order", "nyc-coffee=cash_first"}},
      {{"--grant-expiry", "a-welcome=-20d"}, {"--grant-amount", "b-launch=10000000"}},
      {{"--drop", "kind=click"}},
      {{"--drop", "campaign=b-v6,from=2026-01-20"}},
      {{"--campaign-budget", "b-v6=60000000@2026-01-20T00:00:00Z"},
       {"--campaign-price", "c-v2=2000000@2026-01-10T00:00:00Z"}},
      {{"--pause", "c-v2@2026-01-20T00:00:00Z"}, {"--enable", "c-v2@2026-02-10T00:00:00Z"}},
      {{"--campaign-mode", "a-cpc=total"}},
  };
  for (const uint64_t from : {uint64_t{1}, uint64_t{20}}) {
    for (const auto& flags : cases) {
      sim::ChangeSet changes;
      std::string name = "from " + std::to_string(from) + ":";
      for (const auto& [flag, value] : flags) {
        ASSERT_TRUE(changes.Add(flag, value).ok());
        name += " " + flag + " " + value;
      }
      sim::WhatIf lockstep(changes, from, INT64_MAX, /*strict=*/true);
      Status st;
      for (size_t i = 0; i < logged.size() && st.ok(); ++i) st = lockstep.Apply(i + 1, logged[i]);
      sim::WhatIfResult want;
      if (st.ok()) st = lockstep.Finish("", &want);
      sim::WhatIfLogOptions o;
      if (from > 1) o.from_seq = from;
      sim::WhatIfResult got;
      const Status log_st = sim::RunWhatIf(dir.path(), changes, o, &got);
      ASSERT_EQ(log_st.ok(), st.ok()) << name << ": " << log_st.ToString() << " / " << st.ToString();
      if (!st.ok()) {
        EXPECT_EQ(log_st.message(), st.message()) << name;
        continue;
      }
      std::ostringstream a, b;
      sim::WriteWhatIf(want, Format::kJson, a);
      sim::WriteWhatIf(got, Format::kJson, b);
      EXPECT_TRUE(b.str() == a.str()) << name << "\n  log:      " << b.str() << "  lockstep: " << a.str();
      EXPECT_EQ(got.events, logged.size()) << name;
    }
  }
}

}  // namespace
}  // namespace billsim
