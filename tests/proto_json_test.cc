// The fast JSON printer (report/proto_json.h) against Protobuf's: every
// message type of billsim.v1, filled at random by reflection (extreme
// integers, unknown enum numbers, every ASCII byte in strings, empty and
// full lists, oneofs, proto3 optionals, nested messages), prints the same
// bytes, or declines, and declines only for what is outside its subset.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"
#include "billsim/v1/projections.pb.h"
#include "billsim/v1/scenario.pb.h"
#include "billsim/v1/wire.pb.h"
#include "report/format.h"
#include "report/proto_json.h"

namespace billsim {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string ProtobufJson(const Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &json, options).ok());
  return json;
}

class Filler {
 public:
  Filler(uint64_t seed, bool ascii_only) : rng_(seed), ascii_only_(ascii_only) {}

  void Fill(Message* m, int depth) {
    const Descriptor* d = m->GetDescriptor();
    const Reflection* r = m->GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (Pick(3) == 0) continue;  // left unset, or at its default
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth >= 3) continue;
      if (!f->is_repeated()) {
        Set(m, r, f, depth);
        continue;
      }
      const int n = static_cast<int>(Pick(4));
      for (int k = 0; k < n; ++k) Add(m, r, f, depth);
    }
  }

 private:
  uint64_t Pick(uint64_t n) { return rng_() % n; }

  template <typename Int>
  Int AnyInt() {
    switch (Pick(5)) {
      case 0: return 0;
      case 1: return std::numeric_limits<Int>::min();
      case 2: return std::numeric_limits<Int>::max();
      case 3: return static_cast<Int>(Pick(100));
      default: return static_cast<Int>(rng_());
    }
  }

  int AnyEnum(const FieldDescriptor* f) {
    if (Pick(6) == 0) return 1000 + static_cast<int>(Pick(50));  // unknown to the build
    const auto* e = f->enum_type();
    return e->value(static_cast<int>(Pick(e->value_count())))->number();
  }

  std::string AnyString() {
    std::string s;
    const int n = static_cast<int>(Pick(9));
    for (int i = 0; i < n; ++i) {
      switch (Pick(4)) {
        case 0: s.push_back(static_cast<char>(Pick(0x80))); break;  // any ASCII byte
        case 1: s.push_back("\"\\<>/\x7f\b\f\n\r\t"[Pick(11)]); break;
        default: s.push_back(static_cast<char>('a' + Pick(26)));
      }
    }
    if (!ascii_only_ && Pick(5) == 0) s += "\xc3\xa9\xe2\x80\xa8";  // e-acute, U+2028
    return s;
  }

  void Set(Message* m, const Reflection* r, const FieldDescriptor* f, int depth) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: r->SetInt32(m, f, AnyInt<int32_t>()); break;
      case FieldDescriptor::CPPTYPE_UINT32: r->SetUInt32(m, f, AnyInt<uint32_t>()); break;
      case FieldDescriptor::CPPTYPE_INT64: r->SetInt64(m, f, AnyInt<int64_t>()); break;
      case FieldDescriptor::CPPTYPE_UINT64: r->SetUInt64(m, f, AnyInt<uint64_t>()); break;
      case FieldDescriptor::CPPTYPE_BOOL: r->SetBool(m, f, Pick(2) == 1); break;
      case FieldDescriptor::CPPTYPE_ENUM: r->SetEnumValue(m, f, AnyEnum(f)); break;
      case FieldDescriptor::CPPTYPE_STRING: r->SetString(m, f, AnyString()); break;
      case FieldDescriptor::CPPTYPE_MESSAGE: Fill(r->MutableMessage(m, f), depth + 1); break;
      default: FAIL() << "a field type billsim.v1 did not use: " << f->full_name();
    }
  }

  void Add(Message* m, const Reflection* r, const FieldDescriptor* f, int depth) {
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: r->AddInt32(m, f, AnyInt<int32_t>()); break;
      case FieldDescriptor::CPPTYPE_UINT32: r->AddUInt32(m, f, AnyInt<uint32_t>()); break;
      case FieldDescriptor::CPPTYPE_INT64: r->AddInt64(m, f, AnyInt<int64_t>()); break;
      case FieldDescriptor::CPPTYPE_UINT64: r->AddUInt64(m, f, AnyInt<uint64_t>()); break;
      case FieldDescriptor::CPPTYPE_BOOL: r->AddBool(m, f, Pick(2) == 1); break;
      case FieldDescriptor::CPPTYPE_ENUM: r->AddEnumValue(m, f, AnyEnum(f)); break;
      case FieldDescriptor::CPPTYPE_STRING: r->AddString(m, f, AnyString()); break;
      case FieldDescriptor::CPPTYPE_MESSAGE: Fill(r->AddMessage(m, f), depth + 1); break;
      default: FAIL() << "a field type billsim.v1 did not use: " << f->full_name();
    }
  }

  std::mt19937_64 rng_;
  bool ascii_only_;
};

