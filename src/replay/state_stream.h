// Reading a saved ledger state (v1::LedgerState, as Ledger::SerializeState
// writes it) a field at a time, so that a book of millions of campaigns is
// never held as one message: each entity is parsed on its own, checked and
// restored (Ledger::Restorer) before the next is read.
//
// The bytes come from a ByteSource: a file through its one read buffer (a
// snapshot, the history index's checkpoint). Fields must come
// in number order, as a deterministic serialization writes them; only
// varint and length-delimited fields exist in a saved state. A field this
// version does not know is refused, not skipped: a state is trusted only
// whole (a new field comes with a new snapshot format version, and an
// older reader replays from the log instead).
#ifndef BILLSIM_REPLAY_STATE_STREAM_H_
#define BILLSIM_REPLAY_STATE_STREAM_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/ledger.h"
#include "log/file.h"
#include "util/status.h"

namespace billsim {

// Bytes [offset, offset + n) made readable at *data, valid until the next
// Read; *got is less than n only where the bytes end.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Status Read(uint64_t offset, size_t n, const uint8_t** data, size_t* got) = 0;
};

class FileBytes : public ByteSource {
 public:
  explicit FileBytes(log::ReadFile* file) : file_(file) {}
  Status Read(uint64_t offset, size_t n, const uint8_t** data, size_t* got) override {
    return file_->Read(offset, n, data, got);
  }

 private:
  log::ReadFile* file_;
};

// The largest field of a saved state that is not an entity (a scalar, an
// applied-id range; a snapshot's chain and digest).
inline constexpr uint64_t kSmallFieldMax = 4096;

// A message's fields read one at a time from [begin, end) of a source:
// the cost is the largest single field read, not the message.
class FieldReader {
 public:
  struct Field {
    uint32_t number = 0;
    uint64_t start = 0;    // of its tag
    uint64_t header = 0;   // tag (and length) bytes
    uint64_t payload = 0;  // value bytes (a varint's own, or the length's)
    bool delimited = false;
  };

  // `what` names the message in errors.
  FieldReader(ByteSource* source, uint64_t begin, uint64_t end, std::string what)
      : source_(source), at_(begin), end_(end), what_(std::move(what)) {}

  bool done() const { return at_ == end_; }
  // The next field's framing, without reading its value. Corruption if it
  // is malformed, out of number order, or runs past the end.
  Status Next(Field* f);
  // The whole field (framing and value) and its value; valid until the
  // next read of the source.
  Status Read(const Field& f, std::string_view* whole, std::string_view* value);
  // Moves past a length-delimited field whose value another reader reads.
  FieldReader Sub(const Field& f, std::string what);

 private:
  Status Varint(uint64_t at, uint64_t* v, size_t* n);
  Status Bad(const std::string& what) const;

  ByteSource* source_;
  uint64_t at_;
  uint64_t end_;
  std::string what_;
  uint32_t last_number_ = 0;
};

// Restores the state `in` reads into `restorer` (AddAccount ... AddTimer);
// its other fields (counters, options, applied ids) into *fields, for
// Restorer::Finish. NotFound, before any entity is restored, if the
// state's clock is after max_time_us. Corruption naming the field or
// entity otherwise.
Status RestoreStateFields(FieldReader* in, int64_t max_time_us, Ledger::Restorer* restorer,
                          v1::LedgerState* fields);

}  // namespace billsim

#endif  // BILLSIM_REPLAY_STATE_STREAM_H_
