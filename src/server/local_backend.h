// LocalBackend: the single node behind `billsim serve` (backend.h): the
// commit pipeline takes appends and live-state queries, the query service
// history and as-of queries.
#ifndef BILLSIM_SERVER_LOCAL_BACKEND_H_
#define BILLSIM_SERVER_LOCAL_BACKEND_H_

#include "server/backend.h"
#include "server/commit_pipeline.h"
#include "server/query_service.h"

namespace billsim::server {

class LocalBackend final : public Backend {
 public:
  LocalBackend(const ServerOptions& options, Responder* responder);

  Status Open() override;
  void Start() override;
  Push Submit(Work& work) override;
  void Close() override;
  void Drain() override;
  void Join() override;
  Status failure() const override { return pipeline_.failure(); }
  uint64_t recovered_seq() const override { return pipeline_.last_seq_at_open(); }
  uint64_t acked_seq() const override { return pipeline_.acked_seq(); }
  bool WritesOwnLog() const override { return true; }
  void FillMetrics(http::MetricsSnapshot* m) const override;

 private:
  CommitPipeline pipeline_;
  QueryService queries_;
  bool queries_started_ = false;
};

}  // namespace billsim::server

#endif  // BILLSIM_SERVER_LOCAL_BACKEND_H_
