#include "bulk/event_reader.h"

#include <filesystem>

#include "scenario/scenario_loader.h"

namespace billsim::bulk {

Status ParseFormat(const std::string& text, const std::string& what, Format* out) {
  if (text == "auto") {
    *out = Format::kAuto;
  } else if (text == "jsonl") {
    *out = Format::kJsonLines;
  } else if (text == "csv") {
    *out = Format::kCsv;
  } else if (text == "scenario") {
    *out = Format::kScenario;
  } else {
    return Status::InvalidArgument(what + ": must be auto, jsonl, csv or scenario, got \"" +
                                   text + "\"");
  }
  return Status::Ok();
}

Status EventReader::Open(const std::string& path, const ReaderOptions& options,
                         std::unique_ptr<EventReader>* out) {
  std::unique_ptr<EventReader> r(new EventReader());
  r->name_ = InputName(path);
  r->format_ = options.format;
  r->csv_ = CsvDeliveryParser(options.first_event_id);
  if (r->format_ == Format::kAuto) {
    const std::string ext =
        std::filesystem::path(WithoutCompressionSuffix(path)).extension().string();
    if (path == "-" || ext == ".jsonl" || ext == ".ndjson") {
      r->format_ = Format::kJsonLines;
    } else if (ext == ".csv") {
      r->format_ = Format::kCsv;
    } else {
      r->format_ = Format::kScenario;
    }
  }
  if (r->format_ == Format::kScenario) {
    if (WithoutCompressionSuffix(path) != path) {
      return Status::InvalidArgument(r->name_ +
                                     ": a scenario is read whole from a plain file or standard "
                                     "input; compressed inputs take JSON lines or CSV");
    }
    v1::Scenario scenario;
    Status st = LoadScenario(path, &scenario);
    if (!st.ok()) return st;
    r->scenario_.assign(scenario.events().begin(), scenario.events().end());
  } else {
    std::unique_ptr<InputStream> in;
    Status st = InputStream::Open(path, &in);
    if (!st.ok()) return st;
    r->lines_reader_ = std::make_unique<LineReader>(std::move(in));
  }
  *out = std::move(r);
  return Status::Ok();
}

Status EventReader::Read(uint32_t max_events, size_t max_bytes, log::BatchBuilder* batch,
                         uint32_t* added, bool* done) {
  *added = 0;
  *done = false;
  if (format_ == Format::kScenario) {
    while (*added < max_events && scenario_at_ < scenario_.size()) {
      batch->Add(scenario_[scenario_at_++]);
      ++*added;
    }
    events_ += *added;
    *done = scenario_at_ == scenario_.size();
    return Status::Ok();
  }
  const uint64_t bytes_at_start = lines_reader_->bytes_consumed();
  while (*added < max_events && lines_reader_->bytes_consumed() - bytes_at_start < max_bytes) {
    std::string_view line;
    uint64_t number;
    Status st = lines_reader_->Next(&line, &number, done);
    if (!st.ok()) return st;
    if (*done) break;
    lines_ = number;
    const uint32_t before = batch->count();
    if (format_ == Format::kCsv) {
      st = csv_.Add(name_, number, line, batch);
    } else {
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      st = json_.Add(name_, number, line, lines_reader_->Readable(line), batch);
    }
    if (!st.ok()) return st;
    const uint32_t n = batch->count() - before;
    *added += n;
    events_ += n;
  }
  return Status::Ok();
}

Status ForEachEventIn(const std::string& path, const ReaderOptions& options,
                      const std::function<Status(const v1::Event&)>& fn) {
  std::unique_ptr<EventReader> reader;
  Status st = EventReader::Open(path, options, &reader);
  if (!st.ok()) return st;
  log::BatchBuilder batch;
  log::BatchDecoder decoder;
  std::string payload;
  for (bool done = false; !done;) {
    batch.Clear();
    uint32_t added = 0;
    st = reader->Read(10'000, size_t{8} << 20, &batch, &added, &done);
    if (!st.ok()) return st;
    if (added == 0) continue;
    batch.Finish(&payload);
    st = decoder.Parse(payload, added);
    if (!st.ok()) return st;
    st = decoder.ForEachEvent(fn);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace billsim::bulk
