#include "log/batch_codec.h"

#include <algorithm>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "log/format.h"
#include "util/assert.h"
#include "util/utf8.h"
#include "util/varint.h"

namespace billsim::log {
namespace {

// EventBatch's fields 8 (others, length-delimited) and 9 (other_position,
// packed): their tags on the wire.
constexpr uint32_t kOthersTag = 8 << 3 | 2;
constexpr uint32_t kOtherPositionTag = 9 << 3 | 2;
constexpr uint32_t kStreamSequenceTag = 10 << 3 | 0;  // uint64, varint
// Fields 6 and 7 (dictionary_account, dictionary_campaign): strings.
constexpr uint32_t kDictionaryAccountTag = 6 << 3 | 2;
constexpr uint32_t kDictionaryCampaignTag = 7 << 3 | 2;

}  // namespace

void BatchBuilder::Stamp(int64_t time_us) {
  if (count_ == 0) first_time_us_ = time_us;
  last_time_us_ = time_us;
  count_++;
}

void AppendPairKey(std::string_view account, std::string_view campaign, std::string* out) {
  AppendVarint(out, account.size());
  out->append(account);
  out->append(campaign);
}

uint32_t BatchBuilder::Dictionary(std::string_view account,
                                  std::string_view campaign) {
  // An entry is an (account, campaign) pair: a row must decode to the very
  // ids it was given, even a refused one naming a campaign of another
  // account. The usual case, one account per campaign, is one lookup by
  // campaign; pairs past the first for a campaign are keyed by both ids.
  // Debian's Abseil has its own string_view type (built before C++17).
  auto it = dictionary_.find(absl::string_view(campaign.data(), campaign.size()));
  if (it != dictionary_.end() && batch_.dictionary_account(it->second) == account) {
    return it->second;
  }
  std::string pair;
  if (it != dictionary_.end()) {
    PairKey(account, campaign, &pair);
    auto p = other_pairs_.find(pair);
    if (p != other_pairs_.end()) return p->second;
  }
  const uint32_t index = static_cast<uint32_t>(batch_.dictionary_campaign_size());
  batch_.add_dictionary_account(std::string(account));
  batch_.add_dictionary_campaign(std::string(campaign));
  if (it == dictionary_.end()) {
    dictionary_.emplace(std::string(campaign), index);
  } else {
    other_pairs_.emplace(std::move(pair), index);
  }
  return index;
}

uint32_t BatchBuilder::AppendDictionary(std::string_view account, std::string_view campaign) {
  const uint32_t index = static_cast<uint32_t>(batch_.dictionary_campaign_size());
  batch_.add_dictionary_account()->assign(account);
  batch_.add_dictionary_campaign()->assign(campaign);
  return index;
}

void BatchBuilder::AddDeliveryTo(uint32_t dictionary_index, uint64_t event_id,
                                 int64_t time_us, v1::DeliveryReported::Kind kind,
                                 int64_t count, bool platform_fault) {
  BILLSIM_ASSERT(count_ < kMaxBatchEvents);
  BILLSIM_ASSERT(dictionary_index < static_cast<uint32_t>(batch_.dictionary_campaign_size()));
  // Deltas are taken in unsigned arithmetic and stored as the signed
  // difference, so any pair of ids round-trips.
  batch_.add_delivery_id_delta(static_cast<int64_t>(event_id - last_delivery_id_));
  batch_.add_delivery_time_delta(static_cast<int64_t>(
      static_cast<uint64_t>(time_us) - static_cast<uint64_t>(last_delivery_time_)));
  last_delivery_id_ = event_id;
  last_delivery_time_ = time_us;
  batch_.add_delivery_campaign(dictionary_index);
  batch_.add_delivery_kind(static_cast<uint32_t>(kind) << 1 | (platform_fault ? 1 : 0));
  batch_.add_delivery_count(static_cast<uint64_t>(count));
  Stamp(time_us);
}

void BatchBuilder::Add(const v1::Event& event) {
  if (event.has_delivery_reported() && Columnar(event.delivery_reported())) {
    const auto& d = event.delivery_reported();
    AddDelivery(event.event_id(), event.time_us(), d.account_id(), d.campaign_id(),
                d.kind(), d.count(), d.platform_fault());
    return;
  }
  BILLSIM_ASSERT(count_ < kMaxBatchEvents);
  other_position_.push_back(count_);
  const size_t size = event.ByteSizeLong();  // a too-large batch is the writer's refusal
  AppendVarint(&others_, kOthersTag);
  AppendVarint(&others_, size);
  const size_t at = others_.size();
  others_.resize(at + size);
  event.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(others_.data() + at));
  Stamp(event.time_us());
}

