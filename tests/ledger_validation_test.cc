// R10 (idempotent), R11 (bad facts change nothing), R12 (conservation) and
// the digest.
#include <cctype>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "ledger_fixture.h"

namespace billsim::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using v1::DeliveryReported;

class RejectionTest : public LedgerTest {
 protected:
  // a1 (opened at T0, 100.00) with c1; a2 (opened at T0) with c2.
  void SetUp() override {
    OpenFunded(100 * kUnit);
    ASSERT_APPLIED(OpenAccount("a2"));
    ASSERT_APPLIED(CreateCampaign("c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                  v1::BUDGET_MODE_TOTAL, 50 * kUnit));
    ASSERT_APPLIED(CreateCampaign("c2", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                  v1::BUDGET_MODE_TOTAL, 50 * kUnit, "a2"));
    now_ = kT0 + kHour;
  }

  // Checks that `e` is refused for `field`, Check() agreeing, with one
  // REJECTED entry naming the event id and the field. The fixture checks
  // that nothing else changed.
  void ExpectRejected(const v1::Event& e,
                      const ::testing::Matcher<const std::string&>& field) {
    const Ledger::Result predicted = ledger_.Check(e);
    EXPECT_EQ(predicted.outcome, Ledger::Outcome::kRejected);
    const uint64_t rejected_before = ledger_.events_rejected();
    const uint64_t applied_before = ledger_.events_applied();
    const Ledger::Result r = Apply(e);
    ASSERT_EQ(r.outcome, Ledger::Outcome::kRejected)
        << "event " << e.ShortDebugString();
    EXPECT_THAT(r.field, field);
    EXPECT_EQ(predicted.field, r.field);
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(ledger_.events_rejected(), rejected_before + 1);
    EXPECT_EQ(ledger_.events_applied(), applied_before);
    ASSERT_EQ(last_proto_.size(), 1u);
    EXPECT_EQ(last_proto_[0].kind(), v1::REJECTED);
    EXPECT_EQ(last_proto_[0].field(), r.field);
    EXPECT_EQ(last_proto_[0].event_id(), e.event_id());
    EXPECT_THAT(last_proto_[0].note(), HasSubstr(std::to_string(e.event_id())));
    EXPECT_THAT(last_proto_[0].note(), HasSubstr(r.field));
  }
};

// --- R11 -------------------------------------------------------------------------

TEST_F(RejectionTest, EventIdZeroIsRefused) {
  v1::Event e = MakeDeposit("a1", 1 * kUnit);
  e.set_event_id(0);
  ExpectRejected(e, "event_id");
}

TEST_F(RejectionTest, NegativeTimeIsRefused) {
  v1::Event e = MakeDeposit("a1", 1 * kUnit);
  e.set_time_us(-1);
  ExpectRejected(e, "time_us");
}

TEST_F(RejectionTest, AnEventWithoutPayloadIsRefused) {
  ExpectRejected(NewEvent(), "payload");
}

// Every text field of every payload but a delivery's (whose ids are looked
// up, and refused when unknown) must be UTF-8: each, set alone to Latin-1,
// is refused naming it. Found by reflection, so a text field added to a
// payload later is covered too.
TEST_F(RejectionTest, TextThatIsNotUtf8IsRefusedInEveryFieldOfEveryPayload) {
  const google::protobuf::OneofDescriptor* oneof =
      v1::Event::descriptor()->FindOneofByName("payload");
  ASSERT_NE(oneof, nullptr);
  int fields = 0;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* pf = oneof->field(i);
    if (pf->name() == "delivery_reported" || pf->message_type() == nullptr) continue;
    const google::protobuf::Descriptor* d = pf->message_type();
    for (int k = 0; k < d->field_count(); ++k) {
      const google::protobuf::FieldDescriptor* f = d->field(k);
      if (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING) continue;
      v1::Event e = NewEvent();
      google::protobuf::Message* m = e.GetReflection()->MutableMessage(&e, pf);
      const google::protobuf::Reflection* r = m->GetReflection();
      if (f->is_repeated()) {
        r->AddString(m, f, "ok");
        r->AddString(m, f, "caf\xe9");
      } else {
        r->SetString(m, f, "caf\xe9");
      }
      SCOPED_TRACE(pf->name() + "." + f->name());
      ExpectRejected(e, pf->name() + "." + f->name());
      // Nor can such an event come out of bytes, which is why the server
      // and replay apply parsed events with Ledger::Text::kParsed.
      v1::Event parsed;
      EXPECT_FALSE(parsed.ParseFromString(e.SerializeAsString()));
      ++fields;
    }
  }
  EXPECT_GE(fields, 20);  // account, campaign, grant and dispute ids, names, notes...
}

TEST_F(RejectionTest, ADuplicateAccountIdIsRefused) {
  ExpectRejected(MakeOpenAccount("a1"), "account_opened.account_id");
}

TEST_F(RejectionTest, AnInvalidCurrencyIsRefused) {
  for (const char* currency : {"usd", "US", "USDX", "", "U$D"}) {
    SCOPED_TRACE(currency);
    ExpectRejected(
        MakeOpenAccount("new", 0, v1::FUNDING_ORDER_CREDIT_FIRST, currency),
        "account_opened.currency");
  }
  EXPECT_APPLIED(Apply(
      MakeOpenAccount("eur", 0, v1::FUNDING_ORDER_CREDIT_FIRST, "EUR")));
}

TEST_F(RejectionTest, AnInvalidTimeZoneIsRefused) {
  for (int offset : {61, 15, 345, 841, 870, -750, -721, 900}) {
    SCOPED_TRACE(offset);
    ExpectRejected(MakeOpenAccount("tz" + std::to_string(offset), offset),
                   "account_opened.utc_offset_minutes");
  }
}

TEST_F(RejectionTest, WholeAndHalfHourTimeZonesInRangeAreAccepted) {
  for (int offset : {-720, -570, 330, 840, 0, 60}) {
    SCOPED_TRACE(offset);
    EXPECT_APPLIED(OpenAccount("tz" + std::to_string(offset), offset));
  }
}

TEST_F(RejectionTest, ADepositToAnUnknownAccountIsRefused) {
  ExpectRejected(MakeDeposit("nosuch", 1 * kUnit), "cash_deposited.account_id");
}

TEST_F(RejectionTest, AZeroOrNegativeDepositIsRefused) {
  ExpectRejected(MakeDeposit("a1", 0), "cash_deposited.amount_micros");
  ExpectRejected(MakeDeposit("a1", -5 * kUnit), "cash_deposited.amount_micros");
}

TEST_F(RejectionTest, AnEventStampedBeforeItsAccountOpenedIsRefused) {
  now_ = kT0 + 2 * kHour;
  ASSERT_APPLIED(OpenAccount("late"));
  now_ = kT0 + 1 * kHour;
  ExpectRejected(MakeDeposit("late", 1 * kUnit), "time_us");
  now_ = kT0 + 2 * kHour;
  EXPECT_APPLIED(Deposit("late", 1 * kUnit));
}

TEST_F(RejectionTest, AZeroOrNegativeGrantIsRefused) {
  ExpectRejected(MakeGrant("a1", "g", 0, kT0 + kDay),
                 "credit_granted.amount_micros");
  ExpectRejected(MakeGrant("a1", "g", -1, kT0 + kDay),
                 "credit_granted.amount_micros");
}

TEST_F(RejectionTest, AGrantToAnUnknownAccountIsRefused) {
  ExpectRejected(MakeGrant("nosuch", "g", 1 * kUnit, kT0 + kDay),
                 "credit_granted.account_id");
}

TEST_F(RejectionTest, ADuplicateGrantIdIsRefused) {
  ASSERT_APPLIED(GrantCredit("a1", "g", 1 * kUnit, kT0 + kDay));
  ExpectRejected(MakeGrant("a1", "g", 2 * kUnit, kT0 + kDay),
                 "credit_granted.grant_id");
  ExpectRejected(MakeGrant("a2", "g", 2 * kUnit, kT0 + kDay),
                 "credit_granted.grant_id");
}

TEST_F(RejectionTest, AGrantThatHasExpiredWhenGrantedIsRefused) {
  ExpectRejected(MakeGrant("a1", "g", 1 * kUnit, now_ - 1),
                 "credit_granted.expires_at_us");
  ExpectRejected(MakeGrant("a1", "g", 1 * kUnit, now_),
                 "credit_granted.expires_at_us");
  EXPECT_APPLIED(GrantCredit("a1", "g", 1 * kUnit, now_ + 1));
}

TEST_F(RejectionTest, ALateGrantThatExpiredBeforeTheClockIsRefused) {
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));
  now_ = kT0 + kDay;  // stamped while it was valid; applied at the clock
  ExpectRejected(MakeGrant("a1", "g", 1 * kUnit, kT0 + 2 * kDay),
                 "credit_granted.expires_at_us");
}

