// Ledger: the deterministic state machine at the heart of billsim.
//
// Events go in, in log order; ledger entries come out, and the state
// (balances, holds, grants, campaign spend, disputes) moves accordingly. The
// ledger does no I/O, reads no clock and holds no globals: the same events
// always give the same entries and the same state, byte for byte, which is
// what makes replay, snapshots and simulation testing possible.
//
// The rules it implements are numbered R1..R12 (README, "The rules"); code
// that implements a rule cites it.
//
// Time (R6): every account keeps its own clock, the latest time of the
// events applied to it. An event stamped earlier than its account's clock is
// applied at that clock, so late delivery cannot revive expired credit or a
// past day's budget; an event of one account never moves another's clock,
// so no account can expire another's credit or turn its day by lying about
// time. Time-driven work (grant expiry, daily budget renewal) fires in
// (time, kind, id) order before the account's event whose time passes it.
// ClockAdvanced moves one account's clock, or (without an account) every
// account's: the operator's way of letting time pass for the whole book.
// Times beyond kTimeMaxUs (2200-01-01) are refused (R11).
//
// Refused and duplicate events change nothing but the counters and the entry
// that records them (R10, R11); they do not move any clock.
//
// REQUIRES: external synchronization. One owner applies events; readers
// read between Apply calls.
#ifndef BILLSIM_LEDGER_LEDGER_H_
#define BILLSIM_LEDGER_LEDGER_H_

#include <cstdint>
#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"
#include "billsim/v1/projections.pb.h"
#include "ledger/entry.h"
#include "ledger/hold_flow.h"
#include "ledger/id_set.h"
#include "util/chunked_vector.h"
#include "util/id_index.h"
#include "util/pages.h"
#include "util/string_pool.h"
#include "util/string_table.h"
#include "ledger/state.h"
#include "util/assert.h"
#include "util/money.h"
#include "util/prefetch.h"
#include "util/status.h"

namespace billsim {

struct LedgerOptions {
  // A finite campaign budget below this is refused (R11), in micros of the
  // account currency: 50.00 by default, as TikTok's minimum.
  int64_t min_budget_micros = 50 * 1'000'000;
  // Credit refunded from grants that have since expired comes back as a new
  // grant valid this long from the refund (R9).
  int64_t refund_grant_validity_us = 30LL * 86'400'000'000;
  // R4's reference behaviour, for differential tests: at each local
  // midnight, top up every daily hold of the account. By default only the
  // daily holds that can be short (charged, cut or started since) are
  // topped up; the others are already full, so both give the same entries,
  // balances and digest, and a midnight costs what changed, not the book.
  bool renew_every_daily_hold = false;
};

class Ledger {
 public:
  // The chunks of the tables a delivery reads (accounts_, campaigns_,
  // grants_) are each one huge page, 2 MiB (util/pages.h): a large book's
  // random loads into them then miss the TLB far less often. Each table's
  // last chunk is resident whole once made: up to 2 MiB more than it holds.
  static constexpr size_t kAccountChunkBits = 13;   // 8,192 accounts
  static constexpr size_t kCampaignChunkBits = 15;  // 32,768 campaigns
  static constexpr size_t kGrantChunkBits = 15;     // 32,768 grants
  static_assert((sizeof(Account) << kAccountChunkBits) == kHugePageBytes &&
                (sizeof(Campaign) << kCampaignChunkBits) == kHugePageBytes &&
                (sizeof(Grant) << kGrantChunkBits) == kHugePageBytes);
  enum class Outcome { kApplied, kDuplicate, kRejected };

  struct Result {
    Outcome outcome = Outcome::kApplied;
    std::string field;   // kRejected: the offending field
    std::string reason;  // kRejected: "event 17: cash_deposited...: ..."
  };

  explicit Ledger(LedgerOptions options = {});
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Where an event's text fields come from. Protobuf parses a proto3
  // string field only if it is UTF-8, so an event parsed from bytes (a log
  // batch, a wire request's batch: log::BatchDecoder) needs no second walk
  // over its text; one built in memory (a scenario, JSON, CSV, a test) may
  // hold anything, and Apply checks every text field of it.
  enum class Text { kUnchecked, kParsed };

  // Applies one event. Entries go to `sink` (may be null) in order.
  // REQUIRES: text is kParsed only for an event Protobuf parsed from bytes.
  Result Apply(const v1::Event& event, EntrySink* sink, Text text = Text::kUnchecked);

  // A delivery with its campaign already resolved to an index: the replay
  // hot path, which skips building a v1::Event. Same rules, same entries and
  // same outcome as Apply of the equivalent DeliveryReported event.
  struct DeliveryFact {
    uint64_t event_id = 0;
    int64_t time_us = 0;
    uint32_t campaign = kNoIndex;  // REQUIRES: a campaign of this ledger
    v1::DeliveryReported::Kind kind = v1::DeliveryReported::KIND_UNSPECIFIED;
    int64_t count = 0;
    bool platform_fault = false;
  };
  Result ApplyDelivery(const DeliveryFact& fact, EntrySink* sink);

