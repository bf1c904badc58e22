// The standalone replay store: single use, inheritance, durability across a
// reopen, and pruning of expired consumptions.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ledger/ledger.h"
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
    ASSERT_TRUE((*store)->Consume("jti-1", {"Job", "ns", "a", "uid-a"}, kNow + 600).ok());
    EXPECT_TRUE((*store)->Consume("jti-1", {"Job", "ns", "a", "uid-a"}, kNow + 600).ok());  // same object
    EXPECT_EQ((*store)->Consume("jti-1", {"Job", "ns", "b", "uid-b"}, kNow + 600).code(), StatusCode::kAlreadyExists);
    ASSERT_TRUE((*store)->Inherit("jti-1", "pod-1").ok());
    EXPECT_EQ((*store)->Inherit("jti-unknown", "pod-2").code(), StatusCode::kNotFound);
  }
  auto reopened = FileReplayStore::Open(path, kNow + 1);
  ASSERT_TRUE(reopened.ok());
  auto c = (*reopened)->Find("jti-1", "pod-1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->uid, "uid-a");
  EXPECT_TRUE(c->inherited);
  EXPECT_FALSE((*reopened)->Find("jti-1", "pod-2")->inherited);
  EXPECT_EQ((*reopened)->Consume("jti-1", {"Job", "ns", "b", "uid-b"}, kNow + 600).code(), StatusCode::kAlreadyExists);
}

// The store packs a consumer's names into one string; names holding any
// bytes, NUL included, still come back whole, and only the exact uid counts
// as the same object.
TEST(FileReplayStoreTest, ConsumerNamesWithAnyBytesStayExact) {
  testing::TempDir dir;
  auto store = FileReplayStore::Open(dir.File("replay.jsonl"), kNow);
  ASSERT_TRUE(store.ok());
  const std::string name("a\0b", 3), uid("u\0v", 3);
  ASSERT_TRUE((*store)->Consume("jti-n", {"Job", "ns", name, uid}, kNow + 600).ok());
  auto c = (*store)->Find("jti-n", "");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, "Job");
  EXPECT_EQ(c->ns, "ns");
  EXPECT_EQ(c->name, name);
  EXPECT_EQ(c->uid, uid);
  EXPECT_TRUE((*store)->Consume("jti-n", {"Job", "ns", name, uid}, kNow + 600).ok());  // the same object
  EXPECT_EQ((*store)->Consume("jti-n", {"Job", "ns", "x", "v"}, kNow + 600).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ((*store)->Consume("jti-n", {"Job", "ns", "x", std::string("\0v", 2)}, kNow + 600).code(),
            StatusCode::kAlreadyExists);
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
    ASSERT_TRUE((*store)->Consume("old", {"Job", "ns", "a", "u1"}, kNow + 10).ok());
    ASSERT_TRUE((*store)->Consume("new", {"Job", "ns", "b", "u2"}, kNow + 1000).ok());
    (*store)->Prune(kNow + 100);
    EXPECT_EQ((*store)->size(), 1u);
    EXPECT_FALSE((*store)->Find("old", "").has_value());
    EXPECT_TRUE((*store)->Find("new", "").has_value());
  }
  // Reopening after expiry compacts the journal as well.
  auto later = FileReplayStore::Open(path, kNow + 100);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ((*later)->size(), 1u);
  EXPECT_EQ(dir.Read("replay.jsonl").find("\"old\""), std::string::npos);
}

// PruneStep walks one part of the store per call: fewer calls than there are
// parts leave some expired consumptions, PruneParts() calls leave none, and
// no step forgets one still valid.
TEST(FileReplayStoreTest, PruneStepsCoverTheWholeStoreInPrunePartsCalls) {
  testing::TempDir dir;
  auto store = FileReplayStore::Open(dir.File("replay.jsonl"), kNow);
  ASSERT_TRUE(store.ok());
  FileReplayStore& s = **store;
  ASSERT_GT(s.PruneParts(), 1);
  constexpr int kEach = 400;  // enough that every part holds some of each
  for (int i = 0; i < kEach; ++i) {
    std::string n = std::to_string(i);
    ASSERT_TRUE(s.Consume("expired-" + n, {"Job", "ns", "e" + n, "ue" + n}, kNow + 10).ok());
    ASSERT_TRUE(s.Consume("valid-" + n, {"Job", "ns", "v" + n, "uv" + n}, kNow + 1000).ok());
  }
  for (int step = 0; step < s.PruneParts() / 2; ++step) s.PruneStep(kNow + 100);
  EXPECT_GT(s.size(), size_t(kEach));  // half the parts walked: expired ones remain
  EXPECT_LT(s.size(), size_t(2 * kEach));
  for (int step = s.PruneParts() / 2; step < s.PruneParts(); ++step) s.PruneStep(kNow + 100);
  EXPECT_EQ(s.size(), size_t(kEach));
  for (int i = 0; i < kEach; ++i) {
    EXPECT_FALSE(s.Find("expired-" + std::to_string(i), "").has_value()) << i;
    EXPECT_TRUE(s.Find("valid-" + std::to_string(i), "").has_value()) << i;
  }
}

