#include "replay/state_stream.h"

#include <algorithm>
#include <climits>

#include "util/varint.h"

namespace billsim {

Status FieldReader::Next(Field* f) {
  f->start = at_;
  uint64_t tag = 0;
  size_t n = 0;
  Status st = Varint(at_, &tag, &n);
  if (!st.ok()) return st;
  f->number = static_cast<uint32_t>(tag >> 3);
  const int wire = static_cast<int>(tag & 7);
  if (f->number == 0 || tag >> 32 != 0 || (wire != 0 && wire != 2)) {
    return Bad("a field of wire type " + std::to_string(wire) + " or number 0");
  }
  if (f->number < last_number_) {
    return Bad("field " + std::to_string(f->number) + " after field " +
               std::to_string(last_number_));
  }
  last_number_ = f->number;
  uint64_t value = 0;
  size_t m = 0;
  st = Varint(at_ + n, &value, &m);
  if (!st.ok()) return st;
  f->delimited = wire == 2;
  f->header = f->delimited ? n + m : n;
  f->payload = f->delimited ? value : m;
  if (f->payload > end_ - at_ - f->header) {
    return Bad("field " + std::to_string(f->number) + " runs past the end");
  }
  return Status::Ok();
}

Status FieldReader::Read(const Field& f, std::string_view* whole, std::string_view* value) {
  const uint8_t* data = nullptr;
  size_t got = 0;
  const uint64_t size = f.header + f.payload;
  Status st = source_->Read(f.start, static_cast<size_t>(size), &data, &got);
  if (!st.ok()) return st;
  if (got != size) return Bad("the bytes end before field " + std::to_string(f.number) + " does");
  *whole = std::string_view(reinterpret_cast<const char*>(data), got);
  *value = whole->substr(f.header);
  at_ = f.start + size;
  return Status::Ok();
}

FieldReader FieldReader::Sub(const Field& f, std::string what) {
  at_ = f.start + f.header + f.payload;
  return FieldReader(source_, f.start + f.header, at_, std::move(what));
}

Status FieldReader::Varint(uint64_t at, uint64_t* v, size_t* n) {
  const uint8_t* data = nullptr;
  size_t got = 0;
  Status st = source_->Read(at, static_cast<size_t>(std::min<uint64_t>(10, end_ - at)), &data, &got);
  if (!st.ok()) return st;
  const uint8_t* p = data;
  if (!GetVarint64(&p, data + got, v)) {
    return Bad(got == 10 ? "a varint longer than 64 bits" : "a varint runs past the end");
  }
  *n = static_cast<size_t>(p - data);
  return Status::Ok();
}

Status FieldReader::Bad(const std::string& what) const {
  return Status::Corruption(what_ + " at byte " + std::to_string(at_) + ": " + what);
}

Status RestoreStateFields(FieldReader* in, int64_t max_time_us, Ledger::Restorer* restorer,
                          v1::LedgerState* fields) {
  std::string other;  // the other fields' bytes, parsed as one message
  bool other_parsed = false;
  // The fields before the entities, parsed once the first entity comes
  // (and at the end): a state after the target is skipped before any work.
  auto parse_other = [&]() -> Status {
    if (other_parsed) return Status::Ok();
    other_parsed = true;
    if (!fields->ParseFromString(other)) return Status::Corruption("state fields do not parse");
    if (fields->clock_us() > max_time_us) return Status::NotFound("after the replay target");
    return Status::Ok();
  };
  v1::LedgerState::Account account;
  v1::LedgerState::Grant grant;
  v1::LedgerState::Campaign campaign;
  v1::LedgerState::Dispute dispute;
  v1::LedgerState::Timer timer;
  auto parse = [](google::protobuf::MessageLite* m, std::string_view v, const char* what) {
    return m->ParseFromArray(v.data(), static_cast<int>(v.size()))
               ? Status::Ok()
               : Status::Corruption(std::string(what) + " does not parse");
  };
  while (!in->done()) {
    FieldReader::Field f;
    Status st = in->Next(&f);
    if (!st.ok()) return st;
    // Sizes checked before anything is read: an entity is at most what
    // Protocol Buffers parses (2 GiB), any other field a scalar or an id
    // range.
    using S = v1::LedgerState;
    const bool entity = f.number >= S::kAccountsFieldNumber && f.number <= S::kTimersFieldNumber;
    if (entity ? !f.delimited || f.payload > INT32_MAX : f.payload > kSmallFieldMax) {
      return Status::Corruption("field " + std::to_string(f.number) + " is malformed or too large");
    }
    std::string_view whole, value;
    if (!(st = in->Read(f, &whole, &value)).ok()) return st;
    if (entity && !other_parsed && !(st = parse_other()).ok()) return st;
    switch (f.number) {
      case S::kAccountsFieldNumber:
        if ((st = parse(&account, value, "an account")).ok()) st = restorer->AddAccount(account);
        break;
      case S::kGrantsFieldNumber:
        if ((st = parse(&grant, value, "a grant")).ok()) st = restorer->AddGrant(grant);
        break;
      case S::kCampaignsFieldNumber:
        if ((st = parse(&campaign, value, "a campaign")).ok()) st = restorer->AddCampaign(campaign);
        break;
      case S::kDisputesFieldNumber:
        if ((st = parse(&dispute, value, "a dispute")).ok()) st = restorer->AddDispute(dispute);
        break;
      case S::kTimersFieldNumber:
        if ((st = parse(&timer, value, "a timer")).ok()) st = restorer->AddTimer(timer);
        break;
      default:
        if (f.number > S::kRefundGrantValidityUsFieldNumber) {
          return Status::Corruption("unknown state field " + std::to_string(f.number));
        }
        if (other_parsed) {  // a field after the entities (the tail)
          // Parsed into the fields as they stand: a value, even 0, read
          // later replaces one read before, as parsing the whole would.
          if (!fields->MergeFromString(std::string(whole))) {
            return Status::Corruption("state fields do not parse");
          }
        } else {
          other.append(whole);
        }
    }
    if (!st.ok()) return st;
  }
  return parse_other();
}

}  // namespace billsim
