#include "history/history_block.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

namespace billsim::history {

namespace {

void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

void PutZigzag(std::string* out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

// Deltas wrap modulo 2^64, so any pair of values round-trips.
int64_t Diff(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Sum(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

void PutString(std::string* out, const std::string& s) {
  PutVarint(out, s.size());
  out->append(s);
}

bool GetVarint(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    const uint8_t b = *(*p)++;
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

bool GetZigzag(const uint8_t** p, const uint8_t* end, int64_t* v) {
  uint64_t u = 0;
  if (!GetVarint(p, end, &u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

bool GetSmall(const uint8_t** p, const uint8_t* end, uint32_t* v) {
  uint64_t u = 0;
  if (!GetVarint(p, end, &u) || u > UINT32_MAX) return false;
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
  if (!GetVarint(p, end, &n) || n > static_cast<uint64_t>(end - *p)) return false;
  *s = std::string_view(reinterpret_cast<const char*>(*p), n);
  *p += n;
  return true;
}

void Put32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | in[i];
  return v;
}

uint64_t BlockHash(const uint8_t* header, std::string_view payload) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header + 8, kBlockHeaderSize - 8);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

}  // namespace

void EncodeEntry(const Entry& e, uint64_t log_seq, EntryBase* base, std::string* out) {
  PutVarint(out, log_seq - base->log_seq);
  PutVarint(out, e.seq - base->seq);
  PutZigzag(out, Diff(e.time_us, base->time_us));
  PutZigzag(out, static_cast<int64_t>(e.event_id - base->event_id));
  PutVarint(out, static_cast<uint32_t>(e.kind));
  PutVarint(out, static_cast<uint32_t>(e.funds));
  PutVarint(out, static_cast<uint32_t>(e.not_billed_reason));
  PutVarint(out, static_cast<uint32_t>(e.dispute_status));
  PutVarint(out, static_cast<uint32_t>(e.campaign + 1));  // kNoIndex + 1 wraps to 0: none
  PutVarint(out, static_cast<uint32_t>(e.grant + 1));
  PutVarint(out, static_cast<uint32_t>(e.dispute + 1));
  PutZigzag(out, e.balance_delta);
  PutZigzag(out, e.frozen_delta);
  PutZigzag(out, e.units);
  PutZigzag(out, Diff(e.cash_after, base->cash));
  PutZigzag(out, Diff(e.credit_after, base->credit));
  PutZigzag(out, Diff(e.frozen_after, base->frozen));
  PutZigzag(out, Diff(e.valid_after, base->valid));
  PutString(out, e.note);
  PutString(out, e.field);
  *base = EntryBase{log_seq, e.seq, e.time_us, e.event_id,
                    e.cash_after, e.credit_after, e.frozen_after, e.valid_after};
}

bool DecodeEntry(const uint8_t** p, const uint8_t* end, EntryBase* base, StoredEntry* out) {
  uint64_t dlog = 0, dseq = 0;
  int64_t dtime = 0, devent = 0, dcash = 0, dcredit = 0, dfrozen = 0, dvalid = 0;
  if (!GetVarint(p, end, &dlog) || !GetVarint(p, end, &dseq) || !GetZigzag(p, end, &dtime) ||
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
  for (int i = 0; i < 8; ++i) header[i] = static_cast<uint8_t>(h >> (8 * i));
}

Status CheckBlock(const uint8_t* block, size_t size, uint32_t count, uint32_t account,
                  std::string_view* payload) {
  if (size < kBlockHeaderSize) return Status::Corruption("block shorter than its header");
  const std::string_view body(reinterpret_cast<const char*>(block) + kBlockHeaderSize,
                              size - kBlockHeaderSize);
  uint64_t stored = 0;
  for (int i = 7; i >= 0; --i) stored = stored << 8 | block[i];
  if (BlockHash(block, body) != stored) return Status::Corruption("block checksum mismatch");
  if (Get32(block + 8) != body.size() || Get32(block + 12) != count ||
      Get32(block + 16) != account) {
    return Status::Corruption("block header differs from the index's record of it");
  }
  *payload = body;
  return Status::Ok();
}

}  // namespace billsim::history
