// Group commit: under concurrent load, appends share batches (one durable
// write each) and every caller still gets its own seq and hash; a failed
// batch fails every append in it and nothing of it is acknowledged.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
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
    // Runs before each write, outside the lock: a test holds a write here.
    std::function<void()> before_write;
  };
  explicit MemoryBackend(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

  StatusOr<ChainState> Tail() override {
    std::lock_guard lock(s_->mu);
    return state_;
  }
  Status Append(const BuildFn& build) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the cost of one durable write
    if (s_->before_write) s_->before_write();
    std::lock_guard lock(s_->mu);
    EXECGOV_ASSIGN_OR_RETURN(Batch batch, build(state_));
    if (batch.records.empty()) return Status::Ok();
    if (s_->fail_next) {
      s_->fail_next = false;
      return Unavailable("injected failure");
    }
    for (auto& r : batch.records) s_->records.push_back(r);
    s_->batch_sizes.push_back(batch.records.size());
    state_ = std::move(batch.after);
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

// A ledger on a MemoryBackend that checkpoints only when closed.
StatusOr<std::unique_ptr<Ledger>> OpenMemoryLedger(std::shared_ptr<MemoryBackend::Shared> shared,
                                                   std::chrono::microseconds linger = {}) {
  LedgerOptions o;
  o.checkpoint_every_records = 1000000;
  o.linger = linger;
  return OpenLedger(std::make_unique<MemoryBackend>(std::move(shared)),
                    *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519), o);
}

TEST(GroupCommit, ConcurrentAppendsShareBatches) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  auto ledger = OpenMemoryLedger(shared);
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

// Appends whose answers come back through a callback: each runs once, after
// its record is durable, with that record's seq; an invalid entry and an
// append after Close are answered at once, without a record.
TEST(GroupCommit, AsyncAppendsAnswerOnceDurable) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  auto ledger = OpenMemoryLedger(shared);
  ASSERT_TRUE(ledger.ok());
  constexpr int kRecords = 200;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> calls(kRecords, 0);
  std::map<uint64_t, int> seq_of;  // seq -> which append
  int answered = 0;
  for (int i = 0; i < kRecords; ++i) {
    (*ledger)->AppendAsync(testing::Entry(i), [&, i](StatusOr<Appended> a) {
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      std::scoped_lock lock(mu, shared->mu);
      ++calls[i];
      EXPECT_TRUE(seq_of.emplace(a->seq, i).second);
      ASSERT_LT(a->seq, shared->records.size()) << "answered before its record was stored";
      EXPECT_EQ(a->hash, crypto::HashToSha256Ref(LeafHash(shared->records[a->seq])));
      if (++answered == kRecords) cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return answered == kRecords; });
  }
  EXPECT_EQ(std::count(calls.begin(), calls.end(), 1), kRecords);
  // Queued in order, stored in order.
  for (const auto& [seq, i] : seq_of) EXPECT_EQ(seq, static_cast<uint64_t>(i));

  int invalid_calls = 0;
  (*ledger)->AppendAsync(nlohmann::json::array(), [&](StatusOr<Appended> a) {
    ++invalid_calls;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  });
  EXPECT_EQ(invalid_calls, 1);
  ASSERT_TRUE((*ledger)->Close().ok());
  int closed_calls = 0;
  (*ledger)->AppendAsync(testing::Entry(kRecords), [&](StatusOr<Appended> a) {
    ++closed_calls;
    EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
  });
  EXPECT_EQ(closed_calls, 1);
  std::lock_guard lock(shared->mu);
  EXPECT_EQ(shared->records.size(), size_t{kRecords} + 1);  // and the final checkpoint
}

