// The webhook's verified-signature cache: exact keys, never past expiry,
// bounded, least recently used out first.
#include "webhook/signature_cache.h"

#include <gtest/gtest.h>

#include <list>
#include <map>
#include <random>
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

// The exact LRU rules, kept the plain way, to hold the cache to.
class ModelCache {
 public:
  explicit ModelCache(size_t capacity) : capacity_(capacity) {}
  bool Contains(const std::string& key, int64_t now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (now >= it->second.first) {
      order_.erase(it->second.second);
      entries_.erase(it);
      return false;
    }
    order_.splice(order_.begin(), order_, it->second.second);
    return true;
  }
  void Insert(const std::string& key, int64_t expires_at) {
    if (capacity_ == 0) return;
    if (auto it = entries_.find(key); it != entries_.end()) {
      it->second.first = expires_at;
      order_.splice(order_.begin(), order_, it->second.second);
      return;
    }
    if (entries_.size() >= capacity_) {
      entries_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(key);
    entries_[key] = {expires_at, order_.begin()};
  }
  size_t size() const { return entries_.size(); }

 private:
  size_t capacity_;
  std::list<std::string> order_;
  std::map<std::string, std::pair<int64_t, std::list<std::string>::iterator>> entries_;
};

// Random inserts, lookups and expiries over a key space larger than the
// capacity: evictions, removals from the middle of probe runs and table
// growth, each checked against the model after every step.
TEST(LruSignatureCacheTest, BehavesExactlyAsAnLruModelUnderRandomUse) {
  for (size_t capacity : {1, 2, 37, 3000}) {
    LruSignatureCache cache(capacity);
    ModelCache model(capacity);
    std::mt19937_64 rng(capacity);
    const int keys = static_cast<int>(capacity * 2 + 10);
    int64_t now = kNow;
    for (int step = 0; step < 60000; ++step) {
      std::string key = Key(std::to_string(rng() % keys));
      switch (rng() % 4) {
        case 0:
        case 1: {
          bool got = cache.Contains(key, now), want = model.Contains(key, now);
          ASSERT_EQ(got, want) << "capacity " << capacity << ", step " << step << ", " << key;
          break;
        }
        case 2: {
          int64_t exp = now + 1 + static_cast<int64_t>(rng() % 50);
          cache.Insert(key, exp);
          model.Insert(key, exp);
          break;
        }
        case 3:
          now += static_cast<int64_t>(rng() % 3);
          break;
      }
      ASSERT_EQ(cache.size(), model.size()) << "capacity " << capacity << ", step " << step;
    }
  }
}

}  // namespace
}  // namespace execgov::webhook
