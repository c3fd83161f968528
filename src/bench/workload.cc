#include "bench/workload.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "util/assert.h"

namespace billsim {

namespace {
constexpr int64_t kDayUs = 86'400'000'000;
constexpr int64_t kUnit = 1'000'000;
}  // namespace

Workload::Workload(WorkloadOptions options)
    : options_(options), rng_(options.seed), next_id_(options.first_event_id),
      now_us_(options.start_us) {
  BILLSIM_ASSERT(options_.accounts > 0 && options_.campaigns > 0);
  IdBuffer buf;
  for (uint32_t a = 0; a < options_.accounts; ++a) {
    account_ids_.emplace_back(AccountId(a, &buf));
  }
  for (uint32_t c = 0; c < options_.campaigns; ++c) {
    campaign_ids_.emplace_back(CampaignId(c, &buf));
    campaign_account_.push_back(AccountOf(c));
  }
}

std::string_view Workload::FormatId(std::string_view prefix, uint32_t n, IdBuffer* buf) {
  static_assert(sizeof(IdBuffer) >= 5 + 10);  // a prefix and 2^32 - 1
  BILLSIM_ASSERT(prefix.size() == 5);
  char* const begin = buf->data();
  std::memcpy(begin, prefix.data(), prefix.size());
  const auto [end, ec] = std::to_chars(begin + prefix.size(), begin + buf->size(), n);
  BILLSIM_ASSERT(ec == std::errc());
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

v1::Event Workload::NewEvent() {
  v1::Event e;
  e.set_event_id(next_id_++);
  e.set_time_us(now_us_);
  return e;
}

std::vector<v1::Event> Workload::Setup() {
  std::vector<v1::Event> out;
  Setup([&out](v1::Event& e) { out.push_back(std::move(e)); });
  return out;
}

uint64_t Workload::setup_events() const {
  // Per account: opened, a deposit, 3 grants; per campaign: created, enabled.
  return 5ULL * options_.accounts + 2ULL * options_.campaigns + coupons();
}

void Workload::Setup(const std::function<void(v1::Event&)>& emit) {
  BILLSIM_ASSERT(!streaming_);  // its draws come before the stream's
  static const int kOffsets[] = {0, -300, 330, 60, 540, -480};
  for (uint32_t a = 0; a < options_.accounts; ++a) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_account_opened();
    m->set_account_id(account_ids_[a]);
    m->set_currency(a % 3 == 0 ? "EUR" : "USD");
    m->set_utc_offset_minutes(kOffsets[a % 6]);
    m->set_funding_order(a % 4 == 0 ? v1::FUNDING_ORDER_CASH_FIRST
                                    : v1::FUNDING_ORDER_CREDIT_FIRST);
    emit(e);
    e = NewEvent();
    auto* d = e.mutable_cash_deposited();
    d->set_account_id(account_ids_[a]);
    d->set_amount_micros((5'000 + rng_() % 50'000) * kUnit);
    emit(e);
    // Grants with staggered expiries: some expire during a 30-day run.
    for (int g = 0; g < 3; ++g) {
      e = NewEvent();
      auto* m2 = e.mutable_credit_granted();
      m2->set_account_id(account_ids_[a]);
      m2->set_grant_id("grant-" + std::to_string(a) + "-" + std::to_string(g));
      m2->set_amount_micros((100 + rng_() % 2'000) * kUnit);
      m2->set_expires_at_us(now_us_ + (5 + g * 10 + static_cast<int64_t>(rng_() % 10)) * kDayUs);
      m2->set_program(g == 0 ? "new advertiser" : "promotion");
      emit(e);
    }
  }
  static const v1::BillingEvent kBilling[] = {
      v1::BILLING_EVENT_CPM, v1::BILLING_EVENT_CPM, v1::BILLING_EVENT_CPM,
      v1::BILLING_EVENT_CPC, v1::BILLING_EVENT_CPV_2S, v1::BILLING_EVENT_CPV_6S};
  for (uint32_t c = 0; c < options_.campaigns; ++c) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_campaign_created();
    m->set_account_id(account_ids_[campaign_account_[c]]);
    m->set_campaign_id(campaign_ids_[c]);
    m->set_objective(v1::OBJECTIVE_TRAFFIC);
    const v1::BillingEvent b = kBilling[c % 6];
    m->set_billing_event(b);
    m->set_price_micros(b == v1::BILLING_EVENT_CPM ? 2'000'000 + rng_() % 8'000'000
                                                   : 50'000 + rng_() % 900'000);
    const int mode = c % 3;
    m->set_budget_mode(mode == 0 ? v1::BUDGET_MODE_DAY
                                 : mode == 1 ? v1::BUDGET_MODE_TOTAL : v1::BUDGET_MODE_INFINITE);
    m->set_budget_micros(mode == 2 ? 0 : (50 + rng_() % 500) * kUnit);
    m->set_creative_reviewed(true);
    m->set_audience_defined(c % 7 != 0);
    m->set_landing_page_url("https://example.com/" + campaign_ids_[c]);
    emit(e);
    e = NewEvent();
    auto* s = e.mutable_campaign_status_changed();
    s->set_account_id(account_ids_[campaign_account_[c]]);
    s->set_campaign_id(campaign_ids_[c]);
    s->set_operation(v1::CampaignStatusChanged::ENABLE);
    emit(e);
  }
  if (options_.coupons) AddCoupons(emit);
}

uint32_t Workload::coupons() const {
  const uint32_t n = std::min(options_.accounts, options_.campaigns);
  return options_.coupons && n > 1 ? (n - 2) / 10 + 1 : 0;  // a = 1, 11, 21, ... < n
}

void Workload::AddCoupons(const std::function<void(v1::Event&)>& emit) {
  for (uint32_t a = 1; a < options_.accounts && a < options_.campaigns; a += 10) {
    v1::Event e = NewEvent();
    auto* m = e.mutable_credit_granted();
    m->set_account_id(account_ids_[a]);
    m->set_grant_id("coupon-" + std::to_string(a));
    m->set_amount_micros((50 + rng_() % 500) * kUnit);
    m->set_expires_at_us(now_us_ + (10 + static_cast<int64_t>(rng_() % 20)) * kDayUs);
    m->set_program("coupon");
    // Campaign c belongs to account c % accounts: a, a + accounts, ...
    for (uint64_t c = a; c < options_.campaigns && c < a + 2ULL * options_.accounts;
         c += options_.accounts) {
      m->add_campaign_ids(campaign_ids_[c]);
    }
    emit(e);
  }
}

Workload::Draw Workload::DrawAhead() {
  Draw d;
  d.gap = rng_() % static_cast<uint64_t>(2 * options_.mean_gap_us + 1);
  d.r = rng_();
  d.campaign = CampaignOf(d.r);
  if (options_.prefetch_ids) {
    __builtin_prefetch(&campaign_account_[d.campaign]);
    __builtin_prefetch(&campaign_ids_[d.campaign]);
  }
  return d;
}

Workload::Draw Workload::TakeDraw() {
  if (!streaming_) {
    streaming_ = true;
    for (Draw& d : ahead_) d = DrawAhead();
  }
  const Draw taken = ahead_[ahead_at_];
  ahead_[ahead_at_] = DrawAhead();
  ahead_at_ = (ahead_at_ + 1) % kAhead;
  if (options_.prefetch_ids) {
    // Half as far ahead, the campaign's account number is in: its id next.
    const Draw& half = ahead_[(ahead_at_ + kAhead / 2 - 1) % kAhead];
    __builtin_prefetch(&account_ids_[campaign_account_[half.campaign]]);
  }
  return taken;
}

bool Workload::Next(Delivery* d, v1::Event* other) {
  const Draw draw = TakeDraw();
  now_us_ += static_cast<int64_t>(draw.gap);
  const uint64_t r = draw.r;
  const uint32_t campaign = draw.campaign;
  const uint32_t roll = static_cast<uint32_t>(r % 100'000);
  if (roll < 5) {  // now and then: money in, or a paused campaign back on
    *other = NewEvent();
    const uint32_t account = campaign_account_[campaign];
    if (roll < 3) {
      auto* m = other->mutable_cash_deposited();
      m->set_account_id(account_ids_[account]);
      m->set_amount_micros((500 + (r >> 40) % 5'000) * kUnit);
    } else {
      auto* m = other->mutable_campaign_status_changed();
      m->set_account_id(account_ids_[account]);
      m->set_campaign_id(campaign_ids_[campaign]);
      m->set_operation(v1::CampaignStatusChanged::ENABLE);
    }
    return false;
  }
  d->event_id = next_id_++;
  d->time_us = now_us_;
  d->campaign = campaign;
  // Mostly impressions, some clicks and views, a few conversions.
  const uint32_t k = roll % 1000;
  d->kind = k < 900   ? v1::DeliveryReported::IMPRESSION
            : k < 950 ? v1::DeliveryReported::CLICK
            : k < 975 ? v1::DeliveryReported::VIDEO_VIEW_2S
            : k < 990 ? v1::DeliveryReported::VIDEO_VIEW_6S
                      : v1::DeliveryReported::CONVERSION;
  d->count = d->kind == v1::DeliveryReported::IMPRESSION ? 1 + (r >> 50) % 20 : 1;
  d->platform_fault = roll % 10'007 == 0;
  return true;
}

}  // namespace billsim