// A decision record as the handler writes it in ledger mode.
nlohmann::json Record(const std::string& jti, const std::string& kind, const std::string& uid, const std::string& op,
                      int64_t exp) {
  nlohmann::json r = {{"type", "admission"},
                      {"decision", "allowed"},
                      {"reason", "Allowed"},
                      {"object", {{"kind", kind}, {"namespace", "ns"}, {"name", "n-" + uid}, {"uid", uid}, {"operation", "CREATE"}}},
                      {"artifact", {{"iss", "i"}, {"sub", "s"}, {"kid", "k"}, {"jti", jti}, {"digest", "sha256:00"}}},
                      {"replay", {{"op", op}}}};
  if (op == "consume") r["replay"]["exp"] = exp;
  return r;
}

TEST(FileReplayStoreTest, InLedgerModeConsumptionsComeBackFromTheLedgerRecords) {
  testing::TempDir dir;
  std::string url = "file:" + dir.File("ledger.jsonl");
  {
    // An older version's journal consumption, inherited after the upgrade.
    auto journal = FileReplayStore::Open(dir.File("replay.jsonl"), kNow);
    ASSERT_TRUE(journal.ok());
    ASSERT_TRUE((*journal)->Consume("jti-j", {"ExecutionRequest", "ns", "r", "uid-r"}, kNow + 600).ok());
  }
  {
    auto ledger = ledger::OpenLedger(url, {});
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ASSERT_TRUE((*ledger)->Append(Record("jti-j", "Job", "job-1", "inherit", 0)).ok());
    ASSERT_TRUE((*ledger)->Append(Record("jti-1", "Job", "uid-a", "consume", kNow + 600)).ok());
    ASSERT_TRUE((*ledger)->Append(Record("jti-1", "Pod", "pod-1", "inherit", 0)).ok());
    ASSERT_TRUE((*ledger)->Append(Record("jti-1", "Job", "uid-a", "consume", kNow + 600)).ok());  // a retry
    ASSERT_TRUE((*ledger)->Append(Record("old", "Job", "uid-o", "consume", kNow - 1)).ok());
    nlohmann::json denied = Record("jti-3", "Job", "uid-d", "consume", kNow + 600);
    denied.erase("replay");  // a decision that consumed nothing
    ASSERT_TRUE((*ledger)->Append(denied).ok());
    ASSERT_TRUE((*ledger)->Close().ok());
  }
  auto store = FileReplayStore::OpenWithLedger(dir.File("replay.jsonl"), url, kNow);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->JournaledInLedger());
  auto c = (*store)->Find("jti-1", "pod-1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->uid, "uid-a");
  EXPECT_EQ(c->kind, "Job");
  EXPECT_TRUE(c->inherited);
  EXPECT_FALSE((*store)->Find("jti-1", "uid-a")->inherited);  // the consumer, not an inheritor
  EXPECT_TRUE((*store)->Find("jti-j", "job-1")->inherited);
  EXPECT_FALSE((*store)->Find("jti-j", "")->inherited);
  EXPECT_FALSE((*store)->Find("old", "").has_value());  // expired
  EXPECT_FALSE((*store)->Find("jti-3", "").has_value());
  EXPECT_EQ((*store)->Consume("jti-1", {"Job", "ns", "b", "uid-b"}, kNow + 600).code(), StatusCode::kAlreadyExists);
}

// A store that records in a fresh ledger, as `execgov serve` runs it.
class LedgerModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ledger = ledger::OpenLedger(url_, {});
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ledger_ = std::move(ledger).value();
    auto opened = FileReplayStore::OpenWithLedger(dir.File("replay.jsonl"), url_, kNow);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store = std::move(opened).value();
  }
  testing::TempDir dir;
  std::string url_ = "file:" + dir.File("ledger.jsonl");
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<FileReplayStore> store;
};

