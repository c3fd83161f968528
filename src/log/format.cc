#include "log/format.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "util/assert.h"
#include "util/endian.h"

namespace billsim::log {

namespace {

// The header's fields, little-endian (util/endian.h).
void Put16(uint8_t* p, uint16_t v) { StoreLittleEndian(v, 2, p); }
void Put32(uint8_t* p, uint32_t v) { StoreLittleEndian(v, 4, p); }
void Put64(uint8_t* p, uint64_t v) { StoreLittleEndian(v, 8, p); }
uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(LoadLittleEndian(p, 2)); }
uint32_t Get32(const uint8_t* p) { return static_cast<uint32_t>(LoadLittleEndian(p, 4)); }
uint64_t Get64(const uint8_t* p) { return LoadLittleEndian(p, 8); }

constexpr size_t kChainedHeaderBytes = 40;   // bytes 0..40 go into the chain
constexpr size_t kHeaderChecksumAt = 88;

}  // namespace

void EncodeHeader(const BatchHeader& h, uint8_t* out) {
  std::memset(out, 0, kHeaderSize);
  Put32(out + 0, kMagic);
  Put16(out + 4, kFormatVersion);
  Put16(out + 6, kHeaderSize);
  Put64(out + 8, h.first_seq);
  Put32(out + 16, h.count);
  Put32(out + 20, h.payload_len);
  Put64(out + 24, static_cast<uint64_t>(h.first_time_us));
  Put64(out + 32, static_cast<uint64_t>(h.last_time_us));
  std::memcpy(out + 40, h.chain.data(), kChainSize);
  Put64(out + 72, h.payload_xxh3);
  Put64(out + kHeaderChecksumAt, XXH3_64bits(out, kHeaderChecksumAt));
}

Status DecodeHeader(const uint8_t* in, BatchHeader* h) {
  if (Get64(in + kHeaderChecksumAt) != XXH3_64bits(in, kHeaderChecksumAt)) {
    return Status::Corruption("batch header checksum mismatch");
  }
  if (Get32(in) != kMagic) return Status::Corruption("bad batch magic");
  if (Get16(in + 4) != kFormatVersion) {
    return Status::Corruption("unsupported format version " +
                              std::to_string(Get16(in + 4)));
  }
  if (Get16(in + 6) != kHeaderSize) return Status::Corruption("bad header size");
  h->first_seq = Get64(in + 8);
  h->count = Get32(in + 16);
  h->payload_len = Get32(in + 20);
  h->first_time_us = static_cast<int64_t>(Get64(in + 24));
  h->last_time_us = static_cast<int64_t>(Get64(in + 32));
  std::memcpy(h->chain.data(), in + 40, kChainSize);
  h->payload_xxh3 = Get64(in + 72);
  if (h->first_seq == 0) return Status::Corruption("sequence 0 in header");
  if (h->count == 0 || h->count > kMaxBatchEvents) {
    return Status::Corruption("batch event count " + std::to_string(h->count) +
                              " out of range");
  }
  if (h->payload_len > kMaxPayloadBytes) {
    return Status::Corruption("payload length " + std::to_string(h->payload_len) +
                              " over the limit");
  }
  return Status::Ok();
}

Chain ComputeChain(const Chain& prev, const uint8_t* header,
                   std::string_view payload) {
  Chain out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  BILLSIM_ASSERT(ctx != nullptr);
  unsigned int len = 0;
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, prev.data(), prev.size()) == 1 &&
                  EVP_DigestUpdate(ctx, header, kChainedHeaderBytes) == 1 &&
                  EVP_DigestUpdate(ctx, payload.data(), payload.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  BILLSIM_ASSERT(ok && len == kChainSize);
  return out;
}

uint64_t PayloadChecksum(std::string_view payload) {
  return XXH3_64bits(payload.data(), payload.size());
}

std::string SegmentName(uint64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64 ".seg", first_seq);
  return buf;
}

std::string IndexName(uint64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020" PRIu64 ".idx", first_seq);
  return buf;
}

namespace {

// "<prefix><20 digits><suffix>": the number, or false if `name` is not
// one (a number past 2^64 - 1 is no name of the log's, rather than a
// wrapped one).
bool ParseNumberedName(std::string_view name, std::string_view prefix, std::string_view suffix,
                       uint64_t* number) {
  if (name.size() != prefix.size() + 20 + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return false;
  }
  uint64_t v = 0;
  for (const char c : name.substr(prefix.size(), 20)) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *number = v;
  return true;
}

}  // namespace

bool ParseSegmentName(std::string_view name, uint64_t* first_seq) {
  return ParseNumberedName(name, "", ".seg", first_seq) && *first_seq > 0;
}

bool ParseIndexName(std::string_view name, uint64_t* first_seq) {
  return ParseNumberedName(name, "", ".idx", first_seq) && *first_seq > 0;
}

bool ParseSnapshotName(std::string_view name, uint64_t* seq) {
  return ParseNumberedName(name, "snapshot-", ".bin", seq);
}

std::string ChainHex(const Chain& c) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (uint8_t b : c) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

}  // namespace billsim::log