TEST_F(RejectionTest, ACouponForAnUnknownCampaignIsRefused) {
  ExpectRejected(MakeGrant("a1", "g", 1 * kUnit, kT0 + kDay, {"nosuch"}),
                 "credit_granted.campaign_ids");
}

TEST_F(RejectionTest, ACouponForAnotherAccountsCampaignIsRefused) {
  ExpectRejected(MakeGrant("a1", "g", 1 * kUnit, kT0 + kDay, {"c1", "c2"}),
                 "credit_granted.campaign_ids");
}

TEST_F(RejectionTest, ADuplicateCampaignIdIsRefused) {
  ExpectRejected(MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                              v1::BUDGET_MODE_INFINITE, 0),
                 "campaign_created.campaign_id");
  ExpectRejected(MakeCampaign("a2", "c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                              v1::BUDGET_MODE_INFINITE, 0),
                 "campaign_created.campaign_id");
}

TEST_F(RejectionTest, ACampaignOfAnUnknownAccountIsRefused) {
  ExpectRejected(MakeCampaign("nosuch", "c9", v1::BILLING_EVENT_CPC, 1 * kUnit,
                              v1::BUDGET_MODE_INFINITE, 0),
                 "campaign_created.account_id");
}

TEST_F(RejectionTest, AZeroOrNegativePriceIsRefused) {
  ExpectRejected(MakeCampaign("a1", "c9", v1::BILLING_EVENT_CPC, 0,
                              v1::BUDGET_MODE_INFINITE, 0),
                 "campaign_created.price_micros");
  ExpectRejected(MakeCampaign("a1", "c9", v1::BILLING_EVENT_CPM, -1,
                              v1::BUDGET_MODE_INFINITE, 0),
                 "campaign_created.price_micros");
}

