// The C2SP tlog-witness (ledger/witness.h) and its client
// (ledger/witness_client.h): cosignatures that verify, the protocol's
// answers in the order they are checked, state that survives a restart,
// and every inconsistent checkpoint — a rollback, a fork at the same size
// or later — refused.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "core/clock.h"
#include "core/file.h"
#include "crypto/encoding.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/witness.h"
#include "ledger/witness_client.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;

constexpr char kOrigin[] = "execgov.local/cluster-a/ledger";

std::vector<Hash> Leaves(int n, const std::string& salt = "") {
  std::vector<Hash> out;
  for (int i = 0; i < n; ++i) out.push_back(LeafHash("record " + salt + std::to_string(i)));
  return out;
}

// Sends requests straight to a Witness, as the HTTP server would.
class DirectClient : public kube::HttpClient {
 public:
  explicit DirectClient(Witness* w) : w_(w) {}
  StatusOr<kube::HttpResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string&) override {
    EXPECT_EQ(method, "POST");
    EXPECT_EQ(path, "/add-checkpoint");
    bodies.push_back(body);
    auto r = w_->AddCheckpoint(body);
    return kube::HttpResponse{r.status, r.body, -1};
  }
  std::vector<std::string> bodies;

 private:
  Witness* w_;
};

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-witness-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    state_ = (dir_ / "witness.json").string();
    log_key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
    witness_key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Witness> Open() {
    auto vkey = FormatNoteVerifierKey(kOrigin, kNoteAlgEd25519, log_key_.Public());
    auto witness = Witness::Open(WitnessOptions{"witness.test/w1", witness_key_, state_, {*ParseNoteVerifierKey(*vkey)}, &clock_});
    EXPECT_TRUE(witness.ok()) << witness.status().message();
    return witness.ok() ? std::move(witness).value() : nullptr;
  }
  std::string Note(const std::vector<Hash>& leaves, uint64_t size, const crypto::PrivateKey* key = nullptr) {
    return *SignCheckpoint({kOrigin, size, RootOf({leaves.begin(), leaves.begin() + static_cast<ptrdiff_t>(size)})},
                           key ? *key : log_key_);
  }
  static std::string Body(uint64_t old, const std::vector<Hash>& proof, const std::string& note) {
    std::string b = "old " + std::to_string(old) + "\n";
    for (const auto& h : proof) b += crypto::Base64Encode(crypto::HashBytes(h)) + "\n";
    return b + "\n" + note;
  }
  NoteVerifierKeyParts WitnessVkey() {
    return *ParseNoteVerifierKey(*FormatNoteVerifierKey("witness.test/w1", kNoteAlgCosignatureV1, witness_key_.Public()));
  }

  fs::path dir_;
  std::string state_;
  crypto::PrivateKey log_key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  crypto::PrivateKey witness_key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  FakeClock clock_{1790000000};
};

TEST(CosignatureTest, VerifierKeysRoundTripAndAreChecked) {
  auto key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  auto vkey = FormatNoteVerifierKey("w.example/1", kNoteAlgCosignatureV1, key.Public());
  ASSERT_TRUE(vkey.ok());
  auto parsed = ParseNoteVerifierKey(*vkey);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->name, "w.example/1");
  EXPECT_EQ(parsed->type, kNoteAlgCosignatureV1);
  // The same key named otherwise, or with another ID, is refused.
  std::string renamed = "w.example/2" + vkey->substr(vkey->find('+'));
  EXPECT_FALSE(ParseNoteVerifierKey(renamed).ok());
  std::string other_id = *vkey;
  other_id[other_id.find('+') + 1] = other_id[other_id.find('+') + 1] == '0' ? '1' : '0';
  EXPECT_FALSE(ParseNoteVerifierKey(other_id).ok());
  for (const char* bad : {"", "a+b", "a+00000000+", "a b+00000000+AQ==", "a+0000000+AAAA"}) {
    EXPECT_FALSE(ParseNoteVerifierKey(bad).ok()) << bad;
  }
}

