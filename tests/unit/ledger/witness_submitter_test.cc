// The operator's submission of checkpoints to witnesses
// (ledger/witness_submitter.h), against real execgov witnesses
// (ledger/witness.h) and a real file ledger: each new checkpoint cosigned
// and kept beside the ledger, the 409 answered with the right proof, a
// witness away backed off (on a fake clock) without holding up the others,
// a fork refused and never replacing what was kept, the metrics, and a
// restarted submitter that goes on from what was kept.
#include <unistd.h>

#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <filesystem>
#include <sstream>

#include "core/clock.h"
#include "core/file.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/witness.h"
#include "ledger/witness_client.h"
#include "ledger/witness_submitter.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;
constexpr char kOrigin[] = "execgov.local/submitter-test";

// Answers from a Witness directly, as its HTTP server would; `down` makes
// it unreachable.
class DirectClient : public kube::HttpClient {
 public:
  DirectClient(Witness* w, int* calls, bool* down) : w_(w), calls_(calls), down_(down) {}
  StatusOr<kube::HttpResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                       const std::string&) override {
    ++*calls_;
    if (*down_) return Unavailable("connection refused");
    EXPECT_EQ(method, "POST");
    EXPECT_EQ(path, "/add-checkpoint");
    auto r = w_->AddCheckpoint(body);
    return kube::HttpResponse{r.status, r.body, -1};
  }

 private:
  Witness* w_;
  int* calls_;
  bool* down_;
};

struct TestWitness {
  std::string name;
  crypto::PrivateKey key = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  std::unique_ptr<Witness> witness;
  int calls = 0;
  bool down = false;
  NoteVerifierKeyParts Vkey() const {
    return *ParseNoteVerifierKey(*FormatNoteVerifierKey(name, kNoteAlgCosignatureV1, key.Public()));
  }
};

class WitnessSubmitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("execgov-submitter-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    url_ = "file:" + (dir_ / "ledger.jsonl").string();
    key_ = (dir_ / "ledger.key").string();
    a_.name = "witness.test/a";
    b_.name = "witness.test/b";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Append(int n, const std::string& salt = "r") {
    LedgerOptions o;
    o.signing_key_path = key_;
    o.origin = kOrigin;
    o.clock = &clock_;
    auto ledger = OpenLedger(url_, o);
    ASSERT_TRUE(ledger.ok()) << ledger.status().message();
    for (int i = 0; i < n; ++i) ASSERT_TRUE((*ledger)->Append({{"type", "test"}, {"n", salt + std::to_string(i)}}).ok());
    ASSERT_TRUE((*ledger)->Close().ok());  // with a final checkpoint
  }
  void StartWitness(TestWitness& w) {
    auto pub = crypto::PublicKey::FromPem(*ReadFile(key_ + ".pub"));
    auto log_vkey = ParseNoteVerifierKey(*FormatNoteVerifierKey(kOrigin, kNoteAlgEd25519, *pub));
    auto opened = Witness::Open(
        WitnessOptions{w.name, w.key, (dir_ / (w.name.substr(13) + ".state")).string(), {*log_vkey}, &clock_});
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    w.witness = std::move(opened).value();
  }
  std::unique_ptr<WitnessSubmitter> Submitter(std::vector<TestWitness*> ws) {
    reader_ = std::move(OpenBackend(url_, BackendOptions{.read_only = true})).value();
    store_ = FileCosignedStore((dir_ / "ledger.jsonl.cosigned").string());
    WitnessSubmitterOptions o;
    for (auto* w : ws) o.witnesses.push_back({"http://" + w->name, w->Vkey()});
    o.connect = [ws](const std::string& url) -> StatusOr<std::unique_ptr<kube::HttpClient>> {
      for (auto* w : ws) {
        if (url == "http://" + w->name) return std::unique_ptr<kube::HttpClient>(new DirectClient(w->witness.get(), &w->calls, &w->down));
      }
      return NotFound(url);
    };
    o.clock = &clock_;
    o.registry = &registry_;
    return std::make_unique<WitnessSubmitter>(reader_.get(), store_.get(), o);
  }
  std::string Stored() { return *ReadFile((dir_ / "ledger.jsonl.cosigned").string()); }
  uint64_t StoredSize() { return ParseCheckpoint(Stored())->size; }
  size_t Cosignatures(const std::vector<TestWitness*>& ws) {
    std::vector<NoteVerifierKeyParts> keys;
    for (auto* w : ws) keys.push_back(w->Vkey());
    return *CountCosignatures(Stored(), keys);
  }
  std::string Metrics() {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_.Collect());
    return out.str();
  }

  fs::path dir_;
  std::string url_, key_;
  FakeClock clock_{1790000000};
  TestWitness a_, b_;
  prometheus::Registry registry_;
  std::unique_ptr<Backend> reader_;
  std::unique_ptr<CosignedStore> store_;
};

