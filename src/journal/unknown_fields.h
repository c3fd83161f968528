// Unknown fields: what Protobuf keeps of a message's fields that its schema
// does not define (a field number this build does not know). It keeps them
// and writes them back when the message is serialized, so an event with
// one would take it into the log unjudged; the journal refuses such an
// event instead (journal.h), as the JSON parser refuses an unknown name.
#ifndef BILLSIM_JOURNAL_UNKNOWN_FIELDS_H_
#define BILLSIM_JOURNAL_UNKNOWN_FIELDS_H_

#include <string>

#include "billsim/v1/events.pb.h"
#include "google/protobuf/message.h"

namespace billsim {

// True if `m`, or a message in it (a oneof's, a field's, a repeated
// field's), holds a field its schema does not know; *path then names the
// first one found, from `m`: "cash_deposited.#100", "others[1].#9", or
// "#7" for one of `m` itself. False, and *path untouched, if none.
bool FindUnknownField(const google::protobuf::Message& m, std::string* path);

// The same for an event, without reflection unless there is one (the
// journal asks this of every event it is given).
bool FindUnknownField(const v1::Event& event, std::string* path);

}  // namespace billsim

#endif  // BILLSIM_JOURNAL_UNKNOWN_FIELDS_H_
