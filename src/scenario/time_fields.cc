#include "scenario/time_fields.h"

#include <array>
#include <cstdint>

#include "util/time_parse.h"

namespace billsim {

namespace {

// Snake case for text format and JSON, lower camel case for JSON.
constexpr std::array<std::string_view, 8> kTimeFields = {
    "time_us",         "expires_at_us",  "window_start_us", "window_end_us",
    "timeUs",          "expiresAtUs",    "windowStartUs",   "windowEndUs"};

bool IsTimeField(std::string_view name) {
  for (std::string_view f : kTimeFields) {
    if (f == name) return true;
  }
  return false;
}

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Scans the text once. After a name (an identifier, or a string literal as
// JSON keys are) and a colon, a string literal is that field's value.
class Scanner {
 public:
  Scanner(std::string_view path, int first_line, std::string_view text)
      : path_(path), line_(first_line), text_(text) {}

  Status Run() {
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '"' || c == '\'') {
        Status st = StringLiteral(c);
        if (!st.ok()) return st;
      } else if (c == '#') {  // a text-format comment, to the end of the line
        while (at_ < text_.size() && text_[at_] != '\n') ++at_;
      } else if (IsNameStart(c)) {
        const size_t start = at_;
        while (at_ < text_.size() && IsNameChar(text_[at_])) ++at_;
        name_ = text_.substr(start, at_ - start);
        state_ = State::kName;
      } else {
        if (c == '\n') ++line_;
        if (c == ':') {
          state_ = state_ == State::kName ? State::kColon : State::kNone;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
          state_ = State::kNone;
        }
        ++at_;
      }
    }
    out_.append(text_.substr(copied_));
    return Status::Ok();
  }

  std::string Take() { return std::move(out_); }

 private:
  enum class State { kNone, kName, kColon };

  // The literal opening at at_. Escapes are skipped over, not decoded: a
  // time never needs one, and a literal with one is not a time.
  Status StringLiteral(char quote) {
    const size_t start = at_;
    const int line = line_;
    size_t i = at_ + 1;
    while (i < text_.size() && text_[i] != quote && text_[i] != '\n') {
      i += text_[i] == '\\' ? 2 : 1;
    }
    if (i >= text_.size() || text_[i] != quote) {
      // Unterminated: the parser will say so, naming the place.
      at_ = text_.size();
      return Status::Ok();
    }
    const std::string_view content = text_.substr(start + 1, i - start - 1);
    at_ = i + 1;
    if (state_ == State::kColon && IsTimeField(name_)) {
      state_ = State::kNone;
      if (LooksLikeInteger(content)) return Status::Ok();
      int64_t us = 0;
      const std::string what =
          std::string(path_) + ":" + std::to_string(line) + ": field " + std::string(name_);
      Status st = ParseTimeUs(content, what, &us);
      if (!st.ok()) return st;
      out_.append(text_.substr(copied_, start - copied_));
      out_.append(std::to_string(us));
      copied_ = at_;
      return Status::Ok();
    }
    name_ = content;
    state_ = State::kName;
    return Status::Ok();
  }

  std::string_view path_;
  int line_;
  std::string_view text_;
  size_t at_ = 0;
  size_t copied_ = 0;  // text_[0, copied_) is in out_
  std::string out_;
  State state_ = State::kNone;
  std::string_view name_;
};

}  // namespace

Status RewriteTimeStrings(std::string_view path, int first_line, std::string* text) {
  Scanner scanner(path, first_line, *text);
  Status st = scanner.Run();
  if (!st.ok()) return st;
  *text = scanner.Take();
  return Status::Ok();
}

}  // namespace billsim
