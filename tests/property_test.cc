// Seeded random simulation of the ledger. Each seed generates a stream of a
// few hundred events of every kind (several accounts and time zones, both
// funding orders, staggered and restricted grants, campaigns of every billing
// event and budget mode, status changes, reviews, delivery with and without
// platform_fault, disputes of every reason with and without evidence,
// decisions, clock advances, late events, duplicate ids and deliberately bad
// facts) and checks after EVERY event:
//   - Check() predicted the outcome Apply() gave;
//   - CheckInvariants() is OK (R5, R12), and independently from the state:
//     no negative balance, conservation, grant and hold sums, R2 exactness;
//   - an id already applied is a duplicate, and only such an id (R10);
//   - a refused or duplicate event left the balance, campaign and dispute
//     views unchanged and the clock where it was (R10, R11);
//   - every entry's balances are the running sum of the deltas, signs match
//     the entry kind, seq is dense;
//   - each grant expires at most once, only when the clock has reached
//     expires_at_us, with its PROMOTION_EXPIRED entry stamped then (R6);
//   - a second Ledger renewing every daily hold at each local midnight
//     (LedgerOptions::renew_every_daily_hold, R4's eager reference) fed the
//     same event gave the same outcome, the same entries field by field and
//     the same state as the ledger under test, which renews only the daily
//     holds that can be short.
// At the end both have the same Digest and views; the stream is replayed
// into a fresh Ledger (same Digest), and again through ApplyDelivery with a
// SaveState/RestoreState in the middle, continued in both renewal modes.
// The streams are made to reach the daily-budget situations lazy renewal
// must get right (budgets exhausted, charged partly, cut by an expiry,
// re-enabled the same day, beside coupons, cash-first, clocks jumping over
// many midnights), and RunSeeds fails if they stop reaching any of them.
// LargeBooks does the same over books of hundreds of accounts and thousands
// of campaigns, tens of thousands of events over more than a month.
//
// A failure names its seed ("seed=N"). To replay one seed:
//   BILLSIM_PROPERTY_SEED=N build/tests/billsim_tests
//       --gtest_filter='LedgerPropertyTest.ReplaySeedFromEnvironment'
// (BILLSIM_PROPERTY_VERBOSE=1 also prints every event and its outcome).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"
#include "billsim/v1/projections.pb.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "sim/whatif.h"
#include "util/money.h"
#include "test_scale.h"

