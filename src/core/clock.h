// Time is injected (Envoy's TimeSource, leveldb's Env): production code asks a
// Clock, tests hand in a FakeClock and never sleep for time to pass.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace execgov {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for artifact validity and ledger timestamps.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Seconds since the Unix epoch (JWT NumericDate).
  int64_t NowUnix() const {
    return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& Get();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds) : micros_(unix_seconds * 1000000) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::microseconds(micros_.load()));
  }
  void Advance(std::chrono::microseconds d) { micros_ += d.count(); }
  void SetUnix(int64_t unix_seconds) { micros_ = unix_seconds * 1000000; }

 private:
  std::atomic<int64_t> micros_;
};

// RFC 3339 in UTC with a 'Z' suffix and optional fractional seconds.
std::string FormatRfc3339(std::chrono::system_clock::time_point t, bool with_millis = false);
// Parses RFC 3339 ("2026-01-01T00:00:00Z", "...+02:00", fractional seconds).
// Instants system_clock cannot hold (before 1677-09-21T00:12:43.145225Z or
// after 2262-04-11T23:47:16.854775Z, e.g. 9999-12-31) are refused like
// malformed text; fractional digits past microseconds are dropped.
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text);

// Parses a Go-style duration ("15m", "30s", "1h30m", "500ms"). Negative and
// empty durations are refused.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace execgov