TEST_F(LedgerModeTest, AReservationIsVisibleOnlyOnceSettledDurable) {
  ASSERT_TRUE(store->Consume("jti-2", {"Job", "ns", "c", "uid-c"}, kNow + 600).ok());
  EXPECT_FALSE(store->Find("jti-2", "").has_value());  // reserved, not durable yet
  // A racer with another object waits for the reservation to settle: its
  // record failed, so the racer gets the artifact.
  Status racer;
  std::thread t([&] { racer = store->Consume("jti-2", {"Job", "ns", "d", "uid-d"}, kNow + 600); });
  store->Settle("jti-2", "uid-c", policy::ReplayAction::kConsume, false);
  t.join();
  ASSERT_TRUE(racer.ok());
  store->Settle("jti-2", "uid-d", policy::ReplayAction::kConsume, true);
  auto c = store->Find("jti-2", "");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->uid, "uid-d");
  EXPECT_EQ(store->Consume("jti-2", {"Job", "ns", "c", "uid-c"}, kNow + 600).code(), StatusCode::kAlreadyExists);
  // A retry of the consumer reserves nothing, so its settle changes nothing.
  ASSERT_TRUE(store->Consume("jti-2", {"Job", "ns", "d", "uid-d"}, kNow + 600).ok());
  store->Settle("jti-2", "uid-d", policy::ReplayAction::kConsume, false);
  EXPECT_TRUE(store->Find("jti-2", "").has_value());
  // Inheritance, likewise, only once durable.
  ASSERT_TRUE(store->Inherit("jti-2", "pod-x").ok());
  store->Settle("jti-2", "pod-x", policy::ReplayAction::kInherit, false);
  EXPECT_FALSE(store->Find("jti-2", "pod-x")->inherited);
  ASSERT_TRUE(store->Inherit("jti-2", "pod-x").ok());
  store->Settle("jti-2", "pod-x", policy::ReplayAction::kInherit, true);
  EXPECT_TRUE(store->Find("jti-2", "pod-x")->inherited);
  EXPECT_EQ(store->Inherit("jti-unknown", "pod-y").code(), StatusCode::kNotFound);
  // Nothing went to the journal file: the ledger records carry it all.
  EXPECT_EQ(dir.Read("replay.jsonl"), "");
}

// The map's keys view bytes inside its entries: they must stay right while
// the maps rehash and entries move from reserved to durable.
TEST_F(LedgerModeTest, EveryKeyStaysExactAsTheMapsGrowAndEntriesMove) {
  constexpr int kJtis = 5000;
  auto jti = [](int i) { return "jti-" + std::to_string(i) + std::string(i % 40, 'x'); };
  for (int i = 0; i < kJtis; ++i) {
    ASSERT_TRUE(store->Consume(jti(i), {"Job", "ns", "job-" + std::to_string(i), "uid-" + std::to_string(i)},
                                  kNow + 600).ok());
    if (i % 3 == 2) {  // a few reservations at a time, settled out of order, one in nine failed
      for (int k : {i, i - 2, i - 1}) {
        store->Settle(jti(k), "uid-" + std::to_string(k), policy::ReplayAction::kConsume, k % 9 != 0);
      }
    }
  }
  for (int i = kJtis - kJtis % 3; i < kJtis; ++i) {
    store->Settle(jti(i), "uid-" + std::to_string(i), policy::ReplayAction::kConsume, i % 9 != 0);
  }
  EXPECT_EQ(store->size(), size_t(kJtis - (kJtis + 8) / 9));
  for (int i = 0; i < kJtis; ++i) {
    auto c = store->Find(jti(i), "");
    ASSERT_EQ(c.has_value(), i % 9 != 0) << jti(i);
    if (!c) continue;
    EXPECT_EQ(c->name, "job-" + std::to_string(i));
    EXPECT_EQ(c->uid, "uid-" + std::to_string(i));
  }
  EXPECT_FALSE(store->Find("jti-1", "").has_value());  // a prefix of other keys is not one of them
}

}  // namespace
}  // namespace execgov::webhook

namespace execgov::webhook {
namespace {

// Observe reads records another writer stored, before anything else has
// judged them: a record nested past the JSON limit is skipped, not parsed
// (a recursive parse of 200,000 levels would overflow the stack).
TEST(FileReplayStoreTest, ObserveSkipsARecordNestedPastTheLimitAndKeepsTheRest) {
  auto store = FileReplayStore::ForSharedLedger();
  const int64_t now = 1790000000;
  std::string deep = "{\"replay\":{\"op\":\"consume\",\"exp\":" + std::to_string(now + 600) + ",\"x\":" +
                     std::string(200000, '[') + std::string(200000, ']') +
                     "},\"artifact\":{\"jti\":\"deep\"},\"object\":{\"uid\":\"u1\"}}";
  store->Observe(deep, now);
  EXPECT_FALSE(store->Find("deep", "").has_value());
  store->Observe("{\"artifact\":{\"jti\":\"fine\"},\"object\":{\"kind\":\"Pod\",\"uid\":\"u2\"},\"replay\":{\"exp\":" +
                     std::to_string(now + 600) + ",\"op\":\"consume\"}}",
                 now);
  auto found = store->Find("fine", "");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->uid, "u2");
  EXPECT_EQ(store->Recheck("fine", "u3").code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace execgov::webhook
