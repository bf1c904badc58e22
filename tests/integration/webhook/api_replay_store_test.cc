// The replay store shared by webhook replicas, against the real API server
// of the control-plane fixture: each test uses its own namespace as the
// install namespace and deletes it afterwards.
#include "webhook/api_replay_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "../kube/cluster_env.h"

namespace execgov::webhook {
namespace {

namespace testenv = kube::testenv;

class ApiReplayStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = testenv::Connect();
    ASSERT_NE(client_, nullptr);
    ns_ = testenv::UniqueName("replay");
    ASSERT_TRUE(testenv::CreateNamespace(*client_, ns_).ok());
  }
  void TearDown() override {
    if (client_) (void)client_->Delete("/api/v1/namespaces/" + ns_);
  }
  policy::Consumption Who(const std::string& uid) { return {"Job", "team-a", "job-" + uid, uid}; }

  std::unique_ptr<kube::Client> client_;
  std::string ns_;
};

TEST_F(ApiReplayStoreTest, ConsumesOnceAndRecognisesItsOwnRetry) {
  ApiReplayStore store(client_.get(), ns_);
  EXPECT_FALSE(store.Find("jti-1", "").has_value());
  ASSERT_TRUE(store.Consume("jti-1", Who("uid-a"), 4000000000).ok());

  auto found = store.Find("jti-1", "");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->kind, "Job");
  EXPECT_EQ(found->ns, "team-a");
  EXPECT_EQ(found->name, "job-uid-a");
  EXPECT_EQ(found->uid, "uid-a");

  EXPECT_TRUE(store.Consume("jti-1", Who("uid-a"), 4000000000).ok()) << "a retry by the same object";
  Status other = store.Consume("jti-1", Who("uid-b"), 4000000000);
  EXPECT_EQ(other.code(), StatusCode::kAlreadyExists) << other.ToString();
  EXPECT_NE(other.message().find("team-a/job-uid-a"), std::string::npos) << other.message();

  auto cm = client_->Get(kube::ConfigMapPath(ns_, ApiReplayStore::ObjectName("jti-1")));
  ASSERT_TRUE(cm.ok()) << cm.status().ToString();
  EXPECT_EQ((*cm)["metadata"]["labels"]["execgov.io/replay"], "true");
  EXPECT_EQ((*cm)["metadata"]["labels"]["execgov.io/namespace"], "team-a");
  EXPECT_EQ((*cm)["data"]["jti"], "jti-1");
  EXPECT_EQ(ApiReplayStore::ObjectName("jti-1").size(), std::string("execgov-jti-").size() + 40);
}

TEST_F(ApiReplayStoreTest, InheritorsAreRecordedForTheirChildren) {
  ApiReplayStore store(client_.get(), ns_);
  EXPECT_EQ(store.Inherit("never-consumed", "job-uid").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.Consume("jti-2", Who("ereq-uid"), 4000000000).ok());
  ASSERT_TRUE(store.Inherit("jti-2", "job-uid").ok());
  ASSERT_TRUE(store.Inherit("jti-2", "job-uid").ok()) << "idempotent";
  // Another replica's store sees it.
  ApiReplayStore other(client_.get(), ns_);
  auto found = other.Find("jti-2", "job-uid");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->uid, "ereq-uid");
  EXPECT_TRUE(found->inherited);
  EXPECT_FALSE(other.Find("jti-2", "other-uid")->inherited);
}

TEST_F(ApiReplayStoreTest, PodsOfOneJobInheritingAtOnceAreAllRecorded) {
  ApiReplayStore store(client_.get(), ns_);
  ASSERT_TRUE(store.Consume("jti-3", Who("job"), 4000000000).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] { ok += store.Inherit("jti-3", "pod-" + std::to_string(i)).ok(); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 12);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(store.Find("jti-3", "pod-" + std::to_string(i))->inherited) << i;
}

// Two replicas (two clients, two stores), eight threads each, racing to
// consume one jti with different objects: exactly one wins, every round.
TEST_F(ApiReplayStoreTest, ExactlyOneOfManyRacingReplicasConsumes) {
  auto second_client = testenv::Connect();
  ASSERT_NE(second_client, nullptr);
  ApiReplayStore replica_a(client_.get(), ns_), replica_b(second_client.get(), ns_);
  for (int round = 0; round < 10; ++round) {
    std::string jti = "race-" + std::to_string(round);
    std::atomic<int> wins{0}, replays{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        ApiReplayStore& store = i % 2 ? replica_b : replica_a;
        Status st = store.Consume(jti, Who("uid-" + std::to_string(i)), 4000000000);
        if (st.ok()) ++wins;
        else if (st.code() == StatusCode::kAlreadyExists) ++replays;
        else ++other;
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
    EXPECT_EQ(replays.load(), 15) << "round " << round;
    EXPECT_EQ(other.load(), 0) << "round " << round;
  }
}

TEST_F(ApiReplayStoreTest, PrunesOnlyExpiredConsumptions) {
  ApiReplayStore store(client_.get(), ns_);
  ASSERT_TRUE(store.Consume("old", Who("a"), 1000).ok());
  ASSERT_TRUE(store.Consume("current", Who("b"), 3000).ok());
  // Not ours: the prune must leave it alone.
  ASSERT_TRUE(client_->Create(kube::ConfigMapsPath(ns_), testenv::ConfigMap(ns_, "unrelated", {{"expiresAt", "1"}})).ok());
  auto pruned = store.PruneExpired(2000);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 1);
  EXPECT_FALSE(store.Find("old", "").has_value());
  EXPECT_TRUE(store.Find("current", "").has_value());
  EXPECT_TRUE(client_->Get(kube::ConfigMapPath(ns_, "unrelated")).ok());
}

// An API server that cannot be reached: nothing is found, and nothing can be
// consumed, so the handler denies (fail closed).
TEST_F(ApiReplayStoreTest, AnUnreachableApiServerFailsClosed) {
  auto config = testenv::Config();
  ASSERT_TRUE(config.ok());
  config->server = "https://127.0.0.1:1";
  kube::ClientOptions options;
  options.max_attempts = 1;
  options.request_timeout = std::chrono::milliseconds(2000);
  auto dead = kube::NewClient(*config, options);
  ASSERT_TRUE(dead.ok());
  ApiReplayStore store(dead->get(), ns_);
  EXPECT_FALSE(store.Find("jti", "").has_value());
  EXPECT_FALSE(store.Consume("jti", Who("a"), 4000000000).ok());
  EXPECT_FALSE(store.Inherit("jti", "b").ok());
}

}  // namespace
}  // namespace execgov::webhook
