// Group commit: under concurrent load, appends share batches (one durable
// write each) and every caller still gets its own seq and hash; a failed
// batch fails every append in it and nothing of it is acknowledged.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

// Keeps records in memory; each batch "costs" a fixed latency, as an fsync or
// a consensus round does. Can be told to fail the next batch.
class MemoryBackend final : public Backend {
 public:
  struct Shared {
    std::mutex mu;
    std::vector<std::string> records;
    std::vector<size_t> batch_sizes;
    bool fail_next = false;
  };
  explicit MemoryBackend(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

  StatusOr<ChainState> Tail() override {
    std::lock_guard lock(s_->mu);
    return state_;
  }
  Status Append(const BuildFn& build) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the cost of one durable write
    std::lock_guard lock(s_->mu);
    EXECGOV_ASSIGN_OR_RETURN(auto records, build(state_));
    if (records.empty()) return Status::Ok();
    if (s_->fail_next) {
      s_->fail_next = false;
      return Unavailable("injected failure");
    }
    for (auto& r : records) {
      EXECGOV_RETURN_IF_ERROR(state_.Apply(r).status());
      s_->records.push_back(r);
    }
    s_->batch_sizes.push_back(records.size());
    return Status::Ok();
  }
  Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) override {
    std::lock_guard lock(s_->mu);
    for (uint64_t i = from; i < std::min<uint64_t>(to, s_->records.size()); ++i) {
      EXECGOV_RETURN_IF_ERROR(fn(i, s_->records[i]));
    }
    return Status::Ok();
  }
  StatusOr<bool> Contains(const Hash& h) override {
    std::lock_guard lock(s_->mu);
    for (const auto& r : s_->records) {
      if (LeafHash(r) == h) return true;
    }
    return false;
  }
  size_t MaxBatch() const override { return 100; }
  std::string DefaultOrigin() const override { return "execgov.local/memory"; }
  Status Close() override { return Status::Ok(); }

 private:
  std::shared_ptr<Shared> s_;
  ChainState state_;
};

TEST(GroupCommit, ConcurrentAppendsShareBatches) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  auto key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  LedgerOptions o;
  o.checkpoint_every_records = 1000000;
  auto ledger = OpenLedger(std::make_unique<MemoryBackend>(shared), key, o);
  ASSERT_TRUE(ledger.ok());
  constexpr int kThreads = 32, kEach = 20;
  std::mutex mu;
  std::set<uint64_t> seqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto a = (*ledger)->Append(testing::Entry(t * 100 + i));
        ASSERT_TRUE(a.ok()) << a.status().ToString();
        std::scoped_lock lock(mu, shared->mu);
        EXPECT_TRUE(seqs.insert(a->seq).second);
        EXPECT_EQ(a->hash, crypto::HashToSha256Ref(LeafHash(shared->records[a->seq])));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE((*ledger)->Close().ok());
  EXPECT_EQ(seqs.size(), size_t{kThreads * kEach});
  size_t batches = shared->batch_sizes.size();
  size_t largest = *std::max_element(shared->batch_sizes.begin(), shared->batch_sizes.end());
  // 640 appends from 32 waiting threads: one batch each would be 640 writes.
  EXPECT_LT(batches, size_t{kThreads * kEach / 4}) << "appends were not batched";
  EXPECT_GE(largest, 8u);
  EXPECT_LE(largest, 101u);  // MaxBatch, plus the checkpoint record
}

TEST(GroupCommit, AFailedBatchAcknowledgesNothing) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  auto key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  auto ledger = OpenLedger(std::make_unique<MemoryBackend>(shared), key, LedgerOptions{});
  ASSERT_TRUE(ledger.ok());
  ASSERT_TRUE((*ledger)->Append(testing::Entry(0)).ok());
  {
    std::lock_guard lock(shared->mu);
    shared->fail_next = true;
  }
  auto failed = (*ledger)->Append(testing::Entry(1));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  auto next = (*ledger)->Append(testing::Entry(2));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->seq, 1u);  // the failed record took no seq
  EXPECT_EQ(*(*ledger)->Size(), 2u);
}

}  // namespace
}  // namespace execgov::ledger
