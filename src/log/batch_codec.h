// Encodes events into a batch payload (v1::EventBatch, columnar for
// deliveries) and decodes it back, in order.
//
// BatchBuilder: events in, payload bytes out. Not thread-safe; reuse it
// (Clear) across batches to keep its buffers. REQUIRES: text fields are
// UTF-8, as Protobuf requires of proto3 strings (the ledger refuses other
// events, R11, so nothing else reaches a log).
//
// BatchDecoder: payload in, events out in order through a visitor. It keeps
// one parsed EventBatch and reuses its memory from batch to batch, so a
// delivery costs no heap allocation. A decoder made for one batch of
// mostly other events (a server's set-up request) parses into an arena
// instead (BatchDecoder::OneShot): the events and their strings then cost
// a few block allocations, not one or more each, and are freed at once
// (the arena holds about 15% more for such a batch; twice as much for
// delivery columns, which grow by doubling: not for those). A decoder
// reused along a log chooses between the two for each batch
// (BatchDecoder::Adaptive). The batch's
// dictionary is not parsed by Protobuf but read off the wire (ids given as
// string_views), with the same checks (UTF-8). Every index and length
// in the payload is checked before use: a payload that parses as Protobuf
// but does not describe `count` well-formed events is Corruption.
#ifndef BILLSIM_LOG_BATCH_CODEC_H_
#define BILLSIM_LOG_BATCH_CODEC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/arena.h"
#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"
#include "util/status.h"

namespace billsim::log {

// Writes into *out a string key for an (account, campaign) pair that no
// other pair shares, whatever bytes the ids hold: the account id's length
// (a varint, one byte below 128), then both ids. *out is reused, so a
// caller in a loop does not allocate.
// AppendPairKey appends it (for keys kept end to end).
void AppendPairKey(std::string_view account, std::string_view campaign, std::string* out);
inline void PairKey(std::string_view account, std::string_view campaign, std::string* out) {
  out->clear();
  AppendPairKey(account, campaign, out);
}

class BatchBuilder {
 public:
  // A delivery goes into the delivery columns when they can hold it
  // (Columnar); any other event, and a delivery they cannot hold (one the
  // ledger will refuse: a negative count, an unknown kind), as a whole
  // message among the other events.
  void Add(const v1::Event& event);
  // Whether the delivery columns can hold `d`: a count >= 0 and a known
  // kind (the decoder refuses rows without them).
  static bool Columnar(const v1::DeliveryReported& d) {
    return d.count() >= 0 && v1::DeliveryReported::Kind_IsValid(d.kind());
  }
  static bool Columnar(v1::DeliveryReported::Kind kind, int64_t count) {
    return count >= 0 && v1::DeliveryReported::Kind_IsValid(kind);
  }
  // The hot path: a delivery without building a v1::Event. REQUIRES:
  // Columnar(kind, count).
  void AddDelivery(uint64_t event_id, int64_t time_us, std::string_view account,
                   std::string_view campaign, v1::DeliveryReported::Kind kind,
                   int64_t count, bool platform_fault) {
    AddDeliveryTo(Dictionary(account, campaign), event_id, time_us, kind, count,
                  platform_fault);
  }
  // Hotter still, for a caller that adds many rows of a few campaigns: the
  // campaign's dictionary index (stable until Clear), then rows by index.
  uint32_t Dictionary(std::string_view account, std::string_view campaign);
  // The same without looking for an equal entry: for a caller whose entries
  // are distinct already (a decoded batch's dictionary, copied as its rows
  // are), so that copying costs no hashing. An entry stored twice (a later
  // Dictionary call, another batch's copy) decodes the same, at a few
  // bytes' cost.
  uint32_t AppendDictionary(std::string_view account, std::string_view campaign);
  void AddDeliveryTo(uint32_t dictionary_index, uint64_t event_id, int64_t time_us,
                     v1::DeliveryReported::Kind kind, int64_t count, bool platform_fault);

  uint32_t count() const { return count_; }
  // Recorded in the batch (EventBatch.stream_sequence) until Clear.
  void set_stream_sequence(uint64_t seq) { stream_sequence_ = seq; }
  uint64_t stream_sequence() const { return stream_sequence_; }
  int64_t first_time_us() const { return first_time_us_; }
  int64_t last_time_us() const { return last_time_us_; }
  // Serializes the batch into *out (replacing it).
  void Finish(std::string* out) const;
  void Clear();

 private:
  void Stamp(int64_t time_us);

