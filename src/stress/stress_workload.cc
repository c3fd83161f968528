#include "stress/stress_workload.h"

#include <algorithm>

#include "log/format.h"
#include "util/assert.h"

namespace billsim::stress {

namespace {
constexpr int64_t kUnit = 1'000'000;
constexpr int64_t kDayUs = 86'400'000'000;
// Per million stream events.
constexpr uint32_t kPausePpm = 100;
constexpr uint32_t kEnablePpm = 100;
constexpr uint32_t kDeletePpm = 10;
constexpr uint32_t kReviewPpm = 40;   // approved, rejected before or after serving
constexpr uint32_t kDisputePpm = 60;  // every reason in turn
constexpr uint32_t kFaultPpm = 500;   // delivery marked as a platform fault
constexpr uint64_t kFollowUp = 2'000; // stream events between a dispute's steps

// A campaign index's home in the entry table, before masking: the product
// with 2^64 / phi (Fibonacci hashing) from bit 32 up, whose low bits are
// well spread even for consecutive indexes.
constexpr uint64_t kGoldenRatio64 = 0x9E3779B97F4A7C15ULL;
size_t Spread(uint32_t campaign) {
  return static_cast<size_t>((campaign * kGoldenRatio64) >> 32);
}

WorkloadOptions BaseOptions(uint64_t seed, uint32_t accounts, uint32_t campaigns,
                            uint64_t stream_events) {
  WorkloadOptions o;
  o.seed = seed;
  o.accounts = accounts;
  o.campaigns = campaigns;
  // 30 simulated days over the run, so days turn and grants expire.
  o.mean_gap_us = std::max<int64_t>(
      1, 30 * kDayUs / static_cast<int64_t>(std::max<uint64_t>(stream_events, 1)));
  return o;
}

// Next formats a delivery's ids (EntryOf) instead of reading the tables.
WorkloadOptions WithoutIdPrefetch(WorkloadOptions o) {
  o.prefetch_ids = false;
  return o;
}
}  // namespace

StressWorkload::StressWorkload(uint64_t seed, uint32_t accounts, uint32_t campaigns,
                               uint64_t stream_events)
    : StressWorkload(BaseOptions(seed, accounts, campaigns, stream_events)) {}

StressWorkload::StressWorkload(const WorkloadOptions& base)
    : base_(WithoutIdPrefetch(base)),
      rng_(base.seed ^ kGoldenRatio64),
      next_id_(1 + ((base.seed % (1ULL << 20)) << 40)) {}

void StressWorkload::Stamp(v1::Event* e, int64_t time_us) {
  e->set_event_id(next_id_++);
  e->set_time_us(time_us);
  now_us_ = std::max(now_us_, time_us);
}

std::vector<v1::Event> StressWorkload::Setup() {
  std::vector<v1::Event> events = base_.Setup();
  for (v1::Event& e : events) Stamp(&e, e.time_us());
  return events;
}

void StressWorkload::Setup(const std::function<void(v1::Event&)>& emit) {
  base_.Setup([&](v1::Event& e) {
    Stamp(&e, e.time_us());
    emit(e);
  });
}

bool StressWorkload::Extra(v1::Event* e) {
  const auto& campaigns = base_.campaign_ids();
  const auto& accounts = base_.account_ids();
  const auto& owner = base_.campaign_account();
  // Follow-ups of earlier disputes first: evidence, then a decision.
  if (!pending_.empty() && pending_.front().due <= position_) {
    Pending p = pending_.front();
    pending_.pop_front();
    e->Clear();
    if (p.needs_evidence) {
      auto* m = e->mutable_dispute_evidence_added();
      m->set_dispute_id(p.dispute_id);
      m->add_evidence(v1::EVIDENCE_DELIVERY_DATA);
      m->add_evidence(v1::EVIDENCE_SCREENSHOT);
      pending_.push_back({p.dispute_id, position_ + kFollowUp, false});
    } else {
      auto* m = e->mutable_dispute_decided();
      m->set_dispute_id(p.dispute_id);
      m->set_verified(rng_() % 4 != 0);
      m->set_amount_micros((10 + rng_() % 200) * kUnit);
      m->set_investigator("stress");
    }
    Stamp(e, now_us_);
    return true;
  }
  const uint32_t roll = static_cast<uint32_t>(rng_() % 1'000'000);
  const uint32_t c = static_cast<uint32_t>(rng_() % campaigns.size());
  // Read only by the events that name it: for a delivery it would be a
  // cache miss in a large book, for nothing.
  auto account = [&]() -> const std::string& { return accounts[owner[c]]; };
  uint32_t edge = 0;
  auto status = [&](v1::CampaignStatusChanged::Operation op) {
    e->Clear();
    auto* m = e->mutable_campaign_status_changed();
    m->set_account_id(account());
    m->set_campaign_id(campaigns[c]);
    m->set_operation(op);
    Stamp(e, now_us_);
    return true;
  };
  if (roll < (edge += kPausePpm)) return status(v1::CampaignStatusChanged::DISABLE);
  if (roll < (edge += kEnablePpm)) return status(v1::CampaignStatusChanged::ENABLE);
  if (roll < (edge += kDeletePpm)) return status(v1::CampaignStatusChanged::DELETE);
  if (roll < (edge += kReviewPpm)) {
    e->Clear();
    auto* m = e->mutable_ad_reviewed();
    m->set_account_id(account());
    m->set_campaign_id(campaigns[c]);
    static const v1::AdReviewed::Result kResults[] = {
        v1::AdReviewed::APPROVED, v1::AdReviewed::REJECTED_BEFORE_SERVING,
        v1::AdReviewed::REJECTED_AFTER_SERVING};
    m->set_result(kResults[rng_() % 3]);
    m->set_reason(m->result() == v1::AdReviewed::APPROVED ? "" : "misleading claims");
    Stamp(e, now_us_);
    return true;
  }
  if (roll < (edge += kDisputePpm)) {
    e->Clear();
    auto* m = e->mutable_dispute_filed();
    const std::string id = "dispute-" + std::to_string(++disputes_);
    m->set_dispute_id(id);
    m->set_account_id(account());
    m->set_campaign_id(campaigns[c]);
    // DISPUTE_REASON_POOR_PERFORMANCE (1) .. DISPUTE_REASON_CHARGED_IN_ERROR (8).
    const auto reason = static_cast<v1::DisputeReason>(1 + reason_++ % 8);
    m->set_reason(reason);
    m->set_window_start_us(std::max<int64_t>(0, now_us_ - 3 * kDayUs));
    m->set_window_end_us(now_us_ + 1);
    m->set_claimed_micros((20 + rng_() % 500) * kUnit);
    m->add_evidence(v1::EVIDENCE_SPEND_REPORT);
    // Half the billing-error disputes wait for more evidence.
    const bool complete = rng_() % 2 == 0;
    if (complete) m->add_evidence(v1::EVIDENCE_DELIVERY_DATA);
    m->set_description("stress");
    if (reason >= v1::DISPUTE_REASON_PLATFORM_ERROR) {
      pending_.push_back({id, position_ + kFollowUp, !complete});
    }
    Stamp(e, now_us_);
    return true;
  }
  return false;
}

void StressWorkload::NewBatch() {
  for (uint32_t at : used_) entries_[at] = EntrySlot{};
  used_.clear();
}

void StressWorkload::GrowEntries() {
  std::vector<EntrySlot> old(entries_.size() * 2);
  old.swap(entries_);
  const size_t mask = entries_.size() - 1;
  used_.clear();
  for (const EntrySlot& slot : old) {
    if (slot.campaign_plus_one == 0) continue;
    size_t at = Spread(slot.campaign_plus_one - 1) & mask;
    while (entries_[at].campaign_plus_one != 0) at = (at + 1) & mask;
    entries_[at] = slot;
    used_.push_back(static_cast<uint32_t>(at));
  }
}

uint32_t StressWorkload::EntryOf(log::BatchBuilder* batch, uint32_t campaign) {
  BILLSIM_ASSERT(campaign < base_.campaign_ids().size());  // so campaign + 1 fits
  const size_t mask = entries_.size() - 1;
  size_t at = Spread(campaign) & mask;
  for (; entries_[at].campaign_plus_one != 0; at = (at + 1) & mask) {
    if (entries_[at].campaign_plus_one - 1 == campaign) return entries_[at].entry;
  }
  Workload::IdBuffer account, id;
  const uint32_t entry = batch->AppendDictionary(
      Workload::AccountId(base_.AccountOf(campaign), &account), Workload::CampaignId(campaign, &id));
  entries_[at] = {campaign + 1, entry};
  used_.push_back(static_cast<uint32_t>(at));
  BILLSIM_ASSERT(used_.size() <= log::kMaxBatchEvents);  // a batch's rows bound its entries
  if (used_.size() * 4 > entries_.size() * 3) GrowEntries();
  return entry;
}

uint64_t StressWorkload::Next(log::BatchBuilder* batch) {
  // Every Next adds one event, so last_count_ >= 1: a builder cleared since,
  // or a new one where the last one was, has count 0 and starts a batch.
  const uint32_t before = batch->count();
  if (batch != last_batch_ || before != last_count_) NewBatch();
  const uint64_t id = NextEvent(batch);
  BILLSIM_ASSERT(batch->count() == before + 1);
  last_batch_ = batch;
  last_count_ = batch->count();
  return id;
}

uint64_t StressWorkload::NextEvent(log::BatchBuilder* batch) {
  ++position_;
  // The rarer events are built whole; a delivery goes in as a row.
  if (Extra(&scratch_)) {
    batch->Add(scratch_);
    return scratch_.event_id();
  }
  Workload::Delivery d;
  if (!base_.Next(&d, &scratch_)) {  // fills the whole of scratch_
    Stamp(&scratch_, scratch_.time_us());
    batch->Add(scratch_);
    return scratch_.event_id();
  }
  const uint64_t id = next_id_++;
  now_us_ = std::max(now_us_, d.time_us);
  // Its slot is likely a cache miss: start loading a later delivery's.
  __builtin_prefetch(&entries_[Spread(base_.CampaignAhead()) & (entries_.size() - 1)]);
  const bool fault = d.platform_fault || rng_() % 1'000'000 < kFaultPpm;
  batch->AddDeliveryTo(EntryOf(batch, d.campaign), id, d.time_us, d.kind, d.count, fault);
  return id;
}

}  // namespace billsim::stress