  // A hint that a delivery to `campaign` (of `account`) comes soon: starts
  // loading the state it will touch, so that a caller who knows the rows
  // ahead (replay) does not wait on memory row after row. Changes nothing.
  BILLSIM_PREFETCHER void PrefetchDelivery(uint32_t campaign, uint32_t account) const {
    __builtin_prefetch(&campaigns_[campaign], 1);
    const char* a = reinterpret_cast<const char*>(&accounts_[account]);
    __builtin_prefetch(a, 1);
    __builtin_prefetch(a + 64, 0);  // its grants and time zone, for a charge and a day's turn
  }
  // The second stage, a few rows later (once the campaign's and the
  // account's lines are in): the campaign's not-billed counters, if it has
  // any; the account's live grants (a charge draws on them, an expiry
  // removes them) if their list is in its line, else the list; and, if a
  // timer of the account is due by `time_us`, the daily holds its midnight
  // renews if their list is in its line, else the list; and the account's
  // third line if an expiry (or, with coupons, a midnight) will read its
  // holding campaigns, or two or more renewals their order (OrderRenewals).
  BILLSIM_PREFETCHER void PrefetchDeliveryLists(uint32_t campaign, int64_t time_us) const {
    const Campaign& c = campaigns_[campaign];
    if (c.not_billed != kNoIndex) {
      const uint32_t table = c.not_billed & kNotBilledTable;
      const uint32_t at = c.not_billed & ~kNotBilledTable;
      if (table == kNotBilledInKinds) __builtin_prefetch(&not_billed_kinds_[at], 1);
      if (table == kNotBilledInOne) __builtin_prefetch(&not_billed_one_[at], 1);
    }
    const Account& a = accounts_[c.account];
    if (GrantsInLine(a)) {
      PrefetchLiveGrants(a);
    } else if (a.expired_grants < a.grants.size()) {
      __builtin_prefetch(&a.grants[a.expired_grants]);
    }
    if (a.next_timer_us > time_us) return;
    if (RenewalsInLine(a)) {
      PrefetchRenewals(a);
    } else {
      __builtin_prefetch(a.renewals.data());
    }
    if (a.next_expiry_us <= time_us || a.restricted_grants > 0 || a.renewals.size() > 1) {
      __builtin_prefetch(reinterpret_cast<const char*>(&a) + 128);
    }
  }
  // The third stage, a few rows later still (once those lists are in): the
  // first live grants of a list on the heap, and if a midnight is due, the
  // first daily holds of such a list that it renews, and the holding list
  // that orders two or more (OrderRenewals).
  BILLSIM_PREFETCHER void PrefetchDeliveryItems(uint32_t account, int64_t time_us) const {
    const Account& a = accounts_[account];
    if (!GrantsInLine(a)) PrefetchLiveGrants(a);
    if (a.next_timer_us > time_us) return;
    if (OrdersByHolding(a, a.renewals.size())) __builtin_prefetch(a.holding.data());
    if (!RenewalsInLine(a)) PrefetchRenewals(a);
  }

  // How many of an account's grants, or of its daily holds to renew, the
  // prefetch loads.
  static constexpr size_t kPrefetchGrants = 3;
  // Whether the account's list of grants is in its line (a few grants),
  // not on the heap.
  static bool GrantsInLine(const Account& a) {
    return a.grants.size() <= Account::kGrantsInLine;
  }
  BILLSIM_PREFETCHER void PrefetchLiveGrants(const Account& a) const {
    const size_t end = std::min<size_t>(a.grants.size(), a.expired_grants + kPrefetchGrants);
    for (size_t i = a.expired_grants; i < end; ++i) {
      __builtin_prefetch(&grants_[a.grants[i]], 1);
    }
  }
  // Whether the account's daily holds to renew are listed in its line.
  static bool RenewalsInLine(const Account& a) {
    return a.renewals.size() <= Account::kRenewalsInLine;
  }
  // The first of the account's daily holds to renew.
  BILLSIM_PREFETCHER void PrefetchRenewals(const Account& a) const {
    const size_t n = std::min<size_t>(a.renewals.size(), kPrefetchGrants);
    for (size_t i = 0; i < n; ++i) PrefetchRenewal(a, a.renewals[i], a.renewals.size());
  }
  // A daily hold of `a` about to be renewed, one of `listed`: the
  // campaign's state and, when they are sorted by their enable orders
  // (OrderRenewals), its enable order.
  BILLSIM_PREFETCHER void PrefetchRenewal(const Account& a, uint32_t campaign,
                                          size_t listed) const {
    __builtin_prefetch(&campaigns_[campaign], 1);
    if (listed > 1 && !OrdersByHolding(a, listed)) {
      __builtin_prefetch(&campaign_info_[campaign].enable_order);
    }
  }
  // Whether OrderRenewals puts `listed` daily holds of `a` in order by its
  // holding list (a short one), not by their enable orders.
  static bool OrdersByHolding(const Account& a, size_t listed) {
    return listed > 1 && a.holding.size() <= kOrderByHoldingMax;
  }
  static constexpr size_t kOrderByHoldingMax = 64;

  // The same for an event of any kind, by the ids it names (its account's,
  // its campaign's): stage 1 starts loading their index slots, stage 2 (a
  // few events later) the entities those slots name. Changes nothing.
  void PrefetchLookups(const v1::Event& event, int stage) const;

  // Moves every account's clock to `time_us` if that is later, firing the
  // expiries and day renewals due by then, as a ClockAdvanced event without
  // an account would, but without an event (entries carry event id 0): for
  // as-of queries, never for the log.
  void AdvanceTo(int64_t time_us, EntrySink* sink);

  // The whole state, for snapshots. RestoreState replaces this ledger's
  // state with `state`, or returns Corruption naming what is inconsistent
  // and leaves this ledger as it was.
  void SaveState(v1::LedgerState* state) const;
  // SaveState()'s deterministic serialization, in pieces (their
  // concatenation), without holding the whole message: for digests and
  // snapshots of large books. Pieces are valid only during the call.
  void SerializeState(const std::function<void(std::string_view)>& out) const;
  Status RestoreState(const v1::LedgerState& state);

