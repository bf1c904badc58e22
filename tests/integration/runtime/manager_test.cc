// The manager against the real API server: informers synced before
// anything runs, leader-only runnables only while leading, a clean stop.
#include "runtime/manager.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "../kube/cluster_env.h"

namespace execgov::runtime {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace testenv = kube::testenv;

// Leader-only work of several managers: at most one may run at a time.
struct Exclusive {
  std::mutex mu;
  int running = 0, max_running = 0;
  Runnable Make(const std::string& name, std::atomic<bool>* flag) {
    return Runnable{name,
                    [this, flag] {
                      std::lock_guard<std::mutex> l(mu);
                      running++;
                      max_running = std::max(max_running, running);
                      *flag = true;
                    },
                    [this, flag] {
                      std::lock_guard<std::mutex> l(mu);
                      running--;
                      *flag = false;
                    },
                    true};
  }
};

class ManagerTest : public testenv::NamespaceTest {
 protected:
  ManagerTest() : NamespaceTest("mgr") {}
  void SetUp() override {
    NamespaceTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(client_->Create(kube::ResourcePath("v1", "configmaps", ns_),
                                  testenv::ConfigMap(ns_, "cm" + std::to_string(i), {}, {{"app", "m"}}))
                      .ok());
    }
  }
  ManagerOptions Options(const std::string& identity) {
    ManagerOptions o;
    LeaderElectionConfig le;
    le.lease_namespace = ns_;
    le.lease_name = "manager";
    le.identity = identity;
    le.lease_duration = 60s;  // only a release hands over within the test
    le.renew_deadline = 2s;
    le.retry_period = 300ms;
    o.leader_election = le;
    o.cache_sync_timeout = 30s;
    return o;
  }
};

TEST_F(ManagerTest, SyncsCachesFirstAndRunsLeaderOnlyWorkOnTheLeaderAlone) {
  Exclusive exclusive;
  std::atomic<bool> lead1{false}, lead2{false}, any1{false}, any2{false};
  std::atomic<size_t> seen_at_start1{0};
  InformerOptions io;
  io.selector.label_selector = "app=m";
  const std::string path = kube::ResourcePath("v1", "configmaps", ns_);

  auto m1 = std::make_unique<Manager>(client_.get(), Options("m1"));
  Informer* inf1 = m1->GetInformer(path, io);
  EXPECT_EQ(m1->GetInformer(path, io), inf1) << "the same path and options share an informer";
  m1->AddRunnable(exclusive.Make("leader-work-1", &lead1));
  m1->AddRunnable(Runnable{"everywhere-1", [&] { any1 = true; seen_at_start1 = inf1->List().size(); },
                           [&] { any1 = false; }, false});
  Manager m2(client_.get(), Options("m2"));
  m2.GetInformer(path, io);
  m2.AddRunnable(exclusive.Make("leader-work-2", &lead2));
  m2.AddRunnable(Runnable{"everywhere-2", [&] { any2 = true; }, [&] { any2 = false; }, false});

  ASSERT_TRUE(m1->Start().ok());
  EXPECT_TRUE(m1->CachesSynced());
  EXPECT_EQ(seen_at_start1.load(), 3u) << "a runnable started before the cache was synced";
  ASSERT_TRUE(m2.Start().ok());
  EXPECT_TRUE(any1 && any2) << "runnables that need no leader run everywhere";
  ASSERT_TRUE(testenv::Poll([&] { return lead1 || lead2; }));
  const bool m1_leads = lead1;
  EXPECT_EQ(m1->IsLeader(), m1_leads);
  EXPECT_EQ(m2.IsLeader(), !m1_leads);

  // Stopping the leader hands over: the other's leader-only work starts.
  if (m1_leads) {
    m1->Stop();
    EXPECT_FALSE(lead1);
    EXPECT_FALSE(any1);
    ASSERT_TRUE(testenv::Poll([&] { return lead2.load(); }, 20s));
    m2.Stop();
  } else {
    m2.Stop();
    ASSERT_TRUE(testenv::Poll([&] { return lead1.load(); }, 20s));
    m1->Stop();
  }
  EXPECT_EQ(exclusive.max_running, 1);
  EXPECT_FALSE(lead1 || lead2 || any1 || any2);
}

TEST_F(ManagerTest, LosingTheLeaseStopsLeaderOnlyWorkAndTellsTheOwner) {
  std::atomic<bool> lead{false}, lost{false};
  Exclusive exclusive;
  ManagerOptions o = Options("m");
  o.on_lost_leadership = [&] { lost = true; };
  Manager m(client_.get(), o);
  m.AddRunnable(exclusive.Make("leader-work", &lead));
  ASSERT_TRUE(m.Start().ok());
  ASSERT_TRUE(testenv::Poll([&] { return lead.load(); }));
  auto stolen = kube::UpdateWithRetry(*client_, kube::ResourcePath("coordination.k8s.io/v1", "leases", ns_, "manager"),
                                      [](json& l) {
                                        l["spec"]["holderIdentity"] = "someone-else";
                                        return true;
                                      });
  ASSERT_TRUE(stolen.ok()) << stolen.status().ToString();
  ASSERT_TRUE(testenv::Poll([&] { return lost.load(); }, 20s));
  EXPECT_FALSE(lead);
  EXPECT_FALSE(m.IsLeader());
  m.Stop();
}

TEST_F(ManagerTest, WithoutLeaderElectionEverythingRuns) {
  std::atomic<bool> lead{false};
  Exclusive exclusive;
  ManagerOptions o;
  Manager m(client_.get(), o);
  m.AddRunnable(exclusive.Make("leader-work", &lead));
  ASSERT_TRUE(m.Start().ok());
  EXPECT_TRUE(lead);
  EXPECT_TRUE(m.IsLeader());
  m.Stop();
  EXPECT_FALSE(lead);
}

TEST_F(ManagerTest, StartFailsWhenACacheCannotSync) {
  ManagerOptions o;
  o.cache_sync_timeout = 500ms;
  Manager m(client_.get(), o);
  InformerOptions io;
  io.initial_backoff = 50ms;
  m.GetInformer("/apis/nothing.execgov.io/v1/nothings", io);  // no such resource: lists fail
  std::atomic<bool> ran{false};
  m.AddRunnable(Runnable{"never", [&] { ran = true; }, [] {}, false});
  Status st = m.Start();
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find("/apis/nothing.execgov.io/v1/nothings"), std::string::npos);
  EXPECT_FALSE(ran);
  EXPECT_FALSE(m.CachesSynced());
  m.Stop();
}

TEST_F(ManagerTest, StopWhileWaitingForCachesEndsStart) {
  ManagerOptions o;
  o.cache_sync_timeout = 600s;
  Manager m(client_.get(), o);
  InformerOptions io;
  io.initial_backoff = 50ms;
  m.GetInformer("/apis/nothing.execgov.io/v1/nothings", io);
  auto start = std::async(std::launch::async, [&] { return m.Start(); });
  m.Stop();
  ASSERT_EQ(start.wait_for(30s), std::future_status::ready) << "Start kept waiting after Stop";
  EXPECT_EQ(start.get().code(), StatusCode::kAborted);
}

}  // namespace
}  // namespace execgov::runtime
