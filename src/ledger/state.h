// The ledger's state, as plain structs with integer money and time. Only the
// Ledger mutates these; everyone else reads them through Ledger's accessors
// or the proto views.
#ifndef BILLSIM_LEDGER_STATE_H_
#define BILLSIM_LEDGER_STATE_H_

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "billsim/v1/events.pb.h"
#include "billsim/v1/projections.pb.h"
#include "ledger/entry.h"
#include "util/money.h"

namespace billsim {

// A grant of ad credit: one cache line. Its id and program live in the
// ledger's string pools, and a coupon's campaigns in a side table, named
// here by index (Ledger::grant_id, grant_program, grant_campaigns).
struct alignas(64) Grant {
  int64_t remaining = 0;
  int64_t expires_at_us = 0;
  int64_t amount = 0;
  int64_t expired_micros = 0;  // removed at expiry (R6)
  uint64_t order = 0;          // global grant order: the R3 tie-break
  // Not `id` and `program`: these are no strings (Ledger::grant_id and
  // grant_program give them), and a std::string would take either silently
  // (string = integer converts it to one char).
  uint64_t id_handle = 0;      // StringPool handle
  uint32_t account = kNoIndex;
  uint32_t program_index = 0;  // StringTable index
  // Into the ledger's grant scopes: the campaigns it may fund (kNoIndex:
  // any of the account's).
  uint32_t scope = kNoIndex;
  bool expired = false;
  bool adjustment = false;     // made by a refund of expired credit (R9)
};
static_assert(sizeof(Grant) == 64, "a grant is one cache line");

// An enum kept in one byte: reads and assigns as the enum itself. (A
// Protobuf enum's underlying type is int; every value the ledger keeps is
// small, as Validate and a restore check.)
template <typename E>
class EnumByte {
 public:
  EnumByte() = default;
  EnumByte(E e) : v_(static_cast<uint8_t>(e)) {}  // NOLINT: implicit, as E
  operator E() const { return static_cast<E>(v_); }  // NOLINT
 private:
  uint8_t v_ = 0;
};

struct alignas(64) Account {
  // What every delivery reads and writes comes first, in one cache line
  // (replay prefetches it): the clock and its timers, the balances a charge
  // moves. Then, in the second line, what a charge from grants and a day's
  // turn read; the third holds what an expiry reads and the campaigns
  // holding funds (read by a day's turn only with coupons). The rest
  // follows in no particular order.
  //
  // R6: each account keeps its own clock, the latest time of its own events
  // (and of ClockAdvanced for it or for every account): its grants expire
  // and its days turn by this clock alone, so no other account's stamps can
  // move them.
  int64_t clock_us = 0;
  int64_t next_timer_us = INT64_MAX;  // derived: its earliest timer, if any
  // Derived: when its first unexpired grant expires (INT64_MAX: none), so
  // that the clock passing a midnight reads no grant.
  int64_t next_expiry_us = INT64_MAX;
  // R4: the next local midnight, while the account has held a daily
  // budget since the last one (INT64_MAX: none); always the first midnight
  // after the clock.
  int64_t day_timer_us = INT64_MAX;
  int64_t cash = 0;    // cash_balance
  int64_t credit = 0;  // grant_balance: remaining of unexpired grants
  int64_t frozen = 0;  // frozen_balance: sum of campaign holds
  int64_t spent = 0;