// With a linger, records arriving fast fill a batch before it is written
// (up to 32, or the linger); a lone record is written at once.
TEST(GroupCommit, LingerFillsBatchesOnlyWhileRecordsArriveFast) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  auto ledger = OpenMemoryLedger(shared, std::chrono::milliseconds(300));
  ASSERT_TRUE(ledger.ok());
  // The first record has no arrival rate behind it: written alone.
  ASSERT_TRUE((*ledger)->Append(testing::Entry(0)).ok());
  // A burst, while a decision is under way: the writer sees records
  // arriving far faster than one per linger, so it waits for a full batch.
  constexpr int kBurst = 96;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  Announcement under_way(ledger->get());
  for (int i = 1; i <= kBurst; ++i) {
    (*ledger)->AppendAsync(testing::Entry(i), [&](StatusOr<Appended> a) {
      EXPECT_TRUE(a.ok());
      std::lock_guard lock(mu);
      if (++answered == kBurst) cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return answered == kBurst; });
  }
  std::vector<size_t> sizes;
  {
    std::lock_guard lock(shared->mu);
    sizes = shared->batch_sizes;
  }
  ASSERT_GE(sizes.size(), 2u);
  EXPECT_EQ(sizes[0], 1u);
  EXPECT_GE(sizes[1], 32u) << "the burst's first batch was written without waiting for more";
  ASSERT_TRUE((*ledger)->Close().ok());
}

// Appends `n` records without waiting and returns a wait for all of them.
std::function<void()> AppendMany(Ledger* ledger, int first, int n) {
  auto state = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  auto left = std::make_shared<int>(n);
  for (int i = first; i < first + n; ++i) {
    ledger->AppendAsync(testing::Entry(i), [state, left](StatusOr<Appended> a) {
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      std::lock_guard lock(state->first);
      if (--*left == 0) state->second.notify_all();
    });
  }
  return [state, left] {
    std::unique_lock lock(state->first);
    state->second.wait(lock, [&] { return *left == 0; });
  };
}

// The linger here is an hour: a writer that waited it out would hang the
// test, so each of these finishing is the proof that the wait ended for the
// right reason.
constexpr auto kHour = std::chrono::hours(1);

TEST(GroupCommit, NothingAnnouncedNothingWaitedFor) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  auto ledger = OpenMemoryLedger(shared, kHour);
  ASSERT_TRUE(ledger.ok());
  ASSERT_TRUE((*ledger)->Append(testing::Entry(0)).ok());
  // Records arriving fast, but no decision under way announces another.
  AppendMany(ledger->get(), 1, 5)();
  ASSERT_TRUE((*ledger)->Close().ok());
}

// A ledger whose writer says when it starts to linger.
struct LingerWatch {
  std::mutex mu;
  std::condition_variable cv;
  int lingers = 0;
  void WaitForLinger() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return lingers > 0; });
  }
};
StatusOr<std::unique_ptr<Ledger>> OpenWatchedLedger(std::shared_ptr<MemoryBackend::Shared> shared, LingerWatch* watch) {
  LedgerOptions o;
  o.checkpoint_every_records = 1000000;
  o.linger = kHour;
  o.on_linger = [watch] {
    std::lock_guard lock(watch->mu);
    ++watch->lingers;
    watch->cv.notify_all();
  };
  return OpenLedger(std::make_unique<MemoryBackend>(std::move(shared)),
                    *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519), o);
}

// Brings a watched ledger's writer into a linger: record 0 written, then a
// decision under way (announced) while records 1 and 2 arrive.
class LingeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ledger = OpenWatchedLedger(shared_, &watch_);
    ASSERT_TRUE(ledger.ok());
    ledger_ = std::move(ledger).value();
    ASSERT_TRUE(ledger_->Append(testing::Entry(0)).ok());
    deciding_ = std::make_unique<Announcement>(ledger_.get());
    wait_ = AppendMany(ledger_.get(), 1, 2);
    watch_.WaitForLinger();
  }
  std::shared_ptr<MemoryBackend::Shared> shared_ = std::make_shared<MemoryBackend::Shared>();
  LingerWatch watch_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<Announcement> deciding_;
  std::function<void()> wait_;
};

TEST_F(LingeringTest, TheLingerEndsWhenTheAnnouncedRecordsAreQueued) {
  deciding_.reset();  // the decision retires: the writer stops waiting
  wait_();
  ASSERT_TRUE(ledger_->Close().ok());
}

