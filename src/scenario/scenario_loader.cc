#include "scenario/scenario_loader.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unordered_set>

#include "scenario/time_fields.h"

namespace billsim {

namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

bool IsScenarioFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".textproto" || ext == ".txtpb" || ext == ".pbtxt" ||
         ext == ".json";
}

// Collects the text parser's errors as "file:line:column: message" (1-based,
// as editors count).
class Collector : public pb::io::ErrorCollector {
 public:
  explicit Collector(std::string file) : file_(std::move(file)) {}
  void AddError(int line, pb::io::ColumnNumber column,
                const std::string& message) override {
    if (!text_.empty()) text_ += "\n";
    text_ += file_ + ":" + std::to_string(line + 1) + ":" +
             std::to_string(column + 1) + ": " + message;
  }
  const std::string& text() const { return text_; }

 private:
  std::string file_;
  std::string text_;
};

std::string Where(const std::string& path, const pb::TextFormat::ParseInfoTree* tree,
                  int expect_index, const char* field) {
  if (tree == nullptr) return path;
  const pb::Descriptor* d = v1::Scenario::descriptor();
  const pb::TextFormat::ParseInfoTree* sub =
      tree->GetTreeForNested(d->FindFieldByName("expect"), expect_index);
  if (sub == nullptr) return path;
  const pb::FieldDescriptor* f =
      v1::Expectation::descriptor()->FindFieldByName(field);
  const pb::TextFormat::ParseLocation loc = sub->GetLocation(f, -1);
  if (loc.line < 0) return path;
  return path + ":" + std::to_string(loc.line + 1) + ":" +
         std::to_string(loc.column + 1);
}

Status CheckWellFormed(const std::string& path, const v1::Scenario& s,
                       const pb::TextFormat::ParseInfoTree* tree) {
  if (s.events().empty()) {
    return Status::InvalidArgument(path + ": field events: a scenario needs "
                                   "at least one event");
  }
  std::unordered_set<uint64_t> ids;
  for (const v1::Event& e : s.events()) ids.insert(e.event_id());
  for (int i = 0; i < s.expect_size(); ++i) {
    const v1::Expectation& x = s.expect(i);
    const std::string label =
        "expect[" + std::to_string(i) + "]" +
        (x.name().empty() ? "" : " \"" + x.name() + "\"");
    if (x.after_event_id() != 0 && !ids.contains(x.after_event_id())) {
      return Status::InvalidArgument(
          Where(path, tree, i, "after_event_id") + ": " + label +
          ": field after_event_id: no event with id " +
          std::to_string(x.after_event_id()) + " in this scenario");
    }
    if (x.what_case() == v1::Expectation::WHAT_NOT_SET) {
      return Status::InvalidArgument(
          Where(path, tree, i, "name") + ": " + label +
          ": sets none of balance, campaign, dispute, entry, rejection");
    }
    uint64_t about = 0;
    if (x.has_entry()) about = x.entry().event_id();
    if (x.has_rejection()) about = x.rejection().event_id();
    if ((x.has_entry() || x.has_rejection()) && !ids.contains(about)) {
      return Status::InvalidArgument(
          Where(path, tree, i, x.has_entry() ? "entry" : "rejection") + ": " +
          label + ": field event_id: no event with id " +
          std::to_string(about) + " in this scenario");
    }
  }
  return Status::Ok();
}

}  // namespace

Status LoadScenario(const std::string& file, v1::Scenario* out) {
  // "-": standard input, JSON when it starts with '{', else text format.
  const bool from_stdin = file == "-";
  const std::string path = from_stdin ? "standard input" : file;
  std::string text;
  if (from_stdin) {
    char chunk[1 << 16];
    for (;;) {
      std::cin.read(chunk, sizeof chunk);
      text.append(chunk, static_cast<size_t>(std::cin.gcount()));
      if (text.size() > kScenarioBytesMax) {
        return Status::InvalidArgument(path + ": a scenario is at most " +
                                       std::to_string(kScenarioBytesMax >> 20) +
                                       " MiB (event streams of any size: log append)");
      }
      if (!std::cin) break;
    }
    if (std::cin.bad()) return Status::IOError(path + ": read failed");
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::IOError(path + ": cannot open for reading");
    std::stringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  out->Clear();
  // Times written as ISO 8601 strings become integers first.
  Status rewritten = RewriteTimeStrings(path, 1, &text);
  if (!rewritten.ok()) return rewritten;

  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool json = from_stdin ? first != std::string::npos && text[first] == '{'
                               : fs::path(path).extension() == ".json";
  if (json) {
    pb::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto st = pb::util::JsonStringToMessage(text, out, options);
    if (!st.ok()) {
      return Status::InvalidArgument(path + ": " +
                                     std::string(st.message()));
    }
    return CheckWellFormed(path, *out, nullptr);
  }

  Collector errors(path);
  pb::TextFormat::ParseInfoTree tree;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, out)) {
    return Status::InvalidArgument(errors.text().empty()
                                       ? path + ": not a valid scenario"
                                       : errors.text());
  }
  return CheckWellFormed(path, *out, &tree);
}

Status ExpandScenarioPaths(const std::vector<std::string>& paths,
                           std::vector<std::string>* files) {
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        if (entry.is_regular_file() && IsScenarioFile(entry.path())) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) return Status::IOError(p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        return Status::NotFound(p + ": no .textproto or .json scenario files");
      }
      files->insert(files->end(), found.begin(), found.end());
    } else if (p == "-" || fs::exists(p, ec)) {  // "-": standard input
      files->push_back(p);
    } else {
      return Status::NotFound(p + ": no such file or folder");
    }
  }
  return Status::Ok();
}

}  // namespace billsim
