// Consistency proofs between a kept checkpoint and the ledger's latest
// (ledger/consistency.h): proved and checked offline, and refused, naming
// the fork, for a ledger rolled back or forked from what the kept
// checkpoint signed.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/encoding.h"
#include "ledger/consistency.h"
#include "ledger/proof.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;
using testing::Entry;

class ConsistencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-consistency-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "a");
    fs::create_directories(dir_ / "b");
    key_ = (dir_ / "ledger.key").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Both ledgers are named ledger.jsonl (so of one origin) and share one key.
  std::string Url(const char* which) { return "file:" + (dir_ / which / "ledger.jsonl").string(); }
  void Append(const std::string& url, int first, int n) {
    LedgerOptions o;
    o.signing_key_path = key_;
    o.checkpoint_every_records = 1000;
    o.clock = &clock_;
    auto ledger = OpenLedger(url, o);
    ASSERT_TRUE(ledger.ok()) << ledger.status().message();
    for (int i = first; i < first + n; ++i) ASSERT_TRUE((*ledger)->Append(Entry(i)).ok());
    ASSERT_TRUE((*ledger)->Close().ok());
  }
  std::unique_ptr<Backend> Open(const std::string& url) {
    auto b = OpenBackend(url, BackendOptions{.read_only = true});
    EXPECT_TRUE(b.ok()) << b.status().message();
    return std::move(b).value();
  }
  std::string LatestCheckpoint(const std::string& url) {
    auto backend = Open(url);
    auto proof = ProveInclusion(*backend, 0);
    EXPECT_TRUE(proof.ok()) << proof.status().message();
    return (*proof)["checkpoint"].get<std::string>();
  }
  crypto::PublicKey Public() { return *crypto::PublicKey::FromPem(*ReadFile(key_ + ".pub")); }

  fs::path dir_;
  std::string key_;
  FakeClock clock_{1790000000};
};

TEST_F(ConsistencyTest, ProvesAndChecksAnExtension) {
  Append(Url("a"), 0, 100);  // size 100
  std::string kept = LatestCheckpoint(Url("a"));
  Append(Url("a"), 100, 57);  // size 158
  auto key = Public();
  auto backend = Open(Url("a"));
  auto proof = ProveConsistency(*backend, kept, &key);
  ASSERT_TRUE(proof.ok()) << proof.status().message();
  EXPECT_EQ((*proof)["size1"], 100);
  EXPECT_EQ((*proof)["size2"], 158);
  auto r = VerifyConsistencyProof(*proof, key, kept);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->from.size, 100u);
  EXPECT_EQ(r->to.size, 158u);

  // The same size: an empty proof.
  auto same = ProveConsistency(*backend, (*proof)["checkpoint2"].get<std::string>(), &key);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE((*same)["proof"].empty());
  EXPECT_TRUE(VerifyConsistencyProof(*same, key).ok());

  // Anything changed is refused.
  auto flipped = *proof;
  std::string h = flipped["proof"][0].get<std::string>();
  h[0] = h[0] == 'A' ? 'B' : 'A';
  flipped["proof"][0] = h;
  EXPECT_EQ(VerifyConsistencyProof(flipped, key).status().code(), StatusCode::kPermissionDenied);
  auto resized = *proof;
  resized["size2"] = 157;
  EXPECT_EQ(VerifyConsistencyProof(resized, key).status().code(), StatusCode::kPermissionDenied);
  auto other = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  EXPECT_EQ(VerifyConsistencyProof(*proof, other->Public()).status().code(), StatusCode::kPermissionDenied);
  // Another kept checkpoint than the proof starts at.
  EXPECT_EQ(VerifyConsistencyProof(*proof, key, (*proof)["checkpoint2"].get<std::string>()).status().code(),
            StatusCode::kPermissionDenied);
  // Not a proof at all.
  EXPECT_EQ(VerifyConsistencyProof(nlohmann::json{{"origin", 1}}, key).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ConsistencyTest, ARolledBackLedgerIsRefused) {
  Append(Url("a"), 0, 100);
  Append(Url("a"), 100, 100);  // size 201 (a checkpoint record at 100)
  std::string kept = LatestCheckpoint(Url("a"));
  // Roll back to the first checkpoint: the records after it are cut.
  std::string path = (dir_ / "a" / "ledger.jsonl").string();
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  in.close();
  std::ofstream out(path, std::ios::trunc);
  for (size_t i = 0; i <= 100; ++i) out << lines[i] << "\n";
  out.close();
  auto key = Public();
  auto backend = Open(Url("a"));
  auto proof = ProveConsistency(*backend, kept, &key);
  EXPECT_EQ(proof.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(proof.status().message().find("rolled back"), std::string::npos) << proof.status().message();
  EXPECT_NE(proof.status().message().find("201"), std::string::npos) << proof.status().message();
}

TEST_F(ConsistencyTest, AForkedLedgerIsRefusedNamingTheFork) {
  // Two ledgers of one origin and key share records 0..49, then differ.
  Append(Url("a"), 0, 50);
  fs::copy_file(dir_ / "a" / "ledger.jsonl", dir_ / "b" / "ledger.jsonl");
  Append(Url("a"), 50, 50);    // a: a checkpoint for size 101
  Append(Url("b"), 1050, 80);  // b: for size 131, other records from seq 51
  std::string kept_a = LatestCheckpoint(Url("a"));
  auto key = Public();
  auto b = Open(Url("b"));
  auto proof = ProveConsistency(*b, kept_a, &key);
  ASSERT_EQ(proof.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(proof.status().message().find("fork"), std::string::npos) << proof.status().message();
  EXPECT_NE(proof.status().message().find("size 101"), std::string::npos) << proof.status().message();

  // A proof b could honestly give between its own checkpoints does not
  // connect a's kept checkpoint to b's: each way of passing it off is refused.
  auto a = Open(Url("a"));
  auto own = ProveConsistency(*a, LatestCheckpoint(Url("a")), &key);
  ASSERT_TRUE(own.ok());
  auto spliced = *own;
  spliced["checkpoint2"] = LatestCheckpoint(Url("b"));
  auto cp_b = *ParseCheckpoint(LatestCheckpoint(Url("b")));
  spliced["size2"] = cp_b.size;
  spliced["root2"] = crypto::Base64Encode(crypto::HashBytes(cp_b.root));
  auto r = VerifyConsistencyProof(spliced, key, kept_a);
  ASSERT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("fork"), std::string::npos) << r.status().message();
}

TEST_F(ConsistencyTest, OtherOriginsAndEmptyCheckpointsProveNothing) {
  Append(Url("a"), 0, 10);
  auto key = Public();
  auto backend = Open(Url("a"));
  Checkpoint other{"execgov.local/other", 5, {}};
  auto sk = LoadOrCreateKey(Url("a"), key_);
  ASSERT_TRUE(sk.ok());
  auto p = ProveConsistency(*backend, *SignCheckpoint(other, *sk), &key);
  EXPECT_EQ(p.status().code(), StatusCode::kPermissionDenied);
  Checkpoint empty{ParseCheckpoint(LatestCheckpoint(Url("a")))->origin, 0, EmptyRoot()};
  EXPECT_EQ(ProveConsistency(*backend, *SignCheckpoint(empty, *sk), &key).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace execgov::ledger
