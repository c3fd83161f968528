// Cells and values shared by the bulk parsers (JSON lines, CSV): read
// without allocating, on the path every imported delivery takes.
#ifndef BILLSIM_BULK_FIELDS_H_
#define BILLSIM_BULK_FIELDS_H_

#include <cstdint>
#include <string_view>

#include "billsim/v1/events.pb.h"
#include "log/batch_codec.h"
#include "util/status.h"

namespace billsim::bulk {

// A DeliveryReported.Kind by its name, exactly as Protobuf names it
// ("IMPRESSION"); false for anything else.
bool ParseKindName(std::string_view name, int* kind);

// A time cell: integer microseconds or ISO 8601, as ParseTimeUs reads it
// (the same values, the same errors naming `what`); plain digits are read
// without it.
Status ParseTimeCell(std::string_view text, std::string_view what, int64_t* out);

// Adds a parsed delivery to *batch: into the delivery columns, or, when
// they cannot hold it (a negative count, which the ledger refuses naming
// the field), as a whole event, so that it reaches the ledger's judgement
// like any other.
void AddDelivery(uint64_t event_id, int64_t time_us, std::string_view account,
                 std::string_view campaign, v1::DeliveryReported::Kind kind, int64_t count,
                 bool platform_fault, log::BatchBuilder* batch);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_FIELDS_H_