TEST_F(RejectionTest, AFiniteBudgetBelowTheMinimumIsRefused) {
  ExpectRejected(MakeCampaign("a1", "c9", v1::BILLING_EVENT_CPC, 1 * kUnit,
                              v1::BUDGET_MODE_TOTAL, 50 * kUnit - 1),
                 "campaign_created.budget_micros");
  ExpectRejected(MakeCampaign("a1", "c9", v1::BILLING_EVENT_CPC, 1 * kUnit,
                              v1::BUDGET_MODE_DAY, 10 * kUnit),
                 "campaign_created.budget_micros");
  ExpectRejected(MakeCampaign("a1", "c9", v1::BILLING_EVENT_CPC, 1 * kUnit,
                              v1::BUDGET_MODE_DAY, 0),
                 "campaign_created.budget_micros");
  EXPECT_APPLIED(CreateCampaign("c9", v1::BILLING_EVENT_CPC, 1 * kUnit,
                                v1::BUDGET_MODE_DAY, 50 * kUnit));
}

TEST_F(RejectionTest, AStatusChangeOfAnUnknownCampaignIsRefused) {
  ExpectRejected(
      MakeStatus("a1", "nosuch", v1::CampaignStatusChanged::ENABLE),
      "campaign_status_changed.campaign_id");
}

TEST_F(RejectionTest, AStatusChangeOfAnotherAccountsCampaignIsRefused) {
  ExpectRejected(MakeStatus("a1", "c2", v1::CampaignStatusChanged::ENABLE),
                 AnyOf("campaign_status_changed.campaign_id",
                       "campaign_status_changed.account_id"));
  EXPECT_EQ(Frozen("a1"), 0);
}

TEST_F(RejectionTest, AStatusChangeAfterDeleteIsRefused) {
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Delete("c1"));
  for (auto op : {v1::CampaignStatusChanged::ENABLE,
                  v1::CampaignStatusChanged::DISABLE,
                  v1::CampaignStatusChanged::DELETE}) {
    SCOPED_TRACE(op);
    ExpectRejected(MakeStatus("a1", "c1", op),
                   StartsWith("campaign_status_changed."));
  }
  EXPECT_EQ(SpendOf("c1").status(), "DELETE");
}