void BatchBuilder::Finish(std::string* out) const {
  out->clear();
  batch_.SerializeToString(out);  // fields 1..7
  out->append(others_);           // field 8
  if (!other_position_.empty()) { // field 9, packed
    size_t bytes = 0;
    for (uint32_t p : other_position_) bytes += VarintLength(p);
    AppendVarint(out, kOtherPositionTag);
    AppendVarint(out, bytes);
    for (uint32_t p : other_position_) AppendVarint(out, p);
  }
  if (stream_sequence_ != 0) {  // field 10, after 9 (field order)
    AppendVarint(out, kStreamSequenceTag);
    AppendVarint(out, stream_sequence_);
  }
}

void BatchBuilder::Clear() {
  batch_.Clear();
  others_.clear();
  other_position_.clear();
  // Abseil's clear() frees a table of more than 127 slots; the next batch
  // of a large book names about as many pairs, so it gets the room back at
  // once instead of growing (and rehashing) through every size again.
  const size_t entries = dictionary_.size();
  dictionary_.clear();
  dictionary_.reserve(entries);
  other_pairs_.clear();
  last_delivery_id_ = 0;
  last_delivery_time_ = 0;
  count_ = 0;
  first_time_us_ = last_time_us_ = 0;
  stream_sequence_ = 0;
}

int64_t CountOtherEvents(std::string_view payload) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  int64_t others = 0;
  while (const uint32_t tag = in.ReadTag()) {
    if (tag == kOthersTag) others++;
    if (!WireFormatLite::SkipField(&in, tag)) return -1;
  }
  // ReadTag gives 0 at the end of the input and on a malformed tag alike.
  return in.ConsumedEntireMessage() ? others : -1;
}

std::unique_ptr<google::protobuf::Arena> BatchDecoder::NewArena() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 16 << 10;
  options.max_block_size = 128 << 10;
  return std::make_unique<google::protobuf::Arena>(options);
}

BatchDecoder::BatchDecoder(OneShot) : arena_(NewArena()) {
  batch_ = google::protobuf::Arena::CreateMessage<v1::EventBatch>(arena_.get());
}

namespace {

constexpr const char* kNotABatch = "payload is not an EventBatch";
constexpr const char* kEntryOverruns =
    "payload is not an EventBatch: a dictionary entry overruns it";

// The end of the varint at data[at] if it takes at most `most` bytes and
// ends before `size`, with its value in *v; 0 if not (then Protobuf's
// reader decides).
size_t VarintEnd(const uint8_t* data, size_t size, size_t at, size_t most, uint64_t* v) {
  const uint8_t* p = data + at;
  return GetVarint64(&p, data + std::min(size, at + most), v) ? static_cast<size_t>(p - data)
                                                               : 0;
}

}  // namespace

