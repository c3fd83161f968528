// EventAccountId: the account an event names, read from its payload. The
// ledger finds the account an event applies to by it (R6: each account's
// clock), and the cluster routes an event to its account's partition by it.
#ifndef BILLSIM_LEDGER_EVENT_ACCOUNT_H_
#define BILLSIM_LEDGER_EVENT_ACCOUNT_H_

#include <string_view>

#include "billsim/v1/events.pb.h"

namespace billsim {

// The account id an event names itself, or empty: a ClockAdvanced for every
// account, and dispute evidence and decisions (which name only a dispute),
// name none; nor does an event without a payload. The view is into `event`.
std::string_view EventAccountId(const v1::Event& event);

}  // namespace billsim

#endif  // BILLSIM_LEDGER_EVENT_ACCOUNT_H_
