#include "server/live_queries.h"

#include <algorithm>
#include <string>
#include <vector>

#include "server/request.h"

namespace billsim::server {

namespace {

// A page of accounts by position; a search examines at most kScan accounts
// a page, so the committer never scans the whole book for one request.
void ListAccounts(const Ledger& ledger, const v1::AccountsQuery& q, v1::AccountList* out) {
  constexpr uint64_t kScan = 100'000;
  const uint32_t limit = q.limit() == 0 ? 100 : std::min<uint32_t>(q.limit(), 1'000);
  const auto& accounts = ledger.accounts();
  if (!q.business_center_id().empty() || q.account_ids_size() > 0) {
    // A selection: the center's accounts, or those named (in the center).
    const uint32_t center = q.business_center_id().empty()
                                ? kNoIndex
                                : ledger.FindBusinessCenter(q.business_center_id());
    std::vector<uint32_t> selected;
    if (q.account_ids_size() > 0) {
      for (int i = 0; i < q.account_ids_size() && i < 1'000; ++i) {
        const uint32_t ai = ledger.FindAccount(q.account_ids(i));
        if (ai == kNoIndex) continue;
        if (!q.business_center_id().empty() && accounts[ai].business_center != center) continue;
        selected.push_back(ai);
      }
    } else if (center != kNoIndex) {
      selected = ledger.business_centers()[center].accounts;
    }
    out->set_total(selected.size());
    uint64_t i = std::min<uint64_t>(q.cursor(), selected.size());
    for (; i < selected.size() && static_cast<uint32_t>(out->accounts_size()) < limit; ++i) {
      v1::AccountBalance balance = ledger.AccountView(selected[i]);
      balance.clear_grants();
      *out->add_accounts() = std::move(balance);
    }
    out->set_next_cursor(i);
    out->set_truncated(i < selected.size());
    return;
  }
  out->set_total(accounts.size());
  uint64_t i = std::min<uint64_t>(q.cursor(), accounts.size());
  const uint64_t scan_end = std::min<uint64_t>(accounts.size(), i + kScan);
  for (; i < scan_end && static_cast<uint32_t>(out->accounts_size()) < limit; ++i) {
    const std::string_view id = ledger.account_id(static_cast<uint32_t>(i));
    if (!q.search().empty() && id.find(q.search()) == std::string_view::npos) continue;
    std::optional<v1::AccountBalance> balance = ledger.Balance(id);
    if (!balance) continue;
    balance->clear_grants();
    *out->add_accounts() = std::move(*balance);
  }
  out->set_next_cursor(i);
  out->set_truncated(i < accounts.size());
}

// An account's campaigns (all, a page at a time, or those named).
void ListCampaigns(const Ledger& ledger, uint32_t ai, const v1::CampaignsQuery& q,
                   v1::CampaignList* out) {
  const uint32_t limit = q.limit() == 0 ? 100 : std::min<uint32_t>(q.limit(), 1'000);
  std::vector<uint32_t> named;
  if (q.campaign_ids_size() > 0) {
    for (int i = 0; i < q.campaign_ids_size() && i < 1'000; ++i) {
      const uint32_t ci = ledger.FindCampaign(q.campaign_ids(i));
      if (ci != kNoIndex && ledger.campaigns()[ci].account == ai) named.push_back(ci);
    }
  }
  const std::vector<uint32_t>& selected =
      q.campaign_ids_size() > 0 ? named : ledger.accounts()[ai].campaigns;
  out->set_total(selected.size());
  uint64_t i = std::min<uint64_t>(q.cursor(), selected.size());
  for (; i < selected.size() && static_cast<uint32_t>(out->campaigns_size()) < limit; ++i) {
    *out->add_campaigns() = ledger.CampaignView(selected[i]);
  }
  out->set_next_cursor(i);
  out->set_truncated(i < selected.size());
}

}  // namespace

bool AnswerLiveQuery(const Ledger& ledger, const v1::Request& request, v1::Response* response) {
  auto not_found = [&](const char* what, const std::string& id) {
    *response = ErrorResponse(0, v1::Error::NOT_FOUND,
                              std::string(what) + " '" + id + "' is unknown");
    return true;
  };
  switch (request.body_case()) {
    case v1::Request::kBalance: {
      auto v = ledger.Balance(request.balance().account_id());
      if (!v) return not_found("account", request.balance().account_id());
      *response->mutable_balance() = std::move(*v);
      return true;
    }
    case v1::Request::kSpend: {
      auto v = ledger.Spend(request.spend().campaign_id());
      if (!v) return not_found("campaign", request.spend().campaign_id());
      *response->mutable_spend() = std::move(*v);
      return true;
    }
    case v1::Request::kDispute: {
      auto v = ledger.DisputeState(request.dispute().dispute_id());
      if (!v) return not_found("dispute", request.dispute().dispute_id());
      *response->mutable_dispute() = std::move(*v);
      return true;
    }
    case v1::Request::kAccounts:
      ListAccounts(ledger, request.accounts(), response->mutable_accounts());
      return true;
    case v1::Request::kCampaigns: {
      const uint32_t ai = ledger.FindAccount(request.campaigns().account_id());
      if (ai == kNoIndex) return not_found("account", request.campaigns().account_id());
      ListCampaigns(ledger, ai, request.campaigns(), response->mutable_campaigns());
      return true;
    }
    default:
      return false;
  }
}

}  // namespace billsim::server