TEST_F(RejectionTest, AReviewOfAnUnknownCampaignIsRefused) {
  ExpectRejected(MakeReview("a1", "nosuch", v1::AdReviewed::APPROVED),
                 "ad_reviewed.campaign_id");
}

TEST_F(RejectionTest, AZeroOrNegativeDeliveryCountIsRefused) {
  ASSERT_APPLIED(Enable("c1"));
  ExpectRejected(MakeDelivery("a1", "c1", DeliveryReported::CLICK, 0),
                 "delivery_reported.count");
  ExpectRejected(MakeDelivery("a1", "c1", DeliveryReported::CLICK, -3),
                 "delivery_reported.count");
}

TEST_F(RejectionTest, DeliveryForAnUnknownCampaignIsRefused) {
  ExpectRejected(MakeDelivery("a1", "nosuch", DeliveryReported::CLICK, 1),
                 "delivery_reported.campaign_id");
}

TEST_F(RejectionTest, DeliveryForAnUnknownAccountIsRefused) {
  ExpectRejected(MakeDelivery("nosuch", "c1", DeliveryReported::CLICK, 1),
                 "delivery_reported.account_id");
}

TEST_F(RejectionTest, DeliveryForAnotherAccountsCampaignIsRefused) {
  ASSERT_APPLIED(Enable("c1"));
  ExpectRejected(MakeDelivery("a2", "c1", DeliveryReported::CLICK, 1),
                 AnyOf("delivery_reported.campaign_id",
                       "delivery_reported.account_id"));
  EXPECT_EQ(Billed("c1"), 0);
}

TEST_F(RejectionTest, ADuplicateDisputeIdIsRefused) {
  ASSERT_APPLIED(FileDispute("d1", "c1", v1::DISPUTE_REASON_LOW_CTR, kT0,
                             kT0 + kDay, 1 * kUnit, {}));
  ExpectRejected(MakeDispute("d1", "a1", "c1", v1::DISPUTE_REASON_LOW_CTR,
                             kT0, kT0 + kDay, 1 * kUnit, {}),
                 "dispute_filed.dispute_id");
}

TEST_F(RejectionTest, AZeroOrNegativeClaimIsRefused) {
  ExpectRejected(MakeDispute("d1", "a1", "c1",
                             v1::DISPUTE_REASON_PLATFORM_ERROR, kT0,
                             kT0 + kDay, 0, {}),
                 "dispute_filed.claimed_micros");
  ExpectRejected(MakeDispute("d1", "a1", "c1",
                             v1::DISPUTE_REASON_PLATFORM_ERROR, kT0,
                             kT0 + kDay, -1, {}),
                 "dispute_filed.claimed_micros");
}

TEST_F(RejectionTest, ADisputeAboutAnUnknownCampaignIsRefused) {
  ExpectRejected(MakeDispute("d1", "a1", "nosuch",
                             v1::DISPUTE_REASON_PLATFORM_ERROR, kT0,
                             kT0 + kDay, 1 * kUnit, {}),
                 "dispute_filed.campaign_id");
}

TEST_F(RejectionTest, ADisputeAboutAnotherAccountsCampaignIsRefused) {
  ExpectRejected(MakeDispute("d1", "a1", "c2",
                             v1::DISPUTE_REASON_PLATFORM_ERROR, kT0,
                             kT0 + kDay, 1 * kUnit, {}),
                 AnyOf("dispute_filed.campaign_id", "dispute_filed.account_id"));
}

TEST_F(RejectionTest, EvidenceForAnUnknownDisputeIsRefused) {
  ExpectRejected(MakeEvidence("nosuch", {v1::EVIDENCE_SPEND_REPORT}),
                 "dispute_evidence_added.dispute_id");
}

TEST_F(RejectionTest, ADecisionOnAnUnknownDisputeIsRefused) {
  ExpectRejected(MakeDecision("nosuch", true, 1 * kUnit),
                 "dispute_decided.dispute_id");
}

