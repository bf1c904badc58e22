// The standalone replay store: single use, inheritance, durability across a
// reopen, and pruning of expired consumptions.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/subprocess.h"
#include "webhook/replay_store.h"

namespace execgov::webhook {
namespace {

constexpr int64_t kNow = 1800000000;

TEST(FileReplayStoreTest, OneConsumerPerJtiAndInheritorsSurviveAReopen) {
  testing::TempDir dir;
  std::string path = dir.File("replay.jsonl");
  {
    auto store = FileReplayStore::Open(path, kNow);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Consume("jti-1", {"Job", "ns", "a", "uid-a", {}}, kNow + 600).ok());
    EXPECT_TRUE((*store)->Consume("jti-1", {"Job", "ns", "a", "uid-a", {}}, kNow + 600).ok());  // same object
    EXPECT_EQ((*store)->Consume("jti-1", {"Job", "ns", "b", "uid-b", {}}, kNow + 600).code(), StatusCode::kAlreadyExists);
    ASSERT_TRUE((*store)->Inherit("jti-1", "pod-1").ok());
    EXPECT_EQ((*store)->Inherit("jti-unknown", "pod-2").code(), StatusCode::kNotFound);
  }
  auto reopened = FileReplayStore::Open(path, kNow + 1);
  ASSERT_TRUE(reopened.ok());
  auto c = (*reopened)->Find("jti-1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->uid, "uid-a");
  EXPECT_EQ(c->inheritor_uids, std::vector<std::string>{"pod-1"});
  EXPECT_EQ((*reopened)->Consume("jti-1", {"Job", "ns", "b", "uid-b", {}}, kNow + 600).code(), StatusCode::kAlreadyExists);
}

TEST(FileReplayStoreTest, RacingConsumersHaveExactlyOneWinner) {
  testing::TempDir dir;
  auto store = FileReplayStore::Open(dir.File("replay.jsonl"), kNow);
  ASSERT_TRUE(store.ok());
  std::atomic<int> wins{0}, losses{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      Status st = (*store)->Consume("shared", {"Job", "ns", "n", "uid-" + std::to_string(i), {}}, kNow + 600);
      (st.ok() ? wins : losses)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(losses.load(), 15);
}

TEST(FileReplayStoreTest, ExpiredConsumptionsArePrunedAndCompactedAway) {
  testing::TempDir dir;
  std::string path = dir.File("replay.jsonl");
  {
    auto store = FileReplayStore::Open(path, kNow);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Consume("old", {"Job", "ns", "a", "u1", {}}, kNow + 10).ok());
    ASSERT_TRUE((*store)->Consume("new", {"Job", "ns", "b", "u2", {}}, kNow + 1000).ok());
    (*store)->Prune(kNow + 100);
    EXPECT_EQ((*store)->size(), 1u);
    EXPECT_FALSE((*store)->Find("old").has_value());
    EXPECT_TRUE((*store)->Find("new").has_value());
  }
  // Reopening after expiry compacts the journal as well.
  auto later = FileReplayStore::Open(path, kNow + 100);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ((*later)->size(), 1u);
  EXPECT_EQ(dir.Read("replay.jsonl").find("\"old\""), std::string::npos);
}

}  // namespace
}  // namespace execgov::webhook