namespace billsim {
namespace {

constexpr int64_t kMin = 60'000'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kUnit = 1'000'000;
constexpr int64_t kStart = 1'768'435'200'000'000;  // 2026-01-15T00:00:00Z
constexpr int kEventsPerStream = 300;

// What a generated stream looks like: the small streams of the seed ranges
// (a few accounts, every kind of hostile input, long clock jumps) or a large
// book (LargeBooks: hundreds of accounts, thousands of campaigns, a month
// and more of delivery, little hostility so that accounts keep living).
struct BookShape {
  int accounts_min, accounts_span;    // accounts at the start: min + U(span)
  int campaigns_min, campaigns_span;  // campaigns of each of them
  int target_days;                    // 0: events ~3.7 h apart on average;
                                      // else the stream spans about this
  int lies_per_10000;                 // times years ahead (R6)
  int edges_per_10000;                // fields at an int64 or R11 edge
  int long_jump_percent;              // ClockAdvanced across up to 40 days
  int stories_max;                    // Generator::Story, each 1 in 333 events
};
constexpr BookShape kSmallBook{2, 3, 1, 2, 0, 100, 300, 12, 1};
constexpr BookShape kLargeBook{250, 151, 6, 7, 42, 1, 4, 0, 5};

// --- Reporting a seed that crashes the process (BILLSIM_ASSERT aborts) -----

volatile std::sig_atomic_t g_seed = -1;
volatile std::sig_atomic_t g_event = -1;

void WriteNumber(const char* label, long v) {
  char buf[32];
  int n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? 0ul - static_cast<unsigned long>(v)
                        : static_cast<unsigned long>(v);
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0 && n < 30);
  if (neg) buf[n++] = '-';
  ssize_t ignored = write(2, label, __builtin_strlen(label));
  for (int i = n - 1; i >= 0; --i) ignored = write(2, &buf[i], 1);
  (void)ignored;
}

extern "C" void OnAbort(int sig) {
  WriteNumber("\nproperty test crashed: signal ", sig);
  WriteNumber(" seed=", g_seed);
  WriteNumber(" event=", g_event);
  ssize_t ignored = write(2, "\n", 1);
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// --- The generator -----------------------------------------------------------

class Generator {
 public:
  explicit Generator(uint64_t seed, const BookShape& shape = kSmallBook)
      : shape_(shape), rng_(seed) {
    now_ = kStart + static_cast<int64_t>(U(365)) * kDay + U(kDay);
    start_ = now_;
  }

  // `n` events in all, and at least `after_opening` after the opening.
  std::vector<v1::Event> Stream(int n, int after_opening = 0) {
    std::vector<v1::Event> out;
    const int accounts =
        shape_.accounts_min + static_cast<int>(U(shape_.accounts_span));
    if (shape_.target_days > 0) {
      // About 16 events open each account; all are ~3.7 h apart unshrunk.
      const int64_t events = std::max(n, 16 * accounts + after_opening);
      divisor_ = std::max<int64_t>(
          1, events * (3 * kHour + 42 * kMin) / (shape_.target_days * kDay));
    }
    for (int i = 0; i < accounts; ++i) out.push_back(OpenAccount(false));
    // A working start: money, credit and enabled campaigns in every account.
    for (int i = 0; i < accounts; ++i) {
      const std::string account = accounts_[i].id;
      out.push_back(Deposit(account));
      if (P(70)) out.push_back(Grant(account));
      const int campaigns =
          shape_.campaigns_min + static_cast<int>(U(shape_.campaigns_span));
      for (int j = 0; j < campaigns; ++j) {
        const size_t before = campaigns_.size();
        out.push_back(Campaign(account));
        if (campaigns_.size() > before) {
          out.push_back(
              Status(&campaigns_.back(), v1::CampaignStatusChanged::ENABLE));
        }
      }
    }
    n = std::max(n, static_cast<int>(out.size()) + after_opening);
    while (static_cast<int>(out.size()) < n) {
      v1::Event e = NextEvent(out);
      out.push_back(e);
    }
    return out;
  }

  // The generator's clock: how much simulated time the stream spans.
  int64_t now_us() const { return now_; }
  int64_t start_us() const { return start_; }

 private:
  struct CampaignInfo {
    std::string id;
    std::string account;
    v1::DeliveryReported::Kind billable;
    bool enabled = false;  // as the generator meant it (may be refused)
    bool faulted = false;  // fault-marked delivery was sent
    int64_t fault_time = 0;  // when, last
    v1::BudgetMode mode = v1::BUDGET_MODE_UNSPECIFIED;
    int64_t budget = 0;  // as sent (may be an edge the ledger refuses)
    int64_t price = 0;
    int64_t per_units = 1;  // 1000 for CPM
  };
  struct AccountInfo {
    std::string id;
    int64_t opened_at;
  };

  uint64_t U(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool P(int percent) { return U(100) < static_cast<uint64_t>(percent); }
  bool P10k(int per_10000) {
    return U(10000) < static_cast<uint64_t>(per_10000);
  }
  // A span of simulated time, shrunk for a large book (many more events in
  // about the same number of days).
  int64_t Span(int64_t us) const { return us / divisor_; }

  // t - d, saturating: t may be an int64 edge (Edge), and the generator's
  // own arithmetic must not overflow (UBSan runs this test).
  static int64_t Before(int64_t t, int64_t d) {
    int64_t r;
    return __builtin_sub_overflow(t, d, &r) ? INT64_MIN : r;
  }

  // Issue 9: now and then, `normal` becomes an edge of int64 or of the
  // documented bounds (R11): at, just past, and far past them.
  int64_t Edge(int64_t normal, int64_t bound) {
    if (!P10k(shape_.edges_per_10000)) return normal;
    const int64_t edges[] = {0,         1,         -1,        bound,
                             bound + 1, bound - 1, INT64_MAX, INT64_MIN,
                             kAccountFundsMaxMicros};
    return edges[U(std::size(edges))];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[U(v.size())];
  }

  void Tick() {
    const uint64_t r = U(100);
    if (r < 55) {
      now_ += U(Span(10 * kMin));
    } else if (r < 88) {
      now_ += U(Span(3 * kHour));
    } else if (r < 98) {
      now_ += U(Span(kDay));
    } else {
      now_ += U(Span(4 * kDay));
    }
  }

  // `soon`: a follow-up, minutes after the event before it (the same local
  // day, mostly).
  v1::Event Base(bool soon = false) {
    if (soon) {
      now_ += U(Span(20 * kMin));
    } else {
      Tick();
    }
    v1::Event e;
    // Now and then a huge id (R10 must still hold at the top of uint64).
    e.set_event_id(P(1) ? UINT64_MAX - U(3) : next_id_++);
    // Some events arrive late: stamped before the clock.
    e.set_time_us(P(4) ? now_ - static_cast<int64_t>(U(2 * kDay)) : now_);
    // Some lie about time: years ahead (moving only their account's clock,
    // R6), at or past the time bound, or at an int64 edge.
    if (P10k(shape_.lies_per_10000)) {
      e.set_time_us(now_ + static_cast<int64_t>(1 + U(80)) * 365 * kDay);
    }
    e.set_time_us(Edge(e.time_us(), kTimeMaxUs));
    // One far jump per stream (a lie, or a time at the R11 bound, that the
    // ledger accepts): each makes both ledgers fire every midnight on the
    // way (R4, R6), decades of them, and takes its account out of the rest
    // of the stream. Later ones keep their normal time.
    if (e.time_us() > now_ + 400 * kDay && e.time_us() <= kTimeMaxUs) {
      if (far_jumped_) e.set_time_us(now_);
      far_jumped_ = true;
    }
    return e;
  }

  std::string AnyAccount() {
    if (accounts_.empty() || P(2)) return "ghost";
    return Pick(accounts_).id;
  }
  CampaignInfo* AnyCampaign() {
    if (campaigns_.empty()) return nullptr;
    return &campaigns_[U(campaigns_.size())];
  }
  // Mostly a campaign meant to be enabled (or, for disputes, one that had
  // fault-marked delivery), so that money moves.
  CampaignInfo* LiveCampaign(bool faulted = false) {
    std::vector<CampaignInfo*> live;
    for (auto& c : campaigns_) {
      if (faulted ? c.faulted : c.enabled) live.push_back(&c);
    }
    if (live.empty() || P(20)) return AnyCampaign();
    return live[U(live.size())];
  }

  v1::Event OpenAccount(bool allow_bad) {
    static constexpr int kOffsets[] = {0, 60, -300, 330, 540, 840, -720, -570,
                                       120, -180, 345, 61};
    v1::Event e = Base();
    auto* m = e.mutable_account_opened();
    std::string id = "acc" + std::to_string(accounts_.size());
    if (allow_bad && !accounts_.empty() && P(20)) id = Pick(accounts_).id;
    m->set_account_id(id);
    m->set_currency(allow_bad && P(5) ? "usd" : (P(50) ? "USD" : "EUR"));
    // The last two offsets are invalid (quarter hour, odd minute).
    const int n = allow_bad ? 12 : 10;
    m->set_utc_offset_minutes(kOffsets[U(n)]);
    m->set_funding_order(P(50) ? v1::FUNDING_ORDER_CREDIT_FIRST
                               : v1::FUNDING_ORDER_CASH_FIRST);
    m->set_name("Account " + id);
    bool known = false;
    for (const auto& a : accounts_) known |= a.id == id;
    if (!known) accounts_.push_back({id, e.time_us()});
    return e;
  }

  v1::Event Deposit(std::string account = "") {
    v1::Event e = Base();
    auto* m = e.mutable_cash_deposited();
    m->set_account_id(account.empty() ? AnyAccount() : account);
    int64_t amount = 1 + static_cast<int64_t>(U(150 * kUnit));
    if (P(4)) amount = -static_cast<int64_t>(U(3)) * kUnit;  // 0 or negative
    m->set_amount_micros(Edge(amount, kAmountMaxMicros));
    m->set_reference("p" + std::to_string(e.event_id()));
    // Money in, then a daily campaign (perhaps paused for funds, R5) is
    // enabled again, usually the same local day.
    if (account.empty() && P(20)) {  // not in the opening of the stream
      if (CampaignInfo* c = DailyCampaignOf(m->account_id())) {
        pending_.push_back(ReEnable(c));
      }
    }
    return e;
  }

  v1::Event Grant(std::string account = "") {
    v1::Event e = Base();
    auto* m = e.mutable_credit_granted();
    if (account.empty()) account = AnyAccount();
    m->set_account_id(account);
    std::string id = "gr" + std::to_string(grants_.size());
    if (!grants_.empty() && P(3)) id = Pick(grants_);
    m->set_grant_id(id);
    grants_.push_back(id);
    int64_t amount = 1 + static_cast<int64_t>(U(80 * kUnit));
    if (P(3)) amount = 0;
    m->set_amount_micros(Edge(amount, kAmountMaxMicros));
    int64_t expires = now_ + 1 + static_cast<int64_t>(U(10 * kDay));
    if (P(15)) expires = now_ + 1 + static_cast<int64_t>(U(6 * kHour));
    if (P(5)) expires = now_ - static_cast<int64_t>(U(kDay));  // expired
    // Staggered expiries that tie exactly.
    if (P(10)) expires = (now_ / kDay + 1 + static_cast<int64_t>(U(3))) * kDay;
    m->set_expires_at_us(Edge(expires, kTimeMaxUs));
    m->set_program(P(50) ? "new advertiser" : "promo");
    if (P(25)) {
      // A coupon for one or two campaigns, usually of the account.
      const int n = 1 + static_cast<int>(U(2));
      for (int i = 0; i < n; ++i) {
        std::vector<const CampaignInfo*> own;
        for (const auto& c : campaigns_) {
          if (c.account == account) own.push_back(&c);
        }
        if (!own.empty() && !P(5)) {
          m->add_campaign_ids(own[U(own.size())]->id);
        } else if (P(10)) {
          // Deliberately bad: another account's or an unknown campaign.
          const CampaignInfo* c = AnyCampaign();
          m->add_campaign_ids(c != nullptr ? c->id : "nocmp");
        }
      }
    }
    return e;
  }

  v1::Event Campaign(std::string account = "") {
    v1::Event e = Base();
    auto* m = e.mutable_campaign_created();
    if (account.empty()) account = AnyAccount();
    m->set_account_id(account);
    std::string id = "cmp" + std::to_string(campaigns_.size());
    if (!campaigns_.empty() && P(2)) id = Pick(campaigns_).id;
    m->set_campaign_id(id);
    m->set_objective(static_cast<v1::Objective>(1 + U(6)));
    const auto billing = static_cast<v1::BillingEvent>(1 + U(4));
    m->set_billing_event(billing);
    int64_t price = billing == v1::BILLING_EVENT_CPM
                        ? 1 + static_cast<int64_t>(U(15 * kUnit))
                        : 1 + static_cast<int64_t>(U(P(70) ? kUnit / 2 : 3 * kUnit));
    if (P(30)) price = 1 + static_cast<int64_t>(U(1000));  // tiny prices
    if (P(3)) price = -static_cast<int64_t>(U(2));
    m->set_price_micros(Edge(price, kAmountMaxMicros));
    const auto mode = static_cast<v1::BudgetMode>(1 + U(3));
    m->set_budget_mode(mode);
    if (mode != v1::BUDGET_MODE_INFINITE) {
      int64_t budget =
          50 * kUnit + static_cast<int64_t>(U((P(70) ? 30 : 250) * kUnit));
      if (P(3)) budget = 50 * kUnit - 1 - static_cast<int64_t>(U(kUnit));
      m->set_budget_micros(Edge(budget, kAmountMaxMicros));
    }
    m->set_creative_reviewed(P(80));
    m->set_audience_defined(P(80));
    if (P(80)) m->set_landing_page_url("https://example.com/" + id);
    static constexpr v1::DeliveryReported::Kind kBillable[] = {
        v1::DeliveryReported::KIND_UNSPECIFIED, v1::DeliveryReported::IMPRESSION,
        v1::DeliveryReported::CLICK, v1::DeliveryReported::VIDEO_VIEW_2S,
        v1::DeliveryReported::VIDEO_VIEW_6S};
    // Only campaigns meant to be valid are used later, so that one refused
    // campaign does not make a cascade of refused events.
    bool known = false;
    for (const auto& c : campaigns_) known |= c.id == id;
    const bool budget_ok = mode == v1::BUDGET_MODE_INFINITE ||
                           m->budget_micros() >= 50 * kUnit;
    if (!known && account != "ghost" && price > 0 && budget_ok) {
      CampaignInfo& c = campaigns_.emplace_back();
      c.id = id;
      c.account = account;
      c.billable = kBillable[billing];
      c.mode = mode;
      c.budget = m->budget_micros();
      c.price = m->price_micros();
      c.per_units = billing == v1::BILLING_EVENT_CPM ? 1000 : 1;
    }
    return e;
  }

  std::string OwnerOf(const CampaignInfo& c) {
    return P(3) ? AnyAccount() : c.account;
  }

  v1::Event Status(CampaignInfo* c = nullptr,
                   v1::CampaignStatusChanged::Operation op =
                       v1::CampaignStatusChanged::OPERATION_UNSPECIFIED) {
    const bool chosen = op != v1::CampaignStatusChanged::OPERATION_UNSPECIFIED;
    v1::Event e = Base();
    auto* m = e.mutable_campaign_status_changed();
    if (op == v1::CampaignStatusChanged::OPERATION_UNSPECIFIED) {
      const uint64_t r = U(100);
      op = r < 65   ? v1::CampaignStatusChanged::ENABLE
           : r < 93 ? v1::CampaignStatusChanged::DISABLE
                    : v1::CampaignStatusChanged::DELETE;
      // Enable what is not running, pause or delete what is.
      c = op == v1::CampaignStatusChanged::ENABLE ? AnyCampaign()
                                                  : LiveCampaign();
    }
    m->set_account_id(c ? OwnerOf(*c) : AnyAccount());
    m->set_campaign_id(c && !P(2) ? c->id : "nocmp");
    m->set_operation(op);
    if (c != nullptr) c->enabled = op == v1::CampaignStatusChanged::ENABLE;
    // R4: a daily campaign paused and enabled again the same local day
    // gets back only what is left of that day's budget.
    if (c != nullptr && op == v1::CampaignStatusChanged::DISABLE &&
        c->mode == v1::BUDGET_MODE_DAY && P(40)) {
      pending_.push_back(ReEnable(c));
    }
    // A campaign enabled (its hold perhaps short, R4) and soon another of
    // the account paused, freeing funds without money coming in: the short
    // hold is topped up at the next local midnight.
    if (!chosen && c != nullptr && op == v1::CampaignStatusChanged::ENABLE &&
        P(15)) {
      if (CampaignInfo* other = EnabledCampaignOf(c->account, c)) {
        pending_.push_back(Pause(other));
      }
    }
    return e;
  }

  v1::Event Pause(CampaignInfo* c) {
    v1::Event e = Base(/*soon=*/true);
    auto* m = e.mutable_campaign_status_changed();
    m->set_account_id(c->account);
    m->set_campaign_id(c->id);
    m->set_operation(v1::CampaignStatusChanged::DISABLE);
    c->enabled = false;
    return e;
  }

  // An enabled campaign of `account` other than `not_this`, or null.
  CampaignInfo* EnabledCampaignOf(const std::string& account,
                                  const CampaignInfo* not_this = nullptr) {
    std::vector<CampaignInfo*> on;
    for (auto& c : campaigns_) {
      if (c.account == account && c.enabled && &c != not_this) on.push_back(&c);
    }
    return on.empty() ? nullptr : on[U(on.size())];
  }

  // --- A daily-hold story (R4 with R5, R6, R7) ---------------------------
  //
  // A new account with two daily campaigns: D1, enabled first, is held in
  // full; D2 is held short, or in full only with a grant that expires.
  // Then, each step drawn: a delivery to D1 (a charge); a local midnight
  // (a renewal that finds D2 short, so that it is untouched at the next
  // one, or full, so that only the cut that follows can make it short);
  // the grant's expiry (a cut, R6); D1 paused, deleted or rejected (R7):
  // its hold comes free without money coming in, and the next local
  // midnight tops D2 up. Lazy renewal must see D2 as short after each of
  // these paths. The story's events are well-formed and on time.
  v1::Event StoryEvent(int64_t after_us) {
    now_ += after_us;
    v1::Event e;
    e.set_event_id(next_id_++);
    e.set_time_us(now_);
    return e;
  }

  v1::Event StoryCampaign(const std::string& account, int64_t budget) {
    v1::Event e = StoryEvent(1 + U(Span(10 * kMin)));
    auto* m = e.mutable_campaign_created();
    const std::string id = "cmp" + std::to_string(campaigns_.size());
    m->set_account_id(account);
    m->set_campaign_id(id);
    m->set_objective(v1::OBJECTIVE_TRAFFIC);
    m->set_billing_event(v1::BILLING_EVENT_CPC);
    const int64_t price = kUnit / 10 + static_cast<int64_t>(U(kUnit));
    m->set_price_micros(price);
    m->set_budget_mode(v1::BUDGET_MODE_DAY);
    m->set_budget_micros(budget);
    m->set_creative_reviewed(true);
    m->set_audience_defined(true);
    m->set_landing_page_url("https://example.com/" + id);
    CampaignInfo& c = campaigns_.emplace_back();
    c.id = id;
    c.account = account;
    c.billable = v1::DeliveryReported::CLICK;
    c.mode = v1::BUDGET_MODE_DAY;
    c.budget = budget;
    c.price = price;
    return e;
  }

  v1::Event StoryStatus(const CampaignInfo& c,
                        v1::CampaignStatusChanged::Operation op) {
    v1::Event e = StoryEvent(1 + U(Span(20 * kMin)));
    auto* m = e.mutable_campaign_status_changed();
    m->set_account_id(c.account);
    m->set_campaign_id(c.id);
    m->set_operation(op);
    return e;
  }

  v1::Event StoryAdvance(const std::string& account, int64_t after_us) {
    v1::Event e = StoryEvent(after_us);
    e.mutable_clock_advanced()->set_account_id(account);
    return e;
  }

  void Story(std::vector<v1::Event>* out) {
    v1::Event open = OpenAccount(false);
    open.set_event_id(next_id_++);  // whatever Base drew: on time, fresh id
    open.set_time_us(now_);
    accounts_.back().opened_at = now_;
    out->push_back(std::move(open));
    const std::string account = accounts_.back().id;
    const int64_t b1 = 50 * kUnit + static_cast<int64_t>(U(20 * kUnit));
    const int64_t b2 = 50 * kUnit + static_cast<int64_t>(U(20 * kUnit));
    // Cash backs D1 and part of D2; a grant (a coupon for D2, or for any
    // campaign) backs some more of D2, or all the rest, until it expires.
    const bool full = P(40);
    const bool midnight_first = P(40);
    const auto upto = [this](int64_t n) {
      return static_cast<int64_t>(U(static_cast<uint64_t>(n)));
    };
    const int64_t cash = b1 + upto(b2 / 2);
    v1::Event deposit = StoryEvent(1 + U(Span(10 * kMin)));
    deposit.mutable_cash_deposited()->set_account_id(account);
    deposit.mutable_cash_deposited()->set_amount_micros(cash);
    deposit.mutable_cash_deposited()->set_reference("story");
    out->push_back(std::move(deposit));
    out->push_back(StoryCampaign(account, b1));
    const size_t d1 = campaigns_.size() - 1;
    out->push_back(StoryCampaign(account, b2));
    const size_t d2 = campaigns_.size() - 1;
    v1::Event grant = StoryEvent(1 + U(Span(10 * kMin)));
    auto* g = grant.mutable_credit_granted();
    g->set_account_id(account);
    g->set_grant_id("gr" + std::to_string(grants_.size()));
    grants_.push_back(g->grant_id());
    g->set_amount_micros(full ? b1 + b2 - cash + upto(b2 / 4)
                              : 1 + upto(b2 / 2));
    // After the first midnight of the story, if that comes first.
    const int64_t expires = now_ + (midnight_first ? kDay : 0) + Span(kHour) +
                            static_cast<int64_t>(U(Span(3 * kHour)));
    g->set_expires_at_us(expires);
    g->set_program("story");
    if (P(40)) g->add_campaign_ids(campaigns_[d2].id);
    out->push_back(std::move(grant));
    out->push_back(
        StoryStatus(campaigns_[d1], v1::CampaignStatusChanged::ENABLE));
    out->push_back(
        StoryStatus(campaigns_[d2], v1::CampaignStatusChanged::ENABLE));
    campaigns_[d1].enabled = campaigns_[d2].enabled = true;
    if (P(30)) {  // D1 charged
      v1::Event e = StoryEvent(1 + U(Span(20 * kMin)));
      auto* m = e.mutable_delivery_reported();
      m->set_account_id(account);
      m->set_campaign_id(campaigns_[d1].id);
      m->set_kind(v1::DeliveryReported::CLICK);
      m->set_count(1 + static_cast<int64_t>(U(20)));
      out->push_back(std::move(e));
    }
    const auto past_expiry = [&] {  // D2 cut (R6)
      return StoryAdvance(account, std::max<int64_t>(0, expires - now_) + 1 +
                                       static_cast<int64_t>(U(Span(kHour))));
    };
    if (midnight_first) {
      out->push_back(StoryAdvance(account, kDay));
      out->push_back(past_expiry());
    } else {
      if (P(70)) out->push_back(past_expiry());
      if (P(40)) out->push_back(StoryAdvance(account, kDay));
    }
    const uint64_t how = U(10);
    if (how < 6) {
      out->push_back(
          StoryStatus(campaigns_[d1], v1::CampaignStatusChanged::DISABLE));
    } else if (how < 8) {
      out->push_back(
          StoryStatus(campaigns_[d1], v1::CampaignStatusChanged::DELETE));
    } else {
      v1::Event e = StoryEvent(1 + U(Span(20 * kMin)));
      auto* m = e.mutable_ad_reviewed();
      m->set_account_id(account);
      m->set_campaign_id(campaigns_[d1].id);
      m->set_result(v1::AdReviewed::REJECTED_AFTER_SERVING);
      m->set_reason("policy");
      out->push_back(std::move(e));
    }
    campaigns_[d1].enabled = false;
    // The next local midnight: D2 topped up from D1's freed hold.
    out->push_back(StoryAdvance(account, kDay));
  }

  v1::Event ReEnable(CampaignInfo* c) {
    v1::Event e = Base(/*soon=*/true);
    auto* m = e.mutable_campaign_status_changed();
    m->set_account_id(c->account);
    m->set_campaign_id(c->id);
    m->set_operation(v1::CampaignStatusChanged::ENABLE);
    c->enabled = true;
    return e;
  }

  // A daily campaign of `account`, or null.
  CampaignInfo* DailyCampaignOf(const std::string& account) {
    std::vector<CampaignInfo*> daily;
    for (auto& c : campaigns_) {
      if (c.account == account && c.mode == v1::BUDGET_MODE_DAY) {
        daily.push_back(&c);
      }
    }
    return daily.empty() ? nullptr : daily[U(daily.size())];
  }

  // A running campaign's budget, mode or price (CampaignUpdated); the
  // generator's idea of the mode follows only when it was sent in range.
  v1::Event Update() {
    v1::Event e = Base();
    auto* m = e.mutable_campaign_updated();
    CampaignInfo* c = LiveCampaign();
    m->set_account_id(c ? OwnerOf(*c) : AnyAccount());
    m->set_campaign_id(c ? c->id : "nocmp");
    const uint64_t what = U(8);
    if (what < 4) m->set_budget_micros(Edge(50 * kUnit + static_cast<int64_t>(U(200 * kUnit)), kAmountMaxMicros));
    if (what >= 3 && what < 6) {
      const v1::BudgetMode mode = static_cast<v1::BudgetMode>(1 + U(3));
      m->set_budget_mode(mode);
      if (mode == v1::BUDGET_MODE_INFINITE) {
        m->set_budget_micros(0);
      } else if (!m->has_budget_micros()) {
        m->set_budget_micros(50 * kUnit + static_cast<int64_t>(U(200 * kUnit)));
      }
      if (c) c->mode = mode;
    }
    if (what >= 5) m->set_price_micros(Edge(1 + static_cast<int64_t>(U(3 * kUnit)), kAmountMaxMicros));
    return e;
  }

  v1::Event Review() {
    v1::Event e = Base();
    auto* m = e.mutable_ad_reviewed();
    const CampaignInfo* c = LiveCampaign();
    m->set_account_id(c ? OwnerOf(*c) : AnyAccount());
    m->set_campaign_id(c ? c->id : "nocmp");
    const uint64_t r = U(100);
    m->set_result(r < 70   ? v1::AdReviewed::APPROVED
                  : r < 82 ? v1::AdReviewed::REJECTED_BEFORE_SERVING
                           : v1::AdReviewed::REJECTED_AFTER_SERVING);
    m->set_reason("policy");
    return e;
  }

  v1::Event Delivery() {
    v1::Event e = Base();
    auto* m = e.mutable_delivery_reported();
    CampaignInfo* c = LiveCampaign();
    m->set_account_id(c ? OwnerOf(*c) : AnyAccount());
    m->set_campaign_id(c && !P(2) ? c->id : "nocmp");
    auto kind = c && P(85) ? c->billable
                           : static_cast<v1::DeliveryReported::Kind>(1 + U(5));
    m->set_kind(kind);
    int64_t count = kind == v1::DeliveryReported::IMPRESSION
                        ? 1 + static_cast<int64_t>(U(P(50) ? 30 : 8000))
                        : 1 + static_cast<int64_t>(U(P(50) ? 3 : 40));
    if (c != nullptr && kind == c->billable && c->mode == v1::BUDGET_MODE_DAY &&
        c->price > 0 && P(15)) {
      // R4: the whole daily budget's worth and more (OVER_BUDGET, or a pause
      // for funds), or half of it (a hold charged partly, short until the
      // next midnight or the next money in).
      const __int128 buys =
          static_cast<__int128>(std::max<int64_t>(c->budget, 0)) *
          c->per_units / c->price;
      const __int128 want = P(50) ? buys + 1 + U(3) : buys / 2 + 1;
      count = static_cast<int64_t>(std::min<__int128>(want, kCountMax));
    }
    if (P(2)) count = -static_cast<int64_t>(U(2));
    m->set_count(Edge(count, kCountMax));
    m->set_platform_fault(P(20));
    if (c != nullptr && m->platform_fault()) {
      // A delivery stamped outside the time bounds is refused: not a fault.
      if (e.time_us() >= 0 && e.time_us() <= kTimeMaxUs) {
        c->faulted = true;
        c->fault_time = e.time_us();
      }
    }
    return e;
  }

  v1::Event Dispute() {
    v1::Event e = Base();
    auto* m = e.mutable_dispute_filed();
    std::string id = "dsp" + std::to_string(disputes_.size());
    if (!disputes_.empty() && P(3)) id = Pick(disputes_);
    disputes_.push_back(id);
    m->set_dispute_id(id);
    const CampaignInfo* c = LiveCampaign(/*faulted=*/true);
    m->set_account_id(c ? OwnerOf(*c) : AnyAccount());
    m->set_campaign_id(c ? c->id : "nocmp");
    m->set_reason(P(55) ? static_cast<v1::DisputeReason>(7 + U(2))
                        : static_cast<v1::DisputeReason>(1 + U(6)));
    int64_t start = now_ - static_cast<int64_t>(U((P(70) ? 1 : 3) * kDay));
    // Usually a window around the campaign's last fault-marked delivery.
    if (c != nullptr && c->faulted && P(70)) {
      start = std::max<int64_t>(0, Before(c->fault_time, static_cast<int64_t>(U(kHour))));
    }
    m->set_window_start_us(start);
    m->set_window_end_us(start + 1 + static_cast<int64_t>(U(4 * kDay)));
    int64_t claimed = 1 + static_cast<int64_t>(U(40 * kUnit));
    if (P(3)) claimed = -static_cast<int64_t>(U(2));
    m->set_claimed_micros(Edge(claimed, kAmountMaxMicros));
    for (auto ev : {v1::EVIDENCE_SCREENSHOT, v1::EVIDENCE_SPEND_REPORT,
                    v1::EVIDENCE_DELIVERY_DATA}) {
      if (P(70)) m->add_evidence(ev);
    }
    m->set_description("d");
    return e;
  }

  v1::Event Evidence() {
    v1::Event e = Base();
    auto* m = e.mutable_dispute_evidence_added();
    m->set_dispute_id(disputes_.empty() || P(3) ? "nodsp" : Pick(disputes_));
    for (auto ev : {v1::EVIDENCE_SCREENSHOT, v1::EVIDENCE_SPEND_REPORT,
                    v1::EVIDENCE_DELIVERY_DATA}) {
      if (P(50)) m->add_evidence(ev);
    }
    return e;
  }

  v1::Event Decision() {
    v1::Event e = Base();
    auto* m = e.mutable_dispute_decided();
    m->set_dispute_id(disputes_.empty() || P(3) ? "nodsp" : Pick(disputes_));
    m->set_verified(P(55));
    m->set_amount_micros(Edge(1 + static_cast<int64_t>(U(30 * kUnit)), kAmountMaxMicros));
    m->set_investigator("inv");
    return e;
  }

  v1::Event Advance() {
    // Now and then across many local midnights at once: R4 renews the
    // daily holds at each of them in turn, with R6 expiries in between.
    now_ += P(shape_.long_jump_percent) ? U(40 * kDay) : U(Span(2 * kDay));
    v1::Event e = Base();
    // One account's clock only, now and then (R6: no other clock moves).
    if (P(25)) e.mutable_clock_advanced()->set_account_id(AnyAccount());
    e.mutable_clock_advanced();
    return e;
  }

  v1::Event BadFact() {
    switch (U(5)) {
      case 0: {
        v1::Event e = Deposit();
        e.set_event_id(0);
        return e;
      }
      case 1: {
        v1::Event e = Deposit();
        e.set_time_us(-1 - static_cast<int64_t>(U(1000)));
        return e;
      }
      case 2: {
        v1::Event e = Base();  // no payload
        return e;
      }
      case 3: {
        // Stamped before its account opened.
        v1::Event e = Deposit();
        const AccountInfo& a = Pick(accounts_);
        e.mutable_cash_deposited()->set_account_id(a.id);
        e.set_time_us(Before(a.opened_at, 1 + static_cast<int64_t>(U(kHour))));
        return e;
      }
      default: {
        v1::Event e = Grant();  // a grant that has already expired
        e.mutable_credit_granted()->set_expires_at_us(
            Before(e.time_us(), static_cast<int64_t>(U(kHour))));
        return e;
      }
    }
  }

  v1::Event NextEvent(const std::vector<v1::Event>& sent) {
    if (!pending_.empty()) {  // a follow-up decided with the event before
      v1::Event e = std::move(pending_.front());
      pending_.erase(pending_.begin());
      return e;
    }
    // Repeat an earlier event: applied ones must be duplicates; refused ones
    // are judged again.
    if (!sent.empty() && P(4)) return sent[U(sent.size())];
    if (stories_ < shape_.stories_max && U(1000) < 3) {
      stories_++;
      std::vector<v1::Event> story;
      Story(&story);
      for (size_t i = 1; i < story.size(); ++i) {
        pending_.push_back(std::move(story[i]));
      }
      return std::move(story[0]);
    }
    const uint64_t r = U(1000);
    if (r < 400) return Delivery();
    if (r < 460) return Deposit();
    if (r < 530) return Grant();
    if (r < 590) return Campaign();
    if (r < 690) return Status();
    if (r < 730) return Review();
    if (r < 800) return Dispute();
    if (r < 840) return Evidence();
    if (r < 880) return Decision();
    if (r < 920) return Advance();
    if (r < 930) return OpenAccount(true);
    if (r < 950) return Update();
    return BadFact();
  }

  const BookShape shape_;
  int64_t divisor_ = 1;  // of the time between events (target_days)
  std::mt19937_64 rng_;
  int64_t now_ = kStart;
  int64_t start_ = kStart;
  uint64_t next_id_ = 1;
  std::vector<v1::Event> pending_;
  bool far_jumped_ = false;
  int stories_ = 0;
  std::vector<AccountInfo> accounts_;
  std::vector<CampaignInfo> campaigns_;
  std::vector<std::string> grants_;
  std::vector<std::string> disputes_;
};

// --- The checks ----------------------------------------------------------------

class StepSink : public EntrySink {
 public:
  void Add(const Entry& e) override { entries.push_back(e); }
  std::vector<Entry> entries;
};

// The balance, campaign and dispute views (what Report() lists, without its
// counters and the digest, which is costly to compute on every event).
std::string Views(const Ledger& l) {
  std::string out;
  for (uint32_t ai = 0; ai < l.accounts().size(); ++ai) {
    out += l.Balance(l.account_id(ai))->SerializeAsString() + "|";
  }
  out += "#";
  for (uint32_t ci = 0; ci < l.campaigns().size(); ++ci) {
    out += l.Spend(l.campaign_id(ci))->SerializeAsString() + "|";
  }
  out += "#";
  for (const Dispute& d : l.disputes()) {
    out += l.DisputeState(d.id)->SerializeAsString() + "|";
  }
  return out;
}

const char* OutcomeName(Ledger::Outcome o) {
  switch (o) {
    case Ledger::Outcome::kApplied: return "applied";
    case Ledger::Outcome::kDuplicate: return "duplicate";
    case Ledger::Outcome::kRejected: return "rejected";
  }
  return "?";
}

// --- Eager against lazy renewal (R4) -----------------------------------------
//
// The ledger under test renews, at each local midnight, only the daily holds
// that can be short; the reference (LedgerOptions::renew_every_daily_hold)
// tops up every daily hold of the account. Fed the same events, they must
// give the same outcome and the same entries field by field (seq, time,
// balances after), the same state after every event and the same Digest.

LedgerOptions EagerRenewal() {
  LedgerOptions options;  // otherwise the options every Ledger here uses
  options.renew_every_daily_hold = true;
  return options;
}

std::string DeterministicBytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

// The numbers behind the balance, spend and dispute views, row by row:
// cheap enough to compare after every event, even of a large book, where
// Views() builds and serializes a proto per row. Derived bookkeeping (timers,
// what lazy renewal remembers) is left out: it is not state.
template <typename Fn>
void ForEachNumber(const Ledger& l, Fn fn) {
  for (uint32_t ai = 0; ai < l.accounts().size(); ++ai) {
    const Account& a = l.accounts()[ai];
    const std::string id(l.account_id(ai));
    fn("account", id, "clock_us", a.clock_us);
    fn("account", id, "cash", a.cash);
    fn("account", id, "credit", a.credit);
    fn("account", id, "frozen", a.frozen);
    fn("account", id, "spent", a.spent);
    fn("account", id, "expired", a.expired);
    fn("account", id, "adjusted", a.adjusted);
  }
  for (uint32_t ci = 0; ci < l.campaigns().size(); ++ci) {
    const Campaign& c = l.campaigns()[ci];
    const std::string_view id = l.campaign_id(ci);
    fn("campaign", id, "status", static_cast<int64_t>(c.status));
    fn("campaign", id, "review", static_cast<int64_t>(c.review));
    fn("campaign", id, "hold", c.hold);
    fn("campaign", id, "billed_units", c.billed_units);
    fn("campaign", id, "billed_micros", l.billed_micros(ci));
    fn("campaign", id, "day_index", c.day_index);
    fn("campaign", id, "day_spent", c.day_spent);
  }
  for (uint32_t gi = 0; gi < l.grants().size(); ++gi) {
    const Grant& g = l.grants()[gi];
    fn("grant", l.grant_id(gi), "remaining", g.remaining);
    fn("grant", l.grant_id(gi), "expired", g.expired ? 1 : 0);
  }
  for (const Dispute& d : l.disputes()) {
    fn("dispute", d.id, "status", static_cast<int64_t>(d.status));
    fn("dispute", d.id, "adjusted", d.adjusted);
  }
}

void TakeNumbers(const Ledger& l, std::vector<int64_t>* out) {
  out->clear();
  ForEachNumber(l, [out](const char*, std::string_view, const char*,
                         int64_t v) { out->push_back(v); });
}

// "table id field" of the k-th number of TakeNumbers.
std::string NumberName(const Ledger& l, size_t k) {
  std::string name = "?";
  size_t i = 0;
  ForEachNumber(l, [&](const char* table, std::string_view id,
                       const char* field, int64_t) {
    if (i++ == k) {
      name = std::string(table) + " " + std::string(id) + " " + field;
    }
  });
  return name;
}

// "" if the numbers agree, else the first that differs, named.
std::string CompareNumbers(const Ledger& a, const std::vector<int64_t>& na,
                           const char* a_name, const Ledger& b,
                           const std::vector<int64_t>& nb, const char* b_name) {
  std::ostringstream err;
  const auto [ia, ib] =
      std::mismatch(na.begin(), na.end(), nb.begin(), nb.end());
  if (ia == na.end() && ib == nb.end()) return "";
  const size_t k = static_cast<size_t>(ia - na.begin());
  err << "the state differs: ";
  if (ia == na.end() || ib == nb.end()) {
    err << a_name << " has " << na.size() << " numbers, " << b_name << " "
        << nb.size() << "; first extra: "
        << (ia == na.end() ? NumberName(b, k) : NumberName(a, k));
  } else {
    err << NumberName(a, k) << " is " << *ia << " (" << a_name << ") but "
        << *ib << " (" << b_name << ")";
  }
  return err.str();
}

// One event's outcome and entries, in the ledger under test and in the
// eager reference: "" if they agree in every field, else both entries.
std::string CompareWithEager(const Ledger& lazy, const Ledger::Result& r,
                             const std::vector<Entry>& got, const Ledger& eager,
                             const Ledger::Result& want,
                             const std::vector<Entry>& expected) {
  std::ostringstream err;
  err << "lazy renewal differs from the eager reference "
         "(LedgerOptions::renew_every_daily_hold): ";
  if (r.outcome != want.outcome || r.field != want.field ||
      r.reason != want.reason) {
    err << "lazy " << OutcomeName(r.outcome) << " " << r.field << " ("
        << r.reason << "), eager " << OutcomeName(want.outcome) << " "
        << want.field << " (" << want.reason << ")";
    return err.str();
  }
  const size_t n = std::max(got.size(), expected.size());
  for (size_t k = 0; k < n; ++k) {
    v1::LedgerEntry a, b;
    if (k < got.size()) a = lazy.ToProto(got[k]);
    if (k < expected.size()) b = eager.ToProto(expected[k]);
    if (k < got.size() && k < expected.size() &&
        DeterministicBytes(a) == DeterministicBytes(b)) {
      continue;
    }
    err << "entry " << k + 1 << " (lazy made " << got.size() << " entries, "
        << "eager " << expected.size() << ")\n";
    if (k < got.size() && k < expected.size()) {
      std::string report;
      google::protobuf::util::MessageDifferencer differ;
      differ.ReportDifferencesToString(&report);
      differ.Compare(a, b);
      err << "lazy -> eager: " << report;
    }
    err << "lazy entry:\n"
        << (k < got.size() ? a.DebugString() : std::string("(none)\n"))
        << "eager entry:\n"
        << (k < expected.size() ? b.DebugString() : std::string("(none)\n"));
    return err.str();
  }
  if (lazy.clock_us() != eager.clock_us() ||
      lazy.entries() != eager.entries()) {
    err << "clock " << lazy.clock_us() << " vs " << eager.clock_us()
        << ", entries " << lazy.entries() << " vs " << eager.entries();
    return err.str();
  }
  return "";
}

// How a run checks. The small streams check everything after every event;
// a large book checks what is proportional to the event after every event
// (Check against Apply, R10, the entries, the rules of the event, the
// differential) and what is proportional to the book every check_every
// events and after the last.
struct SimulationPlan {
  BookShape shape = kSmallBook;
  int events = kEventsPerStream;
  int events_after_opening = 0;
  int check_every = 1;
  bool track_daily = true;  // count the R4 situations (DailyCoverage)
};

// How often the streams reach the R4 situations in which lazy renewal could
// go wrong, counted from the entries and the state (RunSeeds requires each).
struct DailyCoverage {
  uint64_t exhausted = 0;           // OVER_BUDGET on a daily campaign
  uint64_t partly_spent = 0;        // charged, its daily budget not used up
  uint64_t cut = 0;                 // FREEZE_REDUCED of a daily hold (R6)
  uint64_t reenabled_same_day = 0;  // enabled again the local day it spent
  uint64_t coupon_holds = 0;        // daily FREEZE in an account with coupons
  uint64_t cash_first_costs = 0;    // daily COST, cash-first, credit left
  uint64_t long_jumps = 0;          // an event moved a clock >= 3 local days
  // Midnight top-ups of daily holds, by what happened to the hold since the
  // midnight before: charged, cut (and not charged), started (and neither),
  // or nothing of these (short for another reason: funds that were taken
  // by other holds came free, say).
  uint64_t renewed_charged = 0, renewed_cut = 0, renewed_started = 0,
           renewed_untouched = 0;

  void Add(const DailyCoverage& o) {
    exhausted += o.exhausted;
    partly_spent += o.partly_spent;
    cut += o.cut;
    reenabled_same_day += o.reenabled_same_day;
    coupon_holds += o.coupon_holds;
    cash_first_costs += o.cash_first_costs;
    long_jumps += o.long_jumps;
    renewed_charged += o.renewed_charged;
    renewed_cut += o.renewed_cut;
    renewed_started += o.renewed_started;
    renewed_untouched += o.renewed_untouched;
  }
};

int64_t LocalDayOf(const Account& a, int64_t time_us) {
  return FloorDiv(time_us + a.utc_offset_minutes * kMin, kDay);
}
bool IsLocalMidnight(const Account& a, int64_t time_us) {
  return LocalDayOf(a, time_us) * kDay == time_us + a.utc_offset_minutes * kMin;
}

class Simulation {
 public:
  Simulation(uint64_t seed, bool verbose, SimulationPlan plan = {})
      : seed_(seed), verbose_(verbose), plan_(plan) {}

  // Returns "" or the first failure, described.
  std::string Run() {
    g_seed = static_cast<std::sig_atomic_t>(seed_);
    Generator gen(seed_, plan_.shape);
    const std::vector<v1::Event> events =
        gen.Stream(plan_.events, plan_.events_after_opening);
    span_us_ = gen.now_us() - gen.start_us();
    generated_ = events.size();
    const size_t mid = events.size() / 2;
    std::string mid_digest;
    for (size_t i = 0; i < events.size(); ++i) {
      g_event = static_cast<std::sig_atomic_t>(i);
      if (i == mid) {
        mid_digest = ledger_.Digest();
        if (eager_.Digest() != mid_digest) {
          return Where(i, events[i]) + "before it, digest " + mid_digest +
                 ", the eager reference's " + eager_.Digest();
        }
      }
      const bool full =
          (i + 1) % plan_.check_every == 0 || i + 1 == events.size();
      std::string err = Step(events[i], full);
      if (!err.empty()) return Where(i, events[i]) + err;
    }
    const std::string digest = ledger_.Digest();
    g_event = -1;
    const std::string err = CheckAfterStream(events, mid, mid_digest, digest);
    if (err.empty()) return "";
    return "seed=" + std::to_string(seed_) + " after the stream: " + err;
  }

  const Ledger& ledger() const { return ledger_; }
  const DailyCoverage& coverage() const { return coverage_; }
  int64_t span_us() const { return span_us_; }
  size_t generated() const { return generated_; }
  uint64_t applied() const { return applied_; }
  uint64_t rejected() const { return rejected_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t entries() const { return ledger_.entries(); }

 private:
  // The end of a run: both renewal modes agree; replays into fresh
  // ledgers, and through a snapshot taken at `mid`, give the same digest.
  std::string CheckAfterStream(const std::vector<v1::Event>& events, size_t mid,
                               const std::string& mid_digest,
                               const std::string& digest) {
    if (eager_.Digest() != digest) {
      return "digest " + digest + ", the eager reference's " + eager_.Digest();
    }
    if (Views(eager_) != Views(ledger_)) {
      return "the views differ from the eager reference's";
    }

    // Replay: the same events give the same digest.
    {
      Ledger replay;
      for (const auto& e : events) replay.Apply(e, nullptr);
      if (replay.Digest() != digest) {
        return "replay into a fresh Ledger gave digest " + replay.Digest() +
               ", the run gave " + digest;
      }
    }
    // Replay again, deliveries through ApplyDelivery, with a snapshot in the
    // middle restored into another ledger.
    {
      Ledger first;
      for (size_t i = 0; i < mid; ++i) ApplyFast(first, events[i]);
      if (first.Digest() != mid_digest) {
        return "replay with ApplyDelivery differs at event " +
               std::to_string(mid) + ": " + first.Digest() + " vs " +
               mid_digest;
      }
      v1::LedgerState state;
      first.SaveState(&state);
      Ledger second;
      const Status st = second.RestoreState(state);
      if (!st.ok()) return "RestoreState of SaveState failed: " + st.ToString();
      if (second.Digest() != mid_digest) {
        return "RestoreState(SaveState()) changed the digest: " +
               second.Digest() + " vs " + mid_digest;
      }
      for (size_t i = mid; i < events.size(); ++i) ApplyFast(second, events[i]);
      if (second.Digest() != digest) {
        return "replay from a restored snapshot gave digest " +
               second.Digest() + ", the run gave " + digest;
      }
      // The snapshot does not depend on how the ledger renews: restored
      // into the eager reference, it goes on to the same digest (R4).
      Ledger eager(EagerRenewal());
      const Status est = eager.RestoreState(state);
      if (!est.ok()) return "eager RestoreState failed: " + est.ToString();
      for (size_t i = mid; i < events.size(); ++i) ApplyFast(eager, events[i]);
      if (eager.Digest() != digest) {
        return "the snapshot restored into the eager reference gave digest " +
               eager.Digest() + ", the run gave " + digest;
      }
    }
    return "";
  }

  std::string Where(size_t i, const v1::Event& e) const {
    return "seed=" + std::to_string(seed_) + " event #" + std::to_string(i) +
           " {" + e.ShortDebugString() + "}: ";
  }

  static void ApplyFast(Ledger& l, const v1::Event& e) {
    if (e.has_delivery_reported() && e.event_id() != 0 && e.time_us() >= 0) {
      const auto& d = e.delivery_reported();
      const uint32_t c = l.FindCampaign(d.campaign_id());
      if (c != kNoIndex &&
          l.account_id(l.campaigns()[c].account) == d.account_id()) {
        Ledger::DeliveryFact f;
        f.event_id = e.event_id();
        f.time_us = e.time_us();
        f.campaign = c;
        f.kind = d.kind();
        f.count = d.count();
        f.platform_fault = d.platform_fault();
        l.ApplyDelivery(f, nullptr);
        return;
      }
    }
    l.Apply(e, nullptr);
  }

  std::string Step(const v1::Event& e, bool full) {
    const Ledger::Result predicted = ledger_.Check(e);
    // A refused event must leave the views as they were: compared whole in
    // the small streams, through their numbers in a large book.
    const bool whole_views = plan_.check_every == 1;
    std::string views_before;
    if (predicted.outcome != Ledger::Outcome::kApplied) {
      if (whole_views) {
        views_before = Views(ledger_);
      } else {
        TakeNumbers(ledger_, &numbers_before_);
      }
    }
    const DailyBefore daily_before =
        plan_.track_daily ? NoteDaily(e) : DailyBefore{};
    const int64_t clock_before = ledger_.clock_us();
    const uint64_t entries_before = ledger_.entries();
    const size_t grants_before = ledger_.grants().size();
    bool was_enabled = false;
    int64_t units_before = 0, micros_before = 0;
    if (e.has_delivery_reported()) {
      const uint32_t c = ledger_.FindCampaign(e.delivery_reported().campaign_id());
      if (c != kNoIndex) {
        const Campaign& camp = ledger_.campaigns()[c];
        was_enabled = camp.status == Campaign::Status::kEnabled;
        units_before = camp.billed_units;
        micros_before = ledger_.billed_micros(c);
      }
    }
    // A price change restarts R2's cumulative charge (the model's own
    // record of where, for CheckState).
    uint32_t repricing = kNoIndex;
    std::pair<int64_t, int64_t> reprice_at;
    if (e.has_campaign_updated() && e.campaign_updated().has_price_micros()) {
      const uint32_t c = ledger_.FindCampaign(e.campaign_updated().campaign_id());
      if (c != kNoIndex && ledger_.campaigns()[c].price != e.campaign_updated().price_micros()) {
        repricing = c;
        reprice_at = {ledger_.campaigns()[c].billed_units, ledger_.billed_micros(c)};
      }
    }
    sink_.entries.clear();
    const Ledger::Result r = ledger_.Apply(e, &sink_);
    if (repricing != kNoIndex && r.outcome == Ledger::Outcome::kApplied) {
      reprice_base_[repricing] = reprice_at;
    }
    eager_sink_.entries.clear();
    const Ledger::Result eager_r = eager_.Apply(e, &eager_sink_);
    if (verbose_) {
      std::printf("#%llu %s -> %s %s %s\n",
                  static_cast<unsigned long long>(e.event_id()),
                  e.ShortDebugString().c_str(), OutcomeName(r.outcome),
                  r.field.c_str(), r.reason.c_str());
      for (const Entry& x : sink_.entries) {
        std::printf("    %s\n", ledger_.ToProto(x).ShortDebugString().c_str());
      }
    }

    std::string s = CompareWithEager(ledger_, r, sink_.entries, eager_, eager_r,
                                     eager_sink_.entries);
    if (!s.empty()) return s;
    TakeNumbers(ledger_, &numbers_);
    TakeNumbers(eager_, &eager_numbers_);
    s = CompareNumbers(ledger_, numbers_, "lazy", eager_, eager_numbers_,
                       "eager reference");
    if (!s.empty()) return "after the event, " + s;

    std::ostringstream err;
    if (r.outcome != predicted.outcome || r.field != predicted.field) {
      err << "Check() said " << OutcomeName(predicted.outcome) << " "
          << predicted.field << ", Apply() " << OutcomeName(r.outcome) << " "
          << r.field;
      return err.str();
    }
    // R10: exactly the ids already applied are duplicates.
    const bool seen = e.event_id() != 0 && applied_ids_.contains(e.event_id());
    if (seen != (r.outcome == Ledger::Outcome::kDuplicate)) {
      err << "id " << e.event_id() << (seen ? " was" : " was not")
          << " applied before, but the outcome is " << OutcomeName(r.outcome);
      return err.str();
    }
    switch (r.outcome) {
      case Ledger::Outcome::kApplied:
        applied_++;
        applied_ids_.insert(e.event_id());
        if (ledger_.clock_us() != std::max(clock_before, e.time_us())) {
          err << "clock " << ledger_.clock_us() << ", expected max(clock "
              << clock_before << ", time " << e.time_us() << ")";
          return err.str();
        }
        break;
      case Ledger::Outcome::kDuplicate: duplicates_++; break;
      case Ledger::Outcome::kRejected:
        rejected_++;
        if (r.field.empty()) return "rejected without a field";
        break;
    }
    if (r.outcome != Ledger::Outcome::kApplied) {
      // R10, R11: nothing changes but the one entry recording it.
      if (whole_views ? Views(ledger_) != views_before
                      : numbers_ != numbers_before_) {
        return std::string(OutcomeName(r.outcome)) +
               " event changed the balance/campaign/dispute views";
      }
      if (ledger_.clock_us() != clock_before) {
        return std::string(OutcomeName(r.outcome)) + " event moved the clock";
      }
      const v1::EntryKind want = r.outcome == Ledger::Outcome::kDuplicate
                                     ? v1::DUPLICATE
                                     : v1::REJECTED;
      if (sink_.entries.size() != 1 || sink_.entries[0].kind != want) {
        err << OutcomeName(r.outcome) << " event made " << sink_.entries.size()
            << " entries, expected one " << v1::EntryKind_Name(want);
        return err.str();
      }
    }
    if (ledger_.entries() != entries_before + sink_.entries.size()) {
      return "entries() does not count the entries sent to the sink";
    }
    s = CheckEntries(e);
    if (!s.empty()) return s;
    if (r.outcome == Ledger::Outcome::kApplied) {
      s = CheckRules(e, was_enabled, grants_before, units_before,
                     micros_before);
      if (!s.empty()) return s;
    }
    if (plan_.track_daily) TrackDaily(e, r.outcome, daily_before);
    if (!full) return "";
    const Status inv = ledger_.CheckInvariants();
    if (!inv.ok()) return "CheckInvariants: " + inv.ToString();
    if (!whole_views) {  // the small streams compare these at the end
      if (Views(ledger_) != Views(eager_)) {
        return "the views differ from the eager reference's";
      }
      if (ledger_.Digest() != eager_.Digest()) {
        return "digest " + ledger_.Digest() + ", the eager reference's " +
               eager_.Digest();
      }
    }
    return CheckState();
  }

  // Campaigns whose price an update changed: the billed units and micros
  // at the (last) change, from which R2's charge counts.
  std::unordered_map<uint32_t, std::pair<int64_t, int64_t>> reprice_base_;

  // --- Coverage of the R4 situations (DailyCoverage) ---------------------

  // What an event finds before it is applied: an ENABLE's campaign.
  struct DailyBefore {
    uint32_t enabling = kNoIndex;
    bool was_enabled = false;
  };
  static constexpr uint8_t kCharged = 1, kCut = 2, kStarted = 4;

  DailyBefore NoteDaily(const v1::Event& e) const {
    DailyBefore b;
    if (e.has_campaign_status_changed() &&
        e.campaign_status_changed().operation() ==
            v1::CampaignStatusChanged::ENABLE) {
      b.enabling =
          ledger_.FindCampaign(e.campaign_status_changed().campaign_id());
      if (b.enabling != kNoIndex) {
        b.was_enabled = ledger_.campaigns()[b.enabling].status ==
                        Campaign::Status::kEnabled;
      }
    }
    return b;
  }

  // The account's clock has reached local day `day`: the renewal at the
  // first midnight passed judged the holds by what happened since the one
  // before; at any later one, nothing had. Returns the midnights passed.
  int64_t NewDay(uint32_t account, int64_t day) {
    if (day_.size() <= account) day_.resize(account + 1, INT64_MIN);
    int64_t& last = day_[account];
    if (last == INT64_MIN || day <= last) {
      if (last == INT64_MIN) last = day;
      return 0;
    }
    const int64_t passed = day - last;
    for (size_t c = 0; c < ledger_.campaigns().size(); ++c) {
      if (ledger_.campaigns()[c].account != account) continue;
      since_midnight_[c] = passed == 1 ? touched_[c] : 0;
      touched_[c] = 0;
    }
    last = day;
    return passed;
  }

  void TrackDaily(const v1::Event& e, Ledger::Outcome outcome,
                  const DailyBefore& before) {
    const auto& accounts = ledger_.accounts();
    const auto& campaigns = ledger_.campaigns();
    touched_.resize(campaigns.size(), 0);
    since_midnight_.resize(campaigns.size(), 0);
    uint32_t charged = kNoIndex;  // a daily campaign this event charged
    for (const Entry& x : sink_.entries) {
      // Refusals and duplicates carry the latest clock, not the account's.
      if (x.account == kNoIndex || x.kind == v1::REJECTED ||
          x.kind == v1::DUPLICATE) {
        continue;
      }
      const Account& a = accounts[x.account];
      NewDay(x.account, LocalDayOf(a, x.time_us));
      if (x.campaign == kNoIndex ||
          campaigns[x.campaign].budget_mode != v1::BUDGET_MODE_DAY) {
        continue;
      }
      uint8_t& touched = touched_[x.campaign];
      switch (x.kind) {
        case v1::FREEZE: {
          if (a.restricted_grants > 0) coverage_.coupon_holds++;
          // A day timer's top-up: at a local midnight the event's own time
          // is past (or a ClockAdvanced, whose entries are all timers').
          if (!IsLocalMidnight(a, x.time_us) ||
              (x.time_us >= a.clock_us && !e.has_clock_advanced())) {
            break;
          }
          const uint8_t why = since_midnight_[x.campaign];
          if (why & kCharged) {
            coverage_.renewed_charged++;
          } else if (why & kCut) {
            coverage_.renewed_cut++;
          } else if (why & kStarted) {
            coverage_.renewed_started++;
          } else {
            coverage_.renewed_untouched++;
          }
          break;
        }
        case v1::COST:
          touched |= kCharged;
          charged = x.campaign;
          if (a.funding_order == v1::FUNDING_ORDER_CASH_FIRST &&
              x.credit_after > 0) {
            coverage_.cash_first_costs++;
          }
          break;
        case v1::FREEZE_REDUCED:
          touched |= kCut;
          coverage_.cut++;
          break;
        case v1::CAMPAIGN_STATUS:
          touched |= kStarted;
          break;
        case v1::NOT_BILLED:
          if (x.not_billed_reason == v1::OVER_BUDGET) coverage_.exhausted++;
          break;
        default:
          break;
      }
    }
    if (outcome == Ledger::Outcome::kApplied && e.has_ad_reviewed()) {
      const uint32_t c = ledger_.FindCampaign(e.ad_reviewed().campaign_id());
      touched_[c] |= kStarted;  // an approval may start holding again
    }
    // Midnights that made no entry of the account.
    bool jumped = false;
    for (uint32_t i = 0; i < accounts.size(); ++i) {
      jumped |= NewDay(i, LocalDayOf(accounts[i], accounts[i].clock_us)) >= 3;
    }
    if (jumped) coverage_.long_jumps++;
    if (outcome != Ledger::Outcome::kApplied) return;
    if (charged != kNoIndex) {
      const Campaign& c = campaigns[charged];
      if (c.day_spent > 0 && c.day_spent < c.budget) coverage_.partly_spent++;
    }
    if (before.enabling != kNoIndex && !before.was_enabled) {
      const Campaign& c = campaigns[before.enabling];
      const Account& a = accounts[c.account];
      if (c.budget_mode == v1::BUDGET_MODE_DAY &&
          c.status == Campaign::Status::kEnabled && c.day_spent > 0 &&
          c.day_index == LocalDayOf(a, a.clock_us)) {
        coverage_.reenabled_same_day++;
      }
    }
  }

  // May grant `g` fund campaign `c` (R3)?
  bool Funds(uint32_t g, uint32_t c) const {
    const Grant& grant = ledger_.grants()[g];
    const Campaign& campaign = ledger_.campaigns()[c];
    if (grant.account != campaign.account || grant.expired) return false;
    if (ledger_.grant_campaigns(g).empty()) return true;
    for (uint32_t x : ledger_.grant_campaigns(g)) {
      if (x == c) return true;
    }
    return false;
  }

  // Rule checks of one applied event, from its entries and the state after.
  std::string CheckRules(const v1::Event& e, bool was_enabled,
                         size_t grants_before, int64_t units_before,
                         int64_t micros_before) {
    std::ostringstream err;
    const auto& entries = sink_.entries;
    const auto& grants = ledger_.grants();
    // Refunds go to unexpired grants; a new grant is "refund:<dispute>",
    // valid 30 days from now (R9).
    for (const Entry& x : entries) {
      if (x.kind == v1::REFUND && x.grant != kNoIndex && grants[x.grant].expired) {
        return "REFUND to an expired grant " + std::string(ledger_.grant_id(x.grant));
      }
      if (x.kind == v1::REFUND && !e.has_dispute_filed() &&
          !e.has_dispute_evidence_added() && !e.has_dispute_decided()) {
        return "REFUND outside a dispute event";
      }
    }
    for (size_t g = grants_before; g < grants.size(); ++g) {
      if (!grants[g].adjustment) continue;
      const std::string id(ledger_.grant_id(g));
      if (id.rfind("refund:", 0) != 0) {
        return "refund grant " + id + " is not named refund:<dispute id>";
      }
      const Account& owner = ledger_.accounts()[grants[g].account];
      if (grants[g].expires_at_us != owner.clock_us + 30 * kDay) {
        return "refund grant " + id + " does not expire 30 days after the refund";
      }
    }
    if (e.has_dispute_filed()) {
      const auto& m = e.dispute_filed();
      const auto d = ledger_.DisputeState(m.dispute_id());
      if (!d) return "filed dispute not found";
      const bool performance =
          m.reason() >= v1::DISPUTE_REASON_POOR_PERFORMANCE &&
          m.reason() <= v1::DISPUTE_REASON_MONEY_BACK_GUARANTEE;
      if (performance && d->status() != v1::DENIED) {
        return "a performance dispute was not denied when filed (R8)";
      }
      bool spend = false, data = false;
      for (int ev : m.evidence()) {
        spend |= ev == v1::EVIDENCE_SPEND_REPORT;
        data |= ev == v1::EVIDENCE_DELIVERY_DATA;
      }
      if (!performance && !(spend && data) && d->status() != v1::NEEDS_EVIDENCE) {
        return "a billing error without full evidence is not NEEDS_EVIDENCE (R9)";
      }
      if (!performance && spend && data && d->status() != v1::ADJUSTED &&
          d->status() != v1::UNDER_REVIEW) {
        return "a billing error with full evidence was not investigated (R9)";
      }
      for (const Entry& x : entries) {
        if (performance && x.kind == v1::REFUND) return "R8 dispute refunded";
      }
    }
    if (e.has_ad_reviewed() &&
        e.ad_reviewed().result() == v1::AdReviewed::REJECTED_BEFORE_SERVING) {
      const uint32_t c = ledger_.FindCampaign(e.ad_reviewed().campaign_id());
      if (ledger_.served_units(c) != 0) {
        return "REJECTED_BEFORE_SERVING accepted after served delivery (R7)";
      }
    }
    if (!e.has_delivery_reported()) return "";

    // --- Delivery: R1, R2 units, R3 order and eligibility, R4/R5 status.
    const auto& m = e.delivery_reported();
    const uint32_t ci = ledger_.FindCampaign(m.campaign_id());
    const Campaign& c = ledger_.campaigns()[ci];
    const Account& a = ledger_.accounts()[c.account];
    int64_t cost_units = 0, not_billed_units = 0;
    bool insufficient = false, not_billable = false;
    std::vector<const Entry*> costs;
    for (const Entry& x : entries) {
      if (x.kind == v1::COST) {
        if (x.campaign != ci) return "COST for another campaign";
        if (!costs.empty() && x.units != 0) {
          return "units on a COST entry after the first (R3)";
        }
        cost_units += x.units;
        costs.push_back(&x);
      } else if (x.kind == v1::NOT_BILLED) {
        not_billed_units += x.units;
        insufficient |= x.not_billed_reason == v1::INSUFFICIENT_FUNDS;
        not_billable |= x.not_billed_reason == v1::NOT_BILLABLE_KIND;
      }
    }
    // Units billed at no cost (tiny CPM prices) make no COST entry.
    const int64_t billed_units = c.billed_units - units_before;
    int64_t cost_micros = 0;
    for (const Entry* x : costs) cost_micros -= x->balance_delta;
    if (cost_micros != ledger_.billed_micros(ci) - micros_before) {
      err << "COST entries total " << cost_micros << " but the campaign's "
          << "charge grew by " << ledger_.billed_micros(ci) - micros_before;
      return err.str();
    }
    if (!costs.empty() && cost_units != billed_units) {
      err << "COST entries carry " << cost_units << " units, "
          << billed_units << " were billed";
      return err.str();
    }
    if (billed_units + not_billed_units != m.count()) {
      err << "billed " << billed_units << " + not billed " << not_billed_units
          << " units != count " << m.count();
      return err.str();
    }
    if (m.kind() != c.billable_kind) {
      if (!costs.empty() || !not_billable) {
        return "delivery of a kind the campaign does not bill was charged (R1)";
      }
      return "";
    }
    if (!m.platform_fault() && !was_enabled && billed_units != 0) {
      return "a campaign that was not enabled was charged (R5)";
    }
    if (insufficient && c.status == Campaign::Status::kEnabled) {
      return "INSUFFICIENT_FUNDS left the campaign enabled (R5)";
    }
    if (!insufficient && was_enabled && c.status != Campaign::Status::kEnabled) {
      return "delivery paused the campaign without INSUFFICIENT_FUNDS";
    }
    // R3: sources in the account's order; each source before the last one
    // charged was empty or emptied.
    std::vector<uint32_t> order;  // kNoIndex: cash
    if (a.funding_order == v1::FUNDING_ORDER_CASH_FIRST) order.push_back(kNoIndex);
    std::vector<uint32_t> eligible;
    for (uint32_t g = 0; g < grants.size(); ++g) {
      if (Funds(g, ci)) eligible.push_back(g);
    }
    std::sort(eligible.begin(), eligible.end(), [&](uint32_t x, uint32_t y) {
      const Grant& gx = grants[x];
      const Grant& gy = grants[y];
      return std::make_tuple(gx.expires_at_us, gx.order, ledger_.grant_id(x)) <
             std::make_tuple(gy.expires_at_us, gy.order, ledger_.grant_id(y));
    });
    order.insert(order.end(), eligible.begin(), eligible.end());
    if (a.funding_order != v1::FUNDING_ORDER_CASH_FIRST) order.push_back(kNoIndex);
    size_t pos = 0;
    for (size_t k = 0; k < costs.size(); ++k) {
      const Entry& x = *costs[k];
      const uint32_t src = x.funds == v1::FUNDS_TYPE_CASH ? kNoIndex : x.grant;
      if (x.funds == v1::FUNDS_TYPE_GRANT &&
          (x.grant == kNoIndex || !Funds(x.grant, ci))) {
        return "COST from a grant that may not fund the campaign (R3)";
      }
      size_t at = pos;
      while (at < order.size() && order[at] != src) {
        // Skipped: must have been empty.
        const int64_t left = order[at] == kNoIndex ? a.cash
                                                   : grants[order[at]].remaining;
        if (left != 0) {
          return "COST skipped a funding source that had money (R3 order)";
        }
        ++at;
      }
      if (at == order.size()) return "COST sources out of R3 order";
      if (k + 1 < costs.size()) {
        const int64_t left = src == kNoIndex ? x.cash_after
                                             : grants[src].remaining;
        if (left != 0) return "a charge moved on before emptying a source (R3)";
      }
      pos = at + 1;
    }
    return "";
  }

  std::string CheckEntries(const v1::Event& e) {
    std::ostringstream err;
    for (const Entry& x : sink_.entries) {
      if (x.seq != ++seq_) {
        err << "entry seq " << x.seq << ", expected " << seq_;
        return err.str();
      }
      if (x.event_id != e.event_id()) return "entry names another event";
      if (x.time_us > ledger_.clock_us()) return "entry stamped after clock";
      if (x.kind == v1::PROMOTION_EXPIRED) {
        if (x.grant == kNoIndex) return "PROMOTION_EXPIRED without a grant";
        if (!expiry_entries_.insert(x.grant).second) {
          return "grant " + std::string(ledger_.grant_id(x.grant)) + " expired twice";
        }
        if (x.time_us != ledger_.grants()[x.grant].expires_at_us) {
          return "PROMOTION_EXPIRED not stamped at the grant's expiry (R6)";
        }
        if (x.balance_delta >= 0) return "PROMOTION_EXPIRED adds money";
      }
      bool sign_ok = true;
      switch (x.kind) {
        case v1::ADD_BALANCE:
        case v1::PROMOTION_ISSUED:
          sign_ok = x.balance_delta > 0 && x.frozen_delta == 0;
          break;
        case v1::COST: sign_ok = x.balance_delta <= 0 && x.frozen_delta <= 0; break;
        case v1::REFUND: sign_ok = x.balance_delta >= 0; break;
        case v1::FREEZE: sign_ok = x.frozen_delta >= 0 && x.balance_delta == 0; break;
        case v1::RETURN_OF_REMAINING_BUDGET:
        case v1::FREEZE_REDUCED:
          sign_ok = x.frozen_delta <= 0 && x.balance_delta == 0;
          break;
        case v1::NOT_BILLED:
        case v1::DISPUTE_STATUS:
        case v1::CAMPAIGN_STATUS:
        case v1::PRELAUNCH_WARNING:
        case v1::REJECTED:
        case v1::DUPLICATE:
          sign_ok = x.balance_delta == 0 && x.frozen_delta == 0;
          break;
        default: break;
      }
      if (!sign_ok) {
        return "entry deltas do not fit its kind: " +
               ledger_.ToProto(x).ShortDebugString();
      }
      if (x.account == kNoIndex) continue;
      if (x.account >= running_.size()) running_.resize(x.account + 1);
      auto& run = running_[x.account];
      run.first += x.balance_delta;
      run.second += x.frozen_delta;
      if (x.cash_after + x.credit_after != run.first ||
          x.frozen_after != run.second ||
          x.valid_after + x.frozen_after != x.cash_after + x.credit_after) {
        return "entry balances are not the running sum of deltas: " +
               ledger_.ToProto(x).ShortDebugString();
      }
      if (x.cash_after < 0 || x.credit_after < 0 || x.frozen_after < 0 ||
          x.valid_after < 0) {
        return "an entry leaves a negative balance (R12: none negative after "
               "every entry): " + ledger_.ToProto(x).ShortDebugString();
      }
    }
    return "";
  }

  std::string CheckState() {
    const auto& grants = ledger_.grants();
    const auto& campaigns = ledger_.campaigns();
    for (uint32_t ai = 0; ai < ledger_.accounts().size(); ++ai) {
      const Account& a = ledger_.accounts()[ai];
      const std::string id(ledger_.account_id(ai));
      if (a.cash < 0 || a.credit < 0 || a.frozen < 0 || a.valid() < 0) {
        return "account " + id + " has a negative balance (R5)";
      }
      if (a.deposited + a.granted + a.adjusted !=
          a.spent + a.expired + a.cash + a.credit) {
        return "account " + id + " breaks conservation (R12)";
      }
      int64_t credit = 0;
      for (uint32_t g : a.grants) credit += grants[g].remaining;
      if (credit != a.credit) return "account " + id + ": grant sum";
      int64_t frozen = 0;
      for (uint32_t c : a.holding) frozen += campaigns[c].hold;
      if (frozen != a.frozen) return "account " + id + ": hold sum";
    }
    if (grant_expired_.size() < grants.size()) {
      grant_expired_.resize(grants.size(), false);
    }
    for (size_t i = 0; i < grants.size(); ++i) {
      const Grant& g = grants[i];
      const std::string gid(ledger_.grant_id(i));
      // R6: each grant expires by its own account's clock, no other.
      const int64_t clock = ledger_.accounts()[g.account].clock_us;
      if (g.remaining < 0) return "grant " + gid + " negative";
      if (g.expired) {
        if (clock < g.expires_at_us) {
          return "grant " + gid + " expired before the clock reached it (R6)";
        }
        if (g.remaining != 0) return "expired grant " + gid + " still funds";
        grant_expired_[i] = true;
      } else {
        if (grant_expired_[i]) return "grant " + gid + " came back to life";
        if (clock >= g.expires_at_us) {
          return "grant " + gid + " not expired at its expiry (R6)";
        }
      }
    }
    std::vector<int64_t> adjusted(campaigns.size(), 0);
    for (const Dispute& d : ledger_.disputes()) adjusted[d.campaign] += d.adjusted;
    for (size_t i = 0; i < campaigns.size(); ++i) {
      if (adjusted[i] > ledger_.fault(i).billed_micros) {
        return "campaign " + std::string(ledger_.campaign_id(i)) +
               ": disputes adjusted more than its fault-marked charges (R9)";
      }
    }
    for (uint32_t ci = 0; ci < campaigns.size(); ++ci) {
      const Campaign& c = campaigns[ci];
      const std::string id(ledger_.campaign_id(ci));
      if ((c.review == Campaign::Review::kRejectedBeforeServing ||
           c.review == Campaign::Review::kRejectedAfterServing) &&
          c.hold != 0) {
        return "campaign " + id + " holds while its ad is rejected (R7)";
      }
      const auto base = reprice_base_.find(ci);
      const auto [base_units, base_micros] =
          base == reprice_base_.end() ? std::pair<int64_t, int64_t>{0, 0} : base->second;
      if (ledger_.billed_micros(ci) - base_micros !=
          MulDivFloor(c.billed_units - base_units, c.price, c.per_units())) {
        return "campaign " + id + " charge is not floor(n*p/k) (R2)";
      }
      if (c.hold < 0) return "campaign " + id + " negative hold";
      if (c.budget_mode == v1::BUDGET_MODE_TOTAL &&
          c.hold > c.budget - ledger_.billed_micros(ci)) {
        return "campaign " + id + " holds more than its remaining budget";
      }
      if (c.budget_mode == v1::BUDGET_MODE_DAY && c.hold > c.budget) {
        return "campaign " + id + " holds more than its daily budget";
      }
      if (c.budget_mode == v1::BUDGET_MODE_INFINITE && c.hold != 0) {
        return "campaign " + id + " holds with no budget";
      }
      if (c.status != Campaign::Status::kEnabled && c.hold != 0) {
        return "campaign " + id + " holds while not enabled";
      }
    }
    return "";
  }

  const uint64_t seed_;
  const bool verbose_;
  const SimulationPlan plan_;
  Ledger ledger_;  // lazy renewal: LedgerOptions' default
  StepSink sink_;
  Ledger eager_{EagerRenewal()};
  StepSink eager_sink_;
  std::vector<int64_t> numbers_, eager_numbers_, numbers_before_;
  int64_t span_us_ = 0;
  size_t generated_ = 0;
  DailyCoverage coverage_;
  std::vector<int64_t> day_;             // by account: local day seen
  std::vector<uint8_t> touched_;         // by campaign: since the last midnight
  std::vector<uint8_t> since_midnight_;  // by campaign: at the last midnight
  std::unordered_set<uint64_t> applied_ids_;
  std::set<uint32_t> expiry_entries_;
  std::vector<bool> grant_expired_;
  std::vector<std::pair<int64_t, int64_t>> running_;
  uint64_t seq_ = 0;
  uint64_t applied_ = 0, rejected_ = 0, duplicates_ = 0;
};

void CatchCrashes() {
  std::signal(SIGABRT, OnAbort);
  std::signal(SIGSEGV, OnAbort);
  std::signal(SIGFPE, OnAbort);
}
void UncatchCrashes() {
  std::signal(SIGABRT, SIG_DFL);
  std::signal(SIGSEGV, SIG_DFL);
  std::signal(SIGFPE, SIG_DFL);
}

void RunSeeds(uint64_t first, uint64_t last) {
  // Fewer seeds under a sanitizer run (tools/check): the first of the range.
  last = first + test_support::Scaled(last - first + 1) - 1;
  CatchCrashes();
  int failures = 0;
  uint64_t applied = 0, rejected = 0, duplicates = 0, entries = 0;
  DailyCoverage daily;
  for (uint64_t seed = first; seed <= last; ++seed) {
    Simulation sim(seed, false);
    const std::string err = sim.Run();
    applied += sim.applied();
    rejected += sim.rejected();
    duplicates += sim.duplicates();
    entries += sim.entries();
    daily.Add(sim.coverage());
    if (!err.empty()) {
      ADD_FAILURE() << err;
      if (++failures >= 5) {
        ADD_FAILURE() << "stopping after 5 failing seeds (at seed=" << seed
                      << ")";
        break;
      }
    }
  }
  UncatchCrashes();
  // The streams must exercise the ledger, not just its validation.
  EXPECT_GT(applied, 2 * rejected);
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(duplicates, 0u);
  EXPECT_GT(entries, applied);
  // The differential against eager renewal means something only if the
  // streams reach the daily-budget situations lazy renewal must get right.
  std::printf(
      "seeds %llu-%llu, daily budgets: %llu exhausted, %llu partly "
      "spent, %llu cut by expiry, %llu re-enabled the same day, "
      "%llu held beside coupons, %llu cash-first costs, %llu jumps "
      ">= 3 days; midnight top-ups after a charge %llu, a cut %llu, "
      "a start %llu, none of these %llu\n",
      static_cast<unsigned long long>(first),
      static_cast<unsigned long long>(last),
      static_cast<unsigned long long>(daily.exhausted),
      static_cast<unsigned long long>(daily.partly_spent),
      static_cast<unsigned long long>(daily.cut),
      static_cast<unsigned long long>(daily.reenabled_same_day),
      static_cast<unsigned long long>(daily.coupon_holds),
      static_cast<unsigned long long>(daily.cash_first_costs),
      static_cast<unsigned long long>(daily.long_jumps),
      static_cast<unsigned long long>(daily.renewed_charged),
      static_cast<unsigned long long>(daily.renewed_cut),
      static_cast<unsigned long long>(daily.renewed_started),
      static_cast<unsigned long long>(daily.renewed_untouched));
  EXPECT_GT(daily.exhausted, 0u);
  EXPECT_GT(daily.partly_spent, 0u);
  EXPECT_GT(daily.cut, 0u);
  EXPECT_GT(daily.reenabled_same_day, 0u);
  EXPECT_GT(daily.coupon_holds, 0u);
  EXPECT_GT(daily.cash_first_costs, 0u);
  EXPECT_GT(daily.long_jumps, 0u);
  EXPECT_GT(daily.renewed_charged, 0u);
  EXPECT_GT(daily.renewed_cut, 0u);
  EXPECT_GT(daily.renewed_started, 0u);
  EXPECT_GT(daily.renewed_untouched, 0u);
  ::testing::Test::RecordProperty("events_applied",
                                  static_cast<int>(applied));
}

TEST(LedgerPropertyTest, Seeds1To2500) { RunSeeds(1, 2500); }
TEST(LedgerPropertyTest, Seeds2501To5000) { RunSeeds(2501, 5000); }
TEST(LedgerPropertyTest, Seeds5001To7500) { RunSeeds(5001, 7500); }
TEST(LedgerPropertyTest, Seeds7501To10000) { RunSeeds(7501, 10000); }

// A large book (issue 11): hundreds of accounts in every time zone,
// thousands of campaigns of every budget mode, coupons, more than a month of
// delivery spread over the book, status changes, reviews, expiries,
// disputes, ClockAdvanced for every account. After every event: Check
// against Apply, R10, the entries, the rules of the event, and the
// differential against eager renewal (entries and state); every
// check_every events and after the last: CheckInvariants, the independent
// state checks, the views and digests of both ledgers; then a replay into a
// fresh ledger and one through a snapshot restored in the middle, into both
// renewal modes (Simulation::Run). Scaled down under the sanitizers.
TEST(LedgerPropertyTest, LargeBooks) {
  const uint64_t seeds = test_support::Scaled(3);
  const int events = static_cast<int>(test_support::Scaled(25'000));
  CatchCrashes();
  for (uint64_t k = 0; k < seeds; ++k) {
    const uint64_t seed = 1'000'001 + k;  // not one of the small streams'
    SimulationPlan plan;
    plan.shape = kLargeBook;
    plan.events = 0;
    plan.events_after_opening = events;
    plan.check_every = 500;
    plan.track_daily = false;  // O(book) per event; the small streams count
    Simulation sim(seed, false, plan);
    const auto start = std::chrono::steady_clock::now();
    const std::string err = sim.Run();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (!err.empty()) ADD_FAILURE() << "large book " << err;
    const Ledger& l = sim.ledger();
    uint64_t daily = 0, expired = 0;
    std::set<int32_t> zones;
    for (const Campaign& c : l.campaigns())
      daily += c.budget_mode == v1::BUDGET_MODE_DAY;
    for (const Grant& g : l.grants()) expired += g.expired;
    for (const Account& a : l.accounts()) zones.insert(a.utc_offset_minutes);
    std::printf(
        "large book seed=%llu: %zu accounts, %zu campaigns (%llu "
        "daily), %zu grants (%llu expired), %zu disputes, %zu events "
        "(%llu applied), %llu entries, %.1f days, %llu day timers, "
        "%.2f s\n",
        static_cast<unsigned long long>(seed), l.accounts().size(),
        l.campaigns().size(), static_cast<unsigned long long>(daily),
        l.grants().size(), static_cast<unsigned long long>(expired),
        l.disputes().size(), sim.generated(),
        static_cast<unsigned long long>(sim.applied()),
        static_cast<unsigned long long>(l.entries()),
        static_cast<double>(sim.span_us()) / kDay,
        static_cast<unsigned long long>(l.timer_work().days), seconds);
    // The book is as large and as long-lived as it claims.
    EXPECT_GE(l.accounts().size(), 200u);
    EXPECT_GE(l.campaigns().size(), 2'000u);
    EXPECT_LE(l.campaigns().size(), 5'000u);
    EXPECT_GE(daily, l.campaigns().size() / 5);
    EXPECT_GE(zones.size(), 8u);
    EXPECT_GE(sim.span_us(), 30 * kDay);
    EXPECT_GT(expired, 0u);
    EXPECT_GT(l.disputes().size(), 0u);
    EXPECT_GT(sim.applied(), 2 * sim.rejected());
    if (!err.empty()) break;
  }
  UncatchCrashes();
}

// Without this the differential compares a ledger with itself.
TEST(LedgerPropertyTest, TheReferenceRenewsEveryDailyHold) {
  EXPECT_FALSE(LedgerOptions{}.renew_every_daily_hold);
  EXPECT_TRUE(EagerRenewal().renew_every_daily_hold);
}

TEST(LedgerPropertyTest, ReplaySeedFromEnvironment) {
  // Without BILLSIM_PROPERTY_SEED it runs seed 0, which the ranges above
  // leave out: a check, never a skip.
  const char* s = std::getenv("BILLSIM_PROPERTY_SEED");
  const uint64_t seed = s == nullptr ? 0 : std::strtoull(s, nullptr, 10);
  const bool verbose = std::getenv("BILLSIM_PROPERTY_VERBOSE") != nullptr;
  CatchCrashes();
  Simulation sim(seed, verbose);
  const std::string err = sim.Run();
  EXPECT_EQ(err, "") << "seed=" << seed;
  std::printf("seed=%llu: %llu applied, %llu rejected, %llu duplicate, "
              "%llu entries\n",
              static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(sim.applied()),
              static_cast<unsigned long long>(sim.rejected()),
              static_cast<unsigned long long>(sim.duplicates()),
              static_cast<unsigned long long>(sim.entries()));
  UncatchCrashes();
}

// The generator is deterministic: the same seed, the same stream.
// A what-if with no change (or with a change that matches nothing) is the
// history itself: no parting, no figure differs, the same digest as the
// ledger fed the stream directly (issue 13).
TEST(LedgerPropertyTest, AWhatIfWithoutChangeIsTheHistoryItself) {
  const uint64_t seeds = test_support::Scaled(300);  // fewer under a sanitizer
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const auto events = Generator(seed).Stream(kEventsPerStream);
    Ledger direct;
    for (const auto& e : events) direct.Apply(e, nullptr);
    sim::ChangeSet none;
    sim::ChangeSet nothing;
    ASSERT_TRUE(nothing.Add("--drop", "campaign=no-such-campaign").ok());
    for (const sim::ChangeSet* changes : {&none, &nothing}) {
      sim::WhatIf w(*changes, 1, INT64_MAX, /*strict=*/false);
      for (size_t i = 0; i < events.size(); ++i) ASSERT_TRUE(w.Apply(i + 1, events[i]).ok());
      sim::WhatIfResult r;
      ASSERT_TRUE(w.Finish("", &r).ok()) << "seed " << seed;
      ASSERT_FALSE(r.parting.found) << "seed " << seed;
      ASSERT_TRUE(r.rows.empty()) << "seed " << seed << ": " << r.rows[0].field;
      ASSERT_EQ(r.actual_digest, direct.Digest()) << "seed " << seed;
      ASSERT_EQ(r.what_if_digest, direct.Digest()) << "seed " << seed;
    }
  }
}

TEST(LedgerPropertyTest, TheGeneratorIsDeterministic) {
  const auto a = Generator(42).Stream(kEventsPerStream);
  const auto b = Generator(42).Stream(kEventsPerStream);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
  }
  const auto c = Generator(43).Stream(kEventsPerStream);
  EXPECT_NE(a[5].SerializeAsString() + a[50].SerializeAsString(),
            c[5].SerializeAsString() + c[50].SerializeAsString());
}

}  // namespace
}  // namespace billsim
