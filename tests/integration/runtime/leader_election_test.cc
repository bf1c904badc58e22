// Leader election on a real coordination.k8s.io/v1 Lease, with durations
// short enough for a test. Each test uses a lease in its own namespace.
#include "runtime/leader_election.h"

#include <gtest/gtest.h>

#include <mutex>

#include "../kube/cluster_env.h"

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace testenv = kube::testenv;

// Counts leaders across electors: a second concurrent leader is a failure
// noticed the moment it starts.
struct Leaders {
  std::mutex mu;
  int current = 0, max_seen = 0, starts = 0, stops = 0;
  std::function<void()> Started() {
    return [this] {
      std::lock_guard<std::mutex> l(mu);
      current++;
      starts++;
      max_seen = std::max(max_seen, current);
    };
  }
  std::function<void()> Stopped() {
    return [this] {
      std::lock_guard<std::mutex> l(mu);
      current--;
      stops++;
    };
  }
  int Max() {
    std::lock_guard<std::mutex> l(mu);
    return max_seen;
  }
  int Stops() {
    std::lock_guard<std::mutex> l(mu);
    return stops;
  }
};

class LeaderElectionTest : public testenv::NamespaceTest {
 protected:
  LeaderElectionTest() : NamespaceTest("le") {}
  LeaderElectionConfig Config(const std::string& identity, std::chrono::milliseconds lease_duration = 3000ms) {
    LeaderElectionConfig c;
    c.lease_namespace = ns_;
    c.lease_name = "lock";
    c.identity = identity;
    c.lease_duration = lease_duration;
    c.renew_deadline = 2000ms;
    c.retry_period = 300ms;
    return c;
  }
  StatusOr<json> Lease() {
    return client_->Get(kube::ResourcePath("coordination.k8s.io/v1", "leases", ns_, "lock"));
  }
  std::string Holder() {
    auto l = Lease();
    return l.ok() ? (*l)["spec"].value("holderIdentity", "") : "";
  }
  // Waits until the holder has renewed the lease since `lease` was read.
  bool Renewed(const StatusOr<json>& lease) {
    if (!lease.ok()) return false;
    const std::string before = (*lease)["spec"]["renewTime"];
    return testenv::Poll([&] {
      auto l = Lease();
      return l.ok() && (*l)["spec"]["renewTime"] != before;
    });
  }
};

TEST_F(LeaderElectionTest, ExactlyOneOfTwoLeadsAndReleaseHandsOverPromptly) {
  Leaders leaders;
  // A long lease: without the release on Stop the other could not lead
  // within the poll below.
  LeaderElector a(client_.get(), Config("a", 120s), leaders.Started(), leaders.Stopped());
  LeaderElector b(client_.get(), Config("b", 120s), leaders.Started(), leaders.Stopped());
  a.Start();
  b.Start();
  ASSERT_TRUE(testenv::Poll([&] { return a.IsLeader() || b.IsLeader(); }));
  LeaderElector& first = a.IsLeader() ? a : b;
  LeaderElector& second = a.IsLeader() ? b : a;
  const std::string first_id = a.IsLeader() ? "a" : "b";
  EXPECT_EQ(Holder(), first_id);
  // Several renewals pass with the other candidate trying all along.
  auto lease = Lease();
  ASSERT_TRUE(Renewed(lease));
  EXPECT_FALSE(second.IsLeader());
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 120);
  EXPECT_EQ((*lease)["spec"]["acquireTime"].get<std::string>().size(), std::string("2026-01-01T00:00:00.000000Z").size());

  first.Stop();  // steps down, then releases
  EXPECT_FALSE(first.IsLeader());
  ASSERT_TRUE(testenv::Poll([&] { return second.IsLeader(); }, 20s)) << "the lease was not released";
  auto after = Lease();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["spec"]["holderIdentity"], first_id == "a" ? "b" : "a");
  EXPECT_GE((*after)["spec"]["leaseTransitions"], 1);
  second.Stop();
  EXPECT_EQ(leaders.Max(), 1);
  EXPECT_EQ(leaders.Stops(), 2);
}

TEST_F(LeaderElectionTest, LeaderStepsDownWhenItsLeaseIsTakenAndTakesItBackAfterExpiry) {
  Leaders leaders;
  LeaderElector a(client_.get(), Config("a"), leaders.Started(), leaders.Stopped());
  a.Start();
  ASSERT_TRUE(testenv::Poll([&] { return a.IsLeader(); }));
  // Another party writes itself in as holder (and then never renews).
  auto stolen = kube::UpdateWithRetry(*client_, kube::ResourcePath("coordination.k8s.io/v1", "leases", ns_, "lock"),
                                      [](json& l) {
                                        l["spec"]["holderIdentity"] = "thief";
                                        l["spec"]["renewTime"] = "2026-01-01T00:00:00.000000Z";
                                        return true;
                                      });
  ASSERT_TRUE(stolen.ok()) << stolen.status().ToString();
  ASSERT_TRUE(testenv::Poll([&] { return !a.IsLeader(); }, 10s)) << "kept leading on a lease it lost";
  EXPECT_TRUE(testenv::Poll([&] { return leaders.Stops() == 1; }));
  // The thief never renews: once the lease has expired, as a saw it, a takes over.
  ASSERT_TRUE(testenv::Poll([&] { return a.IsLeader(); }, 20s));
  auto lease = Lease();
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_GE((*lease)["spec"]["leaseTransitions"], 1);
  a.Stop();
  EXPECT_EQ(leaders.Max(), 1);
}

TEST_F(LeaderElectionTest, CandidateTakesOverAnExpiredLeaseThatWasNotReleased) {
  Leaders leaders;
  LeaderElectionConfig ca = Config("a");
  ca.release_on_cancel = false;  // as if the process were killed
  LeaderElector a(client_.get(), ca, leaders.Started(), leaders.Stopped());
  a.Start();
  ASSERT_TRUE(testenv::Poll([&] { return a.IsLeader(); }));
  LeaderElector b(client_.get(), Config("b"), leaders.Started(), leaders.Stopped());
  b.Start();
  // b watches a renew for a while and does not take over.
  auto lease = Lease();
  ASSERT_TRUE(Renewed(lease));
  EXPECT_FALSE(b.IsLeader());
  a.Stop();
  EXPECT_EQ(Holder(), "a") << "not released";
  // Within the lease duration plus a retry period, and generous slack for a
  // loaded machine.
  ASSERT_TRUE(testenv::Poll([&] { return b.IsLeader(); }, 3000ms + 300ms + 5000ms));
  EXPECT_EQ(Holder(), "b");
  b.Stop();
  EXPECT_EQ(leaders.Max(), 1);
}

}  // namespace
}  // namespace execgov::runtime