  EnumByte<v1::FundingOrder> funding_order = v1::FUNDING_ORDER_CREDIT_FIRST;
  // Its time zone, -720 to 840 (checked at opening and restore): R4's local
  // day. In this line, so that a charge to a daily budget and a day's turn
  // read no other.
  int16_t utc_offset_minutes = 0;
  uint32_t restricted_grants = 0;  // grants with campaign_ids (coupons)
  uint32_t daily_holding = 0;      // campaigns in `holding` with a daily budget
  // Grants at the front of `grants` that have expired (they expire in that
  // order, and grants come in after them: a new grant expires later).
  uint32_t expired_grants = 0;
  // Grants in R3 order: soonest expiry, then earlier grant, then id. Up to
  // four in this line (most accounts hold a few), so that a charge reads
  // which grants to draw on without a load of its own (and replay's
  // prefetch gets to them a stage sooner); more go to the heap.
  static constexpr size_t kGrantsInLine = 4;
  absl::InlinedVector<uint32_t, kGrantsInLine> grants;
  // Daily holds that may be short at the next midnight (each once; others
  // of the account are full). Any superset of the short ones renews alike.
  // Up to four in this line, in the bytes a std::vector would take (most
  // accounts have one or two charged since their last midnight), so that a
  // day's turn, and replay's prefetch of it, reads which campaigns to
  // renew without a load of its own; more go to the heap.
  static constexpr size_t kRenewalsInLine = 4;
  absl::InlinedVector<uint32_t, kRenewalsInLine> renewals;

  // Into the ledger's business centers (kNoIndex: none).
  uint32_t business_center = kNoIndex;
  // Campaigns that hold funds, in the order they were enabled (R4 top-ups
  // go first to the earliest).
  std::vector<uint32_t> holding;
  int64_t opened_at_us = 0;
  int64_t deposited = 0;
  int64_t granted = 0;
  int64_t expired = 0;
  int64_t adjusted = 0;
  // Not `id` and `name`: these are no strings (Ledger::account_id and
  // account_name give them): its id, then its name, under one StringPool
  // handle (AddPair); and its currency, a StringTable index
  // (Ledger::account_currency: currencies are few).
  uint64_t id_and_name = 0;
  uint32_t currency_index = 0;
  // Its campaigns, in the order they were created (derived: not saved).
  std::vector<uint32_t> campaigns;

  int64_t valid() const { return cash + credit - frozen; }  // valid_balance
};
static_assert(offsetof(Account, funding_order) == 64 && offsetof(Account, business_center) == 128,
              "an account's delivery state is its first line, a charge's and a day's the second");
static_assert(offsetof(Account, utc_offset_minutes) < 128,
              "a day's turn reads the zone in the second line");
static_assert(sizeof(Account) == 256, "an account is four cache lines");
static_assert(offsetof(Account, grants) + sizeof(Account::grants) <= 128,
              "an account's grants are in its second line");
static_assert(offsetof(Account, renewals) + sizeof(Account::renewals) <= 128,
              "and so are its daily holds to renew");

// A charge for fault-marked delivery, kept for R9: what a verified dispute
// can give back, and to which sources.
struct FaultCharge {
  struct Part {
    uint32_t grant = kNoIndex;  // kNoIndex: cash
    int64_t amount = 0;
    int64_t adjusted = 0;
  };
  int64_t time_us = 0;
  std::vector<Part> parts;
};

// A campaign's hot state: what billing a delivery reads and writes, in one
// cache line (replay's speed is bound by these loads, and a book of
// millions of campaigns by their size). What a charge can compute is not
// kept: the micros billed (R2: floor(units * price / k), from the units,
// or from a repricing's), the most billable units (R11, from the price or
// the repricing), and the billable kind's delivered units (those billed
// plus those not billed for a reason other than the kind). Other kinds'
// delivered units sit with its not-billed counters (all such units are
// not billed); the rest is CampaignInfo, beside it under the same index.
struct alignas(64) Campaign {
  enum class Status : uint8_t { kDisabled, kEnabled, kDeleted };
  enum class Review : uint8_t { kPending, kApproved, kRejectedBeforeServing,
                                kRejectedAfterServing };