TEST_F(RejectionTest, ARefusedEventChangesNoBalanceHoldOrCampaign) {
  ASSERT_APPLIED(GrantCredit("a1", "g1", 10 * kUnit, kT0 + 2 * kDay));
  ASSERT_APPLIED(Enable("c1"));
  ASSERT_APPLIED(Clicks("c1", 5));
  const std::string before = ViewsOf(ledger_);
  const std::string digest = ledger_.Digest();
  const uint64_t entries = ledger_.entries();
  ExpectRejected(MakeDeposit("a1", 0), "cash_deposited.amount_micros");
  EXPECT_EQ(ViewsOf(ledger_), before);
  EXPECT_EQ(ledger_.entries(), entries + 1);  // the REJECTED entry
  EXPECT_NE(ledger_.Digest(), digest);        // the history has it
}

// --- R10 -----------------------------------------------------------------------

TEST_F(LedgerTest, ARepeatedEventIdIsRecordedAsADuplicateAndChangesNothing) {
  OpenFunded(0);
  const v1::Event deposit = MakeDeposit("a1", 10 * kUnit);
  ASSERT_APPLIED(Apply(deposit));
  const uint64_t applied = ledger_.events_applied();

  const Ledger::Result r = Apply(deposit);
  EXPECT_EQ(r.outcome, Ledger::Outcome::kDuplicate);
  ASSERT_EQ(last_proto_.size(), 1u);
  EXPECT_EQ(last_proto_[0].kind(), v1::DUPLICATE);
  EXPECT_EQ(last_proto_[0].event_id(), deposit.event_id());
  EXPECT_EQ(Cash(), 10 * kUnit);
  EXPECT_EQ(Bal().total_deposited(), 10 * kUnit);
  EXPECT_EQ(ledger_.events_duplicate(), 1u);
  EXPECT_EQ(ledger_.events_applied(), applied);
  EXPECT_EQ(ledger_.events_rejected(), 0u);
}

TEST_F(LedgerTest, ARepeatedEventIdWithADifferentPayloadIsStillADuplicate) {
  OpenFunded(0);
  v1::Event deposit = MakeDeposit("a1", 10 * kUnit);
  ASSERT_APPLIED(Apply(deposit));
  v1::Event other = MakeDeposit("a1", 99 * kUnit);
  other.set_event_id(deposit.event_id());
  other.set_time_us(kT0 + kDay);
  EXPECT_EQ(Apply(other).outcome, Ledger::Outcome::kDuplicate);
  EXPECT_EQ(Cash(), 10 * kUnit);
  EXPECT_EQ(ledger_.clock_us(), kT0);
}

TEST_F(LedgerTest, ARepeatedDeliveryIsNotChargedTwice) {
  OpenFunded(100 * kUnit);
  EnabledCpc("c1", 1 * kUnit);
  const v1::Event d = MakeDelivery("a1", "c1", DeliveryReported::CLICK, 7);
  ASSERT_APPLIED(Apply(d));
  EXPECT_EQ(Apply(d).outcome, Ledger::Outcome::kDuplicate);
  EXPECT_EQ(Apply(d).outcome, Ledger::Outcome::kDuplicate);
  EXPECT_EQ(Billed("c1"), 7 * kUnit);
  EXPECT_EQ(SpendOf("c1").clicks(), 7);
  EXPECT_EQ(Cash(), 93 * kUnit);
  EXPECT_EQ(ledger_.events_duplicate(), 2u);
}

TEST_F(LedgerTest, ARefusedEventsIdCanBeReusedByACorrectedEvent) {
  OpenFunded(0);
  v1::Event bad = MakeDeposit("a1", 0);
  EXPECT_EQ(Apply(bad).outcome, Ledger::Outcome::kRejected);
  // The same refused event again is refused again, not a duplicate.
  EXPECT_EQ(Apply(bad).outcome, Ledger::Outcome::kRejected);
  v1::Event good = MakeDeposit("a1", 10 * kUnit);
  good.set_event_id(bad.event_id());
  EXPECT_APPLIED(Apply(good));
  EXPECT_EQ(Cash(), 10 * kUnit);
  EXPECT_EQ(Apply(good).outcome, Ledger::Outcome::kDuplicate);
  EXPECT_EQ(ledger_.events_rejected(), 2u);
  EXPECT_EQ(ledger_.events_duplicate(), 1u);
}

