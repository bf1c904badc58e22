// Reliability across processes: 4 writer processes x 2,500 appends to each
// backend end with exactly 10,000 records that verify; 50 kill -9's of a
// writer under load leave a file ledger that verifies and holds every
// acknowledged record.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "etcd_server.h"
#include "tamper_cases.h"
#include "writers.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;

class MultiWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/execgov-writers-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    key_path_ = dir_ + "/ledger.key";
    key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    ASSERT_TRUE(WriteFileAtomic(key_path_, key_.ToPkcs8Pem(), 0600).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Every acknowledged (seq, hash) is the record stored at that seq.
  void ExpectAcksStored(const std::string& url, const std::map<uint64_t, std::string>& acks) {
    auto backend = OpenBackend(url, BackendOptions{.read_only = true});
    ASSERT_TRUE(backend.ok());
    std::map<uint64_t, std::string> stored;
    ASSERT_TRUE((*backend)
                    ->Scan(0, UINT64_MAX,
                           [&](uint64_t seq, std::string_view bytes) {
                             stored[seq] = crypto::HashToSha256Ref(LeafHash(bytes));
                             return Status::Ok();
                           })
                    .ok());
    size_t missing = 0;
    for (const auto& [seq, hash] : acks) {
      auto it = stored.find(seq);
      if (it == stored.end() || it->second != hash) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "acknowledged records missing of " << acks.size();
  }

  void FourWritersTimes2500(const std::string& url) {
    std::vector<pid_t> pids;
    std::vector<std::unique_ptr<testing::KillOnExit>> guards;
    for (int w = 0; w < 4; ++w) {
      pids.push_back(testing::StartWriter(url, key_path_, "w" + std::to_string(w), 2500,
                                          dir_ + "/acks" + std::to_string(w)));
      guards.push_back(std::make_unique<testing::KillOnExit>(pids.back()));
    }
    std::map<uint64_t, std::string> acks;
    for (int w = 0; w < 4; ++w) {
      EXPECT_EQ(guards[static_cast<size_t>(w)]->Wait(), 0) << "writer " << w;
      auto a = testing::ReadAcks(dir_ + "/acks" + std::to_string(w));
      EXPECT_EQ(a.size(), 2500u) << "writer " << w;
      for (auto& [seq, hash] : a) EXPECT_TRUE(acks.emplace(seq, hash).second) << "seq acknowledged twice: " << seq;
    }
    EXPECT_EQ(acks.size(), 10000u);
    auto r = testing::Verify(url, key_.Public());
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(testing::CountEntries(url), 10000u);
    ExpectAcksStored(url, acks);
  }

  std::string dir_, key_path_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
};

TEST_F(MultiWriterTest, FileFourProcessesTimes2500) { FourWritersTimes2500("file:" + dir_ + "/ledger.jsonl"); }

TEST_F(MultiWriterTest, EtcdFourProcessesTimes2500) {
  testing::EtcdCluster etcd(1);
  ASSERT_TRUE(etcd.ready()) << etcd.Log(0);
  FourWritersTimes2500(etcd.Url("/load"));
}

TEST_F(MultiWriterTest, FileSurvivesFiftyKill9UnderLoad) {
  std::string url = "file:" + dir_ + "/ledger.jsonl";
  std::mt19937 rng(42);
  std::map<uint64_t, std::string> acks;
  // A steady writer keeps the lock contended while the victims die.
  pid_t steady = testing::StartWriter(url, key_path_, "steady", 1000000, dir_ + "/acks-steady", 2);
  testing::KillOnExit guard_steady(steady);
  for (int round = 0; round < 50; ++round) {
    std::string ack_file = dir_ + "/acks" + std::to_string(round);
    pid_t victim = testing::StartWriter(url, key_path_, "v" + std::to_string(round), 1000000, ack_file, 4);
    testing::KillOnExit guard(victim);
    // Wait until it is appending (bounded), then let it run a random while.
    auto acked = [&] {
      std::error_code ec;
      auto n = fs::file_size(ack_file, ec);
      return !ec && n > 0;
    };
    for (int i = 0; i < 400 && !acked(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    EXPECT_EQ(guard.KillNow(), -SIGKILL);
    for (auto& [seq, hash] : testing::ReadAcks(ack_file)) acks.emplace(seq, hash);
  }
  guard_steady.KillNow();
  for (auto& [seq, hash] : testing::ReadAcks(dir_ + "/acks-steady")) acks.emplace(seq, hash);
  ASSERT_GT(acks.size(), 1000u);
  // A writer opening the file repairs a torn tail, as the next webhook start would.
  {
    LedgerOptions o;
    o.signing_key_path = key_path_;
    auto ledger = OpenLedger(url, o);
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ASSERT_TRUE((*ledger)->Close().ok());
  }
  auto r = testing::Verify(url, key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  ExpectAcksStored(url, acks);
}

}  // namespace
}  // namespace execgov::ledger