TEST_F(WitnessSubmitterTest, EachNewCheckpointIsCosignedAndKeptBesideTheLedger) {
  Append(100);
  StartWitness(a_);
  StartWitness(b_);
  auto s = Submitter({&a_, &b_});
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(StoredSize(), 100u);
  EXPECT_EQ(Cosignatures({&a_, &b_}), 2u);
  EXPECT_EQ(s->WitnessedSize(), 100u);
  // Nothing new: nobody is asked again.
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(a_.calls, 1);
  EXPECT_EQ(b_.calls, 1);

  Append(50);  // size 150 (the first checkpoint record is a record too)
  ASSERT_TRUE(s->Pass().ok());
  uint64_t size = StoredSize();
  EXPECT_GT(size, 100u);
  EXPECT_EQ(Cosignatures({&a_, &b_}), 2u);
  EXPECT_EQ(a_.witness->State().at(kOrigin).size, size);
  std::string m = Metrics();
  EXPECT_NE(m.find("execgov_ledger_witnessed_size " + std::to_string(size)), std::string::npos) << m;
  EXPECT_NE(m.find("execgov_ledger_witnessed_timestamp_seconds 1790000000"), std::string::npos) << m;
  EXPECT_NE(m.find("execgov_witness_cosigned_size{witness=\"witness.test/a\"} " + std::to_string(size)), std::string::npos);
}

TEST_F(WitnessSubmitterTest, AWitnessAwayIsBackedOffWithoutHoldingUpTheOthers) {
  Append(20);
  StartWitness(a_);
  StartWitness(b_);
  b_.down = true;
  auto s = Submitter({&a_, &b_});
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(Cosignatures({&a_, &b_}), 1u);  // a's, kept at once
  EXPECT_EQ(b_.calls, 1);
  auto p = s->Progress();
  EXPECT_EQ(p[1].reason, "unreachable");
  EXPECT_EQ(p[1].failures, 1);
  EXPECT_NE(Metrics().find("execgov_witness_cosign_errors_total{reason=\"unreachable\",witness=\"witness.test/b\"} 1"),
            std::string::npos) << Metrics();
  // Within the backoff b is not asked; after it, it is (and the backoff doubles).
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(b_.calls, 1);
  clock_.Advance(std::chrono::seconds(5));
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(b_.calls, 2);
  clock_.Advance(std::chrono::seconds(9));
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(b_.calls, 2);
  clock_.Advance(std::chrono::seconds(1));
  b_.down = false;
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(b_.calls, 3);
  // b's cosignature joins a's on the same checkpoint.
  EXPECT_EQ(Cosignatures({&a_, &b_}), 2u);
  EXPECT_EQ(s->Progress()[1].failures, 0);
}

TEST_F(WitnessSubmitterTest, AWitnessThatCosignedMoreIsAnsweredWithTheProofFromItsSize) {
  Append(40);
  StartWitness(a_);
  {
    auto first = Submitter({&a_});
    ASSERT_TRUE(first->Pass().ok());
  }
  uint64_t first_size = StoredSize();
  fs::remove(dir_ / "ledger.jsonl.cosigned");  // a new writer knows nothing of it
  Append(30);
  auto s = Submitter({&a_});
  ASSERT_TRUE(s->Pass().ok());  // old 0 -> 409 naming first_size -> the proof from there
  EXPECT_EQ(a_.calls, 3);
  EXPECT_GT(StoredSize(), first_size);
  EXPECT_EQ(Cosignatures({&a_}), 1u);
}

TEST_F(WitnessSubmitterTest, AForkIsRefusedAndNeverReplacesTheKeptCheckpoint) {
  Append(60);
  StartWitness(a_);
  auto s = Submitter({&a_});
  ASSERT_TRUE(s->Pass().ok());
  std::string kept = Stored();
  // The ledger is replaced by another, longer history under the same origin and key.
  fs::remove(dir_ / "ledger.jsonl");
  Append(90, "forged");
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(Stored(), kept);
  auto p = s->Progress();
  EXPECT_EQ(p[0].reason, "inconsistent") << p[0].error;
  EXPECT_EQ(p[0].failures, 1);
  EXPECT_NE(Metrics().find("execgov_witness_cosign_errors_total{reason=\"inconsistent\",witness=\"witness.test/a\"} 1"),
            std::string::npos);
}

TEST_F(WitnessSubmitterTest, ARestartedSubmitterGoesOnFromTheKeptCheckpoint) {
  Append(10);
  StartWitness(a_);
  ASSERT_TRUE(Submitter({&a_})->Pass().ok());
  EXPECT_EQ(a_.calls, 1);
  auto s = Submitter({&a_});
  ASSERT_TRUE(s->Pass().ok());
  EXPECT_EQ(a_.calls, 1);  // already cosigned: not asked again
  EXPECT_EQ(s->WitnessedSize(), StoredSize());
  EXPECT_NE(Metrics().find("execgov_ledger_witnessed_size " + std::to_string(StoredSize())), std::string::npos);
}

TEST(CosignedStoreTest, OnlyFileAndConfigMapLedgersKeepOne) {
  EXPECT_EQ(OpenCosignedStore("etcd://127.0.0.1:2379").status().code(), StatusCode::kInvalidArgument);
  auto store = OpenCosignedStore("file:/nonexistent/ledger.jsonl");
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Where(), "file:/nonexistent/ledger.jsonl.cosigned");
  EXPECT_EQ((*store)->Read().status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace execgov::ledger