  // Restores a state SerializeState wrote, one part at a time and in its
  // order (accounts, grants, campaigns, disputes, timers; the other fields
  // at Finish), so that a snapshot of millions of campaigns is never held
  // as one message. Each part is checked as it comes (every number within
  // R11's bounds, every index it names already restored); Finish checks
  // what relates the parts (indexes named ahead, timers, invariants).
  // Nothing changes in any ledger before CommitTo. After any error the
  // restorer is spent: drop it. RestoreState is this, over a message.
  class Restorer {
   public:
    explicit Restorer(const LedgerOptions& options);
    ~Restorer();
    Restorer(const Restorer&) = delete;
    Restorer& operator=(const Restorer&) = delete;

    Status AddAccount(const v1::LedgerState::Account& p);
    Status AddGrant(const v1::LedgerState::Grant& p);
    Status AddCampaign(const v1::LedgerState::Campaign& p);
    Status AddDispute(const v1::LedgerState::Dispute& p);
    Status AddTimer(const v1::LedgerState::Timer& p);
    // `fields`: the state's fields other than the five lists (ignored).
    Status Finish(const v1::LedgerState& fields);
    // After Finish: the restored state's digest (Ledger::Digest).
    std::string Digest() const;
    // After Finish: replaces `ledger`'s state with the restored one.
    void CommitTo(Ledger* ledger);

   private:
    std::unique_ptr<Ledger> fresh_;
    std::vector<uint8_t> timed_;  // by grant: its expiry timer was seen
    size_t expiry_timers_ = 0;
    bool finished_ = false;
  };

  // Replaces `out`'s state with a copy of one account's: the account, its
  // grants, campaigns and disputes (renumbered from 0), its timers, and
  // this ledger's counters and options, but no applied event ids. Its own
  // events then bill exactly as they would here: the simulator's fork
  // (forecast), in O(the account) rather than O(the book). `out` is left
  // as it was on error.
  Status ForkAccount(uint32_t account, Ledger* out) const;

  // Would Apply accept this event? Changes nothing. kDuplicate and kRejected
  // as Apply would report them.
  Result Check(const v1::Event& event) const;

  // --- Queries (views are built on demand, not kept) -----------------------
  // The latest of the accounts' clocks (each account's is in accounts()).
  int64_t clock_us() const { return latest_us_; }
  uint64_t events_applied() const { return events_applied_; }
  // The clock an event would be applied at if it carried no time: its
  // account's (R6), or the latest of all for an event of no known account.
  int64_t ClockOf(const v1::Event& e) const {
    const uint32_t a = EventAccount(e);
    return a == kNoIndex ? latest_us_ : accounts_[a].clock_us;
  }
  // The smallest event id >= `from` not applied yet (0: none left).
  uint64_t FirstUnappliedId(uint64_t from) const { return applied_ids_.FirstAbsentFrom(from); }
  uint64_t events_rejected() const { return events_rejected_; }
  uint64_t events_duplicate() const { return events_duplicate_; }
  uint64_t entries() const { return entry_seq_; }
  // Bytes held by the string pools (ids, landing pages less their shared
  // origins, campaign names):
  // they follow the book, not the log.
  uint64_t string_pool_bytes() const { return strings_.bytes() + names_.bytes(); }
  // Time-driven work done so far (not part of the state: a replay from a
  // snapshot counts only its own): grants expired, day timers fired, and
  // daily holds a day timer topped up (R4, R6). For benchmarks.
  struct TimerWork {
    uint64_t expiries = 0;
    uint64_t days = 0;
    uint64_t renewals = 0;
  };
  const TimerWork& timer_work() const { return timer_work_; }

  std::optional<v1::AccountBalance> Balance(std::string_view account) const;
  std::optional<v1::CampaignSpend> Spend(std::string_view campaign) const;
  std::optional<v1::DisputeView> DisputeState(std::string_view dispute) const;
  // The same views by index (accounts(), campaigns(), disputes()).
  v1::AccountBalance AccountView(uint32_t account) const;
  v1::CampaignSpend CampaignView(uint32_t campaign) const;
  v1::DisputeView DisputeViewAt(uint32_t dispute) const;
  // Every account, campaign and dispute, in the order they were created.
  // A book of millions of campaigns is better streamed: ReportSummary()
  // and the views by index (see report/format.h, BalanceStream).
  v1::BalanceReport Report() const;
  // The report without its three lists: counters, clock and digest.
  v1::BalanceReport ReportSummary() const;
  v1::LedgerEntry ToProto(const Entry& entry) const;

  // A digest of the whole state and of every entry made so far: two ledgers
  // that applied the same events have the same digest. 32 hex digits. It
  // hashes SaveState()'s bytes, so nothing saved can be left out of it.
  // With `state_size`: also the size of that serialization (one pass
  // for a snapshot's digest and framing).
  std::string Digest(uint64_t* state_size = nullptr) const;

  // Checks R12 (conservation) and R5 (no negative balance) for every
  // account, and the internal invariants behind them. OK or the first
  // violation, named.
  Status CheckInvariants() const;