TEST_F(LedgerTest, CheckPredictsTheOutcomeAndChangesNothing) {
  OpenFunded(0);
  const v1::Event good = MakeDeposit("a1", 10 * kUnit);
  const v1::Event bad = MakeDeposit("a1", -10);
  const std::string digest = ledger_.Digest();
  const uint64_t entries = ledger_.entries();
  EXPECT_EQ(ledger_.Check(good).outcome, Ledger::Outcome::kApplied);
  const auto rb = ledger_.Check(bad);
  EXPECT_EQ(rb.outcome, Ledger::Outcome::kRejected);
  EXPECT_EQ(rb.field, "cash_deposited.amount_micros");
  EXPECT_EQ(ledger_.Digest(), digest);
  EXPECT_EQ(ledger_.entries(), entries);
  EXPECT_EQ(Cash(), 0);
  ASSERT_APPLIED(Apply(good));
  EXPECT_EQ(ledger_.Check(good).outcome, Ledger::Outcome::kDuplicate);
}

// --- R12 -----------------------------------------------------------------------

// Every kind of money movement in one history; the fixture checks R12 after
// every event and every entry's running balances. The totals here are by
// hand.
TEST_F(LedgerTest, ConservationHoldsThroughAMixedHistory) {
  OpenFunded(100 * kUnit);                                   // deposited 100
  ASSERT_APPLIED(GrantCredit("a1", "g1", 20 * kUnit, kT0 + 2 * kDay));  // 20
  ASSERT_APPLIED(GrantCredit("a1", "g2", 10 * kUnit, kT0 + 9 * kDay));  // 10
  EnabledCpc("c1", 1 * kUnit, v1::BUDGET_MODE_TOTAL, 60 * kUnit);
  EnabledCpc("c2", 1 * kUnit);
  now_ = kT0 + kHour;
  ASSERT_APPLIED(Clicks("c1", 25));              // g1 20, g2 5
  ASSERT_APPLIED(Clicks("c2", 3, /*fault=*/true));  // g2 3
  ASSERT_APPLIED(Advance(kT0 + 3 * kDay));       // g1 empty: nothing expires
  now_ = kT0 + 3 * kDay;
  ASSERT_APPLIED(FileDispute("d1", "c2", v1::DISPUTE_REASON_PLATFORM_ERROR,
                             kT0, kT0 + kDay, 3 * kUnit,
                             {v1::EVIDENCE_SPEND_REPORT,
                              v1::EVIDENCE_DELIVERY_DATA}));  // g2 +3
  ASSERT_APPLIED(Advance(kT0 + 10 * kDay));      // g2 expires: 2 + 3 = 5
  ASSERT_APPLIED(Deposit("a1", 5 * kUnit));      // deposited 105
  ASSERT_APPLIED(Disable("c1"));

  const auto b = Bal();
  EXPECT_EQ(b.total_deposited(), 105 * kUnit);
  EXPECT_EQ(b.total_granted(), 30 * kUnit);
  EXPECT_EQ(b.total_adjusted(), 3 * kUnit);
  EXPECT_EQ(b.total_spent(), 28 * kUnit);
  EXPECT_EQ(b.total_expired(), 5 * kUnit);
  EXPECT_EQ(b.cash_balance(), 105 * kUnit);
  EXPECT_EQ(b.grant_balance(), 0);
  EXPECT_EQ(b.frozen_balance(), 0);
  EXPECT_EQ(b.valid_balance(), 105 * kUnit);
  EXPECT_EQ(b.total_deposited() + b.total_granted() + b.total_adjusted(),
            b.total_spent() + b.total_expired() + b.cash_balance() +
                b.grant_balance());
}

// --- Digest ------------------------------------------------------------------------

