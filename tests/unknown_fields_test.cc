// FindUnknownField (journal/unknown_fields.h): a field number the schema
// does not define, anywhere in a message, named by its path.
#include "journal/unknown_fields.h"

#include <gtest/gtest.h>

#include <string>

#include "billsim/v1/events.pb.h"
#include "billsim/v1/log.pb.h"

namespace billsim {
namespace {

template <typename M>
void AddUnknown(M* m, int number) {
  m->GetReflection()->MutableUnknownFields(m)->AddVarint(number, 7);
}

v1::Event Deposit() {
  v1::Event e;
  e.set_event_id(5);
  e.mutable_cash_deposited()->set_account_id("acct-1");
  e.mutable_cash_deposited()->set_amount_micros(1);
  return e;
}

TEST(UnknownFieldsTest, AnEventOfKnownFieldsHasNone) {
  std::string path = "untouched";
  EXPECT_FALSE(FindUnknownField(Deposit(), &path));
  EXPECT_EQ(path, "untouched");
  EXPECT_FALSE(FindUnknownField(v1::Event(), &path));
}

TEST(UnknownFieldsTest, OneInTheEnvelopeOrInThePayloadIsNamedByItsPath) {
  v1::Event envelope = Deposit();
  AddUnknown(&envelope, 99);
  std::string path;
  EXPECT_TRUE(FindUnknownField(envelope, &path));
  EXPECT_EQ(path, "#99");

  v1::Event payload = Deposit();
  AddUnknown(payload.mutable_cash_deposited(), 100);
  EXPECT_TRUE(FindUnknownField(payload, &path));
  EXPECT_EQ(path, "cash_deposited.#100");
}

// Through a repeated field, then a oneof: the path names the element.
TEST(UnknownFieldsTest, OneInAnElementOfARepeatedFieldIsNamedWithItsIndex) {
  v1::EventBatch batch;
  *batch.add_others() = Deposit();
  *batch.add_others() = Deposit();
  *batch.add_others() = Deposit();
  std::string path;
  EXPECT_FALSE(FindUnknownField(batch, &path));
  AddUnknown(batch.mutable_others(1)->mutable_cash_deposited(), 12);
  AddUnknown(batch.mutable_others(2), 13);  // later: the first is named
  EXPECT_TRUE(FindUnknownField(batch, &path));
  EXPECT_EQ(path, "others[1].cash_deposited.#12");
}

// What Protobuf keeps of bytes it does not know is found the same way.
TEST(UnknownFieldsTest, AFieldParsedFromBytesIsFound) {
  std::string bytes = Deposit().SerializeAsString();
  bytes += std::string("\xa0\x06\x07", 3);  // field 100, varint 7
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  std::string path;
  EXPECT_TRUE(FindUnknownField(parsed, &path));
  EXPECT_EQ(path, "#100");
}

}  // namespace
}  // namespace billsim