  const LedgerOptions& options() const { return options_; }
  const ChunkedVector<Account, kAccountChunkBits>& accounts() const { return accounts_; }
  const ChunkedVector<Campaign, kCampaignChunkBits>& campaigns() const { return campaigns_; }
  std::string_view account_id(uint32_t account) const {
    return strings_.First(accounts_[account].id_and_name);
  }
  // Display only; empty when it has none (AccountOpened.name).
  std::string_view account_name(uint32_t account) const {
    return strings_.Second(accounts_[account].id_and_name);
  }
  std::string_view account_currency(uint32_t account) const {
    return currencies_.Get(accounts_[account].currency_index);
  }
  const CampaignInfo& campaign_info(uint32_t campaign) const { return campaign_info_[campaign]; }
  std::string_view campaign_id(uint32_t campaign) const {
    return strings_.First(campaign_info_[campaign].id_and_landing_page);
  }
  // Its origin (from the table the book's landing pages share) and the
  // rest of it (stored with the id).
  std::string LandingPageUrl(uint32_t campaign) const {
    const CampaignInfo& info = campaign_info_[campaign];
    std::string url(landing_origins_.Get(info.landing_origin));
    url += strings_.Second(info.id_and_landing_page);
    return url;
  }
  bool has_landing_page(uint32_t campaign) const {
    const CampaignInfo& info = campaign_info_[campaign];
    return info.landing_origin != 0 || !strings_.Second(info.id_and_landing_page).empty();
  }
  // Display only; empty when it has none (CampaignCreated.name).
  std::string_view campaign_name(uint32_t campaign) const {
    const auto it = campaign_names_.find(campaign);
    return it == campaign_names_.end() ? std::string_view{} : names_.Get(it->second);
  }
  // A business center's id and its accounts in the order they were opened
  // (AccountOpened.business_center_id).
  struct BusinessCenter {
    std::string id;
    std::vector<uint32_t> accounts;
  };
  const std::vector<BusinessCenter>& business_centers() const { return business_centers_; }
  // kNoIndex if no account names it.
  uint32_t FindBusinessCenter(std::string_view id) const {
    const auto it = business_center_index_.find(id);
    return it == business_center_index_.end() ? kNoIndex : it->second;
  }
  std::string_view status_reason(uint32_t campaign) const {
    return reasons_.Get(campaign_info_[campaign].status_reason);
  }
  // Served units: billed units that were not fault-marked.
  int64_t served_units(uint32_t campaign) const {
    return campaigns_[campaign].billed_units - fault(campaign).billed_units;
  }
  // Zero counters when the campaign has none.
  NotBilledCounts not_billed(uint32_t campaign) const;
  // R2: what its billed units cost, at the price since its last repricing
  // (and the micros billed before it).
  int64_t billed_micros(uint32_t campaign) const {
    const Campaign& c = campaigns_[campaign];
    if (!c.repriced) [[likely]] return c.CostOf(c.billed_units);
    return static_cast<int64_t>(BilledMicrosWide(c, reprices_.at(campaign)));
  }
  // Its delivered units of `kind` (DeliveryReported::Kind 1..5): of the
  // billable kind, those billed and those not billed for a reason other
  // than the kind.
  int64_t delivered(uint32_t campaign, int kind) const {
    const Campaign& c = campaigns_[campaign];
    if (kind == c.billable_kind) return c.billed_units + UnbilledOfBillableKind(campaign);
    // Other kinds' units are all not billed, NOT_BILLABLE_KIND.
    const uint32_t i = c.not_billed;
    if (i == kNoIndex) return 0;
    const uint32_t at = i & ~kNotBilledTable;
    switch (i & kNotBilledTable) {
      case kNotBilledInKinds:
        return not_billed_kinds_[at].units[NotBilledKinds::Slot(kind, c.billable_kind)];
      case kNotBilledMany: return not_billed_many_[at].other_kinds[kind - 1];
      default: return 0;  // one other reason
    }
  }
  // Its fault-marked billing: zeros and no charges when it has none.
  const FaultRecord& fault(uint32_t campaign) const;
  // In time order; empty when the campaign has none.
  const std::vector<FaultCharge>& fault_charges(uint32_t campaign) const;
  const ChunkedVector<Grant, kGrantChunkBits>& grants() const { return grants_; }
  std::string_view grant_id(uint32_t grant) const { return strings_.Get(grants_[grant].id_handle); }
  std::string GrantName(uint32_t grant) const { return std::string(grant_id(grant)); }
  std::string_view grant_program(uint32_t grant) const {
    return programs_.Get(grants_[grant].program_index);
  }
  // The campaigns a grant may fund, sorted; empty: any of its account's.
  std::span<const uint32_t> grant_campaigns(uint32_t grant) const {
    const uint32_t scope = grants_[grant].scope;
    if (scope == kNoIndex) return {};
    return grant_scopes_[scope];
  }
  // Does the grant's scope take in `campaign` (R3: any of its account's
  // campaigns, or a coupon's own), whatever is left of it?
  bool GrantCovers(const Grant& g, uint32_t campaign) const {
    if (g.scope == kNoIndex) return true;
    // (Read from the campaign's line, which a charge has loaded: the scope
    // is a record and a list elsewhere, two loads in a row.)
    if (!campaigns_[campaign].coupon_named) return false;
    const std::vector<uint32_t>& scope = grant_scopes_[g.scope];
    return std::binary_search(scope.begin(), scope.end(), campaign);
  }
  const std::vector<Dispute>& disputes() const { return disputes_; }
  uint32_t FindAccount(std::string_view id) const;   // kNoIndex if unknown
  uint32_t FindCampaign(std::string_view id) const;
  // out[i] = FindCampaign(ids[i]) for i in [0, n), the lookups' loads
  // overlapped: for a batch's campaign dictionary.
  void FindCampaigns(const std::string_view* ids, size_t n, uint32_t* out) const {
    campaign_index_.FindAll(ids, n, out);
  }
  uint32_t FindGrant(std::string_view id) const;
  uint32_t FindDispute(std::string_view id) const;

