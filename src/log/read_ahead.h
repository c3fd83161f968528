// ReadAheadStream: an EventStream whose reading, checksumming and decoding
// run on a second thread, a few batches ahead of the consumer.
//
// Replay spends its time in two places: getting a batch off disk into
// columns (read, XXH3, Protobuf parse) and folding its events into the
// ledger. The two are independent until a batch is handed over, so on a
// machine with a spare core they overlap and replay runs at the speed of
// the slower one. The hand-over is per batch (thousands of events), so the
// one mutex is off the per-event path.
//
// Memory is bounded: kSlots decoded batches exist at any time, each reused
// from batch to batch. Order is kept: batches come out in log order, and an
// error (a corrupt batch) comes out in the place it was found, after every
// good batch before it.
//
// Not thread-safe itself: one consumer calls Next and reads the current
// batch; the worker is private.
#ifndef BILLSIM_LOG_READ_AHEAD_H_
#define BILLSIM_LOG_READ_AHEAD_H_

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/batch_codec.h"
#include "log/event_stream.h"
#include "log/format.h"
#include "log/pair_numbering.h"
#include "util/status.h"

namespace billsim::log {

class ReadAheadStream {
 public:
  ReadAheadStream() = default;
  ~ReadAheadStream();
  ReadAheadStream(const ReadAheadStream&) = delete;
  ReadAheadStream& operator=(const ReadAheadStream&) = delete;

  // Opens the log and positions it at the batch holding `from_seq` (>= 1),
  // then starts reading ahead. `first_created`: the stable id of the pair
  // the stream's first CampaignCreated (from `from_seq` on) names, if that
  // pair is new (below).
  Status Open(const std::string& dir, LogReader::Options options, uint64_t from_seq,
              uint32_t first_created = 0);

  // Releases the current batch and waits for the next; *done at the end.
  Status Next(bool* done);

  // The current batch (valid after Next returned a batch).
  const BatchHeader& header() const { return slots_[current_].header; }
  uint64_t payload_bytes() const { return slots_[current_].payload_bytes; }
  const BatchDecoder& decoder() const { return slots_[current_].decoder; }
  // For each entry of the current batch's campaign dictionary, a number
  // that names its (account, campaign) pair the same way in every batch of
  // this stream. The worker matches the strings, so a consumer can keep
  // what it learnt about a pair across batches without touching a string
  // (replay's resolution cache).
  //
  // A pair first named by a CampaignCreated of the stream gets a number
  // below kFirstOther: the k-th creation from `from_seq` on (counting from
  // 0, every creation) gives first_created + k. So when first_created is
  // the ledger's campaign count at `from_seq` and the ledger applies every
  // creation (replay, which stops at the first event it refuses), that
  // number is the index of the pair's campaign. Other pairs (created before
  // the stream, or never) are numbered from kFirstOther, densely, in order
  // of first appearance.
  static constexpr uint32_t kFirstOther = PairNumbering::kFirstOther;
  const std::vector<uint32_t>& stable_ids() const { return slots_[current_].stable_ids; }
  // For each of the current batch's other events (BatchDecoder::other_event),
  // the stable id of the pair a CampaignCreated names (its account and
  // campaign ids), in the same numbering; kNoPair for any other event. A
  // consumer that sees the creation succeed learns the pair's campaign then,
  // so a delivery naming it later costs no lookup (replay of a large book
  // meets most campaigns for the first time after their creation).
  static constexpr uint32_t kNoPair = PairNumbering::kNoPair;
  const std::vector<uint32_t>& created_ids() const { return slots_[current_].created_ids; }
  void Visit(BatchVisitor* visitor) const { slots_[current_].decoder.Visit(visitor); }

  // A torn tail that ended the log (valid once Next reported *done).
  const std::string& tail_fault() const { return tail_fault_; }

 private:
  static constexpr size_t kSlots = 3;
  // A slot's decoder that keeps this many other events' messages lets go
  // of them once a batch uses under a quarter.
  static constexpr uint64_t kOthersKeptMany = 1024;

  struct Slot {
    BatchHeader header{};
    uint64_t payload_bytes = 0;
    BatchDecoder decoder{BatchDecoder::Adaptive{}};
    std::vector<uint32_t> stable_ids;
    std::vector<uint32_t> created_ids;
  };

  void Work();
  void AssignStableIds(Slot* slot);  // worker only

  EventStream stream_;  // owned by the worker once it runs
  // Worker-only: every (account, campaign) pair seen, with its stable id.
  // As large as the set of campaigns, not the log.
  PairNumbering pairs_;
  uint64_t from_seq_ = 1;
  std::array<Slot, kSlots> slots_;

  // Shared state, under mu_. The worker fills slots filled_ % kSlots in
  // order; the consumer takes them in the same order and releases one only
  // when it asks for the next, so `filled_ - taken_` counts the slots out
  // of the worker's hands, and the worker waits while that is kSlots.
  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t filled_ = 0;
  uint64_t taken_ = 0;
  bool finished_ = false;  // the worker stopped: end of log or error
  bool stop_ = false;      // the consumer is going away
  Status error_;
  std::string worker_tail_fault_;

  // Consumer-only.
  size_t current_ = 0;
  bool holding_ = false;  // a slot is out with the consumer
  std::string tail_fault_;
  std::thread worker_;
};

}  // namespace billsim::log

#endif  // BILLSIM_LOG_READ_AHEAD_H_
