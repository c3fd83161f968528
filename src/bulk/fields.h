// Cells and values shared by the bulk parsers (JSON lines, CSV): read
// without allocating, on the path every imported delivery takes.
#ifndef BILLSIM_BULK_FIELDS_H_
#define BILLSIM_BULK_FIELDS_H_

#include <cstdint>
#include <string_view>

#include "util/status.h"

namespace billsim::bulk {

// A DeliveryReported.Kind by its name, exactly as Protobuf names it
// ("IMPRESSION"); false for anything else.
bool ParseKindName(std::string_view name, int* kind);

// A time cell: integer microseconds or ISO 8601, as ParseTimeUs reads it
// (the same values, the same errors naming `what`); plain digits are read
// without it.
Status ParseTimeCell(std::string_view text, std::string_view what, int64_t* out);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_FIELDS_H_
