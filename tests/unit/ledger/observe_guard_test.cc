// The ledger's observer and guards (what webhook replicas sharing one ledger
// build exactly-once consumption on), with two writers on one file ledger:
// the observer sees every record the other writer stored, once, in order,
// before a batch is built on it; a guard judged then leaves out only its
// own entry.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "ledger/record.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

class ObserveGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/execgov-observe-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    url_ = "file:" + dir_ + "/ledger.jsonl";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Ledger> Open(std::function<void(uint64_t, std::string_view)> observe = nullptr) {
    LedgerOptions o;
    o.checkpoint_every_records = 1000000;
    o.checkpoint_every = std::chrono::hours(1);
    o.observe = std::move(observe);
    auto l = OpenLedger(url_, o);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(l).value() : nullptr;
  }

  static Entry Named(const std::string& name) {
    EntryBuilder b;
    b.Str("type", "admission").Str("name", name);
    auto e = std::move(b).Build();
    EXPECT_TRUE(e.ok());
    return std::move(e).value();
  }

  static StatusOr<Appended> Append(Ledger& l, const std::string& name, Ledger::Guard guard = nullptr) {
    std::promise<StatusOr<Appended>> done;
    l.AppendEntryAsync(Named(name), [&done](StatusOr<Appended> r) { done.set_value(std::move(r)); },
                       std::move(guard));
    return done.get_future().get();
  }

  std::string dir_, url_;
};

TEST_F(ObserveGuardTest, TheObserverSeesEveryOtherWritersRecordOnceBeforeABatchIsBuiltOnIt) {
  std::mutex mu;
  std::vector<uint64_t> seen;
  auto a = Open([&](uint64_t seq, std::string_view record) {
    if (record.find("\"type\":\"checkpoint\"") != std::string_view::npos) return;  // b's closing checkpoint
    std::lock_guard lock(mu);
    seen.push_back(seq);
    EXPECT_NE(record.find("\"name\":\"b"), std::string_view::npos) << "its own record was passed: " << record;
  });
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(Append(*a, "a0")->seq, 0u);
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(Append(*b, "b" + std::to_string(i))->seq, static_cast<uint64_t>(i));
  bool guard_saw_them = false;
  auto r = Append(*a, "a4", [&] {
    std::lock_guard lock(mu);
    guard_saw_them = seen.size() == 3;
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seq, 4u);
  EXPECT_TRUE(guard_saw_them) << "the guard ran before the other writer's records were observed";
  ASSERT_TRUE(b->Append({{"type", "admission"}, {"name", "b5"}}).ok());
  ASSERT_TRUE(a->CatchUp().ok());
  ASSERT_TRUE(a->CatchUp().ok());  // nothing new: nothing passed twice
  ASSERT_TRUE(b->Close().ok());
  ASSERT_TRUE(a->Close().ok());
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 5}));
}

TEST_F(ObserveGuardTest, ARefusingGuardLeavesOutOnlyItsEntryAndIsWhatItsCallerGets) {
  auto l = Open();
  ASSERT_TRUE(l);
  std::promise<StatusOr<Appended>> refused, kept;
  l->AppendEntryAsync(Named("refused"), [&](StatusOr<Appended> r) { refused.set_value(std::move(r)); },
                      [] { return AlreadyExists("taken by another writer"); });
  l->AppendEntryAsync(Named("kept"), [&](StatusOr<Appended> r) { kept.set_value(std::move(r)); },
                      [] { return Status::Ok(); });
  auto r1 = refused.get_future().get();
  auto r2 = kept.get_future().get();
  EXPECT_EQ(r1.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r1.status().message(), "taken by another writer");
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->seq, 0u) << "the refused entry took a seq";
  ASSERT_TRUE(l->Close().ok());
  std::vector<std::string> names;
  auto backend = OpenBackend(url_, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  ASSERT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view rec) {
    if (rec.find("\"name\":\"refused\"") != std::string_view::npos) names.push_back("refused");
    if (rec.find("\"name\":\"kept\"") != std::string_view::npos) names.push_back("kept");
    return Status::Ok();
  }).ok());
  EXPECT_EQ(names, std::vector<std::string>{"kept"});
}

// One store for several writers whose Tail() is slow (a round trip to a busy
// API server) and reads what was stored when it began, and counts its reads.
class SlowTailStore final : public Backend {
 public:
  struct Shared {
    std::mutex mu;
    std::vector<std::string> records;
    ChainState state;
    std::atomic<int> tails{0};
  };
  explicit SlowTailStore(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  StatusOr<ChainState> Tail() override {
    ++s_->tails;
    ChainState seen;
    {
      std::lock_guard lock(s_->mu);
      seen = s_->state;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the answer takes a while to come back
    return seen;
  }
  Status Append(const BuildFn& build) override {
    std::lock_guard lock(s_->mu);
    EXECGOV_ASSIGN_OR_RETURN(Batch batch, build(s_->state));
    for (auto& r : batch.records) s_->records.push_back(r);
    s_->state = std::move(batch.after);
    return Status::Ok();
  }
  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    std::vector<std::string> copy;
    {
      std::lock_guard lock(s_->mu);
      for (uint64_t i = from; i < std::min<uint64_t>(to, s_->records.size()); ++i) copy.push_back(s_->records[i]);
    }
    for (size_t i = 0; i < copy.size(); ++i) EXECGOV_RETURN_IF_ERROR(fn(from + i, copy[i]));
    return Status::Ok();
  }
  StatusOr<bool> Contains(const Hash&) override { return false; }
  size_t MaxBatch() const override { return 100; }
  std::string DefaultOrigin() const override { return "execgov.local/slow-tail"; }
  Status Close() override { return Status::Ok(); }

 private:
  std::shared_ptr<Shared> s_;
};

TEST(CatchUpTest, ConcurrentCallersShareReadsAndEachSeesWhatWasStoredBeforeItCalled) {
  auto shared = std::make_shared<SlowTailStore::Shared>();
  auto key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  LedgerOptions wo;
  wo.checkpoint_every_records = 1000000;
  wo.checkpoint_every = std::chrono::hours(1);
  auto writer = OpenLedger(std::make_unique<SlowTailStore>(shared), key, wo);
  ASSERT_TRUE(writer.ok());
  std::mutex mu;
  std::set<std::string> seen;
  LedgerOptions ro = wo;
  ro.observe = [&](uint64_t, std::string_view record) {
    std::lock_guard lock(mu);
    seen.insert(std::string(record));
  };
  auto reader = OpenLedger(std::make_unique<SlowTailStore>(shared), key, ro);
  ASSERT_TRUE(reader.ok());
  const int reads_before = shared->tails.load();
  // Each caller stores a record through the other writer, then asks the
  // reader to catch up: what it stored must have been observed by then,
  // whatever round it shared.
  constexpr int kCallers = 16;
  std::atomic<int> missed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      auto a = (*writer)->Append({{"type", "admission"}, {"name", "caller-" + std::to_string(i)}});
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      ASSERT_TRUE((*reader)->CatchUp().ok());
      std::lock_guard lock(mu);
      bool found = false;
      for (const auto& r : seen) found |= r.find("\"name\":\"caller-" + std::to_string(i) + "\"") != std::string::npos;
      if (!found) ++missed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(missed.load(), 0) << "a caller returned from a read that began before its record was stored";
  const int reads = shared->tails.load() - reads_before;
  EXPECT_LT(reads, kCallers / 2) << "each caller read the tail itself";
  ASSERT_TRUE((*reader)->Close().ok());
  ASSERT_TRUE((*writer)->Close().ok());
}

}  // namespace
}  // namespace execgov::ledger