  // The delivery columns and the dictionary. The other events are kept
  // already encoded (fields 8 and 9 of EventBatch, written by Finish after
  // batch_'s fields, in field order, so the bytes are what serializing one
  // EventBatch holding them would give): an event costs one serialization,
  // not a copy into batch_ that Clear destroys again.
  v1::EventBatch batch_;
  std::string others_;                 // field 8 records, in order
  std::vector<uint32_t> other_position_;
  absl::flat_hash_map<std::string, uint32_t> dictionary_;   // campaign -> first entry
  absl::flat_hash_map<std::string, uint32_t> other_pairs_;  // PairKey -> entry
  uint64_t last_delivery_id_ = 0;
  int64_t last_delivery_time_ = 0;
  uint32_t count_ = 0;
  int64_t first_time_us_ = 0;
  int64_t last_time_us_ = 0;
  uint64_t stream_sequence_ = 0;
};

// One delivery row as decoded. `campaign` indexes the batch dictionary.
struct DeliveryRow {
  uint32_t row;  // 0-based among the batch's deliveries
  uint64_t event_id;
  int64_t time_us;
  uint32_t campaign;
  v1::DeliveryReported::Kind kind;
  int64_t count;
  bool platform_fault;
};

class BatchVisitor {
 public:
  virtual ~BatchVisitor() = default;
  // `position` is 0-based within the batch. Return false to stop early.
  virtual bool OnDelivery(uint32_t position, const DeliveryRow& row) = 0;
  virtual bool OnEvent(uint32_t position, const v1::Event& event) = 0;
};

// How many other (non-delivery) events a payload holds, counted from its
// field tags without parsing them; -1 if it is not Protobuf wire data (a
// decoder's Parse says why). For choosing a decoder: a batch mostly of
// whole messages (a book's set-up) parses best into an arena (OneShot),
// one of delivery columns into reused memory.
int64_t CountOtherEvents(std::string_view payload);

class BatchDecoder {
 public:
  BatchDecoder() : batch_(&reused_) {}
  // For a decoder that parses one payload and is dropped (see above).
  struct OneShot {};
  explicit BatchDecoder(OneShot);
  // For a decoder reused along a log, whose batches are whole messages
  // (a book's set-up) and then delivery columns: each batch goes where it
  // parses best, one mostly of whole messages into an arena kept and
  // reset from batch to batch, any other into reused memory. The choice
  // is made from the tags SplitDictionary reads anyway.
  struct Adaptive {};
  explicit BatchDecoder(Adaptive) : batch_(&reused_), adaptive_(true) {}
  BatchDecoder(const BatchDecoder&) = delete;
  BatchDecoder& operator=(const BatchDecoder&) = delete;

  // Parses and checks `payload`, which must hold exactly `count` events.
  Status Parse(std::string_view payload, uint32_t count);
  // Visits the events of the last parsed batch in order.
  void Visit(BatchVisitor* visitor) const { VisitWith(visitor); }
  // The same for a visitor of a known (final) type: its calls are direct
  // and can be inlined (replay's hot loop).
  template <typename Visitor>
  void VisitWith(Visitor* visitor) const;

