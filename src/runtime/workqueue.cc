#include "runtime/workqueue.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace execgov::runtime {

using TimePoint = std::chrono::system_clock::time_point;

struct WorkQueue::Impl {
  WorkQueueOptions options;
  const Clock* clock;
  bool own_timer;

  mutable std::mutex mu;
  std::condition_variable ready_cv;  // Get() waits here
  std::condition_variable timer_cv;  // the timer thread waits here
  std::deque<std::string> queue;
  std::unordered_set<std::string> dirty;       // queued, or re-added while processing
  std::unordered_set<std::string> processing;  // handed out by Get(), not yet Done()
  std::unordered_map<std::string, TimePoint> waiting;  // delayed key -> when it is due
  std::set<std::pair<TimePoint, std::string>> waiting_by_time;
  std::unordered_map<std::string, int> failures;
  double tokens = 0;
  TimePoint refilled{};
  bool bucket_started = false;
  bool shutting_down = false;
  std::thread timer;

  explicit Impl(WorkQueueOptions o)
      : options(o),
        clock(o.clock ? o.clock : &SystemClock::Get()),
        own_timer(clock == &SystemClock::Get()) {}

  void AddLocked(const std::string& key) {
    if (shutting_down || dirty.count(key)) return;
    dirty.insert(key);
    if (processing.count(key)) return;  // Done() queues it again
    queue.push_back(key);
    ready_cv.notify_one();
  }

  void AddAfterLocked(const std::string& key, std::chrono::milliseconds delay) {
    if (shutting_down) return;
    if (delay.count() <= 0) return AddLocked(key);
    const TimePoint due = clock->Now() + delay;
    auto it = waiting.find(key);
    if (it != waiting.end()) {
      if (it->second <= due) return;  // already due sooner
      waiting_by_time.erase({it->second, key});
    }
    waiting[key] = due;
    waiting_by_time.insert({due, key});
    timer_cv.notify_one();
  }

  void TickLocked() {
    const TimePoint now = clock->Now();
    while (!waiting_by_time.empty() && waiting_by_time.begin()->first <= now) {
      std::string key = waiting_by_time.begin()->second;
      waiting_by_time.erase(waiting_by_time.begin());
      waiting.erase(key);
      AddLocked(key);
    }
  }

  // The overall token bucket: a reservation is always granted, and the
  // returned delay is how long until its token exists (client-go's
  // BucketRateLimiter), so a burst of failures spreads out at bucket_qps.
  std::chrono::milliseconds BucketDelayLocked() {
    if (options.bucket_qps <= 0) return std::chrono::milliseconds(0);
    const TimePoint now = clock->Now();
    if (!bucket_started) {
      bucket_started = true;
      tokens = options.bucket_burst;
      refilled = now;
    }
    if (now > refilled) {
      double elapsed = std::chrono::duration<double>(now - refilled).count();
      tokens = std::min<double>(options.bucket_burst, tokens + elapsed * options.bucket_qps);
      refilled = now;
    }
    tokens -= 1;
    if (tokens >= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(-tokens / options.bucket_qps * 1000)));
  }

  std::chrono::milliseconds ItemDelayLocked(const std::string& key) {
    int n = failures[key]++;
    const double ms = static_cast<double>(options.base_delay.count()) * std::pow(2.0, std::min(n, 62));
    const double cap = static_cast<double>(options.max_delay.count());
    return std::chrono::milliseconds(static_cast<int64_t>(std::min(ms, cap)));
  }

  void RunTimer() {
    std::unique_lock<std::mutex> l(mu);
    while (!shutting_down) {
      if (waiting_by_time.empty()) {
        timer_cv.wait(l);
      } else {
        timer_cv.wait_until(l, waiting_by_time.begin()->first);
      }
      TickLocked();
    }
  }
};

WorkQueue::WorkQueue(WorkQueueOptions options) : impl_(std::make_unique<Impl>(options)) {
  // Only the system clock can be waited on; with an injected clock the
  // owner (a test) calls Tick() after moving time.
  if (impl_->own_timer) impl_->timer = std::thread([impl = impl_.get()] { impl->RunTimer(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  if (impl_->timer.joinable()) impl_->timer.join();
}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->AddLocked(key);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->AddAfterLocked(key, delay);
}

void WorkQueue::AddRateLimited(const std::string& key) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->shutting_down) return;
  auto item = impl_->ItemDelayLocked(key);
  auto bucket = impl_->BucketDelayLocked();
  impl_->AddAfterLocked(key, std::max(item, bucket));
}

void WorkQueue::Forget(const std::string& key) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->failures.erase(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->failures.find(key);
  return it == impl_->failures.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock<std::mutex> l(impl_->mu);
  impl_->ready_cv.wait(l, [&] { return impl_->shutting_down || !impl_->queue.empty(); });
  if (impl_->shutting_down) return std::nullopt;
  std::string key = std::move(impl_->queue.front());
  impl_->queue.pop_front();
  impl_->processing.insert(key);
  impl_->dirty.erase(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->processing.erase(key);
  if (impl_->dirty.count(key) && !impl_->shutting_down) {
    impl_->queue.push_back(key);
    impl_->ready_cv.notify_one();
  }
}

void WorkQueue::ShutDown() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->shutting_down = true;
  }
  impl_->ready_cv.notify_all();
  impl_->timer_cv.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->shutting_down;
}

size_t WorkQueue::Len() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->queue.size();
}

void WorkQueue::Tick() {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->TickLocked();
}

}  // namespace execgov::runtime