class DigestTest : public LedgerTest {
 protected:
  std::vector<v1::Event> Story() {
    std::vector<v1::Event> s;
    s.push_back(MakeOpenAccount("a1", 60));
    s.push_back(MakeDeposit("a1", 100 * kUnit));
    s.push_back(MakeGrant("a1", "g1", 20 * kUnit, kT0 + 2 * kDay));
    s.push_back(MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPM, 1'234'567,
                             v1::BUDGET_MODE_DAY, 50 * kUnit));
    s.push_back(MakeStatus("a1", "c1", v1::CampaignStatusChanged::ENABLE));
    now_ += kHour;
    s.push_back(MakeDelivery("a1", "c1", DeliveryReported::IMPRESSION, 12'345));
    s.push_back(
        MakeDelivery("a1", "c1", DeliveryReported::IMPRESSION, 777, true));
    s.push_back(MakeDispute("d1", "a1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                            kT0, kT0 + kDay, 1 * kUnit,
                            {v1::EVIDENCE_SPEND_REPORT,
                             v1::EVIDENCE_DELIVERY_DATA}));
    now_ += 3 * kDay;
    s.push_back(MakeAdvance());
    s.push_back(MakeDelivery("a1", "c1", DeliveryReported::IMPRESSION, 999));
    return s;
  }
  static std::string DigestOf(const std::vector<v1::Event>& events,
                              EntrySink* sink = nullptr) {
    Ledger l;
    for (const auto& e : events) l.Apply(e, sink);
    return l.Digest();
  }
};

TEST_F(DigestTest, TheSameEventsGiveTheSameDigest) {
  const auto s = Story();
  const std::string d1 = DigestOf(s);
  const std::string d2 = DigestOf(s);
  EXPECT_EQ(d1, d2);
  ASSERT_EQ(d1.size(), 32u);
  for (char c : d1) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c)));
}

TEST_F(DigestTest, TheDigestDoesNotDependOnTheSink) {
  const auto s = Story();
  CollectingSink sink;
  EXPECT_EQ(DigestOf(s, &sink), DigestOf(s));
  EXPECT_FALSE(sink.entries.empty());
}

