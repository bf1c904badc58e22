// Structured logging: one JSON object per line on stderr. Callers pass fields
// explicitly; nothing secret is ever a field (private keys never reach here).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace execgov::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void SetLevel(Level level);
// Logs {"ts":..., "level":..., "msg":..., ...fields} as one line. Lines are
// queued and written to stderr by the log's own thread, whole and in the
// order they were logged, so a slow stderr (a busy disk, a pipe the
// container runtime stopped reading) never holds up the caller. Past
// kMaxQueuedBytes waiting, lines are left out, and a warning says how many
// once stderr takes lines again. Lines queued at exit are written then (for
// up to 2 s).
void Write(Level level, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

inline constexpr size_t kMaxQueuedBytes = 16u << 20;
// Waits until every line logged before the call is written, up to `timeout`;
// false if it was not.
bool Flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
// Lines left out since the process started because kMaxQueuedBytes were
// waiting (exposed as execgov_log_lines_left_out_total).
uint64_t LinesLeftOut();
// For tests of the bound: the queue's limit in bytes.
void SetMaxQueuedForTest(size_t bytes);

// A line's fields written as they are added, for a line logged on every
// request (the admission decision), where building an nlohmann object for
// it took more CPU than writing the line. Field names are the caller's own
// constants; "ts", "level" and "msg" are the line's.
class Fields {
 public:
  Fields& Str(std::string_view name, std::string_view value);
  Fields& Int(std::string_view name, int64_t value);
  Fields& Uint(std::string_view name, uint64_t value);
  Fields& Num(std::string_view name, double value);
  Fields& Bool(std::string_view name, bool value);

 private:
  friend void Write(Level level, std::string_view msg, const Fields& fields);
  void Name(std::string_view name);
  std::string text_;  // ,"name":value ...
};
void Write(Level level, std::string_view msg, const Fields& fields);

// While one is alive on a thread, that thread's lines are gathered and
// queued together (one append, one write(2)) when the outermost one ends;
// other threads' lines are queued at once.
// The ledger's writer holds one while it answers a batch of admissions:
// one write for the batch's decision lines instead of one each.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
};

inline void Info(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kInfo, msg, f); }
inline void Warn(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kWarn, msg, f); }
inline void Error(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kError, msg, f); }
inline void Debug(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) { Write(Level::kDebug, msg, f); }
inline void Info(std::string_view msg, const Fields& f) { Write(Level::kInfo, msg, f); }

}  // namespace execgov::log
