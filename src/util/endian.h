// Little-endian fixed-width integers in byte buffers. Every format billsim
// writes (log batch headers, the segment index, snapshot and checkpoint
// headers, history blocks, wire frames) stores its integers so, least
// significant byte first, whatever the machine's own order; these are the
// one place that order is spelled out.
//
// `bytes` is the field's width, 1 to 8; a store keeps the value's low
// `bytes` bytes (a caller stores a value that fits).
#ifndef BILLSIM_UTIL_ENDIAN_H_
#define BILLSIM_UTIL_ENDIAN_H_

#include <cstdint>
#include <string>

namespace billsim {

inline void StoreLittleEndian(uint64_t v, int bytes, uint8_t* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void StoreLittleEndian(uint64_t v, int bytes, char* out) {
  StoreLittleEndian(v, bytes, reinterpret_cast<uint8_t*>(out));
}

inline uint64_t LoadLittleEndian(const uint8_t* in, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | in[i];
  return v;
}
inline uint64_t LoadLittleEndian(const char* in, int bytes) {
  return LoadLittleEndian(reinterpret_cast<const uint8_t*>(in), bytes);
}

inline void AppendLittleEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_ENDIAN_H_
