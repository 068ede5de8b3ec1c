// base/status.h: errors as values. Status carries one code from a closed set
// and a message for a person; Result<T> is a value or a Status.
//
// Threading: plain values; copy freely between threads.
// Rules: (1) both types are [[nodiscard]]: a result is used or explicitly
//        dropped with IgnoreError(); (2) no exception crosses a folder
//        boundary: failures travel as these values; (3) messages name the
//        file, field or operation and say what to do.
// This header must compile as C++17 (the engine's wabt files include it).
#ifndef EDGELAB_BASE_STATUS_H_
#define EDGELAB_BASE_STATUS_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace edgelab {

enum class Code {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kIOError,
  kCorruption,
  kTimeout,
  kResourceExhausted,
  kPreconditionFailed,
  kTrap,
  kUnavailable,
};

// Returns a stable lower-case name for `code` ("not found", "trap", ...).
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status PreconditionFailed(std::string m) {
    return {Code::kPreconditionFailed, std::move(m)};
  }
  static Status Trap(std::string m) { return {Code::kTrap, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "ok".
  std::string ToString() const;
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return v_.index() == 0; }
  // Requires: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // OK when ok(), the error otherwise.
  Status status() const { return ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace edgelab

#define EDGELAB_CONCAT_INNER_(a, b) a##b
#define EDGELAB_CONCAT_(a, b) EDGELAB_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is an error.
#define EDGELAB_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::edgelab::Status edgelab_status_ = (expr);        \
    if (!edgelab_status_.ok()) return edgelab_status_; \
  } while (0)

// `lhs = value of expr`, or returns its error from the enclosing function.
#define EDGELAB_ASSIGN_OR_RETURN(lhs, expr) \
  EDGELAB_ASSIGN_OR_RETURN_IMPL_(EDGELAB_CONCAT_(edgelab_result_, __LINE__), lhs, expr)
#define EDGELAB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

// Aborts with a message on a broken internal invariant (a bug, not an error).
#define EDGELAB_CHECK(cond)                                         \
  do {                                                              \
    if (!(cond)) ::edgelab::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

namespace edgelab {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace edgelab

#endif  // EDGELAB_BASE_STATUS_H_
