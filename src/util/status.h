// Status: the result of an operation that can fail, as a value.
//
// Errors cross module boundaries as Status, never as exceptions (LevelDB
// style). A failed Status carries a code and a message that names the input,
// the field and the reason, so that the message alone tells a user what to
// fix.
#ifndef BILLSIM_UTIL_STATUS_H_
#define BILLSIM_UTIL_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

namespace billsim {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,
    kNotFound,
    kCorruption,
    kIOError,
    kPermissionDenied,  // an unknown credential, or a role that may not do this
  };

  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(Code::kNotFound, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(Code::kCorruption, std::move(msg));
  }
  static Status IOError(std::string msg) {
    return Status(Code::kIOError, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace billsim

#endif  // BILLSIM_UTIL_STATUS_H_
