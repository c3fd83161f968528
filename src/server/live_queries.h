// Live-state queries: the answers read straight from a ledger (balance,
// spend, dispute, the account and campaign lists), the same wherever that
// ledger lives: the single node's committer (commit_pipeline.h) or a
// cluster shard (cluster/shard.h). No I/O, no clock; each answer is a
// function of the ledger and the request, and its work is bounded (a page
// at most, a list scan at most 100,000 accounts).
#ifndef BILLSIM_SERVER_LIVE_QUERIES_H_
#define BILLSIM_SERVER_LIVE_QUERIES_H_

#include "billsim/v1/wire.pb.h"
#include "ledger/ledger.h"

namespace billsim::server {

// True if `request` is a live-state query: `response` then holds its answer
// (or a NOT_FOUND Error naming the id). False for any other kind, and
// `response` is untouched.
bool AnswerLiveQuery(const Ledger& ledger, const v1::Request& request, v1::Response* response);

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_LIVE_QUERIES_H_
