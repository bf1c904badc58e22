// Retention of the ConfigMap ledger (ledger/retention.h) against the real
// kube-apiserver of the control-plane fixture (hack/testenv.sh;
// EXECGOV_TESTENV_DIR names the instance): old segments move to a file:
// archive, the cluster keeps the rest and a signed base, and the two
// together verify as one ledger. Each test works in its own namespace.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include "core/clock.h"
#include "crypto/encoding.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "ledger/checkpoint.h"
#include "ledger/configmap_backend.h"
#include "ledger/retention.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

using nlohmann::json;

class ConfigMapRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("EXECGOV_TESTENV_DIR");
    ASSERT_NE(dir, nullptr) << "no control plane: EXECGOV_TESTENV_DIR is not set (run through ctest -L e2e)";
    std::string kubeconfig = std::string(dir) + "/kubeconfig";
    ::setenv("KUBECONFIG", kubeconfig.c_str(), 1);
    auto config = kube::LoadKubeconfig(kubeconfig);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto client = kube::NewClient(*config);
    ASSERT_TRUE(client.ok());
    client_ = std::move(client).value();
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& c : test) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ns_ = "retain-" + std::to_string(::getpid()) + "-" + test.substr(0, 30);
    auto created = client_->Create("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                          {"metadata", {{"name", ns_}}}});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    char tmpl[] = "/tmp/execgov-retain-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    key_path_ = dir_ + "/ledger.key";
    archive_path_ = dir_ + "/archive.jsonl";
    ASSERT_TRUE(WriteFileAtomic(key_path_, key_.ToPkcs8Pem(), 0600).ok());
  }
  void TearDown() override {
    if (client_) (void)client_->Delete("/api/v1/namespaces/" + ns_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string Url() const { return "configmap://" + ns_ + "/audit"; }
  std::string Archive() const { return "file:" + archive_path_; }
  LedgerOptions Options() const {
    LedgerOptions o;
    o.signing_key_path = key_path_;
    o.checkpoint_every_records = 100;
    o.origin = origin_;
    return o;
  }
  RetentionOptions Retain(uint64_t keep) const {
    RetentionOptions o;
    o.keep_segments = keep;
    o.archive_url = Archive();
    o.now = SystemClock::Get().Now();
    o.min_age = std::chrono::seconds(0);
    return o;
  }
  bool Exists(const std::string& name) { return client_->Get(kube::ConfigMapPath(ns_, name)).ok(); }

  // A ledger on 2 KiB segments with `n` entries, whose background merger
  // has made segment `segments`-1.
  std::unique_ptr<Ledger> Filled(int n, int segments, std::function<void(int, json&)> edit = nullptr) {
    auto ledger = OpenLedger(Url() + "?segment-bytes=2048", Options());
    EXPECT_TRUE(ledger.ok()) << ledger.status().ToString();
    if (!ledger.ok()) return nullptr;
    for (int i = 0; i < n; ++i) {
      json e = testing::Entry(i);
      if (edit) edit(i, e);
      auto a = (*ledger)->Append(e);
      EXPECT_TRUE(a.ok()) << a.status().ToString();
    }
    char name[32];
    std::snprintf(name, sizeof name, "audit-%06d", segments - 1);
    for (int i = 0; i < 400 && !Exists(name); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    EXPECT_TRUE(Exists(name)) << "the merger did not make " << name;
    return std::move(ledger).value();
  }

  // The whole history: the archive joined to the cluster's part.
  VerifyResult VerifyJoined() {
    auto kept = OpenBackend(Url(), BackendOptions{.read_only = true});
    auto archive = OpenBackend(Archive(), BackendOptions{.read_only = true});
    EXPECT_TRUE(kept.ok() && archive.ok());
    auto joined = JoinArchive(std::move(archive).value(), std::move(kept).value(), key_.Public());
    EXPECT_TRUE(joined.ok()) << joined.status().ToString();
    VerifyOptions vo;
    vo.checkpoint_key = key_.Public();
    auto r = VerifyLedger(**joined, vo);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) return *r;
    VerifyResult failed;
    failed.problem = Problem::kMalformed;
    failed.message = r.status().ToString();
    return failed;
  }

  // How many of the records the cluster keeps satisfy `match`.
  int KeptMatching(const std::function<bool(std::string_view)>& match) {
    auto kept = OpenBackend(Url(), BackendOptions{.read_only = true});
    int n = 0;
    EXPECT_TRUE((*kept)->Scan(*(*kept)->First(), UINT64_MAX, [&](uint64_t, std::string_view b) {
      n += match(b);
      return Status::Ok();
    }).ok());
    return n;
  }
  int KeptContaining(std::string_view text) {
    return KeptMatching([&](std::string_view b) { return b.find(text) != std::string_view::npos; });
  }
  int RetentionRecords() { return KeptContaining("\"type\":\"retention\""); }
  // The retention records of the cut that moved records from `from` on.
  int RetentionRecordsOfCut(uint64_t from) {
    return KeptMatching([&](std::string_view b) {
      auto j = json::parse(b, nullptr, /*allow_exceptions=*/false);
      return j.is_object() && j.value("type", "") == "retention" && j.contains("moved") &&
             j["moved"].value("from", UINT64_MAX) == from;
    });
  }

  std::string ns_, dir_, key_path_, archive_path_;
  std::string origin_;  // LedgerOptions::origin (empty: the store's)
  std::unique_ptr<kube::Client> client_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
};

TEST_F(ConfigMapRetentionTest, MovesOldSegmentsKeepsAppendingAndVerifiesOnlyWithTheArchive) {
  auto ledger = Filled(60, 7);
  ASSERT_NE(ledger, nullptr);
  auto moved = RunRetention(Url(), *ledger, key_, Retain(2));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_GE(moved->moved_segments, 5u);
  EXPECT_GT(moved->first_seq, 0u);
  EXPECT_EQ(moved->moved_records, moved->first_seq);
  EXPECT_TRUE(moved->held_by.empty()) << moved->held_by;
  EXPECT_FALSE(Exists("audit-000000"));
  EXPECT_FALSE(Exists("audit-000004"));
  EXPECT_TRUE(Exists("audit-base"));
  EXPECT_EQ(RetentionRecords(), 1);

  // The writer that was open across the cut goes on appending.
  for (int i = 60; i < 80; ++i) ASSERT_TRUE(ledger->Append(testing::Entry(i)).ok());
  ASSERT_TRUE(ledger->Close().ok());

  // Without the archive: a clear refusal naming it.
  {
    auto kept = OpenBackend(Url(), BackendOptions{.read_only = true});
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(*(*kept)->First(), moved->first_seq);
    auto r = VerifyLedger(**kept, VerifyOptions{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("were moved to " + Archive()), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("pass --archive"), std::string::npos);
  }
  // With it: one chain, every record, every checkpoint signed.
  auto whole = VerifyJoined();
  EXPECT_TRUE(whole.ok()) << whole.message;
  EXPECT_GE(whole.size, 80u + 1u);  // the entries, the retention record, checkpoints
  EXPECT_GE(whole.checkpoints, 1u);

  // A fresh writer and an observer on the trimmed ledger start at the base.
  std::vector<uint64_t> observed;
  LedgerOptions o = Options();
  o.observe = [&](uint64_t seq, std::string_view) { observed.push_back(seq); };
  auto fresh = OpenLedger(Url(), o);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  ASSERT_TRUE((*fresh)->CatchUp().ok());
  ASSERT_FALSE(observed.empty());
  EXPECT_EQ(observed.front(), moved->first_seq);
  auto a = (*fresh)->Append(testing::Entry(1000));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->seq, whole.size);
  ASSERT_TRUE((*fresh)->Close().ok());
  auto after = VerifyJoined();
  EXPECT_TRUE(after.ok()) << after.message;
  EXPECT_GT(after.size, whole.size);
}

TEST_F(ConfigMapRetentionTest, ATamperedArchivedRecordIsNamedBySeq) {
  auto ledger = Filled(40, 5);
  ASSERT_NE(ledger, nullptr);
  auto moved = RunRetention(Url(), *ledger, key_, Retain(1));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  ASSERT_GT(moved->first_seq, 8u);
  ASSERT_TRUE(ledger->Close().ok());
  ASSERT_TRUE(VerifyJoined().ok());
  // One byte of record 7's content, the same length: its hash moves.
  std::string text;
  {
    std::ifstream in(archive_path_, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  size_t at = text.find("\"job-7\"");
  ASSERT_NE(at, std::string::npos);
  text[at + 2] = 'X';
  {
    std::ofstream out(archive_path_, std::ios::binary | std::ios::trunc);
    out << text;
  }
  auto r = VerifyJoined();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.bad_seq, 7u) << r.message;
}

// A store whose n-th base write fails: the crash between the retention
// record and the base noting it.
class FailingStore final : public SegmentStore {
 public:
  FailingStore(SegmentStore* inner, int fail_base_write) : inner_(inner), fail_(fail_base_write) {}
  StatusOr<std::optional<RetentionBase>> ReadBase() override { return inner_->ReadBase(); }
  StatusOr<std::string> WriteBase(const RetentionBase& b) override {
    if (fail_-- == 0) return Unavailable("injected crash");
    return inner_->WriteBase(b);
  }
  StatusOr<std::optional<Segment>> ReadSegment(uint64_t i) override { return inner_->ReadSegment(i); }
  Status DeleteSegment(uint64_t i) override { return inner_->DeleteSegment(i); }
  Status ScanKept(uint64_t from, const Backend::RecordFn& fn) override { return inner_->ScanKept(from, fn); }
  std::string StoreOrigin() const override { return inner_->StoreOrigin(); }

 private:
  SegmentStore* inner_;
  int fail_;
};

// A ledger whose checkpoints are not signed under the store's name (a new
// in-cluster ledger is named after the cluster) keeps that origin when
// reopened with another, and a cut made with it signs the base under it too,
// so the base's note and the checkpoints name one log.
TEST_F(ConfigMapRetentionTest, TheBaseIsSignedUnderTheLedgersOwnOrigin) {
  origin_ = "execgov.local/cluster/test-uid/" + ns_ + "/audit";
  auto ledger = Filled(50, 6);
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->Origin(), origin_);
  ASSERT_TRUE(ledger->Checkpoint().ok());
  std::string configured = origin_;
  origin_ = "another.example/audit";  // a changed flag must not rename it
  auto reopened = OpenLedger(Url(), Options());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->Origin(), configured);
  RetentionOptions o = Retain(2);
  o.origin = (*reopened)->Origin();
  auto moved = RunRetention(Url(), **reopened, key_, o);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  ASSERT_GT(moved->moved_segments, 0u);
  auto kept = OpenBackend(Url(), BackendOptions{.read_only = true});
  ASSERT_TRUE(kept.ok());
  auto base = ReadRetentionBase(**kept);
  ASSERT_TRUE(base.ok() && base->has_value());
  auto cp = ParseCheckpoint((*base)->checkpoint);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->origin, configured);
  ASSERT_TRUE((*reopened)->Close().ok());
  ASSERT_TRUE(ledger->Close().ok());
  auto r = VerifyJoined();
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST_F(ConfigMapRetentionTest, ACrashBetweenStepsIsCompletedByARerun) {
  auto ledger = Filled(50, 6);
  ASSERT_NE(ledger, nullptr);
  for (int fail_at : {0, 1}) {  // before the base; after the record, before the base notes it
    auto kept = OpenBackend(Url(), BackendOptions{.read_only = true});
    auto archive = OpenBackend(Archive(), BackendOptions{});
    ASSERT_TRUE(kept.ok() && archive.ok());
    FailingStore store(AsSegmentStore(**kept), fail_at);
    RetentionOptions o = Retain(fail_at == 0 ? 4 : 2);
    auto crashed = MoveOldSegments(store, **archive, *ledger, key_, o);
    ASSERT_FALSE(crashed.ok());
    EXPECT_TRUE(Exists("audit-000000")) << "a segment was deleted before the move was recorded";
    (void)(*archive)->Close();
  }
  auto rerun = RunRetention(Url(), *ledger, key_, Retain(2));
  ASSERT_TRUE(rerun.ok()) << rerun.status().ToString();
  EXPECT_TRUE(rerun->completed_earlier);
  EXPECT_FALSE(Exists("audit-000000"));
  ASSERT_TRUE(ledger->Close().ok());
  // The rerun may go on to a second cut (the merger made more segments
  // meanwhile); the crashed one, from seq 0, is recorded once.
  EXPECT_EQ(RetentionRecordsOfCut(0), 1) << "the rerun recorded the cut again";
  auto r = VerifyJoined();
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST_F(ConfigMapRetentionTest, ASegmentWithAnUnexpiredConsumptionStays) {
  int64_t now = SystemClock::Get().NowUnix();
  // Entry 12 consumes a jti for another hour; entry 3's consumption expired.
  auto ledger = Filled(50, 6, [&](int i, json& e) {
    if (i == 12) e["replay"] = {{"exp", now + 3600}, {"op", "consume"}};
    if (i == 3) e["replay"] = {{"exp", now - 60}, {"op", "consume"}};
  });
  ASSERT_NE(ledger, nullptr);
  auto moved = RunRetention(Url(), *ledger, key_, Retain(1));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_NE(moved->held_by.find("consumption that has not expired"), std::string::npos) << moved->held_by;
  EXPECT_LE(moved->first_seq, 12u);
  EXPECT_GT(moved->first_seq, 3u);
  EXPECT_EQ(KeptContaining("\"jti-12\""), 1) << "the unexpired consumption left the cluster";
  ASSERT_TRUE(ledger->Close().ok());
}

// A writer idle while others appended, merged and a move took the segments
// its view would read next: once its view is kConfigMapViewRefresh old it
// reads the base before building, so its record lands in the chain rather
// than as an orphan batch nobody reads. (Waits out the refresh: ~1 minute.)
TEST_F(ConfigMapRetentionTest, AWriterIdleAcrossAMoveStartsAgainFromTheBase) {
  // Quiet until the late append: no timed checkpoint (a write inside the
  // refresh would be what min_age, 0 here, protects).
  LedgerOptions quiet = Options();
  quiet.checkpoint_every = std::chrono::hours(1);
  auto idle = OpenLedger(Url() + "?segment-bytes=2048", quiet);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  ASSERT_TRUE((*idle)->Append(testing::Entry(0)).ok());
  auto busy = Filled(50, 6);
  ASSERT_NE(busy, nullptr);
  auto moved = RunRetention(Url(), *busy, key_, Retain(1));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  ASSERT_GE(moved->moved_segments, 4u);
  ASSERT_TRUE(busy->Close().ok());
  std::this_thread::sleep_for(kConfigMapViewRefresh + std::chrono::seconds(2));
  auto late = (*idle)->Append(testing::Entry(4242));
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_GT(late->seq, moved->first_seq);
  ASSERT_TRUE((*idle)->Close().ok());
  EXPECT_EQ(KeptContaining("\"job-4242\""), 1) << "the late record is not in the chain";
  auto r = VerifyJoined();
  EXPECT_TRUE(r.ok()) << r.message;
}

}  // namespace
}  // namespace execgov::ledger
