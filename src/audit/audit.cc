#include "audit/audit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>

#include "history/history_index.h"
#include "log/batch_codec.h"
#include "log/event_stream.h"
#include "log/log_lock.h"
#include "log/log_reader.h"
#include "report/json.h"
#include "report/table.h"
#include "util/money.h"

namespace billsim::audit {

namespace {

// A filter for the entries of one account. The account may not exist when
// the replay starts, so its index is resolved at its first entry; after that
// the test is an integer compare.
std::function<bool(const Entry&)> OfAccount(const Ledger& ledger, const std::string& account) {
  return [&ledger, account, index = kNoIndex](const Entry& e) mutable {
    if (e.account == kNoIndex) return false;
    if (index == kNoIndex) {
      if (ledger.account_id(e.account) != account) return false;
      index = e.account;
    }
    return e.account == index;
  };
}

std::string Source(const v1::LedgerEntry& e) {
  if (e.funds_type() == v1::FUNDS_TYPE_CASH) return "CASH";
  if (e.funds_type() == v1::FUNDS_TYPE_GRANT) return "GRANT " + e.grant_id();
  return "";
}

std::string Note(const v1::LedgerEntry& e) {
  if (e.kind() == v1::NOT_BILLED) return v1::NotBilledReason_Name(e.not_billed_reason());
  if (e.kind() == v1::DISPUTE_STATUS) {
    return e.dispute_id() + " " + v1::DisputeStatus_Name(e.dispute_status()) + ": " + e.note();
  }
  return e.note();
}

JsonObject AuditEntryJson(const AuditEntry& a) {
  return {{"log_seq", a.log_seq}, {"entry", ToJsonValue(a.entry)}};
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }


}  // namespace

void CollectingSink::Add(const Entry& entry) {
  if (keep_ && !keep_(entry)) return;
  AuditEntry& a = entries.emplace_back();
  a.log_seq = entry.event_id == 0 ? 0 : seq;
  a.entry = ledger_->ToProto(entry);
}

// --- history ------------------------------------------------------------------

Status AccountHistory(const std::string& dir, const std::string& account, int64_t from_us,
                      int64_t to_us, std::vector<AuditEntry>* out) {
  Ledger ledger;
  auto of_account = OfAccount(ledger, account);
  CollectingSink sink(&ledger, [&](const Entry& e) {
    return of_account(e) && e.time_us >= from_us && e.time_us <= to_us;
  });
  ReplayOptions options;
  options.use_snapshots = false;
  options.sink = &sink;
  ReplayStats stats;
  Status st = Replay(dir, options, &ledger, &stats);
  if (!st.ok()) return st;
  if (ledger.FindAccount(account) == kNoIndex) {
    return Status::NotFound("--account: no account \"" + account + "\" in the log " + dir);
  }
  *out = std::move(sink.entries);
  return Status::Ok();
}

namespace {

// Opens the log's history index and brings it to the log's end: read-write
// (and checkpointed) if the log's lock is free, read-only otherwise. The
// lock, if taken, is held in *lock for as long as the index may write.
Status OpenHistoryIndex(const std::string& dir, bool rebuild, std::unique_ptr<log::LogLock>* lock,
                        std::unique_ptr<history::HistoryIndex>* index) {
  history::HistoryIndex::Options options;
  options.rebuild = rebuild;
  lock->reset();
  Status st = log::LogLock::Acquire(dir, lock);
  if (!st.ok()) {
    spdlog::info("{}: reading the history index without writing it", st.message());
    options.read_only = true;
  }
  st = history::HistoryIndex::Open(dir, options, index);
  if (st.ok()) st = (*index)->CatchUp(std::numeric_limits<uint64_t>::max());
  if (st.ok() && !options.read_only) st = (*index)->Checkpoint();
  return st;
}

// Reads the pages of the query into *out. Corruption: the index is damaged.
Status ReadHistoryPages(const history::HistoryIndex& index, history::PageQuery q,
                        uint32_t limit, std::vector<AuditEntry>* out, HistoryPaged* paged) {
  out->clear();
  for (;;) {
    history::Page page;
    Status st = index.ReadPage(q, &page);
    if (!st.ok()) return st;
    for (history::HistoryItem& item : page.items) {
      AuditEntry& a = out->emplace_back();
      a.log_seq = item.log_seq;
      a.entry = std::move(item.entry);
    }
    paged->truncated = page.truncated;
    paged->next_cursor = page.next_cursor;
    if (!page.truncated || limit != 0) return Status::Ok();
    q.cursor = page.next_cursor;
  }
}

}  // namespace

Status IndexedAccountHistory(const std::string& dir, const std::string& account,
                             int64_t from_us, int64_t to_us, const HistoryPaging& paging,
                             std::vector<AuditEntry>* out, HistoryPaged* paged) {
  *paged = HistoryPaged{};
  // A damaged block is found when read: the index is rebuilt once.
  for (bool rebuild : {false, true}) {
    std::unique_ptr<log::LogLock> lock;
    std::unique_ptr<history::HistoryIndex> index;
    Status st = OpenHistoryIndex(dir, rebuild, &lock, &index);
    if (!st.ok()) return st;
    history::PageQuery q;
    q.account = account;
    q.since_seq = paging.since_seq;
    q.cursor = paging.cursor;
    q.from_us = from_us;
    q.to_us = to_us;
    q.through_seq = index->covered_seq();
    q.limit = paging.limit != 0 ? paging.limit : 10'000;
    st = ReadHistoryPages(*index, q, paging.limit, out, paged);
    if (st.code() == Status::Code::kNotFound) {
      return Status::NotFound("--account: no account \"" + account + "\" in the log " + dir);
    }
    if (st.code() != Status::Code::kCorruption || rebuild) return st;
    spdlog::warn("{}; rebuilding the history index", st.message());
  }
  return Status::Ok();
}

void WriteAuditHistory(const std::vector<AuditEntry>& entries, Format format,
                       std::ostream& out) {
  if (format == Format::kJson) {
    for (const auto& a : entries) out << ToJsonLine(AuditEntryJson(a));
    return;
  }
  // CSV carries exact micros and microseconds; the table shows decimals.
  const bool csv = format == Format::kCsv;
  auto money = [csv](int64_t v) { return csv ? std::to_string(v) : FormatMicros(v); };
  auto time = [csv](int64_t v) { return csv ? std::to_string(v) : FormatTime(v); };
  Table t({"log_seq", "seq", "time", "event", "kind", "campaign", "source", "balance_delta",
           "frozen_delta", "units", "cash", "grant", "frozen", "valid", "note"});
  for (const auto& a : entries) {
    const v1::LedgerEntry& e = a.entry;
    t.Add({a.log_seq == 0 && !csv ? "-" : std::to_string(a.log_seq), std::to_string(e.seq()),
           time(e.time_us()), std::to_string(e.event_id()), v1::EntryKind_Name(e.kind()),
           e.campaign_id(), Source(e), money(e.balance_delta_micros()),
           money(e.frozen_delta_micros()), std::to_string(e.units()), money(e.cash_balance()),
           money(e.grant_balance()), money(e.frozen_balance()), money(e.valid_balance()),
           Note(e)});
  }
  if (csv) {
    t.WriteCsv(out);
  } else {
    t.Write(out, 7);
  }
}

// --- balance as of a time -------------------------------------------------------

Status AccountBalanceAt(const std::string& dir, const std::string& account, int64_t as_of_us,
                        BalanceAsOf* out) {
  Ledger ledger;
  auto of_account = OfAccount(ledger, account);
  CollectingSink sink(&ledger, [&](const Entry& e) {
    return of_account(e);
  });
  ReplayOptions options;
  options.use_snapshots = false;
  options.as_of_us = as_of_us;
  options.sink = &sink;
  ReplayStats stats;
  Status st = Replay(dir, options, &ledger, &stats);
  if (!st.ok()) return st;
  std::optional<v1::AccountBalance> balance = ledger.Balance(account);
  if (!balance) {
    return Status::NotFound("--account: no account \"" + account + "\" in the log " + dir +
                            " as of " + FormatTime(as_of_us));
  }
  out->as_of_us = as_of_us;
  out->last_seq = stats.last_seq;
  out->balance = std::move(*balance);
  out->entries = std::move(sink.entries);
  return Status::Ok();
}

void WriteBalanceAsOf(const BalanceAsOf& b, Format format, std::ostream& out) {
  const v1::AccountBalance& a = b.balance;
  if (format == Format::kJson) {
    JsonObject entries = JsonObject::array();
    for (const AuditEntry& e : b.entries) entries.push_back(AuditEntryJson(e));
    out << ToJsonLine({{"as_of_us", b.as_of_us},
                       {"last_seq", b.last_seq},
                       {"balance", ToJsonValue(a)},
                       {"entries", std::move(entries)}});
    return;
  }
  out << "account " << a.account_id() << " (" << a.currency() << ") as of "
      << FormatTime(b.as_of_us) << ", after log sequence " << b.last_seq << "\n\n";
  Table t({"balance", "amount"});
  t.Add({"cash_balance", FormatMicros(a.cash_balance())});
  t.Add({"grant_balance", FormatMicros(a.grant_balance())});
  t.Add({"frozen_balance", FormatMicros(a.frozen_balance())});
  t.Add({"valid_balance", FormatMicros(a.valid_balance())});
  t.Add({"total_deposited", FormatMicros(a.total_deposited())});
  t.Add({"total_granted", FormatMicros(a.total_granted())});
  t.Add({"total_spent", FormatMicros(a.total_spent())});
  t.Add({"total_expired", FormatMicros(a.total_expired())});
  t.Add({"total_adjusted", FormatMicros(a.total_adjusted())});
  t.Write(out, 1);
  if (a.grants_size() > 0) {
    out << "\ngrants:\n";
    Table g({"grant", "amount", "remaining", "expires_at", "expired", "program"});
    for (const auto& gv : a.grants()) {
      g.Add({gv.grant_id(), FormatMicros(gv.amount_micros()), FormatMicros(gv.remaining_micros()),
             FormatTime(gv.expires_at_us()),
             gv.expired() ? "yes (" + FormatMicros(gv.expired_micros()) + ")" : "no",
             gv.program()});
    }
    g.Write(out, 1);
  }
  out << "\nentries (" << b.entries.size() << "):\n";
  WriteAuditHistory(b.entries, Format::kTable, out);
}

// --- dispute evidence -------------------------------------------------------------

Status CollectEvidence(const std::string& dir, const std::string& dispute, Evidence* out) {
  return CollectEvidence(dir, dispute, std::numeric_limits<uint64_t>::max(), out);
}

Status CollectEvidence(const std::string& dir, const std::string& dispute, uint64_t through_seq,
                       Evidence* out) {
  const bool bounded = through_seq != std::numeric_limits<uint64_t>::max();
  // The dispute names the campaign and window; the charges come before it
  // in the log, so a second replay collects them.
  {
    Ledger ledger;
    ReplayStats stats;
    ReplayOptions first;
    first.to_seq = through_seq;
    first.check_skipped = !bounded;
    Status st = Replay(dir, first, &ledger, &stats);
    if (!st.ok()) return st;
    std::optional<v1::DisputeView> view = ledger.DisputeState(dispute);
    if (!view) {
      return Status::NotFound("--dispute: no dispute \"" + dispute + "\" in the log " + dir);
    }
    out->dispute = std::move(*view);
  }
  const v1::DisputeView& d = out->dispute;
  const int64_t start = d.window_start_us(), end = d.window_end_us();
  Ledger ledger;
  uint32_t campaign = kNoIndex;
  CollectingSink sink(&ledger, [&](const Entry& e) {
    if (e.kind != v1::COST || e.time_us < start || e.time_us >= end) return false;
    if (campaign == kNoIndex) {
      if (ledger.campaign_id(e.campaign) != d.campaign_id()) return false;
      campaign = e.campaign;
    }
    return e.campaign == campaign;
  });
  ReplayOptions options;
  options.use_snapshots = false;
  options.to_seq = through_seq;
  options.sink = &sink;
  ReplayStats stats;
  Status st = Replay(dir, options, &ledger, &stats);
  if (!st.ok()) return st;
  out->spend.clear();
  for (const AuditEntry& a : sink.entries) {
    const v1::LedgerEntry& e = a.entry;
    SpendRow& r = out->spend.emplace_back();
    r.log_seq = a.log_seq;
    r.time_us = e.time_us();
    r.event_id = e.event_id();
    r.funds = e.funds_type();
    r.grant_id = e.grant_id();
    r.amount_micros = -e.balance_delta_micros();
    r.units = e.units();
    r.fault_marked = e.note().find("platform fault") != std::string::npos;
  }
  out->delivery.clear();
  return log::ForEachEvent(dir, 1, [&](uint64_t seq, const v1::Event& e) {
    if (seq > through_seq) return false;
    if (!e.has_delivery_reported() || e.time_us() < start || e.time_us() >= end) return true;
    const v1::DeliveryReported& m = e.delivery_reported();
    if (m.campaign_id() != d.campaign_id() || m.account_id() != d.account_id()) return true;
    DeliveryRecord& r = out->delivery.emplace_back();
    r.log_seq = seq;
    r.time_us = e.time_us();
    r.event_id = e.event_id();
    r.kind = m.kind();
    r.count = m.count();
    r.platform_fault = m.platform_fault();
    return true;
  });
}

void WriteSpendReport(const Evidence& ev, std::ostream& out) {
  Table t({"log_seq", "time", "event_id", "source", "grant_id", "amount_micros", "units",
           "fault_marked"});
  for (const SpendRow& r : ev.spend) {
    t.Add({std::to_string(r.log_seq), FormatTime(r.time_us), std::to_string(r.event_id),
           r.funds == v1::FUNDS_TYPE_GRANT ? "GRANT" : "CASH", r.grant_id,
           std::to_string(r.amount_micros), std::to_string(r.units), YesNo(r.fault_marked)});
  }
  t.WriteCsv(out);
}

void WriteDeliveryData(const Evidence& ev, std::ostream& out) {
  Table t({"log_seq", "time", "event_id", "kind", "count", "platform_fault"});
  for (const DeliveryRecord& r : ev.delivery) {
    t.Add({std::to_string(r.log_seq), FormatTime(r.time_us), std::to_string(r.event_id),
           v1::DeliveryReported::Kind_Name(r.kind), std::to_string(r.count),
           YesNo(r.platform_fault)});
  }
  t.WriteCsv(out);
}

}  // namespace billsim::audit
