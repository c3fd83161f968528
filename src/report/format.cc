#include "report/format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "report/proto_json.h"
#include "report/table.h"
#include "util/assert.h"
#include "util/money.h"

namespace billsim {

Status ParseFormat(const std::string& name, Format* out) {
  if (name == "table") *out = Format::kTable;
  else if (name == "csv") *out = Format::kCsv;
  else if (name == "json") *out = Format::kJson;
  else return Status::InvalidArgument("--format: expected table, csv or json, got \"" + name + "\"");
  return Status::Ok();
}

bool ToJson(const google::protobuf::Message& message, std::string* json) {
  json->clear();
  if (AppendProtoJson(message, json)) return true;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  return google::protobuf::util::MessageToJsonString(message, json, options).ok();
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  (void)ToJson(message, &json);
  return json;
}

namespace {

// The report's JSON, list by list: '{"accounts":[' view ',' view ... '],'
// then the summary's own JSON after its (empty) lists.
void WriteBalancesJson(const BalanceStream& report, std::ostream& out) {
  auto list = [&out](const char* name, size_t n, const auto& view) {
    out << '"' << name << "\":[";
    for (size_t i = 0; i < n; ++i) out << (i ? "," : "") << ToJson(view(i));
    out << "],";
  };
  out << '{';
  list("accounts", report.accounts, report.account);
  list("campaigns", report.campaigns, report.campaign);
  list("disputes", report.disputes, report.dispute);
  BILLSIM_ASSERT(report.summary.accounts_size() == 0 && report.summary.campaigns_size() == 0 &&
                 report.summary.disputes_size() == 0);
  const std::string tail = ToJson(report.summary);
  static constexpr std::string_view kEmptyLists = R"({"accounts":[],"campaigns":[],"disputes":[],)";
  BILLSIM_ASSERT(tail.compare(0, kEmptyLists.size(), kEmptyLists) == 0);
  out << std::string_view(tail).substr(kEmptyLists.size()) << "\n";
}

}  // namespace

BalanceStream BalancesOf(const Ledger& ledger, const std::string& source) {
  BalanceStream s;
  s.summary = ledger.ReportSummary();
  s.summary.set_source(source);
  s.accounts = ledger.accounts().size();
  s.campaigns = ledger.campaigns().size();
  s.disputes = ledger.disputes().size();
  s.account = [&ledger](size_t i) { return ledger.AccountView(static_cast<uint32_t>(i)); };
  s.campaign = [&ledger](size_t i) { return ledger.CampaignView(static_cast<uint32_t>(i)); };
  s.dispute = [&ledger](size_t i) { return ledger.DisputeViewAt(static_cast<uint32_t>(i)); };
  return s;
}

void WriteBalances(const BalanceStream& report, Format format, std::ostream& out) {
  if (format == Format::kJson) {
    WriteBalancesJson(report, out);
    return;
  }
  // CSV carries exact micros; the table shows decimals.
  const bool csv = format == Format::kCsv;
  auto money = [csv](int64_t v) { return csv ? std::to_string(v) : FormatMicros(v); };
  Table t({"source", "account", "currency", "cash_balance", "grant_balance", "frozen_balance",
           "valid_balance", "spent", "expired", "adjusted"});
  if (csv) t.WriteCsv(out);
  for (size_t i = 0; i < report.accounts; ++i) {
    const v1::AccountBalance a = report.account(i);
    std::vector<std::string> row = {
        report.summary.source(),     a.account_id(),           a.currency(),
        money(a.cash_balance()),     money(a.grant_balance()), money(a.frozen_balance()),
        money(a.valid_balance()),    money(a.total_spent()),   money(a.total_expired()),
        money(a.total_adjusted())};
    if (csv) {
      WriteCsvRow(row, out);
    } else {
      t.Add(std::move(row));
    }
  }
  if (!csv) t.Write(out, 3);
}

void WriteBalances(const v1::BalanceReport& report, Format format, std::ostream& out) {
  BalanceStream s;
  s.summary = report;  // small books only (scenarios, one account)
  s.summary.clear_accounts();
  s.summary.clear_campaigns();
  s.summary.clear_disputes();
  s.accounts = report.accounts_size();
  s.campaigns = report.campaigns_size();
  s.disputes = report.disputes_size();
  s.account = [&report](size_t i) { return report.accounts(static_cast<int>(i)); };
  s.campaign = [&report](size_t i) { return report.campaigns(static_cast<int>(i)); };
  s.dispute = [&report](size_t i) { return report.disputes(static_cast<int>(i)); };
  WriteBalances(s, format, out);
}

void WriteHistory(const std::vector<v1::LedgerEntry>& entries, Format format,
                  std::ostream& out) {
  if (format == Format::kJson) {
    for (const auto& e : entries) out << ToJson(e) << "\n";
    return;
  }
  const bool csv = format == Format::kCsv;
  auto money = [csv](int64_t v) { return csv ? std::to_string(v) : FormatMicros(v); };
  auto time = [csv](int64_t v) { return csv ? std::to_string(v) : FormatTime(v); };
  Table t({"seq", "time", "event", "kind", "campaign", "source", "balance_delta",
           "frozen_delta", "units", "cash", "grant", "frozen", "valid", "note"});
  for (const auto& e : entries) {
    std::string source;
    if (e.funds_type() == v1::FUNDS_TYPE_CASH) source = "CASH";
    if (e.funds_type() == v1::FUNDS_TYPE_GRANT) source = "GRANT " + e.grant_id();
    std::string note = e.note();
    if (e.kind() == v1::NOT_BILLED) note = v1::NotBilledReason_Name(e.not_billed_reason());
    if (e.kind() == v1::DISPUTE_STATUS) {
      note = e.dispute_id() + " " + v1::DisputeStatus_Name(e.dispute_status()) + ": " + note;
    }
    t.Add({std::to_string(e.seq()), time(e.time_us()), std::to_string(e.event_id()),
           v1::EntryKind_Name(e.kind()), e.campaign_id(), source,
           money(e.balance_delta_micros()), money(e.frozen_delta_micros()),
           std::to_string(e.units()), money(e.cash_balance()), money(e.grant_balance()),
           money(e.frozen_balance()), money(e.valid_balance()), note});
  }
  if (csv) {
    t.WriteCsv(out);
  } else {
    t.Write(out, 6);
  }
}

}  // namespace billsim
