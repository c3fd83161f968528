#include "history/statement.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <vector>

#include "util/money.h"

namespace billsim::history {

std::string LocalDate(int64_t time_us, int32_t utc_offset_minutes) {
  return FormatTime(time_us + int64_t{utc_offset_minutes} * 60'000'000).substr(0, 10);
}

namespace {

// Adds a COST or NOT_BILLED entry's units to the row's delivery.
void AddDelivery(const v1::LedgerEntry& e, v1::Statement::Row* row) {
  switch (e.delivery_kind()) {
    case v1::DeliveryReported::IMPRESSION: row->set_impressions(row->impressions() + e.units()); break;
    case v1::DeliveryReported::CLICK: row->set_clicks(row->clicks() + e.units()); break;
    case v1::DeliveryReported::VIDEO_VIEW_2S:
      row->set_video_views_2s(row->video_views_2s() + e.units());
      break;
    case v1::DeliveryReported::VIDEO_VIEW_6S:
      row->set_video_views_6s(row->video_views_6s() + e.units());
      break;
    case v1::DeliveryReported::CONVERSION: row->set_conversions(row->conversions() + e.units()); break;
    default: break;  // indexed before delivery kinds were recorded
  }
}

// Adds a money entry to the row of its day.
void AddMoney(const v1::LedgerEntry& e, v1::Statement::Row* row) {
  const int64_t d = e.balance_delta_micros();
  switch (e.kind()) {
    case v1::ADD_BALANCE: row->set_cash_in(row->cash_in() + d); break;
    case v1::PROMOTION_ISSUED: row->set_grant_in(row->grant_in() + d); break;
    case v1::COST:
      if (e.funds_type() == v1::FUNDS_TYPE_GRANT) {
        row->set_grant_spent(row->grant_spent() - d);
      } else {
        row->set_cash_spent(row->cash_spent() - d);
      }
      break;
    case v1::PROMOTION_EXPIRED: row->set_expired(row->expired() - d); break;
    case v1::REFUND: row->set_refunded(row->refunded() + d); break;
    default: break;
  }
}

}  // namespace

Status BuildStatement(const HistoryIndex& index, const v1::StatementQuery& q,
                      uint64_t through_seq, v1::Statement* out) {
  out->Clear();
  if (q.to_us() != 0 && q.to_us() < q.from_us()) {
    return Status::InvalidArgument("statement: to (" + std::to_string(q.to_us()) +
                                   ") is before from (" + std::to_string(q.from_us()) + ")");
  }
  const uint32_t limit =
      q.limit() == 0 ? kDefaultStatementRows : std::min(q.limit(), kMaxStatementRows);
  std::vector<bool> wanted(v1::EntryKind_ARRAYSIZE, q.kinds_size() == 0);
  for (int k : q.kinds()) {
    if (k >= 0 && k < v1::EntryKind_ARRAYSIZE) wanted[k] = true;
  }

  PageQuery pq;
  pq.account = q.account_id();
  pq.through_seq = through_seq;
  pq.from_us = q.from_us();
  if (q.to_us() != 0) pq.to_us = q.to_us() - 1;  // the window is [from, to)
  pq.limit = 10'000;
  if (q.kinds_size() == 1) pq.kind = q.kinds(0);

  // Summed rows, in date order (entries come in time order), campaigns of
  // a day in the order first seen.
  std::vector<v1::Statement::Row> rows;
  std::string day;
  std::unordered_map<std::string, size_t> of_campaign;  // the day's rows
  uint64_t total = 0, read = 0;
  Page page;
  for (;;) {
    Status st = index.ReadPage(pq, &page);
    if (!st.ok()) return st;
    for (HistoryItem& item : page.items) {
      if (read == kMaxStatementEntries) {
        out->set_truncated(true);
        break;
      }
      ++read;
      v1::LedgerEntry& e = item.entry;
      if (!wanted[e.kind()]) continue;
      if (q.group() == v1::StatementQuery::ENTRIES) {
        if (total >= q.offset() && total < uint64_t{q.offset()} + limit) {
          *out->add_rows()->mutable_entry() = std::move(e);
        }
        ++total;
        continue;
      }
      const std::string date = LocalDate(e.time_us(), q.utc_offset_minutes());
      if (date != day) {
        day = date;
        of_campaign.clear();
      }
      if (q.group() == v1::StatementQuery::DAYS) {
        if (rows.empty() || rows.back().date() != date) rows.emplace_back().set_date(date);
        AddMoney(e, &rows.back());
        continue;
      }
      // CAMPAIGN_DAYS: billed and delivered units of the day.
      if (e.campaign_id().empty() || (e.kind() != v1::COST && e.kind() != v1::NOT_BILLED)) continue;
      auto [it, added] = of_campaign.emplace(e.campaign_id(), rows.size());
      if (added) {
        v1::Statement::Row& row = rows.emplace_back();
        row.set_date(date);
        row.set_campaign_id(e.campaign_id());
      }
      v1::Statement::Row& row = rows[it->second];
      if (e.kind() == v1::COST) row.set_spend(row.spend() - e.balance_delta_micros());
      AddDelivery(e, &row);
    }
    if (out->truncated() || !page.truncated) break;
    pq.cursor = page.next_cursor;
  }
  out->set_entries_read(read);
  if (q.group() != v1::StatementQuery::ENTRIES) {
    total = rows.size();
    for (uint64_t i = q.offset(); i < rows.size() && i < uint64_t{q.offset()} + limit; ++i) {
      *out->add_rows() = std::move(rows[i]);
    }
  }
  out->set_total(total);
  return Status::Ok();
}

}  // namespace billsim::history
