// Errors are values: every fallible call returns a Status or a StatusOr<T>.
// Exceptions thrown by third-party libraries are caught in the adapter that
// wraps the library and become a Status; none crosses a module boundary.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace execgov {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input from a user or a peer
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kPermissionDenied,  // a verification that failed (signature, checkpoint)
  kUnavailable,       // a transient failure: retry may succeed
  kAborted,           // a lost optimistic-concurrency race: retry
  kDataLoss,          // corrupt persisted data
  kInternal,
  kResourceExhausted,
  kDeadlineExceeded,
  kOutOfRange,        // asked for something no longer there (an expired watch version)
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }

// Holds either a value or a non-OK Status. Accessing value() of an error is a
// programming error (it aborts), so callers test ok() first.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "StatusOr built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace execgov

// Returns from the enclosing function when `expr` is a non-OK Status.
#define EXECGOV_RETURN_IF_ERROR(expr)             \
  do {                                            \
    ::execgov::Status _st = (expr);               \
    if (!_st.ok()) return _st;                    \
  } while (0)

#define EXECGOV_CONCAT_INNER(a, b) a##b
#define EXECGOV_CONCAT(a, b) EXECGOV_CONCAT_INNER(a, b)
// Declares `lhs` from a StatusOr expression, or returns its error.
#define EXECGOV_ASSIGN_OR_RETURN(lhs, expr) \
  EXECGOV_ASSIGN_OR_RETURN_IMPL(EXECGOV_CONCAT(_so_, __LINE__), lhs, expr)
#define EXECGOV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
