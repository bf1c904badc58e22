// The file backend: appends, group commit, checkpoints by count, by time
// (FakeClock) and on close, several writers, torn-tail repair, Contains, and
// every tamper case.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "ledger/proof.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;
using testing::Entry;

class FileLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("execgov-ledger-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "ledger.jsonl").string();
    url_ = "file:" + path_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  LedgerOptions Options(uint64_t every = 1000) {
    LedgerOptions o;
    o.checkpoint_every_records = every;
    o.checkpoint_every = std::chrono::seconds(10);
    o.clock = &clock_;
    return o;
  }
  std::vector<std::string> Lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  crypto::PublicKey Public() {
    auto pem = ReadFile(path_ + ".key.pub");
    EXPECT_TRUE(pem.ok());
    return *crypto::PublicKey::FromPem(*pem);
  }

  fs::path dir_;
  std::string path_, url_;
  FakeClock clock_{1790000000};
};

TEST_F(FileLedgerTest, AppendsChainsAndCreatesKeyMode0600) {
  auto ledger = OpenLedger(url_, Options());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  struct stat sb;
  ASSERT_EQ(::stat((path_ + ".key").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  auto a0 = (*ledger)->Append(Entry(0));
  auto a1 = (*ledger)->Append(Entry(1));
  ASSERT_TRUE(a0.ok() && a1.ok());
  EXPECT_EQ(a0->seq, 0u);
  EXPECT_EQ(a1->seq, 1u);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(a0->hash, crypto::HashToSha256Ref(LeafHash(lines[0])));
  EXPECT_NE(lines[1].find("\"prev\":\"" + a0->hash + "\""), std::string::npos);
  EXPECT_EQ(*crypto::Canonicalize(*crypto::ParseJsonStrict(lines[1])), lines[1]);  // stored canonical
  EXPECT_TRUE(*(*ledger)->Contains(a1->hash));
  EXPECT_FALSE(*(*ledger)->Contains(crypto::HashToSha256Ref(LeafHash("nope"))));
  EXPECT_FALSE((*ledger)->Contains("sha256:xyz").ok());
  EXPECT_EQ(*(*ledger)->Size(), 2u);
  ASSERT_TRUE((*ledger)->Close().ok());
  lines = Lines();
  ASSERT_EQ(lines.size(), 3u);  // the final checkpoint
  EXPECT_NE(lines[2].find("\"type\":\"checkpoint\""), std::string::npos);
  EXPECT_FALSE((*ledger)->Append(Entry(2)).ok());
}

// Contains answers from a compact index of record offsets, confirmed by
// reading the record back: every record is found, after a reopen and when
// another instance appended it; a reference that shares a record's first
// bytes is not.
TEST_F(FileLedgerTest, ContainsFindsEveryRecordByItsWholeHashOnly) {
  auto ledger = OpenLedger(url_, Options(100000));
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  constexpr int kRecords = 3000;
  std::vector<std::promise<StatusOr<Appended>>> done(kRecords);
  for (int i = 0; i < kRecords; ++i) {
    (*ledger)->AppendAsync(Entry(i), [&done, i](StatusOr<Appended> a) { done[i].set_value(std::move(a)); });
  }
  std::vector<std::string> hashes;
  for (auto& d : done) {
    auto a = d.get_future().get();
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    hashes.push_back(a->hash);
  }
  for (const auto& h : hashes) ASSERT_TRUE(*(*ledger)->Contains(h)) << h;
  Hash near;
  ASSERT_TRUE(crypto::ParseSha256Ref(hashes[1234], &near));
  near[20] ^= 0x40;  // the same first 8 bytes: a candidate, then rejected
  EXPECT_FALSE(*(*ledger)->Contains(crypto::HashToSha256Ref(near)));

  auto other = OpenLedger(url_, Options(100000));  // a second instance, which reads the file
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  for (size_t i = 0; i < hashes.size(); i += 97) EXPECT_TRUE(*(*other)->Contains(hashes[i])) << hashes[i];
  auto late = (*other)->Append(Entry(kRecords));
  ASSERT_TRUE(late.ok());
  EXPECT_TRUE(*(*ledger)->Contains(late->hash));  // appended by the other instance
  EXPECT_FALSE(*(*ledger)->Contains(crypto::HashToSha256Ref(near)));
}

TEST_F(FileLedgerTest, RefusesLedgerOwnedFields) {
  auto ledger = OpenLedger(url_, Options());
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Append({{"type", "admission"}, {"seq", 5}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*ledger)->Append({{"type", "checkpoint"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*ledger)->Append(nlohmann::json::array()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*ledger)->Append({{"decision", "allowed"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FileLedgerTest, CheckpointsEveryNRecordsEveryTAndOnClose) {
  auto ledger = OpenLedger(url_, Options(/*every=*/5));
  ASSERT_TRUE(ledger.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*ledger)->Append(Entry(i)).ok());
  EXPECT_EQ(Lines().size(), 6u);  // 5 records and a checkpoint for size 5
  ASSERT_TRUE((*ledger)->Append(Entry(5)).ok());
  EXPECT_EQ(Lines().size(), 7u);
  clock_.Advance(std::chrono::seconds(10));  // T passes: the next append brings a checkpoint
  ASSERT_TRUE((*ledger)->Append(Entry(6)).ok());
  EXPECT_EQ(Lines().size(), 9u);
  ASSERT_TRUE((*ledger)->Append(Entry(7)).ok());
  ASSERT_TRUE((*ledger)->Close().ok());
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 11u);
  std::vector<uint64_t> sizes;
  for (const auto& l : lines) {
    auto h = ScanRecord(l);
    if (h->type == "checkpoint") sizes.push_back(ParseCheckpoint(*CheckpointNoteOf(*h))->size);
  }
  EXPECT_EQ(sizes, (std::vector<uint64_t>{5, 8, 10}));
  auto r = testing::Verify(url_, Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.checkpoints, 3u);
}

TEST_F(FileLedgerTest, IdleTimerWritesCheckpointWhenTimePasses) {
  auto o = Options();
  o.checkpoint_every = std::chrono::seconds(1);
  auto ledger = OpenLedger(url_, o);
  ASSERT_TRUE(ledger.ok());
  ASSERT_TRUE((*ledger)->Append(Entry(0)).ok());
  clock_.Advance(std::chrono::seconds(2));
  // The writer polls (real time, bounded); the decision uses the fake clock.
  for (int i = 0; i < 500 && Lines().size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(Lines().size(), 2u);
}

TEST_F(FileLedgerTest, ConcurrentWritersInOneAndSeveralInstancesNeverFork) {
  auto o = Options(100);
  auto a = OpenLedger(url_, o);
  auto b = OpenLedger(url_, o);  // a second open file description: serialized by flock like a second process
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> seqs;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Ledger& l = t % 2 ? **a : **b;
      for (int i = 0; i < 150; ++i) {
        auto r = l.Append(Entry(t * 1000 + i));
        if (!r.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        EXPECT_TRUE(seqs.insert(r->seq).second) << "seq reused: " << r->seq;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(seqs.size(), 1200u);
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE((*b)->Close().ok());
  auto r = testing::Verify(url_, Public());
  EXPECT_TRUE(r.ok()) << r.message;
  size_t records = 0;
  for (const auto& l : Lines()) records += ScanRecord(l)->type != "checkpoint";
  EXPECT_EQ(records, 1200u);
}

TEST_F(FileLedgerTest, ReopenTruncatesOnlyATornTail) {
  {
    auto ledger = OpenLedger(url_, Options());
    ASSERT_TRUE(ledger.ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*ledger)->Append(Entry(i)).ok());
  }  // closed: 3 records and a checkpoint
  auto before = Lines();
  ASSERT_EQ(before.size(), 4u);
  {
    std::ofstream out(path_, std::ios::app);
    out << R"({"artifact":{"iss":"ops"},"decision":"allo)";  // a write cut by kill -9
  }
  auto ledger = OpenLedger(url_, Options());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  EXPECT_EQ(Lines(), before);
  auto a = (*ledger)->Append(Entry(9));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->seq, 4u);
  ASSERT_TRUE((*ledger)->Close().ok());
  EXPECT_TRUE(testing::Verify(url_, Public()).ok());
}

TEST_F(FileLedgerTest, RefusesToAppendToACorruptLedger) {
  {
    auto ledger = OpenLedger(url_, Options());
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE((*ledger)->Append(Entry(0)).ok());
  }
  {
    std::ofstream out(path_, std::ios::app);
    out << "garbage\n";
  }
  auto ledger = OpenLedger(url_, Options());
  ASSERT_FALSE(ledger.ok());
  EXPECT_EQ(ledger.status().code(), StatusCode::kDataLoss);
}

TEST_F(FileLedgerTest, InclusionProofsVerifyAndForgeriesDoNot) {
  testing::WriteHistory(url_, path_ + ".key");
  auto backend = OpenBackend(url_, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  for (uint64_t seq : {0, 7, 42}) {
    auto proof = ProveInclusion(**backend, seq);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ((*proof)["size"], 43);
    auto cp = VerifyInclusionProof(*proof, Public());
    EXPECT_TRUE(cp.ok()) << cp.status().ToString();
    auto forged = *proof;
    forged["record"] = std::string(forged["record"]).replace(2, 1, "X");
    EXPECT_FALSE(VerifyInclusionProof(forged, Public()).ok());
    auto moved = *proof;
    moved["seq"] = seq + 1;
    EXPECT_FALSE(VerifyInclusionProof(moved, Public()).ok());
    auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    EXPECT_FALSE(VerifyInclusionProof(*proof, other->Public()).ok());
  }
  EXPECT_EQ(ProveInclusion(**backend, 43).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ProveInclusion(**backend, 44).status().code(), StatusCode::kNotFound);
}

class FileStore : public testing::RecordStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)) {}
  std::string Url() const override { return "file:" + path_; }
  std::vector<std::string> Read() override {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  void Write(const std::vector<std::string>& records) override {
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& r : records) out << r << "\n";
  }

 private:
  std::string path_;
};

TEST_F(FileLedgerTest, EveryTamperIsDetectedWithItsSeq) {
  testing::WriteHistory(url_, path_ + ".key");
  auto pem = ReadFile(path_ + ".key");
  ASSERT_TRUE(pem.ok());
  FileStore store(path_);
  testing::RunTamperCases(store, *crypto::PrivateKey::FromPem(*pem));
}

}  // namespace
}  // namespace execgov::ledger