 private:
  static std::string_view AccountIdOf(const void* self, uint32_t i) {
    return static_cast<const Ledger*>(self)->account_id(i);
  }
  static std::string_view CampaignIdOf(const void* self, uint32_t i) {
    return static_cast<const Ledger*>(self)->campaign_id(i);
  }
  static void PrefetchCampaignId(const void* self, uint32_t i) {
    __builtin_prefetch(&static_cast<const Ledger*>(self)->campaign_info_[i]);
  }
  static std::string_view GrantIdOf(const void* self, uint32_t i) {
    return static_cast<const Ledger*>(self)->grant_id(i);
  }
  static std::string_view DisputeIdOf(const void* self, uint32_t i) {
    return static_cast<const Ledger*>(self)->disputes_[i].id;
  }
  std::string Name(uint32_t campaign) const { return std::string(campaign_id(campaign)); }
  // SaveState's parts: the fields before the entities, after them, and
  // each entity.
  void SaveHead(v1::LedgerState* s) const;
  void SaveTail(v1::LedgerState* s) const;
  void SaveAccount(uint32_t account, v1::LedgerState::Account* p) const;
  void SaveGrant(uint32_t grant, v1::LedgerState::Grant* p) const;
  void SaveCampaign(uint32_t campaign, v1::LedgerState::Campaign* p) const;
  void SaveDispute(uint32_t dispute, v1::LedgerState::Dispute* p) const;
  void SaveTimers(const std::function<void(const v1::LedgerState::Timer&)>& add) const;
  // The entities' id indexes rebuilt from the entities (after a restore).
  void RebuildIndexes();
  // Adds `units` of `kind` not billed for `reason`, which would have cost
  // `micros`, to a campaign's counters (checked: R11).
  void AddNotBilled(uint32_t campaign, v1::NotBilledReason reason, int64_t units, int64_t micros,
                    v1::DeliveryReported::Kind kind);
  // Sets them (a restore): nothing kept when all are zero.
  void SetNotBilled(uint32_t campaign, const NotBilledCounts& counts);
  // A new zero record in one of the not-billed tables (kNotBilledInOne,
  // kNotBilledInKinds, kNotBilledMany): its Campaign::not_billed value.
  uint32_t AddNotBilledRecord(uint32_t table);
  // R2's charge of a repriced campaign, in 128 bits: a restore checks a
  // snapshot's figure against it before knowing that it fits.
  static __int128 BilledMicrosWide(const Campaign& c, const Reprice& r) {
    return static_cast<__int128>(r.micros) + c.CostOf(c.billed_units - r.units);
  }
  FaultRecord& MutableFault(uint32_t campaign);  // made on first use
  void SetStatusReason(uint32_t campaign, std::string_view reason) {
    campaign_info_[campaign].status_reason = reasons_.Intern(reason);
  }
  // Stores a new campaign's id and landing page: the URL's origin in
  // landing_origins_ (shared by every campaign of that origin: a book's
  // pages are mostly on a few hosts), the rest with the id.
  void SetIdAndLandingPage(CampaignInfo* info, std::string_view id, std::string_view url);

  // Time-driven work of one account (R6), fired in (time, kind, key)
  // order: expiries (key: the grant id) before the day timer (key: the
  // account id) at the same instant. Not kept in a structure of their own:
  // an account's pending expiries are its grants after the expired prefix
  // (Account::expired_grants; R3 order is soonest expiry first), and its
  // day timer is Account::day_timer_us.
  static constexpr int kTimerExpiry = 0;
  static constexpr int kTimerDay = 1;
  struct Due {
    int64_t at_us = INT64_MAX;
    int kind = kTimerExpiry;
    uint32_t index = kNoIndex;  // grant or account
  };
  // The account's next timer; at_us INT64_MAX if none.
  Due NextDue(uint32_t account) const;
  // The id that orders timers of one instant (R6): grant id or account id.
  std::string_view DueKey(const Due& due) const;
  // The account's timers in the order they fire: (time, kind, key).
  void AccountTimers(uint32_t account, std::vector<Due>* timers) const;
  // When the account's first unexpired grant expires (INT64_MAX: none),
  // looked up in its grants.
  int64_t FirstExpiryUs(const Account& a) const {
    return a.expired_grants < a.grants.size()
               ? grants_[a.grants[a.expired_grants]].expires_at_us
               : INT64_MAX;
  }
  // The same, as the account keeps it (UpdateNextExpiry).
  int64_t NextExpiryUs(const Account& a) const { return a.next_expiry_us; }
  // Its grants that have not expired, in R3 order (those before have no
  // funds: the check of the state holds it), so a charge reads no grant of
  // a month ago.
  static std::span<const uint32_t> LiveGrants(const Account& a) {
    return std::span<const uint32_t>(a.grants).subspan(a.expired_grants);
  }
  // After its grants or expired_grants change.
  void UpdateNextExpiry(Account& a) const {
    a.next_expiry_us = FirstExpiryUs(a);
    UpdateNextTimer(a);
  }
  void UpdateNextTimer(Account& a) const {
    a.next_timer_us = std::min(NextExpiryUs(a), a.day_timer_us);
  }