Status BatchDecoder::SplitDictionary(std::string_view payload) {
  using google::protobuf::internal::WireFormatLite;
  dictionary_bytes_.clear();
  account_spans_.clear();
  campaign_spans_.clear();
  rest_.clear();
  others_seen_ = 0;
  const auto* data = reinterpret_cast<const uint8_t*>(payload.data());
  const size_t size = payload.size();
  // Other fields are copied to rest_ in runs: a run ends at a dictionary
  // string, so a batch that keeps them together (as BatchBuilder writes
  // them) costs three copies.
  size_t run = 0;
  size_t at = 0;  // the next field's tag
  while (at < size) {
    // The usual fields are read here: a one-byte tag, then a varint, or a
    // length of at most four bytes and that many bytes. Anything else goes
    // through Protobuf's reader, one field at a time.
    uint32_t tag = data[at];
    const uint32_t wire_type = tag & 7;
    const bool one_byte_tag = tag < 0x80 && (tag >> 3) != 0;  // (field 0 is malformed)
    size_t begin = 0;  // of a length-delimited field's bytes
    uint32_t length = 0;
    size_t end = 0;    // of the field (0: not read here)
    uint64_t value = 0;  // a varint field's, or a length (of at most four bytes: < 2^28)
    if (one_byte_tag && wire_type == WireFormatLite::WIRETYPE_VARINT) {
      end = VarintEnd(data, size, at + 1, 9, &value);
    } else if (one_byte_tag && wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      begin = VarintEnd(data, size, at + 1, 4, &value);
      if (begin != 0) {
        length = static_cast<uint32_t>(value);
        if (length > size - begin) {
          return Status::Corruption(
              tag == kDictionaryAccountTag || tag == kDictionaryCampaignTag ? kEntryOverruns
                                                                            : kNotABatch);
        }
        end = begin + length;
      }
    }
    if (end == 0) {
      google::protobuf::io::CodedInputStream in(data + at, static_cast<int>(size - at));
      tag = in.ReadTag();
      if (tag == 0) return Status::Corruption(kNotABatch);  // malformed
      if (tag != kDictionaryAccountTag && tag != kDictionaryCampaignTag) {
        // (A dictionary field of another wire type is a field Protobuf
        // keeps as unknown: it goes with the rest.)
        if (!WireFormatLite::SkipField(&in, tag)) {
          return Status::Corruption(kNotABatch);
        }
        at += static_cast<size_t>(in.CurrentPosition());
        continue;
      }
      if (!in.ReadVarint32(&length)) return Status::Corruption(kNotABatch);
      begin = at + static_cast<size_t>(in.CurrentPosition());
      if (length > size - begin) return Status::Corruption(kEntryOverruns);
      end = begin + length;
    }
    if (tag != kDictionaryAccountTag && tag != kDictionaryCampaignTag) {
      others_seen_ += tag == kOthersTag;
      at = end;  // with the rest
      continue;
    }
    if (at > run) rest_.append(payload.substr(run, at - run));
    const std::string_view text(payload.data() + begin, length);
    // Protobuf refuses a proto3 string that is not UTF-8; so does this.
    if (!IsValidUtf8(text)) {
      return Status::Corruption(std::string("payload is not an EventBatch: a dictionary ") +
                                (tag == kDictionaryAccountTag ? "account" : "campaign") +
                                " id is not UTF-8");
    }
    auto& spans = tag == kDictionaryAccountTag ? account_spans_ : campaign_spans_;
    spans.emplace_back(static_cast<uint32_t>(dictionary_bytes_.size()), length);
    dictionary_bytes_.append(text);
    at = run = end;
  }
  if (run > 0) rest_.append(payload.substr(run));
  return Status::Ok();
}

void BatchDecoder::TrimBuffers() {
  // A batch of many whole events and a dictionary leaves rest_ about as
  // large as its payload: not kept past kKeptBufferBytes, since the next
  // batch most likely holds deliveries (the dictionary's bytes are kept:
  // its views point there).
  if (rest_.capacity() > kKeptBufferBytes) std::string().swap(rest_);
}