TEST_F(DigestTest, TheDigestChangesWithAnyAmount) {
  const auto s = Story();
  auto t = s;
  t[1].mutable_cash_deposited()->set_amount_micros(100 * kUnit + 1);
  EXPECT_NE(DigestOf(s), DigestOf(t));
  t = s;
  t[5].mutable_delivery_reported()->set_count(12'346);
  EXPECT_NE(DigestOf(s), DigestOf(t));
}

TEST_F(DigestTest, TheDigestChangesWithAFaultMark) {
  const auto s = Story();
  auto t = s;
  t[5].mutable_delivery_reported()->set_platform_fault(true);
  EXPECT_NE(DigestOf(s), DigestOf(t));
}

TEST_F(DigestTest, TheDigestChangesWithAMissingEvent) {
  const auto s = Story();
  auto t = s;
  t.pop_back();
  EXPECT_NE(DigestOf(s), DigestOf(t));
}

TEST_F(DigestTest, TheDigestChangesWithAnExtraNoOpEvent) {
  const auto s = Story();
  auto t = s;
  now_ += kDay;
  t.push_back(MakeAdvance());  // moves only the clock
  EXPECT_NE(DigestOf(s), DigestOf(t));
  t = s;
  t.push_back(s[1]);  // a duplicate
  EXPECT_NE(DigestOf(s), DigestOf(t));
  t = s;
  v1::Event bad = MakeDeposit("a1", 0);  // refused
  t.push_back(bad);
  EXPECT_NE(DigestOf(s), DigestOf(t));
}

TEST_F(DigestTest, TheDigestChangesWithTheOrderOfEvents) {
  std::vector<v1::Event> s;
  s.push_back(MakeOpenAccount("a1"));
  s.push_back(MakeDeposit("a1", 1 * kUnit));
  s.push_back(MakeDeposit("a1", 2 * kUnit));
  auto t = s;
  std::swap(t[1], t[2]);
  EXPECT_NE(DigestOf(s), DigestOf(t));
}

TEST_F(DigestTest, TheDigestChangesWithAnEventId) {
  const auto s = Story();
  auto t = s;
  t[1].set_event_id(1000);
  EXPECT_NE(DigestOf(s), DigestOf(t));
}

// "Digest() covers both" entries and state: two ledgers whose views differ
// must not share a digest, even when no entry tells them apart.
TEST_F(DigestTest, TheDigestCoversDisputeEvidence) {
  std::vector<v1::Event> s;
  s.push_back(MakeOpenAccount("a1"));
  s.push_back(MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                           v1::BUDGET_MODE_INFINITE, 0));
  s.push_back(MakeDispute("d1", "a1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                          kT0, kT0 + kDay, 1 * kUnit, {}));
  auto t = s;
  s.push_back(MakeEvidence("d1", {v1::EVIDENCE_SCREENSHOT}));
  t.push_back(s.back());
  t.back().mutable_dispute_evidence_added()->set_evidence(
      0, v1::EVIDENCE_SPEND_REPORT);
  Ledger a, b;
  for (const auto& e : s) ASSERT_EQ(a.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  for (const auto& e : t) ASSERT_EQ(b.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  ASSERT_NE(a.DisputeState("d1")->SerializeAsString(),
            b.DisputeState("d1")->SerializeAsString());
  EXPECT_NE(a.Digest(), b.Digest())
      << "different dispute evidence, same digest";
}

TEST_F(DigestTest, TheDigestCoversTheDisputeReason) {
  std::vector<v1::Event> s;
  s.push_back(MakeOpenAccount("a1"));
  s.push_back(MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                           v1::BUDGET_MODE_INFINITE, 0));
  s.push_back(MakeDispute("d1", "a1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                          kT0, kT0 + kDay, 1 * kUnit, {}));
  auto t = s;
  t.back().mutable_dispute_filed()->set_reason(
      v1::DISPUTE_REASON_CHARGED_IN_ERROR);
  Ledger a, b;
  for (const auto& e : s) ASSERT_EQ(a.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  for (const auto& e : t) ASSERT_EQ(b.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  ASSERT_NE(a.DisputeState("d1")->SerializeAsString(),
            b.DisputeState("d1")->SerializeAsString());
  EXPECT_NE(a.Digest(), b.Digest()) << "different dispute reason, same digest";
}

TEST_F(DigestTest, TheDigestCoversTheDisputeWindow) {
  std::vector<v1::Event> s;
  s.push_back(MakeOpenAccount("a1"));
  s.push_back(MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPC, 1 * kUnit,
                           v1::BUDGET_MODE_INFINITE, 0));
  s.push_back(MakeDispute("d1", "a1", "c1", v1::DISPUTE_REASON_PLATFORM_ERROR,
                          kT0, kT0 + kDay, 1 * kUnit, {}));
  auto t = s;
  t.back().mutable_dispute_filed()->set_window_end_us(kT0 + 2 * kDay);
  Ledger a, b;
  for (const auto& e : s) ASSERT_EQ(a.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  for (const auto& e : t) ASSERT_EQ(b.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  EXPECT_NE(a.Digest(), b.Digest()) << "different dispute window, same digest";
}

TEST_F(DigestTest, TheDigestCoversWhetherFreeDeliveryServed) {
  // One impression at 0.000999 per 1,000 costs nothing and makes no entry,
  // but served (not fault-marked) delivery forbids REJECTED_BEFORE_SERVING
  // later (R7): the states differ.
  std::vector<v1::Event> s;
  s.push_back(MakeOpenAccount("a1"));
  s.push_back(MakeDeposit("a1", 1 * kUnit));
  s.push_back(MakeCampaign("a1", "c1", v1::BILLING_EVENT_CPM, 999,
                           v1::BUDGET_MODE_INFINITE, 0));
  s.push_back(MakeStatus("a1", "c1", v1::CampaignStatusChanged::ENABLE));
  s.push_back(MakeDelivery("a1", "c1", DeliveryReported::IMPRESSION, 1));
  auto t = s;
  t.back().mutable_delivery_reported()->set_platform_fault(true);
  Ledger a, b;
  for (const auto& e : s) ASSERT_EQ(a.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  for (const auto& e : t) ASSERT_EQ(b.Apply(e, nullptr).outcome, Ledger::Outcome::kApplied);
  const v1::Event review =
      MakeReview("a1", "c1", v1::AdReviewed::REJECTED_BEFORE_SERVING);
  ASSERT_NE(a.Check(review).outcome, b.Check(review).outcome);
  EXPECT_NE(a.Digest(), b.Digest())
      << "served vs fault-marked free delivery, same digest";
}

TEST_F(DigestTest, EmptyLedgersHaveEqualDigests) {
  Ledger a, b;
  EXPECT_EQ(a.Digest(), b.Digest());
  EXPECT_EQ(a.Digest().size(), 32u);
}

}  // namespace
}  // namespace billsim::testing