  // Dictionary entry i's ids (valid until the next Parse).
  std::string_view account(uint32_t i) const { return Text(account_spans_[i]); }
  std::string_view campaign(uint32_t i) const { return Text(campaign_spans_[i]); }
  uint32_t dictionary_size() const { return static_cast<uint32_t>(campaign_spans_.size()); }
  // EventBatch.stream_sequence: 0 unless a cluster shard wrote the batch.
  uint64_t stream_sequence() const { return batch_->stream_sequence(); }
  // The delivery rows' count, and the dictionary index row `row` names (for
  // a visitor that looks ahead).
  uint32_t delivery_rows() const { return batch_->delivery_campaign_size(); }
  uint32_t delivery_campaign(uint32_t row) const { return batch_->delivery_campaign(row); }
  // A delivery row as the event it records (for printing and the slow path).
  v1::Event ToEvent(const DeliveryRow& row) const;
  // Calls fn with every event of the last parsed batch, in order, each as a
  // v1::Event (a delivery row through ToEvent): for the paths that want
  // messages. Stops at fn's first error and returns it.
  Status ForEachEvent(const std::function<Status(const v1::Event&)>& fn) const;
  // The batch's other (non-delivery) events, stored whole, and their
  // positions in the batch: for a check that looks at those alone without
  // visiting every delivery row (the access check for ClockAdvanced).
  uint32_t other_events() const { return static_cast<uint32_t>(batch_->others_size()); }
  const v1::Event& other_event(uint32_t i) const { return batch_->others(static_cast<int>(i)); }
  uint32_t other_position(uint32_t i) const { return batch_->other_position(static_cast<int>(i)); }
  // Whether the last parsed batch says nothing but its events: no stream
  // sequence, and no field of the batch this decoder does not know (a
  // whole event's own unknown fields are kept by a re-encoding too,
  // BatchBuilder::Add). Such a payload, once every event is accepted and
  // every dictionary entry is named by a row, says what re-encoding its
  // events would say (Journal::ApplyBatch then writes it as it is).
  bool PlainEvents() const;
  // Made with OneShot (its batch on an arena).
  bool one_shot() const { return arena_ != nullptr && !adaptive_; }
  // A reused decoder keeps the messages of a batch's other events for the
  // next batch (protobuf keeps cleared elements): this many, the most a
  // batch parsed since it last let go of them.
  uint64_t others_kept() const { return others_kept_; }
  // Lets go of them, and of the last parsed batch: for a decoder reused
  // along a stream whose batches stopped carrying whole messages (a
  // book's set-up, megabytes of them, then deliveries). Nothing for
  // OneShot.
  void LetGo();
  // The largest payload it was given to parse: a reused decoder keeps
  // memory for about that much.
  uint64_t largest_payload() const { return largest_payload_; }
  // The memory the parsed batch holds: its arena's blocks (OneShot), else
  // the message's own estimate of its heap (slow: for tests and figures).
  uint64_t MemoryBytes() const;

 private:
  // Takes the dictionary (fields 6 and 7) off `payload`: its strings into
  // dictionary_bytes_ and their spans, and, if it had any, every other
  // field's bytes, in order, into rest_ (what Protobuf then parses).
  Status SplitDictionary(std::string_view payload);
  // Frees rest_ if a batch grew it past this.
  void TrimBuffers();
  static constexpr size_t kKeptBufferBytes = 1 << 20;

  // Adaptive: the last batch is on the arena (reset before the next).
  bool on_arena() const { return batch_ != &reused_; }
  static std::unique_ptr<google::protobuf::Arena> NewArena();

  v1::EventBatch reused_;                            // unused OneShot
  std::unique_ptr<google::protobuf::Arena> arena_;   // OneShot; Adaptive, once needed
  v1::EventBatch* batch_;                            // &reused_ or on arena_
  const bool adaptive_ = false;
  uint32_t others_seen_ = 0;  // SplitDictionary's count of `others` tags
  // The dictionary is not parsed into the message: a string each would be
  // copied and, in a large book's batch (an entry for almost every row),
  // cost more than the delivery columns. Its bytes end to end, and each
  // id's offset there and length (batch_'s dictionary fields stay empty).
  using Span = std::pair<uint32_t, uint32_t>;
  std::string_view Text(Span span) const {
    return std::string_view(dictionary_bytes_.data() + span.first, span.second);
  }
  std::string dictionary_bytes_;
  std::vector<Span> account_spans_;
  std::vector<Span> campaign_spans_;
  std::string rest_;                // the payload less the dictionary
  uint32_t count_ = 0;
  uint64_t largest_payload_ = 0;
  uint64_t others_kept_ = 0;
};

template <typename Visitor>
void BatchDecoder::VisitWith(Visitor* visitor) const {
  int other = 0;
  int row = 0;
  uint64_t id = 0;
  uint64_t time = 0;
  for (uint32_t pos = 0; pos < count_; ++pos) {
    if (other < batch_->other_position_size() && batch_->other_position(other) == pos) {
      if (!visitor->OnEvent(pos, batch_->others(other))) return;
      other++;
      continue;
    }
    id += static_cast<uint64_t>(batch_->delivery_id_delta(row));
    time += static_cast<uint64_t>(batch_->delivery_time_delta(row));
    const uint32_t k = batch_->delivery_kind(row);
    const DeliveryRow r{static_cast<uint32_t>(row),
                        id,
                        static_cast<int64_t>(time),
                        batch_->delivery_campaign(row),
                        static_cast<v1::DeliveryReported::Kind>(k >> 1),
                        static_cast<int64_t>(batch_->delivery_count(row)),
                        (k & 1) != 0};
    row++;
    if (!visitor->OnDelivery(pos, r)) return;
  }
}

}  // namespace billsim::log

#endif  // BILLSIM_LOG_BATCH_CODEC_H_