TEST(CosignatureTest, ACosignatureVerifiesOnlyOverItsCheckpoint) {
  auto key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  auto vkey = *ParseNoteVerifierKey(*FormatNoteVerifierKey("w.example/1", kNoteAlgCosignatureV1, key.Public()));
  std::string text = "example.com/log\n5\n" + crypto::Base64Encode(std::string(32, 'a')) + "\n";
  auto line = Cosign("w.example/1", key, text, 1700000000);
  ASSERT_TRUE(line.ok());
  std::string l = line->substr(0, line->size() - 1);
  auto t = VerifyCosignature(vkey, text, {l});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, 1700000000u);
  std::string other = "example.com/log\n6\n" + crypto::Base64Encode(std::string(32, 'a')) + "\n";
  EXPECT_EQ(VerifyCosignature(vkey, other, {l}).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifyCosignature(vkey, text, {}).status().code(), StatusCode::kNotFound);
}

TEST_F(WitnessTest, CosignsTheFirstCheckpointAndThenOnlyExtensions) {
  auto w = Open();
  auto leaves = Leaves(300);
  std::string n100 = Note(leaves, 100);
  auto r = w->AddCheckpoint(Body(0, {}, n100));
  ASSERT_EQ(r.status, 200) << r.body;
  auto parts = *SplitNote(n100);
  auto t = VerifyCosignature(WitnessVkey(), parts.text, {r.body.substr(0, r.body.size() - 1)});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, 1790000000u);

  // An extension with its proof.
  std::string n300 = Note(leaves, 300);
  EXPECT_EQ(w->AddCheckpoint(Body(100, ConsistencyProof(100, 300, leaves), n300)).status, 200);
  // The same checkpoint again: cosigned again, with an empty proof.
  EXPECT_EQ(w->AddCheckpoint(Body(300, {}, n300)).status, 200);
  EXPECT_EQ(w->State().at(kOrigin).size, 300u);
}

TEST_F(WitnessTest, RefusesWhatIsNotConsistentWithWhatItCosigned) {
  auto w = Open();
  auto leaves = Leaves(400);
  ASSERT_EQ(w->AddCheckpoint(Body(0, {}, Note(leaves, 200))).status, 200);

  // A stale old size: 409 with the size it cosigned, as text/x.tlog.size.
  auto conflict = w->AddCheckpoint(Body(0, {}, Note(leaves, 300)));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.content_type, "text/x.tlog.size");
  EXPECT_EQ(conflict.body, "200\n");
  // A rollback: a checkpoint below the cosigned size.
  EXPECT_EQ(w->AddCheckpoint(Body(200, {}, Note(leaves, 150))).status, 400);
  // A fork at the same size: the same size, another root.
  auto forked = Leaves(400, "fork");
  EXPECT_EQ(w->AddCheckpoint(Body(200, {}, Note(forked, 200))).status, 409);
  // A fork later on: the forked tree's own proof does not lead from the cosigned root.
  auto r = w->AddCheckpoint(Body(200, ConsistencyProof(200, 400, forked), Note(forked, 400)));
  EXPECT_EQ(r.status, 422) << r.body;
  // A good tree with a damaged proof.
  auto proof = ConsistencyProof(200, 400, leaves);
  proof[0][0] ^= 1;
  EXPECT_EQ(w->AddCheckpoint(Body(200, proof, Note(leaves, 400))).status, 422);
  // Nothing moved: still 200.
  EXPECT_EQ(w->State().at(kOrigin).size, 200u);
  EXPECT_EQ(w->AddCheckpoint(Body(200, ConsistencyProof(200, 400, leaves), Note(leaves, 400))).status, 200);
}

