// The ledger's observer and guards (what webhook replicas sharing one ledger
// build exactly-once consumption on), with two writers on one file ledger:
// the observer sees every record the other writer stored, once, in order,
// before a batch is built on it; a guard judged then leaves out only its
// own entry.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <vector>

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

}  // namespace
}  // namespace execgov::ledger
