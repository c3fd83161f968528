#include "sim/whatif_log.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "log/log_check.h"
#include "log/read_ahead.h"
#include "replay/batch_applier.h"
#include "replay/snapshot_store.h"
#include "util/thread_name.h"

namespace billsim::sim {

namespace {

// Applies one decoded batch to one side of a WhatIf: deliveries through a
// BatchApplier (the what-if's skips those its drop filters match), other
// events through WhatIf::ApplyActual or ApplyWhatIf. The two sides run on
// two threads over the same (read-only) batch.
class SideVisitor final : public log::BatchVisitor {
 public:
  SideVisitor(WhatIf* w, bool what_if)
      : w_(w), what_if_(what_if), applier_(what_if ? &w->what_if() : &w->actual()) {}

  void Start(uint64_t first_seq, const log::BatchDecoder* decoder,
             const std::vector<uint32_t>* stable_ids, const std::vector<uint32_t>* created_ids) {
    first_seq_ = first_seq;
    decoder_ = decoder;
    created_ids_ = created_ids;
    other_ = 0;
    applier_.Start(decoder, stable_ids);
  }

  bool OnDelivery(uint32_t position, const log::DeliveryRow& row) override {
    const uint64_t seq = first_seq_ + position;
    if (seq <= last_seq) return true;  // the snapshot holds it
    last_seq = seq;
    if (!what_if_) {
      w_->BeforeActual(seq);
      return Ok(w_->CheckActual(applier_.Apply(row, w_->actual_sink()), seq));
    }
    if (!Ok(w_->BeforeWhatIf(seq, row.time_us))) return false;
    Counterfactual& cf = w_->counterfactual();
    if (cf.drops_any() && cf.Active(seq, row.time_us) &&
        cf.DropsDelivery(row.time_us, decoder_->campaign(row.campaign), row.kind,
                         row.platform_fault)) {
      cf.CountDroppedDelivery();
    } else {
      w_->NoteWhatIf(applier_.Apply(row, w_->what_if_sink()), seq);
    }
    return true;
  }

  bool OnEvent(uint32_t position, const v1::Event& event) override {
    const uint32_t other = other_++;
    const uint64_t seq = first_seq_ + position;
    if (seq <= last_seq) return true;
    last_seq = seq;
    uint32_t created = kNoIndex;
    if (!what_if_) {
      const size_t campaigns = w_->actual().campaigns().size();
      w_->BeforeActual(seq);
      if (!Ok(w_->ApplyActual(seq, event))) return false;
      if (w_->actual().campaigns().size() != campaigns) created = static_cast<uint32_t>(campaigns);
    } else {
      if (!Ok(w_->BeforeWhatIf(seq, event.time_us()))) return false;
      if (!Ok(w_->ApplyWhatIf(seq, event, &created))) return false;
    }
    // A CampaignCreated's pair: a later delivery naming it needs no lookup.
    const uint32_t pair = (*created_ids_)[other];
    if (pair != log::ReadAheadStream::kNoPair && created != kNoIndex) applier_.Created(pair, created);
    return true;
  }

  const Status& error() const { return error_; }
  uint64_t last_seq = 0;

 private:
  bool Ok(const Status& st) {
    if (st.ok()) return true;
    error_ = st;
    return false;
  }

  WhatIf* w_;
  const bool what_if_;
  BatchApplier applier_;
  const log::BatchDecoder* decoder_ = nullptr;
  uint64_t first_seq_ = 0;
  const std::vector<uint32_t>* created_ids_ = nullptr;
  uint32_t other_ = 0;
  Status error_;
};

// Runs the what-if side of each batch on a thread of its own, while the
// caller runs the actual side: one hand-over per batch.
class WhatIfThread {
 public:
  explicit WhatIfThread(SideVisitor* visitor)
      : visitor_(visitor), thread_([this] {
          SetThreadName("bs-whatif");
          Loop();
        }) {}
  ~WhatIfThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Run(const log::BatchDecoder* decoder) {
    {
      std::lock_guard lock(mu_);
      decoder_ = decoder;
      busy_ = true;
    }
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !busy_; });
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return busy_ || stop_; });
      if (stop_) return;
      lock.unlock();
      decoder_->VisitWith(visitor_);
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  SideVisitor* visitor_;
  std::mutex mu_;
  std::condition_variable cv_;
  const log::BatchDecoder* decoder_ = nullptr;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once the rest is ready
};

}  // namespace

Status RunWhatIf(const std::string& dir, const ChangeSet& changes, const WhatIfLogOptions& options,
                 WhatIfResult* result) {
  const bool from_given = options.from_seq > 0 || options.from_us != INT64_MAX;
  const uint64_t from_seq = from_given ? (options.from_seq > 0 ? options.from_seq : UINT64_MAX) : 1;
  WhatIf w(changes, from_seq, options.from_us, /*strict=*/true);
  uint64_t snapshot_seq = 0;
  if (from_given) {
    // The newest snapshot before the start point, into both sides.
    const uint64_t max_seq =
        options.from_seq > 0 ? options.from_seq - 1 : std::numeric_limits<uint64_t>::max();
    const int64_t max_us = options.from_us != INT64_MAX ? options.from_us - 1 : INT64_MAX;
    Status st = LoadNewestSnapshot(dir, max_seq, max_us, &w.actual(), &snapshot_seq);
    uint64_t again = 0;
    if (st.ok() && snapshot_seq > 0) st = LoadNewestSnapshot(dir, max_seq, max_us, &w.what_if(), &again);
    if (st.ok() && snapshot_seq > 0) {
      uint64_t checked = 0;
      st = log::CheckBatches(dir, snapshot_seq, nullptr, &checked);
      if (!st.ok()) {
        st = Status::Corruption("damage in the part of the log behind the snapshot at sequence " +
                                std::to_string(snapshot_seq) + ": " + st.message());
      }
    }
    if (!st.ok()) return st;
    if (snapshot_seq > 0) spdlog::info("what-if from the snapshot at sequence {}", snapshot_seq);
  }
  log::ReadAheadStream stream;
  Status st = stream.Open(dir, log::LogReader::Options{}, snapshot_seq + 1);
  if (!st.ok()) return st;
  w.Defer();
  SideVisitor actual(&w, /*what_if=*/false);
  SideVisitor what_if(&w, /*what_if=*/true);
  actual.last_seq = snapshot_seq;
  what_if.last_seq = snapshot_seq;
  WhatIfThread what_if_thread(&what_if);
  for (;;) {
    bool done = false;
    st = stream.Next(&done);
    if (!st.ok()) return st;
    if (done) break;
    actual.Start(stream.header().first_seq, &stream.decoder(), &stream.stable_ids(),
                 &stream.created_ids());
    what_if.Start(stream.header().first_seq, &stream.decoder(), &stream.stable_ids(),
                  &stream.created_ids());
    what_if_thread.Run(&stream.decoder());
    stream.decoder().VisitWith(&actual);
    what_if_thread.Wait();
    if (!actual.error().ok()) return actual.error();
    if (!what_if.error().ok()) return what_if.error();
    w.After();  // both sides idle: compare the batch's entries
    if (options.progress) options.progress(actual.last_seq);
  }
  if (!stream.tail_fault().empty()) spdlog::warn("torn tail ignored: {}", stream.tail_fault());
  return w.Finish(options.account, result);
}

}  // namespace billsim::sim
