// The etcd backend against a real etcd: appends, Contains, verify, every
// tamper case, concurrent writers, and a 3-member cluster losing a member.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "etcd_server.h"
#include "support/tls_client.h"
#include "ledger/etcd_client.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

using testing::EtcdCluster;

class EtcdLedgerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { etcd_ = new EtcdCluster(1); }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(etcd_->ready()) << etcd_->Log(0);
    prefix_ = std::string("/t/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    key_path_ = etcd_->dir() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".key";
    key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    ASSERT_TRUE(WriteFileAtomic(key_path_, key_.ToPkcs8Pem(), 0600).ok());
  }
  std::string Url() const { return etcd_->Url(prefix_); }
  LedgerOptions Options() const {
    LedgerOptions o;
    o.signing_key_path = key_path_;
    o.checkpoint_every_records = 100;
    return o;
  }

  static EtcdCluster* etcd_;
  std::string prefix_, key_path_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
};
EtcdCluster* EtcdLedgerTest::etcd_ = nullptr;

TEST_F(EtcdLedgerTest, AppendsContainsAndVerifies) {
  auto ledger = OpenLedger(Url(), Options());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  std::vector<Appended> acks;
  for (int i = 0; i < 5; ++i) {
    auto a = (*ledger)->Append(testing::Entry(i));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    acks.push_back(*a);
    EXPECT_EQ(a->seq, static_cast<uint64_t>(i));
  }
  EXPECT_TRUE(*(*ledger)->Contains(acks[3].hash));
  EXPECT_FALSE(*(*ledger)->Contains(crypto::HashToSha256Ref(LeafHash("absent"))));
  EXPECT_EQ(*(*ledger)->Size(), 5u);
  ASSERT_TRUE((*ledger)->Close().ok());
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.size, 6u);
  EXPECT_EQ(r.checkpoints, 1u);
}

TEST_F(EtcdLedgerTest, RequiresALedgerKey) {
  LedgerOptions o;
  EXPECT_EQ(OpenLedger(Url(), o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EtcdLedgerTest, UnreachableEtcdIsUnavailable) {
  auto ledger = OpenLedger("etcd://127.0.0.1:" + std::to_string(::execgov::testing::FreePort()) + "/x", Options());
  ASSERT_FALSE(ledger.ok());
  EXPECT_EQ(ledger.status().code(), StatusCode::kUnavailable);
}

TEST_F(EtcdLedgerTest, ConcurrentLedgersNeverForkOrReuseSeq) {
  auto a = OpenLedger(Url(), Options());
  auto b = OpenLedger(Url(), Options());  // two writers, as two webhook replicas
  ASSERT_TRUE(a.ok() && b.ok());
  std::mutex mu;
  std::set<uint64_t> seqs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Ledger& l = t % 2 ? **a : **b;
      for (int i = 0; i < 60; ++i) {
        auto r = l.Append(testing::Entry(t * 1000 + i));
        if (!r.ok()) {
          ++failures;
          ADD_FAILURE() << r.status().ToString();
          continue;
        }
        std::lock_guard lock(mu);
        EXPECT_TRUE(seqs.insert(r->seq).second) << r->seq;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE((*b)->Close().ok());
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(seqs.size(), 480u);
}

class EtcdStore : public testing::RecordStore {
 public:
  EtcdStore(std::string url, const std::string& hosts, std::string prefix) : url_(std::move(url)), prefix_(std::move(prefix)) {
    EtcdConfig c;
    c.endpoints = {"http://" + hosts};
    client_ = std::move(EtcdClient::Create(c).value());
  }
  std::string Url() const override { return url_; }
  std::vector<std::string> Read() override {
    auto r = client_->Range(prefix_ + "/r/", EtcdClient::PrefixEnd(prefix_ + "/r/"), 0);
    EXPECT_TRUE(r.ok());
    std::vector<std::string> out;
    for (const auto& kv : r->kvs) out.push_back(kv.value);
    return out;
  }
  void Write(const std::vector<std::string>& records) override {
    ASSERT_TRUE(client_->DeleteRange(prefix_ + "/r/", EtcdClient::PrefixEnd(prefix_ + "/r/")).ok());
    for (size_t i = 0; i < records.size(); ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "%020zu", i);
      ASSERT_TRUE(client_->Put(prefix_ + "/r/" + key, records[i]).ok());
    }
  }

 private:
  std::string url_, prefix_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdLedgerTest, EveryTamperIsDetectedWithItsSeq) {
  testing::WriteHistory(Url(), key_path_);
  EtcdStore store(Url(), etcd_->Hosts(), prefix_);
  testing::RunTamperCases(store, key_);
}

TEST(EtcdTlsTest, AppendsWithAClientCertificateAndIsRefusedWithout) {
  EtcdCluster etcd(1, /*tls=*/true);
  ASSERT_TRUE(etcd.ready()) << etcd.Log(0);
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  std::string key_path = etcd.dir() + "/ledger.key";
  ASSERT_TRUE(WriteFileAtomic(key_path, key->ToPkcs8Pem(), 0600).ok());
  LedgerOptions o;
  o.signing_key_path = key_path;
  const std::string d = etcd.dir();
  std::string url = etcd.Url("/tls?cacert=" + d + "/ca.crt&cert=" + d + "/client.crt&key=" + d + "/client.key");
  auto ledger = OpenLedger(url, o);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*ledger)->Append(testing::Entry(i)).ok());
  ASSERT_TRUE((*ledger)->Close().ok());
  auto r = testing::Verify(url, key->Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.size, 4u);
  // Without the client certificate the server refuses the handshake; with
  // plain HTTP nothing answers.
  auto no_cert = OpenLedger(etcd.Url("/tls?cacert=" + d + "/ca.crt"), o);
  EXPECT_EQ(no_cert.status().code(), StatusCode::kUnavailable) << no_cert.status().ToString();
  auto plain = OpenLedger("etcd://" + etcd.Hosts() + "/tls", o);
  EXPECT_EQ(plain.status().code(), StatusCode::kUnavailable) << plain.status().ToString();
}

TEST(EtcdClusterTest, KeepsAcceptingAppendsWhenAMemberIsKilled) {
  EtcdCluster cluster(3);
  ASSERT_TRUE(cluster.ready()) << cluster.Log(0);
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  std::string key_path = cluster.dir() + "/ledger.key";
  ASSERT_TRUE(WriteFileAtomic(key_path, key->ToPkcs8Pem(), 0600).ok());
  LedgerOptions o;
  o.signing_key_path = key_path;
  o.checkpoint_every_records = 100;
  std::string url = cluster.Url("/cluster");  // all three endpoints
  auto ledger = OpenLedger(url, o);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  std::atomic<int> done{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        auto a = (*ledger)->Append(testing::Entry(t * 1000 + i));
        if (!a.ok()) {
          ++failures;
          ADD_FAILURE() << a.status().ToString();
        }
        ++done;
      }
    });
  }
  while (done < 400) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // wait for load, bounded by the appends
  cluster.Kill(0);  // the member the client talks to first
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  ASSERT_TRUE((*ledger)->Close().ok());
  url = cluster.Url("/cluster");  // the survivors
  auto r = testing::Verify(url, key->Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(testing::CountEntries(url), 1600u);
}

}  // namespace
}  // namespace execgov::ledger
