#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "core/clock.h"
#include "core/json_string.h"

namespace execgov::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
const char* Name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}
}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }

namespace {

// The lines a Batch gathers on this thread, and how many Batches are open.
thread_local std::string t_batched;
thread_local int t_batch_depth = 0;

void WriteLocked(std::string_view out) {
  std::lock_guard<std::mutex> lock(g_mu);
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + off, out.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

// A string as JSON: a path or a library's message may hold any bytes, and
// the line stays valid JSON.
void AppendString(std::string_view s, std::string* out) { AppendJsonStringReplacingInvalid(s, out); }

}  // namespace

namespace {

// The line up to its fields: {"ts":...,"level":...,"msg":...
std::string Begin(Level level, std::string_view msg) {
  std::string out = "{\"ts\":";
  AppendJsonString(FormatRfc3339(std::chrono::system_clock::now(), true), &out);
  out += ",\"level\":\"";
  out += Name(level);
  out += "\",\"msg\":";
  AppendString(msg, &out);
  return out;
}

void End(std::string& out) {
  out += "}\n";
  if (t_batch_depth > 0) {
    t_batched += out;
    return;
  }
  WriteLocked(out);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

}  // namespace

void Write(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (!Enabled(level)) return;
  // Written field by field rather than copied into one object and dumped:
  // one line per admission, and the copy was most of its cost.
  std::string out = Begin(level, msg);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      if (it.key() == "ts" || it.key() == "level" || it.key() == "msg") continue;  // the line's own
      out += ',';
      AppendString(it.key(), &out);
      out += ':';
      if (it->is_string()) {
        AppendString(it->get_ref<const std::string&>(), &out);
      } else {
        out += it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
  }
  End(out);
}

void Write(Level level, std::string_view msg, const Fields& fields) {
  if (!Enabled(level)) return;
  std::string out = Begin(level, msg);
  out += fields.text_;
  End(out);
}

void Fields::Name(std::string_view name) {
  text_ += ',';
  AppendString(name, &text_);
  text_ += ':';
}

Fields& Fields::Str(std::string_view name, std::string_view value) {
  Name(name);
  AppendString(value, &text_);
  return *this;
}

Fields& Fields::Int(std::string_view name, int64_t value) {
  Name(name);
  text_ += std::to_string(value);
  return *this;
}

Fields& Fields::Uint(std::string_view name, uint64_t value) {
  Name(name);
  text_ += std::to_string(value);
  return *this;
}

Fields& Fields::Num(std::string_view name, double value) {
  Name(name);
  // As nlohmann writes a number (shortest round trip; null when not finite).
  text_ += nlohmann::json(value).dump();
  return *this;
}

Fields& Fields::Bool(std::string_view name, bool value) {
  Name(name);
  text_ += value ? "true" : "false";
  return *this;
}

Batch::Batch() { ++t_batch_depth; }

Batch::~Batch() {
  if (--t_batch_depth > 0 || t_batched.empty()) return;
  WriteLocked(t_batched);
  t_batched.clear();
  // A batch of thousands of lines does not keep its buffer for good.
  if (t_batched.capacity() > (1u << 20)) t_batched.shrink_to_fit();
}

}  // namespace execgov::log