  // The frame of every Apply: R10 duplicates, R6 clock, R11 validation,
  // counters. `account` is the event's account (kNoIndex: none yet, or
  // every account); `validate(at_us)` says whether the event is refused;
  // `change(at_us)` makes its changes.
  template <typename ValidateFn, typename ChangeFn>
  Result ApplyFramed(uint64_t event_id, int64_t time_us, uint32_t account,
                     EntrySink* sink, ValidateFn validate, ChangeFn change);
  // The account an event belongs to, or kNoIndex (AccountOpened, an unknown
  // account, ClockAdvanced for every account).
  uint32_t EventAccount(const v1::Event& e) const;
  // The time an event of `account` is applied at (R6).
  int64_t AppliedAt(uint32_t account, int64_t time_us) const {
    return account == kNoIndex ? time_us
                               : std::max(accounts_[account].clock_us, time_us);
  }

  // Validation (R11): the reason an event is refused, or OK.
  Result Validate(const v1::Event& e, int64_t at_us, Text text = Text::kUnchecked) const;
  Result ValidateDelivery(uint64_t event_id, int64_t time_us, uint32_t campaign,
                          int kind, int64_t count) const;
  // ValidateDelivery's answer for the usual case, without a verdict: true
  // means it would accept; false, that it must be asked.
  bool DeliveryWellFormed(uint64_t event_id, int64_t time_us, uint32_t campaign,
                          int kind, int64_t count) const {
    const Campaign& c = campaigns_[campaign];
    const Account& a = accounts_[c.account];
    // Not before the account was opened. A time at or past its clock is
    // not (the clock starts at the opening and never goes back), and that
    // is known from the account's first line; its opening is in the third,
    // which most deliveries do not read otherwise.
    return event_id != 0 && time_us >= 0 && time_us <= kTimeMaxUs &&
           count > 0 && count <= kCountMax &&
           kind > v1::DeliveryReported::KIND_UNSPECIFIED &&
           kind <= v1::DeliveryReported::CONVERSION &&
           (time_us >= a.clock_us || time_us >= a.opened_at_us) &&
           DeliveryFits(campaign, kind, count);
  }
  // R11: the campaign's delivered units of `kind` stay within
  // kCampaignUnitsMax, and billable ones within what kCampaignCostMaxMicros
  // buys at its price. REQUIRES: a valid kind, 0 < count <= kCountMax.
  bool DeliveryFits(uint32_t campaign, int kind, int64_t count) const {
    const Campaign& c = campaigns_[campaign];
    if (c.unbilled_units != Campaign::kUnbilledMany) [[likely]] {
      // Without its counters: delivered <= billed_units + unbilled_units.
      if (kind != c.billable_kind) return true;  // < 2^32 + 10^12 units
      if (!c.repriced && FitsCost(c, c.billed_units + c.unbilled_units + count)) return true;
    }
    const int64_t total = delivered(campaign, kind) + count;  // <= 10^18 + 10^12
    if (kind != c.billable_kind) return total <= kCampaignUnitsMax;
    if (c.repriced) [[unlikely]] return total <= reprices_.at(campaign).units_max;
    return FitsCost(c, total);
  }
  // R11 for `units` of a campaign's billable kind, not repriced: at most
  // kCampaignUnitsMax, costing at most kCampaignCostMaxMicros. Without a
  // division: floor(N*p/k) <= L  <=>  N*p <= (L+1)*k - 1.
  static bool FitsCost(const Campaign& c, int64_t units) {
    return units <= kCampaignUnitsMax &&
           static_cast<__int128>(units) * c.price <=
               (static_cast<__int128>(kCampaignCostMaxMicros) + 1) * c.per_units() - 1;
  }
  // Units of the billable kind not billed (not_billed's, but for
  // NOT_BILLABLE_KIND).
  int64_t UnbilledOfBillableKind(uint32_t campaign) const {
    const uint32_t i = campaigns_[campaign].not_billed;
    if (i == kNoIndex) return 0;
    const uint32_t at = i & ~kNotBilledTable;
    switch (i & kNotBilledTable) {
      case kNotBilledInOne: return not_billed_one_[at].units;
      case kNotBilledMany: return not_billed_many_[at].billable_kind_units;
      default: return 0;  // NOT_BILLABLE_KIND alone
    }
  }
  Result ValidateDeliveryTotals(uint64_t event_id, uint32_t campaign, int kind,
                                int64_t count) const;
  Result ValidateOpened(uint64_t event_id, int64_t time_us,
                        uint32_t account) const;
  Result ValidateAccountEvent(const v1::Event& e, std::string_view account,
                              const char* field) const;
  Result ValidateCampaignEvent(const v1::Event& e, std::string_view account,
                               std::string_view campaign,
                               const char* prefix) const;
  // R11: money coming into `account` keeps deposited + granted + adjusted
  // within kAccountFundsMaxMicros.
  Result ValidateInflow(const v1::Event& e, uint32_t account, int64_t amount,
                        const char* field) const;

  // An accepted event: its account's clock moves to `at_us` (none: only
  // the latest clock), the id is used up. Inline: every delivery passes.
  void Admit(uint64_t event_id, uint32_t account, int64_t at_us) {
    if (account != kNoIndex) {
      AdvanceClock(account, at_us);
    } else {
      BILLSIM_ASSERT(at_us >= 0 && at_us <= kTimeMaxUs);
      latest_us_ = std::max(latest_us_, at_us);
    }
    applied_ids_.Insert(event_id);
    events_applied_++;
  }