Status BatchDecoder::Parse(std::string_view payload, uint32_t count) {
  if (adaptive_ && on_arena()) {
    arena_->Reset();
    batch_ = &reused_;
  }
  batch_->Clear();
  count_ = 0;
  largest_payload_ = std::max<uint64_t>(largest_payload_, payload.size());
  if (Status st = SplitDictionary(payload); !st.ok()) {
    account_spans_.clear();  // no half dictionary
    campaign_spans_.clear();
    return st;
  }
  // Mostly whole messages: each would cost a heap allocation or more, and
  // its payload message (a oneof's) is freed again when reused_ is cleared.
  if (adaptive_ && others_seen_ > count / 2) {
    if (arena_ == nullptr) arena_ = NewArena();
    batch_ = google::protobuf::Arena::CreateMessage<v1::EventBatch>(arena_.get());
  }
  // Without a dictionary, the payload is what Protobuf parses.
  const std::string_view fields =
      account_spans_.empty() && campaign_spans_.empty() ? payload : std::string_view(rest_);
  const bool parsed = batch_->ParseFromArray(fields.data(), static_cast<int>(fields.size()));
  TrimBuffers();
  if (!parsed) return Status::Corruption(kNotABatch);
  const int rows = batch_->delivery_id_delta_size();
  if (batch_->delivery_time_delta_size() != rows ||
      batch_->delivery_campaign_size() != rows ||
      batch_->delivery_kind_size() != rows || batch_->delivery_count_size() != rows) {
    return Status::Corruption("delivery columns have different lengths");
  }
  if (account_spans_.size() != campaign_spans_.size()) {
    return Status::Corruption("dictionary columns have different lengths");
  }
  if (!on_arena()) others_kept_ = std::max<uint64_t>(others_kept_, batch_->others_size());
  if (batch_->others_size() != batch_->other_position_size()) {
    return Status::Corruption("other events and positions differ in number");
  }
  if (static_cast<uint64_t>(rows) + batch_->others_size() != count) {
    return Status::Corruption("payload holds " +
                              std::to_string(rows + batch_->others_size()) +
                              " events, header says " + std::to_string(count));
  }
  for (int i = 0; i < batch_->other_position_size(); ++i) {
    const uint32_t p = batch_->other_position(i);
    if (p >= count || (i > 0 && p <= batch_->other_position(i - 1))) {
      return Status::Corruption("other event positions out of order");
    }
  }
  const uint32_t dict = dictionary_size();
  for (int i = 0; i < rows; ++i) {
    if (batch_->delivery_campaign(i) >= dict) {
      return Status::Corruption("delivery row names a campaign outside the dictionary");
    }
    const uint32_t kind = batch_->delivery_kind(i) >> 1;
    if (!v1::DeliveryReported::Kind_IsValid(static_cast<int>(kind)) ||
        batch_->delivery_kind(i) > 0xff) {
      return Status::Corruption("delivery row has an unknown kind");
    }
    if (batch_->delivery_count(i) > static_cast<uint64_t>(INT64_MAX)) {
      return Status::Corruption("delivery count out of range");
    }
  }
  count_ = count;
  return Status::Ok();
}

bool BatchDecoder::PlainEvents() const {
  // Only the batch's own fields: a whole event's unknown fields are kept by
  // a re-encoding too (BatchBuilder::Add serializes the parsed event).
  return batch_->stream_sequence() == 0 &&
         batch_->GetReflection()->GetUnknownFields(*batch_).empty();
}

void BatchDecoder::LetGo() {
  if (one_shot()) return;
  batch_ = &reused_;
  arena_.reset();
  v1::EventBatch().Swap(&reused_);  // the temporary takes them, and goes
  std::string().swap(rest_);
  std::string().swap(dictionary_bytes_);
  std::vector<Span>().swap(account_spans_);
  std::vector<Span>().swap(campaign_spans_);
  count_ = 0;
  others_kept_ = 0;
}

uint64_t BatchDecoder::MemoryBytes() const {
  const uint64_t dictionary =
      dictionary_bytes_.capacity() + rest_.capacity() +
      (account_spans_.capacity() + campaign_spans_.capacity()) * sizeof(Span);
  return dictionary + (on_arena() ? arena_->SpaceAllocated() : batch_->SpaceUsedLong());
}

v1::Event BatchDecoder::ToEvent(const DeliveryRow& row) const {
  v1::Event e;
  e.set_event_id(row.event_id);
  e.set_time_us(row.time_us);
  auto* d = e.mutable_delivery_reported();
  d->set_account_id(std::string(account(row.campaign)));
  d->set_campaign_id(std::string(campaign(row.campaign)));
  d->set_kind(row.kind);
  d->set_count(row.count);
  d->set_platform_fault(row.platform_fault);
  return e;
}

Status BatchDecoder::ForEachEvent(const std::function<Status(const v1::Event&)>& fn) const {
  class Visitor final : public BatchVisitor {
   public:
    Visitor(const BatchDecoder& d, const std::function<Status(const v1::Event&)>& fn)
        : d_(d), fn_(fn) {}
    bool OnDelivery(uint32_t position, const DeliveryRow& row) override {
      return OnEvent(position, d_.ToEvent(row));
    }
    bool OnEvent(uint32_t, const v1::Event& e) override {
      status = fn_(e);
      return status.ok();
    }
    Status status;

   private:
    const BatchDecoder& d_;
    const std::function<Status(const v1::Event&)>& fn_;
  };
  Visitor visitor(*this, fn);
  VisitWith(&visitor);
  return visitor.status;
}

}  // namespace billsim::log
