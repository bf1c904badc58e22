// The elector's decisions against an in-memory Lease with the API server's
// optimistic concurrency (409 on a stale resourceVersion), and a FakeClock
// for expiry and deadlines: the test moves time, the elector's own short
// retry period only paces its attempts.
#include "runtime/leader_election.h"

#include <gtest/gtest.h>

#include <mutex>

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class LeaseStore final : public kube::Client {
 public:
  StatusOr<json> Get(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    gets_++;
    if (lease_.is_null()) return NotFound(path);
    return lease_;
  }
  StatusOr<json> Create(const std::string&, const json& object) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!lease_.is_null()) return AlreadyExists("lease");
    lease_ = object;
    lease_["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return lease_;
  }
  StatusOr<json> Update(const std::string&, const json& object) override {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_writes_) return Unavailable("connection refused");
    if (lease_.is_null()) return NotFound("lease");
    if (object["metadata"].value("resourceVersion", "") != lease_["metadata"].value("resourceVersion", "")) {
      return Aborted("conflict");
    }
    lease_ = object;
    lease_["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return lease_;
  }
  Status Delete(const std::string&) override { return Internal("unused"); }
  StatusOr<kube::ListResult> List(const std::string&, const kube::ListOptions&) override { return Internal("unused"); }
  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Internal("unused");
  }
  StatusOr<json> Patch(const std::string&, const json&, kube::PatchType) override { return Internal("unused"); }
  StatusOr<json> UpdateStatus(const std::string&, const json&) override { return Internal("unused"); }

  // Another holder's write (or renewal: the renewTime differs each time).
  void SetHolder(const std::string& holder) {
    std::lock_guard<std::mutex> l(mu_);
    ++rv_;
    lease_ = {{"metadata", {{"name", "lock"}, {"namespace", "ns"}, {"resourceVersion", std::to_string(rv_)}}},
              {"spec",
               {{"holderIdentity", holder},
                {"leaseDurationSeconds", 10},
                {"leaseTransitions", 3},
                {"renewTime", "2026-01-01T00:00:" + std::to_string(10 + rv_ % 50) + ".000000Z"}}}};
  }
  json Lease() {
    std::lock_guard<std::mutex> l(mu_);
    return lease_;
  }
  int gets() {
    std::lock_guard<std::mutex> l(mu_);
    return gets_;
  }
  void FailWrites(bool fail) {
    std::lock_guard<std::mutex> l(mu_);
    fail_writes_ = fail;
  }

 private:
  std::mutex mu_;
  json lease_;
  int rv_ = 0, gets_ = 0;
  bool fail_writes_ = false;
};

template <typename F>
bool Eventually(F f) {
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::yield();
  }
  return f();
}

LeaderElectionConfig Config(const std::string& id, const FakeClock* clock) {
  LeaderElectionConfig c;
  c.lease_namespace = "ns";
  c.lease_name = "lock";
  c.identity = id;
  c.lease_duration = 10s;
  c.renew_deadline = 6s;
  c.retry_period = 1ms;  // attempts come quickly; time itself is the FakeClock
  c.clock = clock;
  return c;
}

TEST(LeaderElectorTest, WaitsOutAnotherHoldersLeaseBeforeTakingItOver) {
  FakeClock clock(1'000'000);
  clock.Advance(123456us);  // MicroTime keeps all six digits
  LeaseStore store;
  store.SetHolder("other");
  std::atomic<int> started{0};
  LeaderElector e(&store, Config("me", &clock), [&] { started++; }, [] {});
  e.Start();
  // Many attempts, and the holder never renews, but no time has passed.
  ASSERT_TRUE(Eventually([&] { return store.gets() >= 5; }));
  clock.Advance(9999ms);
  const int gets = store.gets();
  ASSERT_TRUE(Eventually([&] { return store.gets() >= gets + 5; }));
  EXPECT_FALSE(e.IsLeader()) << "took over before the lease expired";
  clock.Advance(1ms);
  ASSERT_TRUE(Eventually([&] { return e.IsLeader(); }));
  json lease = store.Lease();
  EXPECT_EQ(lease["spec"]["holderIdentity"], "me");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 4);
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 10);
  EXPECT_EQ(lease["spec"]["acquireTime"], lease["spec"]["renewTime"]);
  EXPECT_EQ(lease["spec"]["acquireTime"].get<std::string>(), "1970-01-12T13:46:50.123456Z");
  e.Stop();
  EXPECT_EQ(started.load(), 1);
  // Released: no holder, so the next candidate need not wait.
  EXPECT_FALSE(store.Lease()["spec"].contains("holderIdentity"));
  EXPECT_EQ(store.Lease()["spec"]["leaseDurationSeconds"], 1);
}

