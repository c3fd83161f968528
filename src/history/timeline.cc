#include "history/timeline.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace billsim::history {

namespace {

void Fill(const v1::LedgerEntry& e, uint64_t log_seq, v1::Timeline::Point* p) {
  p->set_time_us(e.time_us());
  p->set_log_seq(log_seq);
  p->set_entry_seq(e.seq());
  p->set_kind(e.kind());
  p->set_cash_balance(e.cash_balance());
  p->set_grant_balance(e.grant_balance());
  p->set_frozen_balance(e.frozen_balance());
  p->set_valid_balance(e.valid_balance());
  p->set_grant_id(e.grant_id());
  p->set_campaign_id(e.campaign_id());
}

}  // namespace

Status BuildTimeline(const HistoryIndex& index, const v1::TimelineQuery& q, uint64_t through_seq,
                     v1::Timeline* out) {
  out->Clear();
  out->set_account_id(q.account_id());
  const uint32_t slices =
      q.points() == 0 ? kDefaultTimelinePoints : std::min(q.points(), kMaxTimelineSlices);

  PageQuery page_query;
  page_query.account = q.account_id();
  page_query.through_seq = through_seq;
  page_query.limit = 10'000;
  Page page;

  // The range: from the first entry and to the account's clock unless given.
  int64_t from = q.from_us();
  if (from == 0) {
    PageQuery first = page_query;
    first.limit = 1;
    Status st = index.ReadPage(first, &page);
    if (!st.ok()) return st;
    from = page.items.empty() ? 0 : page.items.front().entry.time_us();
  }
  BalanceAt end;
  Status st = index.BalanceAsOf(q.account_id(), std::numeric_limits<int64_t>::max(), through_seq,
                                &end);
  if (!st.ok()) return st;
  const int64_t to = q.to_us() != 0 ? q.to_us() : std::max(from, end.account_clock_us);
  if (to < from) {
    return Status::InvalidArgument("timeline: to (" + std::to_string(to) +
                                   ") is before from (" + std::to_string(from) + ")");
  }
  out->set_from_us(from);
  out->set_to_us(to);
  // Slices of equal width; the arithmetic stays in int64 (to - from may
  // be any non-negative int64 difference within [0, kTimeMaxUs]).
  const int64_t width = std::max<int64_t>(1, (to - from) / slices + 1);

  // The balances at from: after the last entry stamped before it.
  if (from > 0) {
    BalanceAt at;
    st = index.BalanceAsOf(q.account_id(), from - 1, through_seq, &at);
    if (!st.ok()) return st;
    v1::Timeline::Point* p = out->add_points();
    p->set_time_us(from);
    p->set_cash_balance(at.cash);
    p->set_grant_balance(at.credit);
    p->set_frozen_balance(at.frozen);
    p->set_valid_balance(at.valid);
  }

  page_query.from_us = from;
  page_query.to_us = to;
  std::optional<v1::Timeline::Point> charge;  // the last charge of its slice
  int64_t charge_slice = -1;
  uint64_t read = 0;
  auto emit = [&](v1::Timeline::Point&& p) {
    if (static_cast<uint32_t>(out->points_size()) >= kMaxPoints) return false;
    *out->add_points() = std::move(p);
    return true;
  };
  bool full = false;
  for (;;) {
    st = index.ReadPage(page_query, &page);
    if (!st.ok()) return st;
    for (const HistoryItem& item : page.items) {
      if (read == kMaxEntriesRead) {  // enough work for one request
        full = true;
        break;
      }
      ++read;
      const v1::LedgerEntry& e = item.entry;
      if (e.balance_delta_micros() == 0 && e.frozen_delta_micros() == 0) continue;
      const int64_t slice = (e.time_us() - from) / width;
      if (charge && (e.kind() != v1::COST || slice != charge_slice)) {
        if (!emit(std::move(*charge))) full = true;
        charge.reset();
      }
      if (full) break;
      v1::Timeline::Point p;
      Fill(e, item.log_seq, &p);
      if (e.kind() == v1::COST) {
        charge = std::move(p);
        charge_slice = slice;
      } else if (!emit(std::move(p))) {
        full = true;
        break;
      }
    }
    if (full || !page.truncated) break;
    page_query.cursor = page.next_cursor;
  }
  if (charge && !full && !emit(std::move(*charge))) full = true;
  out->set_entries_read(read);
  if (full) {
    out->set_truncated(true);
    out->set_to_us(out->points(out->points_size() - 1).time_us());
  }
  return Status::Ok();
}

}  // namespace billsim::history
