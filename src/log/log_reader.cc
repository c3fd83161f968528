#include "log/log_reader.h"

#include <algorithm>

#include "log/log_check.h"

namespace billsim::log {

Status LogReader::Open(const std::string& dir, Options options) {
  dir_ = dir;
  options_ = options;
  Status st = ListSegments(dir, &segments_, options.env);
  if (!st.ok()) return st;
  return Seek(1);
}

Status LogReader::OpenSegment(size_t i, uint64_t offset, uint64_t expected_seq) {
  current_ = i;
  open_ = true;
  SegmentReader::Options o;
  o.verify_chain = options_.verify_chain;
  o.env = options_.env;
  return reader_.Open(SegmentPath(dir_, segments_[i]), offset, expected_seq, chain_, o);
}

Status LogReader::Seek(uint64_t seq) {
  open_ = false;
  tail_fault_.clear();
  end_checked_ = false;
  chain_ = Chain{};
  if (segments_.empty()) {
    expected_seq_ = 1;
    return Status::Ok();
  }
  if (seq <= 1) {
    expected_seq_ = segments_[0];
    if (segments_[0] != 1) {
      return Status::Corruption(SegmentPath(dir_, segments_[0]) +
                                ": the log's first segment does not start at sequence 1");
    }
    return OpenSegment(0, 0, 1);
  }
  if (options_.verify_chain) {
    return Status::InvalidArgument("the hash chain can only be verified from sequence 1");
  }
  // The last segment whose first sequence is at or before `seq`.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seq);
  const size_t i = it == segments_.begin() ? 0 : (it - segments_.begin()) - 1;
  std::vector<IndexEntry> index;
  bool clean = false;
  Status st = ReadIndex(IndexPath(dir_, segments_[i]), &index, &clean, options_.env);
  if (!st.ok()) return st;
  IndexEntry start{segments_[i], 0};
  for (const IndexEntry& e : index) {
    if (e.first_seq > seq) break;
    start = e;
  }
  // The index may be short (it is derived data, rebuilt by recovery): walk
  // forward from its last entry at or before `seq` to the batch holding it.
  expected_seq_ = start.first_seq;
  st = OpenSegment(i, start.offset, start.first_seq);
  BatchView batch;
  while (st.ok() && reader_.Read(&batch) == SegmentReader::Next::kBatch) {
    if (batch.header.last_seq() >= seq) {
      start = {batch.header.first_seq, batch.offset};
      break;
    }
    start = {reader_.expected_seq(), reader_.offset()};
  }
  if (!st.ok()) return st;
  // Reopen at the batch found (or where the walk stopped: Next then reports
  // what is there, a fault or the end).
  expected_seq_ = start.first_seq;
  return OpenSegment(i, start.offset, start.first_seq);
}

Status LogReader::Next(BatchView* batch, bool* done) {
  *done = false;
  while (open_) {
    const auto next = reader_.Read(batch);
    const bool last = current_ + 1 == segments_.size();
    switch (next) {
      case SegmentReader::Next::kBatch:
        expected_seq_ = reader_.expected_seq();
        chain_ = reader_.chain();
        return Status::Ok();
      case SegmentReader::Next::kEnd:
        if (last) {
          open_ = false;
          break;
        }
        if (segments_[current_ + 1] != reader_.expected_seq()) {
          return Status::Corruption(SegmentPath(dir_, segments_[current_ + 1]) +
                                    ": segment starts at sequence " +
                                    std::to_string(segments_[current_ + 1]) +
                                    " but the log continues at " +
                                    std::to_string(reader_.expected_seq()));
        }
        chain_ = reader_.chain();
        expected_seq_ = reader_.expected_seq();
        {
          Status st = OpenSegment(current_ + 1, 0, expected_seq_);
          if (!st.ok()) return st;
        }
        continue;
      case SegmentReader::Next::kTail:
        if (last) {
          tail_fault_ = reader_.path() + " at offset " +
                        std::to_string(reader_.fault_offset()) + ": " + reader_.fault();
          open_ = false;
          break;
        }
        [[fallthrough]];
      case SegmentReader::Next::kCorrupt:
        return Status::Corruption(reader_.path() + " at offset " +
                                  std::to_string(reader_.fault_offset()) + ": " +
                                  reader_.fault());
    }
  }
  return AtEnd(done);
}

Status LogReader::AtEnd(bool* done) {
  // Once per position: the end is checked against the evidence that the
  // log held more (a snapshot past it, an index without its segment).
  if (!end_checked_) {
    end_checked_ = true;
    end_status_ = CheckNothingBeyond(dir_, expected_seq_ - 1, options_.env);
  }
  if (!end_status_.ok()) return end_status_;
  *done = true;
  return Status::Ok();
}

}  // namespace billsim::log
