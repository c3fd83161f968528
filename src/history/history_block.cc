#include "history/history_block.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

#include "util/endian.h"
#include "util/varint.h"

namespace billsim::history {

namespace {

uint8_t* PutZigzag(uint8_t* p, int64_t v) {
  return EncodeVarint(p, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

// Deltas wrap modulo 2^64, so any pair of values round-trips.
int64_t Diff(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Sum(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

bool GetZigzag(const uint8_t** p, const uint8_t* end, int64_t* v) {
  uint64_t u = 0;
  if (!GetVarint64(p, end, &u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

bool GetSmall(const uint8_t** p, const uint8_t* end, uint32_t* v) {
  uint64_t u = 0;
  if (!GetVarint64(p, end, &u) || u > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(u);
  return true;
}

// An id table index + 1; 0 is none.
bool GetIndex(const uint8_t** p, const uint8_t* end, uint32_t* v) {
  uint32_t u = 0;
  if (!GetSmall(p, end, &u)) return false;
  *v = u == 0 ? kNoIndex : u - 1;
  return true;
}

bool GetString(const uint8_t** p, const uint8_t* end, std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint64(p, end, &n) || n > static_cast<uint64_t>(end - *p)) return false;
  *s = std::string_view(reinterpret_cast<const char*>(*p), n);
  *p += n;
  return true;
}

void Put32(uint8_t* out, uint32_t v) { StoreLittleEndian(v, 4, out); }
uint32_t Get32(const uint8_t* in) { return static_cast<uint32_t>(LoadLittleEndian(in, 4)); }

uint64_t BlockHash(const uint8_t* header, std::string_view payload) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header + 8, kBlockHeaderSize - 8);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

}  // namespace

void EncodeEntry(const Entry& e, uint64_t log_seq, EntryBase* base, std::string* out) {
  // 20 varints of at most 10 bytes, and the note and field when short
  // (usually: empty, or a fixed phrase), so that one append does it all.
  constexpr size_t kInline = 96;
  uint8_t buf[20 * 10 + kInline];
  uint8_t* p = buf;
  p = EncodeVarint(p, log_seq - base->log_seq);
  p = EncodeVarint(p, e.seq - base->seq);
  p = PutZigzag(p, Diff(e.time_us, base->time_us));
  p = PutZigzag(p, static_cast<int64_t>(e.event_id - base->event_id));
  p = EncodeVarint(p, static_cast<uint32_t>(e.kind));
  p = EncodeVarint(p, static_cast<uint32_t>(e.funds) |
                       static_cast<uint32_t>(e.delivery_kind) << kDeliveryKindShift);
  p = EncodeVarint(p, static_cast<uint32_t>(e.not_billed_reason));
  p = EncodeVarint(p, static_cast<uint32_t>(e.dispute_status));
  p = EncodeVarint(p, static_cast<uint32_t>(e.campaign + 1));  // kNoIndex + 1 wraps to 0: none
  p = EncodeVarint(p, static_cast<uint32_t>(e.grant + 1));
  p = EncodeVarint(p, static_cast<uint32_t>(e.dispute + 1));
  p = PutZigzag(p, e.balance_delta);
  p = PutZigzag(p, e.frozen_delta);
  p = PutZigzag(p, e.units);
  p = PutZigzag(p, Diff(e.cash_after, base->cash));
  p = PutZigzag(p, Diff(e.credit_after, base->credit));
  p = PutZigzag(p, Diff(e.frozen_after, base->frozen));
  p = PutZigzag(p, Diff(e.valid_after, base->valid));
  p = EncodeVarint(p, e.note.size());
  if (e.note.size() + e.field.size() <= kInline) {
    std::memcpy(p, e.note.data(), e.note.size());
    p = EncodeVarint(p + e.note.size(), e.field.size());
    std::memcpy(p, e.field.data(), e.field.size());
    out->append(reinterpret_cast<const char*>(buf), p + e.field.size() - buf);
  } else {
    out->append(reinterpret_cast<const char*>(buf), p - buf);
    out->append(e.note);
    p = EncodeVarint(buf, e.field.size());
    out->append(reinterpret_cast<const char*>(buf), p - buf);
    out->append(e.field);
  }
  *base = EntryBase{log_seq, e.seq, e.time_us, e.event_id,
                    e.cash_after, e.credit_after, e.frozen_after, e.valid_after};
}

bool DecodeEntry(const uint8_t** p, const uint8_t* end, EntryBase* base, StoredEntry* out) {
  uint64_t dlog = 0, dseq = 0;
  int64_t dtime = 0, devent = 0, dcash = 0, dcredit = 0, dfrozen = 0, dvalid = 0;
  if (!GetVarint64(p, end, &dlog) || !GetVarint64(p, end, &dseq) || !GetZigzag(p, end, &dtime) ||
      !GetZigzag(p, end, &devent) || !GetSmall(p, end, &out->kind) ||
      !GetSmall(p, end, &out->funds) || !GetSmall(p, end, &out->not_billed_reason) ||
      !GetSmall(p, end, &out->dispute_status) || !GetIndex(p, end, &out->campaign) ||
      !GetIndex(p, end, &out->grant) || !GetIndex(p, end, &out->dispute) ||
      !GetZigzag(p, end, &out->balance_delta) || !GetZigzag(p, end, &out->frozen_delta) ||
      !GetZigzag(p, end, &out->units) || !GetZigzag(p, end, &dcash) ||
      !GetZigzag(p, end, &dcredit) || !GetZigzag(p, end, &dfrozen) ||
      !GetZigzag(p, end, &dvalid) || !GetString(p, end, &out->note) ||
      !GetString(p, end, &out->field)) {
    return false;
  }
  out->log_seq = base->log_seq + dlog;
  out->seq = base->seq + dseq;
  out->time_us = Sum(base->time_us, dtime);
  out->event_id = base->event_id + static_cast<uint64_t>(devent);
  out->cash = Sum(base->cash, dcash);
  out->credit = Sum(base->credit, dcredit);
  out->frozen = Sum(base->frozen, dfrozen);
  out->valid = Sum(base->valid, dvalid);
  out->delivery_kind = out->funds >> kDeliveryKindShift;
  out->funds &= (1u << kDeliveryKindShift) - 1;
  *base = EntryBase{out->log_seq, out->seq, out->time_us, out->event_id,
                    out->cash, out->credit, out->frozen, out->valid};
  return true;
}

void EncodeBlockHeader(std::string_view payload, uint32_t count, uint32_t account,
                       uint8_t header[kBlockHeaderSize]) {
  Put32(header + 8, static_cast<uint32_t>(payload.size()));
  Put32(header + 12, count);
  Put32(header + 16, account);
  Put32(header + 20, 0);
  const uint64_t h = BlockHash(header, payload);
  StoreLittleEndian(h, 8, header);
}

Status CheckBlock(const uint8_t* block, size_t size, uint32_t count, uint32_t account,
                  std::string_view* payload) {
  if (size < kBlockHeaderSize) return Status::Corruption("block shorter than its header");
  const std::string_view body(reinterpret_cast<const char*>(block) + kBlockHeaderSize,
                              size - kBlockHeaderSize);
  if (BlockHash(block, body) != LoadLittleEndian(block, 8)) {
    return Status::Corruption("block checksum mismatch");
  }
  if (Get32(block + 8) != body.size() || Get32(block + 12) != count ||
      Get32(block + 16) != account) {
    return Status::Corruption("block header differs from the index's record of it");
  }
  *payload = body;
  return Status::Ok();
}

}  // namespace billsim::history
