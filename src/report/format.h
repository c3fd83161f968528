// Renders the projections for people (aligned tables) and for programs (CSV,
// and JSON through Protobuf's JSON mapping: int64 values are strings there,
// as proto3 JSON specifies).
#ifndef BILLSIM_REPORT_FORMAT_H_
#define BILLSIM_REPORT_FORMAT_H_

#include <ostream>
#include <string>
#include <vector>

#include "billsim/v1/projections.pb.h"
#include "util/status.h"

namespace billsim {

enum class Format { kTable, kCsv, kJson };

// "table", "csv" or "json"; anything else is an error naming the value.
Status ParseFormat(const std::string& name, Format* out);

// One line per account: balances and totals.
void WriteBalances(const v1::BalanceReport& report, Format format,
                   std::ostream& out);

// One line per entry, with the balances after it.
void WriteHistory(const std::vector<v1::LedgerEntry>& entries, Format format,
                  std::ostream& out);

// A message as one JSON object on one line.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace billsim

#endif  // BILLSIM_REPORT_FORMAT_H_