TEST(LeaderElectorTest, ARenewedLeaseIsNeverTakenOver) {
  FakeClock clock(1'000'000);
  LeaseStore store;
  store.SetHolder("other");
  LeaderElector e(&store, Config("me", &clock), [] {}, [] {});
  e.Start();
  for (int i = 0; i < 5; ++i) {
    clock.Advance(9s);
    store.SetHolder("other");  // a renewal: the record changes
    const int gets = store.gets();
    ASSERT_TRUE(Eventually([&] { return store.gets() >= gets + 3; }));
    EXPECT_FALSE(e.IsLeader());
  }
  e.Stop();
  EXPECT_EQ(store.Lease()["spec"]["holderIdentity"], "other") << "a candidate released a lease it never held";
}

TEST(LeaderElectorTest, StepsDownWhenRenewalsFailPastTheDeadline) {
  FakeClock clock(1'000'000);
  LeaseStore store;
  std::atomic<int> stopped{0};
  LeaderElector e(&store, Config("me", &clock), [] {}, [&] { stopped++; });
  e.Start();
  ASSERT_TRUE(Eventually([&] { return e.IsLeader(); }));
  EXPECT_EQ(store.Lease()["spec"]["leaseTransitions"], 0);
  store.FailWrites(true);
  clock.Advance(5999ms);
  const int gets = store.gets();
  ASSERT_TRUE(Eventually([&] { return store.gets() >= gets + 3; }));
  EXPECT_TRUE(e.IsLeader()) << "gave up before renew_deadline";
  clock.Advance(1ms);
  ASSERT_TRUE(Eventually([&] { return !e.IsLeader(); }));
  // IsLeader turns false first, then the callback runs.
  ASSERT_TRUE(Eventually([&] { return stopped.load() == 1; }));
  // Writes work again: it is a candidate, finds itself the holder, leads again.
  store.FailWrites(false);
  ASSERT_TRUE(Eventually([&] { return e.IsLeader(); }));
  e.Stop();
  EXPECT_EQ(stopped.load(), 2);
}

TEST(LeaderElectorTest, StepsDownAtOnceWhenAnotherHolderAppears) {
  FakeClock clock(1'000'000);
  LeaseStore store;
  std::atomic<int> stopped{0};
  LeaderElector e(&store, Config("me", &clock), [] {}, [&] { stopped++; });
  e.Start();
  ASSERT_TRUE(Eventually([&] { return e.IsLeader(); }));
  store.SetHolder("usurper");
  // No time passes: the other holder alone is reason enough.
  ASSERT_TRUE(Eventually([&] { return !e.IsLeader(); }));
  // IsLeader turns false first, then the callback runs.
  ASSERT_TRUE(Eventually([&] { return stopped.load() == 1; }));
  e.Stop();
  EXPECT_EQ(store.Lease()["spec"]["holderIdentity"], "usurper");
}

TEST(LeaderElectorTest, AnObserverFollowsTheHolderAndNeverTakesTheLease) {
  FakeClock clock(1'000'000);
  LeaseStore store;
  LeaderElectionConfig c = Config("observer", &clock);
  c.observe_only = true;
  std::atomic<int> callbacks{0};
  LeaderElector e(&store, c, [&] { callbacks++; }, [&] { callbacks++; });
  e.Start();
  // No Lease yet: nobody holds it, and the observer does not create it.
  ASSERT_TRUE(Eventually([&] { return store.gets() >= 3; }));
  EXPECT_EQ(e.Holder(), "");
  EXPECT_TRUE(store.Lease().is_null());
  store.SetHolder("https://10.0.0.7:8444#writer-a");
  ASSERT_TRUE(Eventually([&] { return e.Holder() == "https://10.0.0.7:8444#writer-a"; }));
  // Long expired, and still never taken over or renewed by the observer.
  clock.Advance(60s);
  const int gets = store.gets();
  ASSERT_TRUE(Eventually([&] { return store.gets() >= gets + 5; }));
  EXPECT_FALSE(e.IsLeader());
  EXPECT_EQ(store.Lease()["spec"]["holderIdentity"], "https://10.0.0.7:8444#writer-a");
  store.SetHolder("https://10.0.0.8:8444#writer-b");
  ASSERT_TRUE(Eventually([&] { return e.Holder() == "https://10.0.0.8:8444#writer-b"; }));
  e.Stop();
  // Nothing released either: the observer never held it.
  EXPECT_EQ(store.Lease()["spec"]["holderIdentity"], "https://10.0.0.8:8444#writer-b");
  EXPECT_EQ(callbacks.load(), 0);
}

TEST(LeaderElectorTest, DefaultIdentityIsHostAndRandom) {
  std::string a = DefaultIdentity(), b = DefaultIdentity();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, a.rfind('_')), b.substr(0, b.rfind('_')));
  EXPECT_EQ(a.size() - a.rfind('_') - 1, 16u);
}

}  // namespace
}  // namespace execgov::runtime
