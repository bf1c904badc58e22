// A rate-limited work queue of keys with client-go's guarantees:
// - a key queued several times before it is taken is processed once (dedup);
// - a key is never handed to two workers at once: a key added while it is
//   being processed is queued again when Done() is called (the dirty set);
// - AddRateLimited delays a key by a per-key exponential back-off
//   (base..cap) until Forget() resets it, and an overall token bucket
//   bounds the rate of retries;
// - AddAfter delays a key by a fixed time.
// Time comes from the injected Clock, so tests drive delays with a FakeClock
// and Tick() instead of sleeping.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"

namespace execgov::runtime {

struct WorkQueueOptions {
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{60000};
  double bucket_qps = 10;  // overall token bucket for rate-limited adds; <= 0: none
  int bucket_burst = 100;
  // nullptr: the system clock, and the queue's own timer thread moves
  // delayed keys. Any other clock: only Tick() does.
  const Clock* clock = nullptr;
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  ~WorkQueue();  // ShutDown()s

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  void AddRateLimited(const std::string& key);
  // Resets the key's back-off (after a successful reconcile).
  void Forget(const std::string& key);
  // How many times the key has been rate-limited since its last Forget.
  int NumRequeues(const std::string& key) const;

  // Blocks until a key is ready or the queue is shut down (nullopt).
  std::optional<std::string> Get();
  // Must be called once per key returned by Get().
  void Done(const std::string& key);

  // Wakes every Get() with nullopt; later Adds are ignored.
  void ShutDown();
  bool shutting_down() const;
  // Keys ready now (not delayed, not processing).
  size_t Len() const;
  // Moves delayed keys whose time has come into the queue; called by the
  // queue's own timer with the system clock, and by tests with a FakeClock.
  void Tick();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace execgov::runtime