  uint32_t account = kNoIndex;
  int32_t day_index = 0;         // local day of day_spent (DAY mode)
  // Into the ledger's not-billed tables (kNoIndex: none yet), which also
  // count the units delivered of the kinds it does not bill. A delivery
  // not billed (a kind the campaign does not bill, a paused or rejected
  // campaign) reaches its counters from this line.
  uint32_t not_billed = kNoIndex;
  // Derived: its not-billed units, every reason together, while fewer than
  // kUnbilledMany (then kUnbilledMany). Any delivered count of it is at
  // most billed_units and these, so R11's check of a delivery reads the
  // not-billed counters only past that (DeliveryFits).
  uint32_t unbilled_units = 0;
  static constexpr uint32_t kUnbilledMany = UINT32_MAX;
  int64_t price = 0;             // micros per per_units() units
  int64_t budget = 0;
  int64_t hold = 0;              // frozen for this campaign
  int64_t billed_units = 0;      // R2: billed micros == floor(units*p/k)
  int64_t day_spent = 0;
  EnumByte<v1::DeliveryReported::Kind> billable_kind;
  EnumByte<v1::BudgetMode> budget_mode;
  Status status = Status::kDisabled;
  Review review = Review::kPending;
  bool renewal_listed = false;   // in its account's `renewals` (R4)
  bool repriced = false;         // a CampaignUpdated changed its price: Reprice
  // Derived: some coupon (a grant with campaign_ids) names it. A campaign
  // no coupon names is in no grant's scope, so a charge to it reads no
  // scope (Ledger::GrantCovers); campaigns are named only at a grant.
  bool coupon_named = false;

  // 1000 for CPM (priced per thousand impressions), else 1.
  int64_t per_units() const {
    return billable_kind == v1::DeliveryReported::IMPRESSION ? 1000 : 1;
  }
  // floor(units * price / per_units()), with a constant divisor.
  // REQUIRES: units * price / per_units() within R11's bound.
  int64_t CostOf(int64_t units) const {
    return per_units() == 1000 ? MulDivFloor(units, price, 1000) : MulDivFloor(units, price, 1);
  }
};
static_assert(sizeof(Campaign) == 64, "a campaign's hot state is one cache line");

// Where R2's cumulative charge of a campaign restarts when an update
// changes its price (kept only for campaigns repriced: Campaign::repriced).
// Charges count from these billed units and micros at the new price, and
// delivery of the billable kind stays within units_max (R11).
struct Reprice {
  int64_t units = 0;
  int64_t micros = 0;
  int64_t units_max = 0;
};

// Not-billed units and would-be amounts by NotBilledReason (index 1..6), for
// the campaigns that have any (Campaign::not_billed); and the units
// delivered of each kind the campaign does not bill, by
// DeliveryReported::Kind less one (IMPRESSION is [0]): all of them are not
// billed, NOT_BILLABLE_KIND, so a delivery of such a kind touches this
// record alone beside the campaign's line.
struct NotBilledCounts {
  std::array<int64_t, 7> units{};
  std::array<int64_t, 7> micros{};
  std::array<int64_t, 5> other_kinds{};
  // Derived: the sum of `units` but NOT_BILLABLE_KIND's (the billable
  // kind's units not billed).
  int64_t billable_kind_units = 0;

  // That sum, from `units`, in 128 bits (a restore's counts are not yet
  // known to fit).
  __int128 BillableKindUnitsWide() const {
    __int128 sum = 0;
    for (size_t r = 1; r < units.size(); ++r) {
      if (r != v1::NOT_BILLABLE_KIND) sum += units[r];
    }
    return sum;
  }
};

// How the ledger keeps them. Almost every campaign that has any has one
// reason (at 10^6 campaigns, 41 of 601,483 had two), most of them
// NOT_BILLABLE_KIND, so a campaign's first reason takes a small record
// (not NotBilledCounts' 160 bytes), and only a second reason, or a count
// past the small record's range, moves it to a NotBilledCounts of its own.
// Campaign::not_billed names the table in its top two bits
// (NotBilledTable) and the record in the rest:
//  - NotBilledKinds: NOT_BILLABLE_KIND alone, with no would-be micros (the
//    ledger prices a kind a campaign does not bill at nothing): the units
//    delivered of each of the four kinds the campaign does not bill, each
//    below 2^32. The reason's units are their sum.
//  - NotBilledOne: another reason alone: its units and would-be micros.
struct alignas(16) NotBilledKinds {
  // By kind in order (IMPRESSION first), the campaign's billable kind left
  // out. 32 bits each: a quarter of a cache line, not half (at 10^6
  // campaigns, 9.6 MB less); a count that would pass kMax moves the
  // campaign to a NotBilledCounts (Ledger::AddNotBilled).
  std::array<uint32_t, 4> units{};
  static constexpr int64_t kMax = UINT32_MAX;