// Whether Protobuf's printer would print a bytes field or a map of `m` (a
// bytes field without presence always prints, a map always): what an
// ASCII-only message may hold that the fast printer declines.
bool PrintsBytesOrMap(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!f->is_repeated() && f->has_presence() && !r->HasField(m, f)) continue;
    if (f->type() == FieldDescriptor::TYPE_BYTES || f->is_map()) return true;
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      if (PrintsBytesOrMap(r->GetMessage(m, f))) return true;
      continue;
    }
    for (int k = 0; k < r->FieldSize(m, f); ++k) {
      if (PrintsBytesOrMap(r->GetRepeatedMessage(m, f, k))) return true;
    }
  }
  return false;
}

// Every message type, nested ones too, of the five files of billsim.v1.
std::vector<const Descriptor*> AllMessageTypes() {
  std::vector<const Descriptor*> types;
  std::vector<const Descriptor*> todo;
  for (const auto* file : {v1::Event::descriptor()->file(), v1::EventBatch::descriptor()->file(),
                           v1::BalanceReport::descriptor()->file(),
                           v1::BalanceExpectation::descriptor()->file(),
                           v1::Request::descriptor()->file()}) {
    for (int i = 0; i < file->message_type_count(); ++i) todo.push_back(file->message_type(i));
  }
  while (!todo.empty()) {
    const Descriptor* d = todo.back();
    todo.pop_back();
    types.push_back(d);
    for (int i = 0; i < d->nested_type_count(); ++i) todo.push_back(d->nested_type(i));
  }
  return types;
}

std::unique_ptr<Message> New(const Descriptor* d) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
}

TEST(ProtoJsonTest, EveryMessageTypePrintsProtobufsBytesOrDeclines) {
  const auto types = AllMessageTypes();
  ASSERT_GT(types.size(), 50u);
  int fast = 0;
  int declined = 0;
  for (const Descriptor* d : types) {
    for (uint64_t seed = 1; seed <= 60; ++seed) {
      for (const bool ascii_only : {true, false}) {
        auto m = New(d);
        Filler(seed * 7919 + d->index(), ascii_only).Fill(m.get(), 0);
        std::string json = "prefix";
        if (!AppendProtoJson(*m, &json)) {
          EXPECT_EQ(json, "prefix") << "a declined message must leave the string as it was";
          EXPECT_FALSE(ascii_only && !PrintsBytesOrMap(*m))
              << d->full_name() << " declined, holding only ASCII and no bytes or map: "
              << m->ShortDebugString();
          ++declined;
          continue;
        }
        ++fast;
        ASSERT_EQ(json.substr(6), ProtobufJson(*m)) << d->full_name() << ": " << m->ShortDebugString();
      }
    }
  }
  // Most messages take the fast path; some (non-ASCII strings, bytes) do not.
  EXPECT_GT(fast, declined * 2);
  EXPECT_GT(declined, 0);
}

TEST(ProtoJsonTest, ToJsonGivesProtobufsBytesWhereTheFastPrinterDeclines) {
  v1::Event e;
  e.set_event_id(7);
  e.set_time_us(-1);
  // Escaped by Unicode tables: declined.
  e.mutable_account_opened()->set_account_id("caf\xc3\xa9<\xe2\x80\xa8>");
  std::string fast;
  EXPECT_FALSE(AppendProtoJson(e, &fast));
  EXPECT_EQ(ToJson(e), ProtobufJson(e));
  EXPECT_NE(ToJson(e).find("\\u2028"), std::string::npos);

  e.mutable_account_opened()->set_account_id("plain<id>\x7f");
  ASSERT_TRUE(AppendProtoJson(e, &fast));
  EXPECT_EQ(fast, ProtobufJson(e));
  EXPECT_EQ(ToJson(e), fast);
}

}  // namespace
}  // namespace billsim
