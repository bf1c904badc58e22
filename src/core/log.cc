#include "core/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

#include "core/clock.h"
#include "core/json_string.h"
#include "core/thread.h"

namespace execgov::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
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

void WriteAll(std::string_view out) {
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

size_t Lines(std::string_view text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// Lines waiting for the log's own thread, which writes them in the order
// they came. Kept apart from the callers because stderr can be slow: a file
// on a disk busy with the ledger's fsyncs took 5-6 ms for a batch's 30 KB,
// and a container's stderr is a pipe the runtime may stop reading. Logging
// must never hold up an admission, so a caller only appends here; past
// kMaxQueuedBytes bytes lines are left out and counted, and the count is logged
// once the writer catches up. Never destroyed: threads may log while the
// process exits.
class Queue {
 public:
  static Queue& Get() {
    static Queue* q = new Queue;
    return *q;
  }

  void Push(std::string_view lines) {
    std::lock_guard lock(mu_);
    if (queued_.size() + lines.size() > max_) {
      size_t n = Lines(lines);
      dropped_ += n;
      left_out_.fetch_add(n, std::memory_order_relaxed);
    } else {
      queued_.append(lines);
    }
    if (!started_) {
      started_ = true;
      std::thread([this] {
        SetThreadName("log-writer");
        Run();
      }).detach();
      std::atexit([] { Queue::Get().Flush(std::chrono::seconds(2)); });
    }
    cv_.notify_all();
  }

  // Waits until every line queued so far is written, or `timeout` passes.
  bool Flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    uint64_t target = pushed_generation();
    return done_.wait_for(lock, timeout, [&] { return written_ >= target; });
  }

  uint64_t LeftOut() const { return left_out_.load(std::memory_order_relaxed); }

  void SetMaxQueued(size_t bytes) {
    std::lock_guard lock(mu_);
    max_ = bytes;
  }

 private:
  // Every line pushed so far has been taken once the writer took this many
  // generations: a generation is one take of the whole queue.
  uint64_t pushed_generation() const { return queued_.empty() && dropped_ == 0 ? taken_ : taken_ + 1; }

  void Run() {
    std::string out;
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return !queued_.empty() || dropped_ > 0; });
      out.swap(queued_);
      uint64_t dropped = std::exchange(dropped_, 0);
      uint64_t generation = ++taken_;
      lock.unlock();
      if (dropped > 0) {
        out += "{\"ts\":";
        AppendJsonString(FormatRfc3339(std::chrono::system_clock::now(), true), &out);
        out += ",\"level\":\"warn\",\"msg\":\"log: lines left out, stderr did not take them fast enough\",\"lines\":" +
               std::to_string(dropped) + "}\n";
      }
      WriteAll(out);
      out.clear();
      // A burst does not keep its buffer for good.
      if (out.capacity() > (1u << 20)) out.shrink_to_fit();
      lock.lock();
      written_ = generation;
      done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, done_;
  std::string queued_;
  uint64_t dropped_ = 0;                // since the writer last took the queue
  std::atomic<uint64_t> left_out_{0};  // since the process started; read without the lock
  uint64_t taken_ = 0, written_ = 0;
  size_t max_ = kMaxQueuedBytes;
  bool started_ = false;
};

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
  Queue::Get().Push(out);
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

bool Flush(std::chrono::milliseconds timeout) { return Queue::Get().Flush(timeout); }

uint64_t LinesLeftOut() { return Queue::Get().LeftOut(); }

void SetMaxQueuedForTest(size_t bytes) { Queue::Get().SetMaxQueued(bytes); }

Batch::~Batch() {
  if (--t_batch_depth > 0 || t_batched.empty()) return;
  Queue::Get().Push(t_batched);
  t_batched.clear();
  // A batch of thousands of lines does not keep its buffer for good.
  if (t_batched.capacity() > (1u << 20)) t_batched.shrink_to_fit();
}

}  // namespace execgov::log
