// Workload: a seeded, deterministic generator of realistic billing traffic
// for benchmarks and stress runs. A set-up phase (accounts in several time
// zones and funding orders, deposits, credit grants with staggered expiries,
// campaigns of every billing event and budget mode, enabled; with
// options.coupons, coupons too) and then a
// stream that is mostly delivery (impressions, some clicks and views, a few
// conversions, rare platform faults) with now and then a deposit or a
// campaign re-enabled. The same seed gives the same events.
#ifndef BILLSIM_BENCH_WORKLOAD_H_
#define BILLSIM_BENCH_WORKLOAD_H_

#include <array>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "billsim/v1/events.pb.h"

namespace billsim {

struct WorkloadOptions {
  uint64_t seed = 1;
  uint32_t accounts = 100;
  uint32_t campaigns = 1000;
  uint64_t first_event_id = 1;
  int64_t start_us = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z
  // Mean time between events; 30 days over 10 million events by default,
  // so day boundaries and grant expiries happen during a run.
  int64_t mean_gap_us = 259'200;
  // Grants with a scope: one account in ten (a % 10 == 1) also gets a
  // coupon (CreditGranted.campaign_ids) for its first two campaigns, after
  // every campaign is created, expiring 10..29 days in. Off by default, so
  // that what a seed gives without it (billsim stress) does not change.
  bool coupons = false;
  // Whether the stream starts loading each drawn campaign's ids from the
  // tables (campaign_ids(), account_ids()) ahead of its event. A caller
  // that formats the ids instead (CampaignId, AccountId) turns it off: in a
  // large book those loads are cache misses it would pay for nothing.
  bool prefetch_ids = true;
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);

  // The set-up events, in order (ids and times continue into the stream).
  std::vector<v1::Event> Setup();
  // The same events handed to `emit` one at a time, so that a book of
  // millions of campaigns is never held whole.
  void Setup(const std::function<void(v1::Event&)>& emit);
  // How many events Setup gives.
  uint64_t setup_events() const;

  // One event of the stream. Deliveries fill `delivery` and return true;
  // anything else fills `other` and returns false.
  struct Delivery {
    uint64_t event_id;
    int64_t time_us;
    uint32_t campaign;  // index into campaign_ids()
    v1::DeliveryReported::Kind kind;
    int64_t count;
    bool platform_fault;
  };
  bool Next(Delivery* delivery, v1::Event* other);

  // An id as the tables hold it ("acct-" or "camp-" and the index),
  // formatted into `buf` without reading them; valid while `buf` is.
  using IdBuffer = std::array<char, 16>;
  static std::string_view AccountId(uint32_t account, IdBuffer* buf) {
    return FormatId("acct-", account, buf);
  }
  static std::string_view CampaignId(uint32_t campaign, IdBuffer* buf) {
    return FormatId("camp-", campaign, buf);
  }
  // The campaign of the stream's draw kAhead / 2 events after the next
  // (the next delivery's, if none comes first), for a caller that starts
  // loading what it will need for it; a hint, 0 before the stream starts.
  uint32_t CampaignAhead() const {
    return ahead_[(ahead_at_ + kAhead / 2) % kAhead].campaign;
  }
  // The account of a campaign (campaign_account()[campaign], computed).
  uint32_t AccountOf(uint32_t campaign) const { return campaign % options_.accounts; }

  const std::vector<std::string>& account_ids() const { return account_ids_; }
  const std::vector<std::string>& campaign_ids() const { return campaign_ids_; }
  // The account of each campaign (index into account_ids()).
  const std::vector<uint32_t>& campaign_account() const { return campaign_account_; }
  uint64_t next_event_id() const { return next_id_; }

 private:
  static std::string_view FormatId(std::string_view prefix, uint32_t n, IdBuffer* buf);
  v1::Event NewEvent();
  void AddCoupons(const std::function<void(v1::Event&)>& emit);
  uint32_t coupons() const;  // how many AddCoupons gives

  // The stream's random draws are taken kAhead events early, in the same
  // order (so the stream is the same), so that the ids an event names are
  // loaded before it is built: in a book of millions of campaigns each is
  // a cache miss that a generator making one event at a time waits on.
  struct Draw {
    uint64_t gap = 0;       // microseconds since the last event
    uint64_t r = 0;         // the campaign and the kind of event
    uint32_t campaign = 0;  // CampaignOf(r), computed once
  };
  static constexpr size_t kAhead = 16;
  Draw TakeDraw();  // the next event's, drawing the one kAhead later
  Draw DrawAhead();  // draws one, starting to load its campaign's ids
  uint32_t CampaignOf(uint64_t r) const {
    return static_cast<uint32_t>((r >> 20) % options_.campaigns);
  }
  std::array<Draw, kAhead> ahead_{};
  size_t ahead_at_ = 0;
  bool streaming_ = false;  // the first Next has drawn; no Setup after it

  WorkloadOptions options_;
  std::mt19937_64 rng_;
  uint64_t next_id_;
  int64_t now_us_;
  std::vector<std::string> account_ids_;
  std::vector<std::string> campaign_ids_;
  std::vector<uint32_t> campaign_account_;
};

}  // namespace billsim

#endif  // BILLSIM_BENCH_WORKLOAD_H_
