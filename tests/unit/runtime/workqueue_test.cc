// WorkQueue semantics with a FakeClock: time moves only by Advance() + Tick().
#include "runtime/workqueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;

WorkQueueOptions Opts(const FakeClock* clock) {
  WorkQueueOptions o;
  o.clock = clock;
  o.base_delay = 10ms;
  o.max_delay = 80ms;
  o.bucket_qps = 0;  // per-key back-off only, unless a test sets the bucket
  return o;
}

TEST(WorkQueueTest, KeyAddedSeveralTimesIsHandedOutOnce) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.Get(), "a");
  EXPECT_EQ(q.Get(), "b");
  EXPECT_EQ(q.Len(), 0u);
  q.Done("a");
  q.Done("b");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingWaitsForDoneThenComesBackOnce) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  q.Add("a");
  ASSERT_EQ(q.Get(), "a");
  q.Add("a");
  q.Add("a");
  // Not handed to a second worker while the first holds it.
  EXPECT_EQ(q.Len(), 0u);
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);
  ASSERT_EQ(q.Get(), "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, RateLimitedBackOffDoublesUpToTheCapAndForgetResetsIt) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  const std::vector<int> expected = {10, 20, 40, 80, 80};
  for (size_t i = 0; i < expected.size(); ++i) {
    q.AddRateLimited("a");
    EXPECT_EQ(q.NumRequeues("a"), static_cast<int>(i + 1));
    clock.Advance(std::chrono::milliseconds(expected[i] - 1));
    q.Tick();
    EXPECT_EQ(q.Len(), 0u) << "attempt " << i << " came back before " << expected[i] << " ms";
    clock.Advance(1ms);
    q.Tick();
    ASSERT_EQ(q.Len(), 1u) << "attempt " << i << " not back after " << expected[i] << " ms";
    ASSERT_EQ(q.Get(), "a");
    q.Done("a");
  }
  q.Forget("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
  q.AddRateLimited("a");
  clock.Advance(10ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 1u);
}

TEST(WorkQueueTest, BackOffIsPerKey) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  q.AddRateLimited("a");
  q.AddRateLimited("a");  // still waiting: the earlier due time stands
  q.AddRateLimited("b");
  EXPECT_EQ(q.NumRequeues("a"), 2);
  EXPECT_EQ(q.NumRequeues("b"), 1);
  clock.Advance(10ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 2u);
}

TEST(WorkQueueTest, TokenBucketSpreadsABurstOfRetries) {
  FakeClock clock(1000);
  WorkQueueOptions o = Opts(&clock);
  o.base_delay = 0ms;
  o.bucket_qps = 1;
  o.bucket_burst = 2;
  WorkQueue q(o);
  q.AddRateLimited("a");
  q.AddRateLimited("b");
  q.AddRateLimited("c");  // the burst is spent: waits for a token
  EXPECT_EQ(q.Len(), 2u);
  clock.Advance(999ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 2u);
  clock.Advance(1ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 3u);
}

TEST(WorkQueueTest, AddAfterDelaysAndKeepsTheEarliestTime) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  q.AddAfter("a", 100ms);
  q.AddAfter("a", 300ms);  // later: ignored
  q.AddAfter("b", 50ms);
  q.AddAfter("b", 20ms);   // sooner: wins
  q.AddAfter("c", 0ms);    // no delay: at once
  EXPECT_EQ(q.Len(), 1u);
  clock.Advance(20ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 2u);
  clock.Advance(80ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 3u);
  clock.Advance(1000ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 3u);  // the 300 ms entry was the same key, not a second one
}

TEST(WorkQueueTest, DelayedKeyDueWhileQueuedIsNotDuplicated) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  q.AddAfter("a", 10ms);
  q.Add("a");
  clock.Advance(10ms);
  q.Tick();
  EXPECT_EQ(q.Len(), 1u);
}

TEST(WorkQueueTest, ShutDownWakesBlockedGetsAndIgnoresLaterAdds) {
  FakeClock clock(1000);
  WorkQueue q(Opts(&clock));
  std::atomic<int> woken{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 3; ++i) {
    getters.emplace_back([&] {
      if (!q.Get().has_value()) woken++;
    });
  }
  q.ShutDown();
  for (auto& t : getters) t.join();
  EXPECT_EQ(woken.load(), 3);
  EXPECT_TRUE(q.shutting_down());
  q.Add("a");
  q.AddAfter("b", 1ms);
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_FALSE(q.Get().has_value());
}

// Workers hammering the queue while keys are added from outside: no key is
// ever held by two workers, and each key's last Add is seen by a processing
// that began after it (nothing is lost to dedup).
TEST(WorkQueueTest, ConcurrentWorkersNeverHoldOneKeyTwiceAndLoseNoAdd) {
  WorkQueueOptions o;
  o.bucket_qps = 0;
  WorkQueue q(o);
  std::mutex mu;
  std::set<std::string> held;
  std::map<std::string, int> added, seen;  // Add count; the count a processing started from
  std::atomic<bool> overlap{false};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        {
          std::lock_guard<std::mutex> l(mu);
          if (!held.insert(*key).second) overlap = true;
          seen[*key] = added[*key];
        }
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> l(mu);
          held.erase(*key);
        }
        q.Done(*key);
      }
    });
  }
  for (int round = 0; round < 5000; ++round) {
    std::string key = "k" + std::to_string(round % 7);
    {
      std::lock_guard<std::mutex> l(mu);
      added[key]++;
    }
    q.Add(key);
  }
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool caught_up = false;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    std::lock_guard<std::mutex> l(mu);
    caught_up = held.empty() && seen == added;
  }
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_TRUE(caught_up);
  EXPECT_FALSE(overlap.load());
}

// With the system clock the queue's own timer moves delayed keys.
TEST(WorkQueueTest, OwnTimerDeliversDelayedKeysWithTheSystemClock) {
  WorkQueue q;
  q.AddAfter("a", 1ms);
  EXPECT_EQ(q.Get(), "a");
}

}  // namespace
}  // namespace execgov::runtime