  // Clocks and timers (R4 day renewal, R6 expiry).
  // Inline for the usual case, no timer due (every delivery passes here).
  void AdvanceClock(uint32_t account, int64_t to_us) {
    Account& a = accounts_[account];
    BILLSIM_ASSERT(to_us >= a.clock_us && to_us <= kTimeMaxUs);
    if (a.next_timer_us > to_us) {
      a.clock_us = to_us;
    } else {
      FireTimers(account, to_us, to_us);
    }
    if (to_us > latest_us_) latest_us_ = to_us;
  }
  void AdvanceAll(int64_t to_us);  // every account whose clock is earlier
  // Fires the account's timers due by to_us, in order, and sets its clock
  // to to_us. Midnights that can renew nothing are skipped up to
  // `horizon_us` (at least to_us), to which the caller will take the clock
  // with no event of the account in between (AdvanceAll: the timers of
  // every account in time order, then every clock to one time).
  void FireTimers(uint32_t account, int64_t to_us, int64_t horizon_us);
  // Fires the expiries of every grant of the account due at `at_us`, in
  // grant id order. REQUIRES: the account's clock is at_us.
  void FireExpiries(uint32_t account, int64_t at_us);
  void FireExpiry(uint32_t grant);
  void FireDay(uint32_t account);
  // Puts the daily holds of account `a` a day's turn renews in R4's order,
  // earliest-enabled first. It may leave out any that no longer hold funds
  // (the turn skips them).
  void OrderRenewals(const Account& a, std::vector<uint32_t>* renew);
  void ScheduleDay(uint32_t account);
  // A daily hold short of its budget, which is what the next midnight
  // holds (short of funds, spent from, or started after spending today):
  // listed for its renewal (R4). A full one renews to itself, so it is
  // not listed, and a midnight reads nothing of it. Cheap when listed
  // already.
  void ListForRenewal(uint32_t campaign) {
    Campaign& c = campaigns_[campaign];
    if (c.budget_mode != v1::BUDGET_MODE_DAY || c.renewal_listed || c.hold >= c.budget) return;
    c.renewal_listed = true;
    accounts_[c.account].renewals.push_back(campaign);
  }
  int64_t LocalDay(const Account& a, int64_t time_us) const;
  // The account's first local midnight after `time_us` (R4's day turn).
  int64_t NextMidnight(const Account& a, int64_t time_us) const {
    return (LocalDay(a, time_us) + 1) * kMicrosPerDay -
           a.utc_offset_minutes * kMicrosPerMinute;
  }

  // Event handlers. Each assumes Validate passed.
  void OnAccountOpened(const v1::AccountOpened& m, int64_t at_us);
  void OnCashDeposited(const v1::CashDeposited& m);
  void OnCreditGranted(const v1::CreditGranted& m);
  void OnCampaignCreated(const v1::CampaignCreated& m);
  void OnStatusChanged(const v1::CampaignStatusChanged& m);
  void OnAdReviewed(const v1::AdReviewed& m);
  void OnCampaignUpdated(const v1::CampaignUpdated& m);
  // The budget a campaign has after update `m` (Validate and the change
  // agree on it): the one given, else 0 for BUDGET_MODE_INFINITE, else
  // the campaign's own.
  static int64_t UpdatedBudget(const Campaign& c, const v1::CampaignUpdated& m) {
    if (m.has_budget_micros()) return m.budget_micros();
    const v1::BudgetMode mode = m.has_budget_mode() ? m.budget_mode() : v1::BudgetMode{c.budget_mode};
    return mode == v1::BUDGET_MODE_INFINITE ? 0 : c.budget;
  }
  void Deliver(uint32_t campaign, v1::DeliveryReported::Kind kind,
               int64_t count, bool fault);
  void OnDisputeFiled(const v1::DisputeFiled& m);
  void OnEvidenceAdded(const v1::DisputeEvidenceAdded& m);
  void OnDisputeDecided(const v1::DisputeDecided& m);

  // Funds (R3, R4, R5).
  bool IsHolding(const Campaign& c) const;
  int64_t HoldTarget(uint32_t campaign) const;
  int64_t Usable(const Account& a, uint32_t campaign) const;
  bool GrantFunds(const Grant& g, uint32_t campaign) const;
  void StartHolding(uint32_t campaign);
  void StopHolding(uint32_t campaign, const std::string& why);
  // Returns `amount` of the campaign's hold to the valid balance (R4).
  void ReturnHold(uint32_t campaign, int64_t amount, std::string why);
  void TopUp(uint32_t campaign);
  void TopUpAll(uint32_t account);
  // Shrinks holds (latest-enabled first) to what the account can fund once
  // grant `expiring` (or kNoIndex) has lost its remainder.
  void ShrinkHolds(uint32_t account, uint32_t expiring);
  // What every hold of `a` may draw on, coupons or not: its cash and its
  // account-wide grants, grant `leaving` (or kNoIndex) counted as gone.
  int64_t PoolFunds(const Account& a, uint32_t leaving) const;
  // How much of each of `holds` (campaign, micros wanted), taken in order,
  // the account's sources can back at once (HoldFlow), with grant `leaving`
  // (or kNoIndex) counted as gone: (*fitted)[i] for holds[i]. Uses
  // hold_scratch_'s flow, coupons and sources (not its holds and fitted,
  // which its callers pass).
  void FitHolds(uint32_t account, const std::vector<std::pair<uint32_t, int64_t>>& holds,
                uint32_t leaving, std::vector<int64_t>* fitted);
  void Charge(uint32_t campaign, int64_t units, bool fault);
  void PauseForFunds(uint32_t campaign);
  void NotBilled(uint32_t campaign, v1::NotBilledReason reason, int64_t units,
                 v1::DeliveryReported::Kind kind);
  // R3's order of an account's grants: the soonest expiry first, then the
  // earlier grant (Grant::order), then the grant id (which decides only
  // for a restored state whose orders tie, so it is read only then).
  bool GrantBefore(uint32_t x, uint32_t y) const {
    const Grant& a = grants_[x];
    const Grant& b = grants_[y];
    if (a.expires_at_us != b.expires_at_us) return a.expires_at_us < b.expires_at_us;
    if (a.order != b.order) return a.order < b.order;
    return grant_id(x) < grant_id(y);
  }
  void InsertGrantOrdered(Account& a, uint32_t grant);
  // Names `campaign` (empty: no name). A rename leaves the old name in
  // names_ until the names replaced outweigh the live ones; then the live
  // ones move to a new pool, so the pool follows the names, not the log.
  void SetCampaignName(uint32_t campaign, std::string_view name);

