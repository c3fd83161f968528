// StressWorkload: the bench Workload (set-up, then realistic delivery) with
// the rest of the billing life mixed in, for `billsim stress`: campaigns
// paused and deleted, ads rejected before and after serving, disputes of
// every reason (with evidence added later and decisions), and more
// fault-marked delivery. Deterministic: the same seed gives the same events,
// with ids numbered densely in generation order from a block of the seed's
// own (1 + (seed mod 2^20) * 2^40), so a rerun with the same seed resends
// the same ids (duplicates) and another seed's ids never collide with them.
//
// Not thread-safe: the stress tool draws batches from one instance under a
// mutex, each into its connection's own builder (serialized outside it).
// The instance remembers the last builder it was given (its address and
// count, never read through; Next).
#ifndef BILLSIM_STRESS_STRESS_WORKLOAD_H_
#define BILLSIM_STRESS_STRESS_WORKLOAD_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "billsim/v1/events.pb.h"
#include "log/batch_codec.h"

namespace billsim::stress {

class StressWorkload {
 public:
  // 30 simulated days over `stream_events`, no coupons: billsim stress.
  StressWorkload(uint64_t seed, uint32_t accounts, uint32_t campaigns,
                 uint64_t stream_events);
  // The base workload as given (its seed, size, mean gap between events,
  // coupons): billsim bench ledger chooses the simulated span.
  explicit StressWorkload(const WorkloadOptions& base);

  // The set-up events (accounts, deposits, grants, campaigns enabled).
  std::vector<v1::Event> Setup();
  // The same, one event at a time (Workload::Setup); `setup_events` of them.
  void Setup(const std::function<void(v1::Event&)>& emit);
  uint64_t setup_events() const { return base_.setup_events(); }
  // Adds the next stream event to `batch` (a delivery as a columnar row,
  // without a v1::Event); returns its event id. The batch is what
  // BatchBuilder::AddDelivery would give, byte for byte. REQUIRES: a batch
  // is filled by consecutive Next calls from its construction or Clear:
  // nothing else adds to it meanwhile, and once another builder is given,
  // this one is not given again until it is cleared. (A builder whose count
  // is not what the last Next left starts a new batch; one that breaks the
  // rule still decodes to the same events, with dictionary entries twice.)
  uint64_t Next(log::BatchBuilder* batch);

  uint64_t next_event_id() const { return next_id_; }
  const std::vector<std::string>& account_ids() const { return base_.account_ids(); }

 private:
  void Stamp(v1::Event* e, int64_t time_us);
  uint64_t NextEvent(log::BatchBuilder* batch);  // Next, in the batch's epoch
  // The dictionary entry of `campaign` in `batch`, added if it has none.
  uint32_t EntryOf(log::BatchBuilder* batch, uint32_t campaign);
  // Fills `e` with one of the rarer events, or returns false.
  bool Extra(v1::Event* e);

  Workload base_;
  std::mt19937_64 rng_;
  uint64_t next_id_;
  int64_t now_us_ = 0;
  uint64_t disputes_ = 0;
  uint32_t reason_ = 0;  // cycles through every dispute reason
  struct Pending {
    std::string dispute_id;
    uint64_t due;       // stream position after which to follow up
    bool needs_evidence;
  };
  std::deque<Pending> pending_;
  uint64_t position_ = 0;
  v1::Event scratch_;  // reused for the events built whole

  // Each campaign's dictionary entry in the batch being written: an open-
  // addressed table keyed by campaign index, so that a row costs neither a
  // string hash (BatchBuilder::Dictionary) nor a load from the id tables.
  // A new batch (another builder, or one whose count is not what the last
  // Next left) empties the slots the last one used. Entries are distinct
  // pairs, as Dictionary's are: a campaign always has the same account.
  // 8-byte slots at most 3/4 full: a batch of 10,000 rows fits in 128 KiB,
  // one of kMaxBatchEvents (the most a batch holds) in 16 MiB.
  struct EntrySlot {
    uint32_t campaign_plus_one = 0;  // 0: empty
    uint32_t entry = 0;
  };
  void NewBatch();
  void GrowEntries();
  std::vector<EntrySlot> entries_ = std::vector<EntrySlot>(1024);  // a power of two
  std::vector<uint32_t> used_;  // the slots this batch's entries are in
  const log::BatchBuilder* last_batch_ = nullptr;
  uint32_t last_count_ = 0;
};

}  // namespace billsim::stress

#endif  // BILLSIM_STRESS_STRESS_WORKLOAD_H_
