// Renders the projections for people (aligned tables) and for programs (CSV,
// and JSON through Protobuf's JSON mapping: int64 values are strings there,
// as proto3 JSON specifies).
#ifndef BILLSIM_REPORT_FORMAT_H_
#define BILLSIM_REPORT_FORMAT_H_

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "billsim/v1/projections.pb.h"
#include "ledger/ledger.h"
#include "util/status.h"

namespace billsim {

enum class Format { kTable, kCsv, kJson };

// "table", "csv" or "json"; anything else is an error naming the value.
Status ParseFormat(const std::string& name, Format* out);

// A balance report produced one view at a time, so that a book of millions
// of campaigns is never held as one message (nor as one JSON string): the
// summary (everything but the three lists) and a view by index for each
// list.
struct BalanceStream {
  v1::BalanceReport summary;
  size_t accounts = 0;
  size_t campaigns = 0;
  size_t disputes = 0;
  std::function<v1::AccountBalance(size_t)> account;
  std::function<v1::CampaignSpend(size_t)> campaign;
  std::function<v1::DisputeView(size_t)> dispute;
};

// A ledger's report as a stream (its views by index; the ledger must
// outlive it), with `source` naming where its events came from.
BalanceStream BalancesOf(const Ledger& ledger, const std::string& source);

// One line per account: balances and totals. JSON is the whole report as
// one object on one line, the bytes Protobuf's JSON mapping would print.
void WriteBalances(const BalanceStream& report, Format format, std::ostream& out);
void WriteBalances(const v1::BalanceReport& report, Format format,
                   std::ostream& out);

// One line per entry, with the balances after it.
void WriteHistory(const std::vector<v1::LedgerEntry>& entries, Format format,
                  std::ostream& out);

// A message as one JSON object on one line: Protobuf's JSON mapping with
// proto field names and default values printed, through the fast printer of
// report/proto_json.h where it can. The first form returns false (and
// `json` is then whatever Protobuf's printer left) if Protobuf cannot print
// the message; the second returns "" then.
bool ToJson(const google::protobuf::Message& message, std::string* json);
std::string ToJson(const google::protobuf::Message& message);

}  // namespace billsim

#endif  // BILLSIM_REPORT_FORMAT_H_