  // Where `kind` (1..5, not `billable`, which is 1..4) is kept. (The mask
  // changes none of those, and keeps any other pair in the array.)
  static size_t Slot(int kind, int billable) {
    return static_cast<size_t>(kind - 1 - (kind > billable ? 1 : 0)) & 3;
  }
};
static_assert(sizeof(NotBilledKinds) == 16, "a quarter of a cache line");

struct alignas(32) NotBilledOne {
  int64_t units = 0;
  int64_t micros = 0;
  uint32_t reason = 0;  // v1::NotBilledReason, not NOT_BILLABLE_KIND
};
static_assert(sizeof(NotBilledOne) == 32, "half a cache line");

// The top two bits of Campaign::not_billed (but kNoIndex: none).
inline constexpr uint32_t kNotBilledTable = 0xC0000000;
inline constexpr uint32_t kNotBilledInOne = 0x00000000;    // NotBilledOne
inline constexpr uint32_t kNotBilledInKinds = 0x40000000;  // NotBilledKinds
inline constexpr uint32_t kNotBilledMany = 0x80000000;     // NotBilledCounts

// A campaign's fault-marked billing (R7, R9), kept only for the campaigns
// that have any (CampaignInfo::fault).
struct FaultRecord {
  int64_t billed_micros = 0;
  int64_t billed_units = 0;  // served units = billed - these
  std::vector<FaultCharge> charges;  // in time order
};

// A campaign's cold state: set at creation, or moved by rarer events.
// Strings live in the ledger's pools; the rarely used counters in side
// tables, named here by index (kNoIndex: none yet).
struct CampaignInfo {
  // Its id, then its landing page URL less its origin: one StringPool
  // handle (AddPair). The origin is landing_origin, an index into the
  // ledger's table of them (0: none, the whole URL is here).
  uint64_t id_and_landing_page = 0;
  uint64_t enable_order = 0;
  uint32_t status_reason = 0;      // StringTable index
  uint32_t fault = kNoIndex;       // into the ledger's FaultRecords
  uint32_t landing_origin = 0;     // StringTable index
  // v1::Objective and v1::BillingEvent, a byte each (the ledger and a
  // restore refuse values that are not known, and known ones are small).
  uint8_t objective = v1::OBJECTIVE_UNSPECIFIED;
  uint8_t billing_event = v1::BILLING_EVENT_UNSPECIFIED;
  bool creative_reviewed = false;
  bool audience_defined = false;
};
static_assert(v1::Objective_MAX <= UINT8_MAX && v1::BillingEvent_MAX <= UINT8_MAX);
static_assert(sizeof(CampaignInfo) == 32, "a campaign's cold state");

// The most units of a campaign priced `price` per `per_units` whose cost,
// floor(units * price / per_units), stays within `cost_max` micros (and at
// most kCampaignUnitsMax). REQUIRES: price > 0, per_units > 0,
// cost_max >= 0.
int64_t BillableUnitsWithin(int64_t price, int64_t per_units, int64_t cost_max);

struct Dispute {
  std::string id;
  uint32_t account = kNoIndex;
  uint32_t campaign = kNoIndex;
  v1::DisputeReason reason = v1::DISPUTE_REASON_UNSPECIFIED;
  v1::DisputeStatus status = v1::DISPUTE_STATUS_UNSPECIFIED;
  std::string status_note;
  int64_t window_start_us = 0;
  int64_t window_end_us = 0;
  int64_t claimed = 0;
  int64_t verifiable = 0;
  int64_t adjusted = 0;
  bool has_screenshot = false;
  bool has_spend_report = false;
  bool has_delivery_data = false;
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_STATE_H_