TEST_F(WitnessTest, AnswersTheProtocolsOtherErrors) {
  auto w = Open();
  auto leaves = Leaves(10);
  std::string note = Note(leaves, 10);
  // Unknown origin: 404.
  std::string other = *SignCheckpoint({"example.com/other", 10, RootOf(leaves)}, log_key_);
  EXPECT_EQ(w->AddCheckpoint(Body(0, {}, other)).status, 404);
  // Signed by another key: 403.
  auto stranger = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  EXPECT_EQ(w->AddCheckpoint(Body(0, {}, Note(leaves, 10, &stranger))).status, 403);
  // Malformed: 400.
  for (const std::string& body : {std::string(""), std::string("old 0\n"), "old x\n\n" + note, "old 01\n\n" + note,
                                  "new 0\n\n" + note, "old 0\nnot base64\n\n" + note, std::string("old 0\n\nnot a note\n"),
                                  "old 0\n" + crypto::Base64Encode(std::string(32, 'a')) + "\n\n" + note}) {
    EXPECT_EQ(w->AddCheckpoint(body).status, 400) << body;
  }
  std::vector<Hash> long_proof(64, Hash{});
  EXPECT_EQ(w->AddCheckpoint(Body(5, long_proof, note)).status, 400);
  EXPECT_EQ(w->AddCheckpoint(std::string(kMaxWitnessRequestBytes + 1, 'x')).status, 400);
  EXPECT_TRUE(w->State().empty());
}

TEST_F(WitnessTest, StateSurvivesARestartAndIsHeldByOneWitness) {
  auto leaves = Leaves(50);
  {
    auto w = Open();
    ASSERT_EQ(w->AddCheckpoint(Body(0, {}, Note(leaves, 30))).status, 200);
    // A second witness on the same state is refused while the first runs.
    auto vkey = FormatNoteVerifierKey(kOrigin, kNoteAlgEd25519, log_key_.Public());
    auto second = Witness::Open(WitnessOptions{"witness.test/w1", witness_key_, state_, {*ParseNoteVerifierKey(*vkey)}, &clock_});
    EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  }
  auto w = Open();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->State().at(kOrigin).size, 30u);
  auto conflict = w->AddCheckpoint(Body(0, {}, Note(leaves, 50)));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body, "30\n");
  auto forked = Leaves(50, "fork");
  EXPECT_EQ(w->AddCheckpoint(Body(30, ConsistencyProof(30, 50, forked), Note(forked, 50))).status, 422);
}

TEST_F(WitnessTest, AStateFileThatIsNotOneIsRefused) {
  ASSERT_TRUE(WriteFileAtomic(state_, "{\"version\":1,\"logs\":{\"x\":{\"size\":1,\"root\":\"AA==\"}}}", 0600).ok());
  auto vkey = FormatNoteVerifierKey(kOrigin, kNoteAlgEd25519, log_key_.Public());
  auto w = Witness::Open(WitnessOptions{"witness.test/w1", witness_key_, state_, {*ParseNoteVerifierKey(*vkey)}, &clock_});
  EXPECT_EQ(w.status().code(), StatusCode::kDataLoss);
}

TEST_F(WitnessTest, TheClientLearnsTheWitnessSizeAndProvesFromIt) {
  auto w = Open();
  DirectClient http(w.get());
  auto leaves = Leaves(700);
  auto first = RequestCosignature(http, WitnessVkey(), Note(leaves, 256), leaves);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->witness_size, 0u);
  // Without a hint: old 0, a 409 naming 256, then the proof from 256.
  auto second = RequestCosignature(http, WitnessVkey(), Note(leaves, 700), leaves);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->witness_size, 256u);
  EXPECT_EQ(http.bodies.size(), 3u);
  // The cosigned checkpoint counts the witness.
  std::string cosigned = AddCosignatures(Note(leaves, 700), {second->line});
  EXPECT_EQ(*CountCosignatures(cosigned, {WitnessVkey()}), 1u);
  EXPECT_EQ(*CountCosignatures(Note(leaves, 700), {WitnessVkey()}), 0u);
  // A rolled-back ledger: the witness has cosigned more than it shows.
  auto rolled = RequestCosignature(http, WitnessVkey(), Note(leaves, 600), leaves);
  EXPECT_EQ(rolled.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(rolled.status().message().find("rolled back or forked"), std::string::npos);
  // A fork: refused, naming the witness's answer.
  auto forked = Leaves(900, "fork");
  auto refused = RequestCosignature(http, WitnessVkey(), Note(forked, 900), forked, 700);
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("422"), std::string::npos) << refused.status().message();
}

}  // namespace
}  // namespace execgov::ledger
