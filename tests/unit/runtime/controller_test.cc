// The controller's loop over its queue with a FakeClock: errors back off,
// success forgets, requeue_after comes back later; keys from informer
// events go through the mapper.
#include "runtime/controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Scripted reconciler results, and a log of the keys seen.
class Script {
 public:
  void Push(StatusOr<ReconcileResult> r) {
    std::lock_guard<std::mutex> l(mu_);
    results_.push_back(std::move(r));
  }
  StatusOr<ReconcileResult> Reconcile(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    calls_.push_back(key);
    cv_.notify_all();
    if (results_.empty()) return ReconcileResult{};
    auto r = results_.front();
    results_.pop_front();
    return r;
  }
  // Waits (bounded) until `n` reconciles have happened.
  bool WaitCalls(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, 10s, [&] { return calls_.size() >= n; });
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StatusOr<ReconcileResult>> results_;
  std::vector<std::string> calls_;
};

// Polls a condition on the controller's state (not time) with a deadline.
template <typename F>
bool Eventually(F f) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::yield();
  }
  return f();
}

TEST(ControllerTest, ErrorBacksOffSuccessForgetsRequeueAfterComesBack) {
  FakeClock clock(1000);
  Script script;
  script.Push(Unavailable("transient"));
  script.Push(ReconcileResult{std::chrono::milliseconds(5000)});
  script.Push(ReconcileResult{});
  metrics::Metrics metrics;
  ControllerOptions o;
  o.workers = 1;
  o.queue.clock = &clock;
  o.queue.base_delay = 100ms;
  o.queue.bucket_qps = 0;
  o.metrics = &metrics;
  Controller c("test", [&](const std::string& key) { return script.Reconcile(key); }, o);
  c.Start();
  c.queue().Add("ns/a");
  ASSERT_TRUE(script.WaitCalls(1));
  ASSERT_TRUE(Eventually([&] { return c.queue().NumRequeues("ns/a") == 1; }));
  clock.Advance(99ms);
  c.queue().Tick();
  EXPECT_EQ(c.queue().Len(), 0u);
  EXPECT_EQ(script.calls().size(), 1u);
  clock.Advance(1ms);
  c.queue().Tick();
  ASSERT_TRUE(script.WaitCalls(2));
  // Success forgets the back-off; requeue_after brings it back after 5 s.
  // The worker forgets before it schedules the requeue, and records the
  // outcome after: wait for that record, so the clock moves only once the
  // requeue is scheduled from the time it is now.
  ASSERT_TRUE(Eventually([&] {
    return metrics.Serialize().find(R"(controller="test",result="requeue"} 1)") != std::string::npos;
  }));
  EXPECT_EQ(c.queue().NumRequeues("ns/a"), 0);
  clock.Advance(4999ms);
  c.queue().Tick();
  EXPECT_EQ(script.calls().size(), 2u);
  clock.Advance(1ms);
  c.queue().Tick();
  ASSERT_TRUE(script.WaitCalls(3));
  c.Stop();
  EXPECT_EQ(script.calls(), (std::vector<std::string>{"ns/a", "ns/a", "ns/a"}));
  std::string text = metrics.Serialize();
  EXPECT_NE(text.find(R"(controller="test",result="error"} 1)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(controller="test",result="requeue"} 1)"), std::string::npos) << text;
}

TEST(ControllerTest, StopEndsWorkersBlockedOnAnEmptyQueue) {
  Controller c("idle", [](const std::string&) -> StatusOr<ReconcileResult> { return ReconcileResult{}; });
  c.Start();
  c.Stop();
  EXPECT_TRUE(c.queue().shutting_down());
}

TEST(ControllerTest, KeyMappers) {
  json job = {{"metadata",
               {{"name", "job-1"},
                {"namespace", "team"},
                {"ownerReferences",
                 json::array({{{"kind", "ExecutionRequest"}, {"name", "req-1"}, {"controller", true}},
                              {{"kind", "ExecutionRequest"}, {"name", "not-controller"}},
                              {{"kind", "Other"}, {"name", "x"}, {"controller", true}}})}}}};
  EXPECT_EQ(OwnKey()(job), std::vector<std::string>{"team/job-1"});
  EXPECT_EQ(ControllerOwnerKey("ExecutionRequest")(job), std::vector<std::string>{"team/req-1"});
  EXPECT_TRUE(ControllerOwnerKey("ExecutionRequest")(json{{"metadata", {{"name", "a"}}}}).empty());
  json cluster_scoped = {{"metadata", {{"name", "policy"}}}};
  EXPECT_EQ(OwnKey()(cluster_scoped), std::vector<std::string>{"policy"});
  EXPECT_EQ(SplitKey("team/job-1"), (std::pair<std::string, std::string>{"team", "job-1"}));
  EXPECT_EQ(SplitKey("policy"), (std::pair<std::string, std::string>{"", "policy"}));
}

}  // namespace
}  // namespace execgov::runtime