  // Disputes (R8, R9).
  void Investigate(uint32_t dispute);
  int64_t Verifiable(const Dispute& d) const;
  void Adjust(uint32_t dispute, int64_t amount);
  void SetDisputeStatus(uint32_t dispute, v1::DisputeStatus status,
                        std::string note);

  // Emits an entry stamped with the current event, clock and the account's
  // balances after it; folds it into the history digest.
  void Emit(Entry&& entry);
  void EmitRejection(const Result& r);
  // A note's hash for the digest: a literal's is computed once per slot of
  // a small cache keyed by its address (the few fixed notes of the hot
  // paths, a day's hold, an expiry, recur on every turn).
  uint64_t NoteHash(const Note& note);
  struct HashedNote {
    const char* literal = nullptr;
    uint64_t hash = 0;
  };
  std::array<HashedNote, 8> note_hashes_{};

  LedgerOptions options_;
  int64_t latest_us_ = 0;  // the latest of the accounts' clocks
  uint64_t entry_seq_ = 0;
  uint64_t events_applied_ = 0;
  uint64_t events_rejected_ = 0;
  uint64_t events_duplicate_ = 0;
  uint64_t grant_order_ = 0;
  uint64_t enable_order_ = 0;
  uint64_t history_hash_ = 0;     // chained over every entry
  TimerWork timer_work_;

  // The event being applied and where its entries go.
  uint64_t current_event_id_ = 0;
  EntrySink* sink_ = nullptr;

  ChunkedVector<Account, kAccountChunkBits> accounts_;
  ChunkedVector<Campaign, kCampaignChunkBits> campaigns_;
  ChunkedVector<CampaignInfo> campaign_info_;
  // Account, campaign and grant ids, account names, landing pages less
  // their origins.
  StringPool strings_;
  // The origins ("https://host/") landing pages share, at most
  // kLandingOriginsMax: past that a new origin stays in the URL's rest.
  StringTable landing_origins_;
  static constexpr size_t kLandingOriginsMax = size_t{1} << 20;
  StringTable currencies_;  // account currencies
  StringTable reasons_;   // campaign status reasons
  StringTable programs_;  // grant programs
  // Not-billed counters (Campaign::not_billed, state.h).
  ChunkedVector<NotBilledOne, 12> not_billed_one_;
  ChunkedVector<NotBilledKinds, 12> not_billed_kinds_;
  std::vector<NotBilledCounts> not_billed_many_;
  ChunkedVector<FaultRecord, 12> faults_;
  // Campaigns whose price an update changed (Campaign::repriced).
  std::unordered_map<uint32_t, Reprice> reprices_;
  // Names of the campaigns that have one (handles into names_): most
  // campaigns of a replayed book have none, and cost nothing here.
  std::unordered_map<uint32_t, uint64_t> campaign_names_;
  // Their own pool, since a rename leaves the old name in it: the bytes of
  // names replaced since it was last rebuilt (SetCampaignName).
  StringPool names_;
  uint64_t dead_name_bytes_ = 0;
  std::vector<BusinessCenter> business_centers_;
  std::map<std::string, uint32_t, std::less<>> business_center_index_;
  // An account's business center (by id), made on first use.
  void JoinBusinessCenter(uint32_t account, std::string_view id);
  std::vector<uint32_t> renew_scratch_;  // FireDay's, kept for its capacity
  std::vector<uint32_t> order_scratch_;  // OrderRenewals', the same
  // What fitting holds (TopUp with coupons, ShrinkHolds, FitHolds) works
  // in, kept for its capacity: an expiry or a day's turn allocates nothing.
  // None of them calls another while it uses these.
  struct HoldScratch {
    std::vector<std::pair<uint32_t, int64_t>> holds;  // (campaign, micros wanted)
    std::vector<int64_t> fitted;
    std::vector<std::pair<uint32_t, uint32_t>> coupons;  // (grant, source)
    std::vector<uint32_t> sources;
    HoldFlow flow;
  };
  HoldScratch hold_scratch_;
  std::vector<uint32_t> due_scratch_;  // FireExpiries', kept for its capacity
  ChunkedVector<Grant, kGrantChunkBits> grants_;
  ChunkedVector<std::vector<uint32_t>, 12> grant_scopes_;  // Grant::scope
  std::vector<Dispute> disputes_;
  // Id lookups sit on the delivery paths (the server's, replay's
  // dictionary resolution); looked up with string_view.
  IdIndex account_index_{this, &AccountIdOf};
  IdIndex campaign_index_{this, &CampaignIdOf, &PrefetchCampaignId};
  IdIndex grant_index_{this, &GrantIdOf};
  IdIndex dispute_index_{this, &DisputeIdOf};
  IdSet applied_ids_;
};

}  // namespace billsim

#endif  // BILLSIM_LEDGER_LEDGER_H_