TEST_F(LingeringTest, AForcedCheckpointEndsALinger) {
  ASSERT_TRUE(ledger_->Checkpoint().ok());  // the decision is still under way
  wait_();
  std::lock_guard lock(shared_->mu);
  ASSERT_EQ(shared_->records.size(), 4u);  // records 0-2 and the checkpoint
  EXPECT_NE(shared_->records.back().find("\"type\":\"checkpoint\""), std::string::npos);
}

// linger_while_backlogged (the webhook's ConfigMap ledger, whose callers'
// requests reach it through the busy API server and so are rarely announced
// yet): the records that queued while a batch was being written wait for
// more, with nothing announced, until a batch is full.
TEST(GroupCommit, ABackloggedWriterWaitsForAFullBatch) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  LingerWatch watch;
  // Write 1 (record 0) is held until records 1-3 are queued behind it.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool held = false, open = false;
  int writes = 0;
  shared->before_write = [&] {
    std::unique_lock lock(gate_mu);
    if (++writes > 1) return;
    held = true;
    gate_cv.notify_all();
    gate_cv.wait(lock, [&] { return open; });
  };
  LedgerOptions o;
  o.checkpoint_every_records = 1000000;
  o.linger = kHour;  // only a full batch can end this wait
  o.linger_while_backlogged = true;
  o.on_linger = [&watch] {
    std::lock_guard lock(watch.mu);
    ++watch.lingers;
    watch.cv.notify_all();
  };
  auto ledger = OpenLedger(std::make_unique<MemoryBackend>(shared),
                           *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519), o);
  ASSERT_TRUE(ledger.ok());
  auto first = AppendMany(ledger->get(), 0, 1);
  {
    std::unique_lock lock(gate_mu);
    gate_cv.wait(lock, [&] { return held; });  // record 0's write is under way
  }
  auto backlog = AppendMany(ledger->get(), 1, 3);
  {
    std::lock_guard lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  first();
  watch.WaitForLinger();  // nothing is announced: the backlog alone holds the writer
  auto rest = AppendMany(ledger->get(), 4, 29);  // 3 + 29 = a full batch of 32
  backlog();
  rest();
  {
    std::lock_guard lock(shared->mu);
    ASSERT_EQ(shared->batch_sizes.size(), 2u);
    EXPECT_EQ(shared->batch_sizes[0], 1u);
    EXPECT_EQ(shared->batch_sizes[1], 32u);
  }
  ASSERT_TRUE((*ledger)->Close().ok());
}

// ... but a caller that waits for each record before making the next (one
// client at a time) never finds a backlog, and is never made to wait: with
// an hour's linger, finishing is the proof.
TEST(GroupCommit, OneCallerAtATimeIsNeverHeldForABacklogLinger) {
  auto shared = std::make_shared<MemoryBackend::Shared>();
  LingerWatch watch;
  LedgerOptions o;
  o.checkpoint_every_records = 1000000;
  o.linger = kHour;
  o.linger_while_backlogged = true;
  o.on_linger = [&watch] {
    std::lock_guard lock(watch.mu);
    ++watch.lingers;
  };
  auto ledger = OpenLedger(std::make_unique<MemoryBackend>(shared),
                           *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519), o);
  ASSERT_TRUE(ledger.ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*ledger)->Append(testing::Entry(i)).ok());
  // The quickest such caller queues its next record from the answer to the
  // last, before the writer has gone round its loop: still no backlog.
  std::promise<void> chained;
  std::function<void(int)> next = [&](int i) {
    if (i == 40) return chained.set_value();
    (*ledger)->AppendAsync(testing::Entry(i), [&, i](StatusOr<Appended> r) {
      EXPECT_TRUE(r.ok());
      next(i + 1);
    });
  };
  next(20);
  chained.get_future().wait();
  ASSERT_TRUE((*ledger)->Close().ok());
  std::lock_guard lock(watch.mu);
  EXPECT_EQ(watch.lingers, 0);
}

}  // namespace
}  // namespace execgov::ledger
