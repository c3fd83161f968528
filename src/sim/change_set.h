// ChangeSet: the counterfactual facts of a what-if (issue 13), as the flags
// of `billsim whatif` and a scenario's what-if blocks give them, and the
// Counterfactual that applies them to a stream of events.
//
// Every change is expressed as events the ledger already knows, so that a
// what-if is billed by the same rules as the log itself:
//   - an account's funding order, a grant's amount or expiry, and a
//     campaign's budget, mode or price "from its creation" rewrite the
//     event that created it;
//   - a campaign's budget, mode or price from a time, and a pause or an
//     enable at a time, insert a CampaignUpdated or CampaignStatusChanged
//     before the first event of the stream stamped at or after that time
//     (a campaign not created yet by then takes the change at its creation);
//   - drop filters remove events; inserted files add theirs at their times.
// Inserted events get ids counting down from 2^64-1 (a log's ids count up).
//
// Pure: no I/O and no clock. Not thread-safe.
#ifndef BILLSIM_SIM_CHANGE_SET_H_
#define BILLSIM_SIM_CHANGE_SET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "ledger/ledger.h"
#include "util/status.h"

namespace billsim::sim {

// Events the what-if drops (--drop). Every field given must match.
struct DropFilter {
  std::string text;        // as given, for messages
  int payload = 0;         // v1::Event::PayloadCase; 0: any
  int delivery_kind = 0;   // v1::DeliveryReported::Kind; 0: any
  std::string campaign;    // events naming this campaign; empty: any
  int64_t from_us = INT64_MIN;  // [from_us, to_us)
  int64_t to_us = INT64_MAX;
  int fault = -1;          // -1: any; 0/1: deliveries (not) fault-marked
};

struct GrantChange {
  std::optional<int64_t> amount;
  std::optional<int64_t> expiry_shift_us;  // added to the expiry
  std::optional<int64_t> expires_at_us;    // or set to this
};

// A campaign's budget, mode or price from `at_us` on (kAtCreation: from its
// creation, by rewriting its CampaignCreated).
struct CampaignChange {
  static constexpr int64_t kAtCreation = INT64_MIN;
  std::string campaign;
  int64_t at_us = kAtCreation;
  std::optional<v1::BudgetMode> budget_mode;
  std::optional<int64_t> budget;
  std::optional<int64_t> price;
};

struct StatusChange {
  std::string campaign;
  int64_t at_us = 0;
  v1::CampaignStatusChanged::Operation operation = v1::CampaignStatusChanged::DISABLE;
};

struct ChangeSet {
  std::map<std::string, v1::FundingOrder> funding_orders;  // by account
  std::map<std::string, GrantChange> grants;               // by grant
  std::vector<CampaignChange> campaigns;
  std::vector<StatusChange> statuses;
  std::vector<DropFilter> drops;
  std::vector<v1::Event> inserted;  // from files, as they are
  // One line per change, as given: the report lists them.
  std::vector<std::string> described;

  bool empty() const {
    return funding_orders.empty() && grants.empty() && campaigns.empty() && statuses.empty() &&
           drops.empty() && inserted.empty();
  }

  // The flags' parsers. Each adds one change or returns InvalidArgument
  // naming the flag, the value and what is wrong with it.
  //   --funding-order ACCOUNT=cash_first|credit_first
  //   --grant-amount GRANT=MICROS
  //   --grant-expiry GRANT=+DURATION|-DURATION|TIME   (DURATION: 7d, 36h, 90m, 30s)
  //   --campaign-budget CAMPAIGN=MICROS[@TIME]
  //   --campaign-mode CAMPAIGN=day|total|infinite[@TIME]
  //   --campaign-price CAMPAIGN=MICROS[@TIME]
  //   --pause CAMPAIGN@TIME, --enable CAMPAIGN@TIME
  //   --drop KEY=VALUE[,KEY=VALUE...] with keys kind (an event kind such as
  //     delivery_reported, or a delivery kind such as click), campaign,
  //     from, to (TIME) and fault (true|false)
  // TIME is integer microseconds UTC or ISO 8601 with its zone.
  Status Add(const std::string& flag, const std::string& value);
  // --insert FILE's events (the caller reads the file).
  void AddInserted(const std::string& file, std::vector<v1::Event> events);
};

// Applies a ChangeSet to a stream of events, event by event, judged against
// the what-if's own ledger (`alt`). Changes act on events at or after the
// start point (sequence `from_seq`, or stamped at or after `from_us`).
class Counterfactual {
 public:
  Counterfactual(const ChangeSet& changes, uint64_t from_seq, int64_t from_us);

  // Whether the event at `seq` stamped `time_us` is at or after the start
  // point (before it, the stream is passed through unchanged).
  bool Active(uint64_t seq, int64_t time_us) const {
    return seq >= from_seq_ || time_us >= from_us_;
  }

  // The events to insert before an event stamped `time_us` (all that are
  // due by then), in order. An error (a change that names a campaign the
  // what-if does not have at its time) ends the what-if.
  Status TakeDue(int64_t time_us, const Ledger& alt, std::vector<v1::Event>* out);
  // At the end of the stream: every insertion not yet made.
  Status TakeRest(const Ledger& alt, std::vector<v1::Event>* out) {
    return TakeDue(INT64_MAX, alt, out);
  }

  // An event of the stream as the what-if has it: false if it is dropped;
  // else *rewritten is set when it changed (and is then the event to apply).
  // Call only for events Active() says are in.
  bool Rewrite(const v1::Event& in, v1::Event* rewritten, bool* changed);
  // The same test for a delivery row (the log's hot path), without an Event.
  bool DropsDelivery(int64_t time_us, std::string_view campaign, int kind, bool fault) const;
  // Whether any drop filter names a campaign (else DropsDelivery needs none).
  bool drops_any() const { return !changes_.drops.empty(); }

  // A change to an event that came before the start point: an error, since
  // that event is applied unchanged. Call for events Active() says are out.
  Status CheckBefore(uint64_t seq, const v1::Event& event) const;
  // After the stream: changes whose target never came (a grant, account or
  // campaign not in the replayed range).
  Status CheckAllUsed() const;

  const ChangeSet& changes() const { return changes_; }
  uint64_t inserted() const { return inserted_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t rewritten() const { return rewritten_; }
  void CountDroppedDelivery() { dropped_++; }

 private:
  struct Timed {
    int64_t at_us;
    size_t order;
    v1::Event event;        // a file's event, or a template (ids filled in)
    int campaign_change = -1;  // index into changes_.campaigns
    int status_change = -1;    // index into changes_.statuses
  };
  bool Matches(const DropFilter& f, const v1::Event& e) const;

  const ChangeSet& changes_;
  const uint64_t from_seq_;
  const int64_t from_us_;
  std::vector<Timed> timed_;  // sorted by (at_us, order)
  size_t next_timed_ = 0;
  uint64_t next_id_ = UINT64_MAX;
  // Campaign changes whose time came before their campaign: applied at
  // its creation.
  std::vector<int> at_creation_;
  std::map<std::string, bool> used_;  // "account:ID", "grant:ID", "campaign:ID"
  uint64_t inserted_ = 0;
  uint64_t dropped_ = 0;
  uint64_t rewritten_ = 0;
};

}  // namespace billsim::sim

#endif  // BILLSIM_SIM_CHANGE_SET_H_
