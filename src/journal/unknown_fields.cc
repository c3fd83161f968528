#include "journal/unknown_fields.h"

#include <memory>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"

namespace billsim {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Where a message of one type can hold other messages: its real oneofs
// and its fields of message type outside them. Worked out once per type
// and thread.
struct Plan {
  const Descriptor* type = nullptr;
  std::vector<const google::protobuf::OneofDescriptor*> oneofs;
  std::vector<const FieldDescriptor*> fields;
};

const Plan& PlanOf(const Descriptor* d) {
  // A handful of types (an event's envelope and its payloads): a short list.
  thread_local std::vector<std::unique_ptr<Plan>> plans;
  for (const auto& p : plans) {
    if (p->type == d) return *p;
  }
  auto plan = std::make_unique<Plan>();
  plan->type = d;
  // The real oneofs come first; the synthetic ones of proto3 optional
  // fields after them.
  for (int i = 0; i < d->real_oneof_decl_count(); ++i) plan->oneofs.push_back(d->oneof_decl(i));
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->real_containing_oneof()) {
      plan->fields.push_back(f);
    }
  }
  plans.push_back(std::move(plan));
  return *plans.back();
}

// The path below `m` of its first unknown field, built as the search
// returns (nothing is built while none is found): "a.b[2].#7".
bool FindBelow(const Message& m, std::string* path) {
  const google::protobuf::Reflection* r = m.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = r->GetUnknownFields(m);
  if (!unknown.empty()) {
    *path = "#" + std::to_string(unknown.field(0).number());
    return true;
  }
  auto found_in = [path](const FieldDescriptor* f, const Message& sub, int index) {
    if (!FindBelow(sub, path)) return false;
    *path = f->name() + (index < 0 ? "" : "[" + std::to_string(index) + "]") + "." + *path;
    return true;
  };
  const Plan& plan = PlanOf(m.GetDescriptor());
  // A oneof's member is found at once (an Event's payload: one of a
  // dozen), not by asking each member whether it is set.
  for (const google::protobuf::OneofDescriptor* o : plan.oneofs) {
    const FieldDescriptor* f = r->GetOneofFieldDescriptor(m, o);
    if (f != nullptr && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        found_in(f, r->GetMessage(m, f), -1)) {
      return true;
    }
  }
  for (const FieldDescriptor* f : plan.fields) {
    if (!f->is_repeated()) {
      if (r->HasField(m, f) && found_in(f, r->GetMessage(m, f), -1)) return true;
      continue;
    }
    const int n = r->FieldSize(m, f);
    for (int k = 0; k < n; ++k) {
      if (found_in(f, r->GetRepeatedMessage(m, f, k), k)) return true;
    }
  }
  return false;
}

// Whether no payload type of an Event holds a message (true of today's
// schema): then an event's envelope and payload are all there is to check.
bool PayloadsAreFlat() {
  static const bool flat = [] {
    const google::protobuf::OneofDescriptor* payload =
        v1::Event::descriptor()->FindOneofByName("payload");
    if (payload == nullptr) return false;
    for (int i = 0; i < payload->field_count(); ++i) {
      const Descriptor* t = payload->field(i)->message_type();
      if (t == nullptr) return false;
      for (int k = 0; k < t->field_count(); ++k) {
        if (t->field(k)->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return false;
      }
    }
    return true;
  }();
  return flat;
}

// No unknown field in `m` itself (proto3's generated code has no
// accessor for them: its type's reflection, looked up once, has).
template <typename M>
bool Known(const M& m) {
  static const google::protobuf::Reflection* const reflection = M::GetReflection();
  return reflection->GetUnknownFields(m).empty();
}

}  // namespace

bool FindUnknownField(const Message& m, std::string* path) {
  std::string found;
  if (!FindBelow(m, &found)) return false;
  *path = std::move(found);
  return true;
}

bool FindUnknownField(const v1::Event& e, std::string* path) {
  // The payload through the generated accessors, without walking the
  // descriptors: a journal checks every event it is given, and the walk
  // cost a fifth of the set-up's ingest speed. An event with an unknown
  // field, or a schema whose payloads hold messages, takes the walk.
  bool payload_known = true;
  switch (e.payload_case()) {
    case v1::Event::kDeliveryReported: payload_known = Known(e.delivery_reported()); break;
    case v1::Event::kAccountOpened: payload_known = Known(e.account_opened()); break;
    case v1::Event::kCashDeposited: payload_known = Known(e.cash_deposited()); break;
    case v1::Event::kCreditGranted: payload_known = Known(e.credit_granted()); break;
    case v1::Event::kCampaignCreated: payload_known = Known(e.campaign_created()); break;
    case v1::Event::kCampaignStatusChanged:
      payload_known = Known(e.campaign_status_changed());
      break;
    case v1::Event::kAdReviewed: payload_known = Known(e.ad_reviewed()); break;
    case v1::Event::kDisputeFiled: payload_known = Known(e.dispute_filed()); break;
    case v1::Event::kDisputeEvidenceAdded: payload_known = Known(e.dispute_evidence_added()); break;
    case v1::Event::kDisputeDecided: payload_known = Known(e.dispute_decided()); break;
    case v1::Event::kClockAdvanced: payload_known = Known(e.clock_advanced()); break;
    case v1::Event::kCampaignUpdated: payload_known = Known(e.campaign_updated()); break;
    case v1::Event::PAYLOAD_NOT_SET: break;
    default: payload_known = false;  // a payload added since: the walk decides
  }
  if (payload_known && Known(e) && PayloadsAreFlat()) return false;
  return FindUnknownField(static_cast<const Message&>(e), path);
}

}  // namespace billsim
