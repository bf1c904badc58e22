// The webhook's verified-signature cache: exact keys, never past expiry,
// bounded, least recently used out first.
#include "webhook/signature_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace execgov::webhook {
namespace {

constexpr int64_t kNow = 1800000000;

std::string Key(const std::string& token, int generation = 1) {
  return "policy\n" + std::to_string(generation) + "\n" + token;
}

TEST(LruSignatureCacheTest, AnswersOnlyForTheExactKeyBeforeItsExpiry) {
  LruSignatureCache cache(16);
  EXPECT_FALSE(cache.Contains(Key("eyJ.a.sig"), kNow));
  cache.Insert(Key("eyJ.a.sig"), kNow + 60);
  EXPECT_TRUE(cache.Contains(Key("eyJ.a.sig"), kNow));
  EXPECT_TRUE(cache.Contains(Key("eyJ.a.sig"), kNow + 59));
  EXPECT_FALSE(cache.Contains(Key("eyJ.a.siG"), kNow));     // one byte of the token
  EXPECT_FALSE(cache.Contains(Key("eyJ.a.sig", 2), kNow));  // the policy's next generation
  EXPECT_FALSE(cache.Contains("other\n1\neyJ.a.sig", kNow));  // another policy
  // At its expiry it is gone, and stays gone.
  EXPECT_FALSE(cache.Contains(Key("eyJ.a.sig"), kNow + 60));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Contains(Key("eyJ.a.sig"), kNow));
  // Inserting again sets the new expiry.
  cache.Insert(Key("eyJ.a.sig"), kNow + 10);
  cache.Insert(Key("eyJ.a.sig"), kNow + 20);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.Contains(Key("eyJ.a.sig"), kNow + 15));
  EXPECT_FALSE(cache.Contains(Key("eyJ.a.sig"), kNow + 20));
}

TEST(LruSignatureCacheTest, HoldsAtMostItsCapacityAndEvictsTheLeastRecentlyUsed) {
  LruSignatureCache cache(3);
  for (const char* t : {"a", "b", "c"}) cache.Insert(Key(t), kNow + 60);
  EXPECT_TRUE(cache.Contains(Key("a"), kNow));  // a is now the most recently used
  cache.Insert(Key("d"), kNow + 60);             // b, the least recently used, goes
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Contains(Key("b"), kNow));
  for (const char* t : {"a", "c", "d"}) EXPECT_TRUE(cache.Contains(Key(t), kNow)) << t;
  cache.Insert(Key("c"), kNow + 60);  // a re-insert also counts as a use
  cache.Insert(Key("e"), kNow + 60);  // so a goes (d was used after a)
  EXPECT_FALSE(cache.Contains(Key("a"), kNow));
  for (const char* t : {"c", "d", "e"}) EXPECT_TRUE(cache.Contains(Key(t), kNow)) << t;
}

TEST(LruSignatureCacheTest, ZeroCapacityKeepsNothing) {
  LruSignatureCache cache(0);
  cache.Insert(Key("a"), kNow + 60);
  EXPECT_FALSE(cache.Contains(Key("a"), kNow));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(LruSignatureCacheTest, StaysBoundedUnderConcurrentUse) {
  constexpr size_t kCapacity = 64;
  LruSignatureCache cache(kCapacity);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = Key(std::to_string(t) + "-" + std::to_string(i % 100));
        if (!cache.Contains(key, kNow)) cache.Insert(key, kNow + 60);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(cache.size(), kCapacity);
}

}  // namespace
}  // namespace execgov::webhook
