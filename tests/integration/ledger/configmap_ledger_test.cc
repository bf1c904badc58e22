// The ConfigMap backend against the real kube-apiserver of the control-plane
// fixture (hack/testenv.sh; EXECGOV_TESTENV_DIR names the instance). Each
// test works in its own namespace and deletes it afterwards.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "crypto/encoding.h"
#include "kube/client.h"
#include "ledger/configmap_backend.h"
#include "tamper_cases.h"
#include "writers.h"

namespace execgov::ledger {
namespace {

// Segment 0 of ledger "audit" holding `text`, as a layout-1 writer left it
// (not sealed) or sealed.
nlohmann::json SegmentZero(const std::string& text, bool sealed) {
  nlohmann::json annotations = {{"execgov.io/first-seq", "0"}};
  if (sealed) annotations["execgov.io/sealed"] = "true";
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "audit-000000"}, {"labels", {{"execgov.io/ledger", "audit"}}}, {"annotations", annotations}}},
          {"data", {{"records", text}}}};
}

struct MergedState;
class DeletingClient;

class ConfigMapLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("EXECGOV_TESTENV_DIR");
    // ctest's fixture always sets it; without it nothing was tested, so fail.
    ASSERT_NE(dir, nullptr) << "no control plane: EXECGOV_TESTENV_DIR is not set (run through ctest -L e2e)";
    kubeconfig_ = std::string(dir) + "/kubeconfig";
    ::setenv("KUBECONFIG", kubeconfig_.c_str(), 1);  // for the writer processes too
    auto config = kube::LoadKubeconfig(kubeconfig_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto client = kube::NewClient(*config);
    ASSERT_TRUE(client.ok());
    client_ = std::move(client).value();
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto& c : test) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ns_ = "ledger-" + std::to_string(::getpid()) + "-" + test.substr(0, 30);
    auto created = client_->Create("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                          {"metadata", {{"name", ns_}}}});
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    char tmpl[] = "/tmp/execgov-cm-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    key_path_ = dir_ + "/ledger.key";
    ASSERT_TRUE(WriteFileAtomic(key_path_, key_.ToPkcs8Pem(), 0600).ok());
  }
  void TearDown() override {
    if (client_) (void)client_->Delete("/api/v1/namespaces/" + ns_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string Url(const std::string& extra = "") const { return "configmap://" + ns_ + "/audit" + extra; }
  LedgerOptions Options() const {
    LedgerOptions o;
    o.signing_key_path = key_path_;
    o.checkpoint_every_records = 100;
    return o;
  }

  MergedState Merged();
  void MergeThrough(std::shared_ptr<kube::Client> client);
  std::shared_ptr<DeletingClient> Deleting(bool collections, bool unlabelled);

  std::string kubeconfig_, ns_, dir_, key_path_;
  std::unique_ptr<kube::Client> client_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
};

TEST_F(ConfigMapLedgerTest, AppendsAcrossSegmentsAndVerifies) {
  // 2 KiB segments: a few records each, so appends seal and start segments.
  auto ledger = OpenLedger(Url("?segment-bytes=2048"), Options());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  std::vector<Appended> acks;
  for (int i = 0; i < 30; ++i) {
    auto a = (*ledger)->Append(testing::Entry(i));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->seq, static_cast<uint64_t>(i));
    acks.push_back(*a);
  }
  EXPECT_TRUE(*(*ledger)->Contains(acks[5].hash));
  EXPECT_FALSE(*(*ledger)->Contains(crypto::HashToSha256Ref(LeafHash("absent"))));
  // Full runs of batches are merged in the background: wait for a few.
  StatusOr<nlohmann::json> seg = NotFound("");
  for (int i = 0; i < 200 && !seg.ok(); ++i) {
    seg = client_->Get(kube::ConfigMapPath(ns_, "audit-000003"));
    if (!seg.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(seg.ok()) << "expected several segments: " << seg.status().ToString();
  EXPECT_EQ((*seg)["metadata"]["labels"]["execgov.io/ledger"], "audit");
  EXPECT_EQ((*seg)["metadata"]["annotations"]["execgov.io/sealed"], "true");
  EXPECT_TRUE((*seg)["binaryData"].contains("records.gz")) << seg->dump();
  ASSERT_TRUE((*ledger)->Close().ok());
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.size, 31u);
}

TEST_F(ConfigMapLedgerTest, ConcurrentWritersNeverForkAcrossSegmentRollover) {
  auto a = OpenLedger(Url("?segment-bytes=8192"), Options());
  auto b = OpenLedger(Url("?segment-bytes=8192"), Options());
  ASSERT_TRUE(a.ok() && b.ok());
  std::mutex mu;
  std::set<uint64_t> seqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      Ledger& l = t % 2 ? **a : **b;
      for (int i = 0; i < 25; ++i) {
        auto r = l.Append(testing::Entry(t * 1000 + i));
        if (!r.ok()) {
          ADD_FAILURE() << r.status().ToString();
          continue;
        }
        std::lock_guard lock(mu);
        EXPECT_TRUE(seqs.insert(r->seq).second) << r->seq;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE((*b)->Close().ok());
  EXPECT_EQ(seqs.size(), 150u);
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(testing::CountEntries(Url()), 150u);
}

// Rewrites the ledger as an attacker with ConfigMap write access would:
// every record in one segment.
class ConfigMapStore : public testing::RecordStore {
 public:
  ConfigMapStore(kube::Client* client, std::string ns, std::string url)
      : client_(client), ns_(std::move(ns)), url_(std::move(url)) {}
  std::string Url() const override { return url_; }
  std::vector<std::string> Read() override {
    auto backend = OpenBackend(url_, {.read_only = true});
    std::vector<std::string> out;
    EXPECT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view r) {
      out.emplace_back(r);
      return Status::Ok();
    }).ok());
    return out;
  }
  void Write(const std::vector<std::string>& records) override {
    // Every segment and batch, then all records as one sealed segment.
    kube::ListOptions options;
    options.label_selector = "execgov.io/ledger=audit";
    auto list = client_->List(kube::ConfigMapsPath(ns_), options);
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    for (const auto& cm : list->items) (void)client_->Delete(kube::ConfigMapPath(ns_, cm["metadata"]["name"]));
    std::string text;
    for (const auto& r : records) text += r + "\n";
    auto created = client_->Create(kube::ConfigMapsPath(ns_), SegmentZero(text, /*sealed=*/true));
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

 private:
  kube::Client* client_;
  std::string ns_, url_;
};

TEST_F(ConfigMapLedgerTest, EveryTamperIsDetectedWithItsSeq) {
  testing::WriteHistory(Url(), key_path_);
  ConfigMapStore store(client_.get(), ns_, Url());
  testing::RunTamperCases(store, key_);
}

// What the store holds once the merger of a ledger of 40 records in 4096-byte
// segments has caught up (Merged() waits for it).
struct MergedState {
  size_t segments = 0, batches = 0;
  uint64_t covered = 0, lowest_batch = UINT64_MAX;
};

// Layout 2: every ConfigMap but the layout-1 tail is created once and never
// rewritten; what a full run of batches held is then in one compressed
// segment and the batches are gone.
TEST_F(ConfigMapLedgerTest, BatchesAreMergedIntoSegmentsAndDeleted) { MergeThrough(nullptr); }

MergedState ConfigMapLedgerTest::Merged() {
  // Wait for the merger to catch up: no batch below the last segment's end.
  kube::ListOptions options;
  options.label_selector = "execgov.io/ledger=audit";
  MergedState m;
  for (int round = 0; round < 200; ++round) {
    auto list = client_->List(kube::ConfigMapsPath(ns_), options);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return m;
    m = MergedState();
    for (const auto& cm : list->items) {
      std::string name = cm["metadata"]["name"];
      if (name.rfind("audit-b", 0) == 0) {
        ++m.batches;
        m.lowest_batch = std::min<uint64_t>(m.lowest_batch, std::stoull(name.substr(7)));
        EXPECT_EQ(cm["metadata"].value("annotations", nlohmann::json::object()).size(), 0u) << name;
      } else {
        ++m.segments;
        EXPECT_EQ(cm["metadata"]["annotations"]["execgov.io/sealed"], "true") << name;
        EXPECT_TRUE(cm["binaryData"].contains("records.gz")) << name;
        auto gz = crypto::Base64Decode(cm["binaryData"].value("records.gz", ""));
        EXPECT_LT(gz.value_or("").size(), 4096u) << name;
        EXPECT_TRUE(gz.has_value()) << name;
      }
    }
    if (m.segments >= 4 && m.lowest_batch != UINT64_MAX) {
      // The next unread part of the chain is the lowest batch: everything
      // below it is in segments.
      auto backend = OpenBackend(Url(), {.read_only = true});
      EXPECT_TRUE(backend.ok());
      if (!backend.ok()) return m;
      uint64_t n = 0;
      EXPECT_TRUE(
          (*backend)->Scan(0, m.lowest_batch, [&](uint64_t, std::string_view) { ++n; return Status::Ok(); }).ok());
      m.covered = n;
      // Done once the merger has caught up: a full run may wait a moment
      // for its merge, so the count is judged only when nothing is below
      // the segments and it has come down to one unfinished run.
      if (m.covered == m.lowest_batch && m.batches <= 14) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return m;
}

// Forwards every call to the real client; tests override what they watch.
class ForwardingClient : public kube::Client {
 public:
  explicit ForwardingClient(std::unique_ptr<kube::Client> real) : real_(std::move(real)) {}
  StatusOr<nlohmann::json> Get(const std::string& p) override { return real_->Get(p); }
  StatusOr<nlohmann::json> Create(const std::string& c, const nlohmann::json& o) override { return real_->Create(c, o); }
  StatusOr<nlohmann::json> Update(const std::string& p, const nlohmann::json& o) override { return real_->Update(p, o); }
  Status Delete(const std::string& p) override { return real_->Delete(p); }
  StatusOr<std::vector<std::string>> DeleteCollection(const std::string& c, const std::string& selector) override {
    return real_->DeleteCollection(c, selector);
  }
  StatusOr<kube::ListResult> List(const std::string& c, const kube::ListOptions& o) override { return real_->List(c, o); }
  Status Watch(const std::string& c, const kube::WatchOptions& o,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>& f) override {
    return real_->Watch(c, o, f);
  }
  StatusOr<nlohmann::json> Patch(const std::string& p, const nlohmann::json& j, kube::PatchType t) override {
    return real_->Patch(p, j, t);
  }
  StatusOr<nlohmann::json> UpdateStatus(const std::string& p, const nlohmann::json& o) override {
    return real_->UpdateStatus(p, o);
  }

 protected:
  std::unique_ptr<kube::Client> real_;
};

// Forwards to the real client, counting DELETEs of batches and of
// collections. Without `collections` it cannot delete a collection (the
// Client default, as with RBAC lacking deletecollection); with
// `unlabelled` batches are stored without their execgov.io/batch label, as
// a writer before 2026-12-05 stored them.
class DeletingClient : public ForwardingClient {
 public:
  DeletingClient(std::unique_ptr<kube::Client> real, bool collections, bool unlabelled)
      : ForwardingClient(std::move(real)), collections_(collections), unlabelled_(unlabelled) {}
  StatusOr<nlohmann::json> Create(const std::string& c, const nlohmann::json& o) override {
    nlohmann::json copy = o;
    if (unlabelled_) copy["metadata"]["labels"].erase("execgov.io/batch");
    return real_->Create(c, copy);
  }
  Status Delete(const std::string& p) override {
    if (p.find("/configmaps/audit-b") != std::string::npos) ++batch_deletes;
    return real_->Delete(p);
  }
  StatusOr<std::vector<std::string>> DeleteCollection(const std::string& c, const std::string& selector) override {
    ++collection_deletes;  // asked for, whether this client can or not
    if (!collections_) return kube::Client::DeleteCollection(c, selector);
    auto names = real_->DeleteCollection(c, selector);
    if (names.ok()) collected += static_cast<int>(names->size());
    return names;
  }
  std::atomic<int> batch_deletes{0}, collection_deletes{0}, collected{0};

 private:
  const bool collections_, unlabelled_;
};

// Writes 40 records in 4096-byte segments (through `client`, or the real
// client when null), lets the merger catch up, and checks that the merged
// batches are gone and the ledger whole.
void ConfigMapLedgerTest::MergeThrough(std::shared_ptr<kube::Client> client) {
  auto open = [&]() -> StatusOr<std::unique_ptr<Ledger>> {
    if (!client) return OpenLedger(Url("?segment-bytes=4096"), Options());
    EXECGOV_ASSIGN_OR_RETURN(auto backend, OpenConfigMapBackend(client, ns_, "audit", {}, 4096));
    return OpenLedger(std::move(backend), key_, Options());
  };
  auto ledger = open();
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE((*ledger)->Append(testing::Entry(i)).ok());
  MergedState m = Merged();
  EXPECT_GE(m.segments, 4u);
  EXPECT_EQ(m.covered, m.lowest_batch) << "a batch below the merged segments was not deleted";
  // What stays is one run not yet full (4096 bytes of ~350-byte records)
  // and the batch after it; a full run left behind would be 12 more.
  EXPECT_LE(m.batches, 14u) << "batches of full runs were left behind";
  ASSERT_TRUE((*ledger)->Close().ok());
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(testing::CountEntries(Url()), 40u);
}

std::shared_ptr<DeletingClient> ConfigMapLedgerTest::Deleting(bool collections, bool unlabelled) {
  auto config = kube::LoadKubeconfig(kubeconfig_);
  EXPECT_TRUE(config.ok());
  auto real = kube::NewClient(*config);
  EXPECT_TRUE(real.ok());
  return std::make_shared<DeletingClient>(std::move(real).value(), collections, unlabelled);
}

// The merger deletes a merged run with one DELETE of a collection, not one
// DELETE per batch: a delete costs the API server, etcd and the
// controller manager more than the create did.
TEST_F(ConfigMapLedgerTest, AMergedRunIsDeletedInOneRequest) {
  auto client = Deleting(/*collections=*/true, /*unlabelled=*/false);
  MergeThrough(client);
  EXPECT_EQ(client->batch_deletes, 0) << "a labelled batch was deleted by name";
  EXPECT_GE(client->collection_deletes, 4) << "one per merged segment";
  EXPECT_GE(client->collected, 4 * 8) << "each segment holds several batches";
}

// Batches stored without the label (by an older writer) are deleted by name
// after the collection missed them; so is every batch when the collection
// is refused (RBAC without deletecollection), and after that refusal the
// merger stops asking.
TEST_F(ConfigMapLedgerTest, BatchesTheCollectionMissesAreDeletedByName) {
  auto unlabelled = Deleting(/*collections=*/true, /*unlabelled=*/true);
  MergeThrough(unlabelled);
  EXPECT_GE(unlabelled->batch_deletes, 4 * 8);
  EXPECT_EQ(unlabelled->collected, 0);
}

TEST_F(ConfigMapLedgerTest, WithoutDeleteCollectionBatchesAreDeletedByName) {
  auto refused = Deleting(/*collections=*/false, /*unlabelled=*/false);
  MergeThrough(refused);
  EXPECT_GE(refused->batch_deletes, 4 * 8);
  EXPECT_EQ(refused->collection_deletes, 1) << "asked again after a refusal";
}

// A writer that built on a tail read before the batches there were merged
// and deleted stores an orphan no reader follows; it must notice, delete
// it, and append again after the real tail.
TEST_F(ConfigMapLedgerTest, AStaleWritersOrphanBatchIsDeletedAndAppendedAgain) {
  auto stale = OpenLedger(Url("?segment-bytes=2048"), Options());
  ASSERT_TRUE(stale.ok()) << stale.status().ToString();
  ASSERT_EQ((*stale)->Append(testing::Entry(0))->seq, 0u);  // its cached tail is now seq 1
  auto other = OpenLedger(Url("?segment-bytes=2048"), Options());
  ASSERT_TRUE(other.ok());
  int written = 1;
  // The other writer appends until seq 1 is in a segment and its batch gone.
  for (int i = 0; i < 200; ++i) {
    if (i < 30) {
      ASSERT_TRUE((*other)->Append(testing::Entry(100 + i)).ok());
      ++written;
    }
    auto batch = client_->Get(kube::ConfigMapPath(ns_, "audit-b000000000001"));
    auto segment = client_->Get(kube::ConfigMapPath(ns_, "audit-000000"));
    if (!batch.ok() && segment.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(client_->Get(kube::ConfigMapPath(ns_, "audit-000000")).ok()) << "nothing was merged";
  auto late = (*stale)->Append(testing::Entry(999));
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->seq, static_cast<uint64_t>(written)) << "appended after the real tail";
  ++written;
  EXPECT_FALSE(client_->Get(kube::ConfigMapPath(ns_, "audit-b000000000001")).ok()) << "the orphan is left behind";
  ASSERT_TRUE((*stale)->Close().ok());
  ASSERT_TRUE((*other)->Close().ok());
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(testing::CountEntries(Url()), static_cast<uint64_t>(written));
}

// Forwards to the real client, counting each GET that found its object, by path.
class CountingClient : public ForwardingClient {
 public:
  using ForwardingClient::ForwardingClient;
  StatusOr<nlohmann::json> Get(const std::string& path) override {
    auto got = real_->Get(path);
    if (got.ok()) {
      std::lock_guard lock(mu_);
      ++gets_[path];
    }
    return got;
  }
  // Found GETs of batches (names "<origin>-b<seq>"): all, and the most of one name.
  std::pair<size_t, size_t> BatchGets() {
    std::lock_guard lock(mu_);
    size_t total = 0, most = 0;
    for (const auto& [path, n] : gets_) {
      if (path.find("/configmaps/audit-b") == std::string::npos) continue;
      total += n;
      most = std::max(most, n);
    }
    return {total, most};
  }

 private:
  std::mutex mu_;
  std::map<std::string, size_t> gets_;
};

// The operator follows the tail with its index's read-only backend and its
// writer's view (Tail, before each merge), in either order: each batch
// another writer stored is read from the API server once, not once by each.
TEST_F(ConfigMapLedgerTest, AFollowerReadsEachBatchOnce) {
  auto writer = OpenLedger(Url(), Options());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto config = kube::LoadKubeconfig(kubeconfig_);
  ASSERT_TRUE(config.ok());
  auto real = kube::NewClient(*config);
  ASSERT_TRUE(real.ok());
  auto counting = std::make_shared<CountingClient>(std::move(real).value());
  // Read-only, so neither starts the watch that would hand them the batches.
  auto view = OpenConfigMapBackend(counting, ns_, "audit", {.read_only = true});
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  auto index = OpenConfigMapBackend(counting, ns_, "audit", {.read_only = true});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  uint64_t seen = 0;
  auto scan = [&] {
    return (*index)->Scan(seen, UINT64_MAX, [&](uint64_t seq, std::string_view) {
      seen = seq + 1;
      return Status::Ok();
    });
  };
  size_t batches = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 5; ++i, ++batches) ASSERT_TRUE((*writer)->Append(testing::Entry(round * 10 + i)).ok());
    if (round % 2 == 0) {
      ASSERT_TRUE(scan().ok());
      ASSERT_TRUE((*view)->Tail().ok());
    } else {
      ASSERT_TRUE((*view)->Tail().ok());
      ASSERT_TRUE(scan().ok());
    }
    auto tail = (*view)->Tail();
    ASSERT_TRUE(tail.ok());
    EXPECT_EQ(seen, tail->size);
  }
  auto [total, most] = counting->BatchGets();
  EXPECT_EQ(most, 1u) << "a batch was read more than once";
  EXPECT_EQ(total, batches);
  ASSERT_TRUE((*writer)->Close().ok());
}

// A writer whose cached tail is stale loses the race for the next batch
// name; the watch has usually announced the winner's batch by then, and the
// writer builds on it without GETting it. (The watch starts as the writer
// opens, so an early round may still need the GET.)
TEST_F(ConfigMapLedgerTest, AWriterThatLostARaceTakesTheWinnersBatchFromTheWatch) {
  auto winner = OpenLedger(Url(), Options());
  ASSERT_TRUE(winner.ok()) << winner.status().ToString();
  auto config = kube::LoadKubeconfig(kubeconfig_);
  ASSERT_TRUE(config.ok());
  auto real = kube::NewClient(*config);
  ASSERT_TRUE(real.ok());
  auto counting = std::make_shared<CountingClient>(std::move(real).value());
  auto backend = OpenConfigMapBackend(counting, ns_, "audit", {.compact = false});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto loser = OpenLedger(std::move(backend).value(), key_, Options());
  ASSERT_TRUE(loser.ok()) << loser.status().ToString();
  ASSERT_TRUE((*loser)->Append(testing::Entry(0)).ok());
  int from_watch = 0, rounds = 0;
  uint64_t last = 0;
  for (; rounds < 20 && from_watch == 0; ++rounds) {
    auto won = (*winner)->Append(testing::Entry(100 + rounds));  // the loser's cached tail is stale now
    ASSERT_TRUE(won.ok()) << won.status().ToString();
    size_t before = counting->BatchGets().first;
    auto lost = (*loser)->Append(testing::Entry(200 + rounds));
    ASSERT_TRUE(lost.ok()) << lost.status().ToString();
    EXPECT_GT(lost->seq, won->seq) << "appended after the winner's batch";
    last = lost->seq;
    if (counting->BatchGets().first == before) ++from_watch;
  }
  EXPECT_EQ(from_watch, 1) << "the winner's batch was GET in all " << rounds << " rounds";
  ASSERT_TRUE((*loser)->Close().ok());
  ASSERT_TRUE((*winner)->Close().ok());
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_GE(testing::CountEntries(Url()), last + 1);
}

// A ledger an older version wrote (one segment rewritten in place, not
// sealed) is sealed by the first new writer and continued with batches.
TEST_F(ConfigMapLedgerTest, ALayoutOneLedgerIsSealedAndContinued) {
  // The history, with this ledger's origin in its checkpoints.
  std::string file = "file:" + dir_ + "/history.jsonl";
  {
    LedgerOptions o = Options();
    o.origin = "audit";
    o.checkpoint_every_records = 5;
    auto history = OpenLedger(file, o);
    ASSERT_TRUE(history.ok()) << history.status().ToString();
    for (int i = 0; i < 12; ++i) ASSERT_TRUE((*history)->Append(testing::Entry(i)).ok());
    ASSERT_TRUE((*history)->Close().ok());
  }
  std::string text;
  uint64_t n = 0;
  auto backend = OpenBackend(file, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  ASSERT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view r) {
    text += std::string(r) + "\n";
    ++n;
    return Status::Ok();
  }).ok());
  auto created = client_->Create(kube::ConfigMapsPath(ns_), SegmentZero(text, /*sealed=*/false));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto ledger = OpenLedger(Url(), Options());
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*ledger)->Append(testing::Entry(i))->seq, n + static_cast<uint64_t>(i));
  ASSERT_TRUE((*ledger)->Close().ok());
  auto seg = client_->Get(kube::ConfigMapPath(ns_, "audit-000000"));
  ASSERT_TRUE(seg.ok());
  EXPECT_EQ((*seg)["metadata"]["annotations"]["execgov.io/sealed"], "true");
  EXPECT_EQ((*seg)["data"]["records"], text) << "the old segment was rewritten";
  auto r = testing::Verify(Url(), key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.size, n + 5 + 1);  // and the closing checkpoint
}

// kill -9 of writers mid-batch, while full runs are being merged and
// deleted: every acknowledged record is stored, and the chain verifies.
TEST_F(ConfigMapLedgerTest, TenKill9UnderLoadLoseNoAcknowledgedRecord) {
  std::string url = Url("?segment-bytes=8192");
  std::mt19937 rng(7);
  std::map<uint64_t, std::string> acks;
  testing::KillOnExit steady(testing::StartWriter(url, key_path_, "steady", 1000000, dir_ + "/acks-steady", 2));
  for (int round = 0; round < 10; ++round) {
    std::string ack_file = dir_ + "/acks" + std::to_string(round);
    testing::KillOnExit victim(testing::StartWriter(url, key_path_, "v" + std::to_string(round), 1000000, ack_file, 4));
    auto acked = [&] {
      std::error_code ec;
      auto n = std::filesystem::file_size(ack_file, ec);
      return !ec && n > 0;
    };
    for (int i = 0; i < 400 && !acked(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200000));
    EXPECT_EQ(victim.KillNow(), -SIGKILL);
    for (auto& [seq, hash] : testing::ReadAcks(ack_file)) EXPECT_TRUE(acks.emplace(seq, hash).second) << seq;
  }
  steady.KillNow();
  for (auto& [seq, hash] : testing::ReadAcks(dir_ + "/acks-steady")) EXPECT_TRUE(acks.emplace(seq, hash).second) << seq;
  ASSERT_GT(acks.size(), 200u);
  auto r = testing::Verify(url, key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  auto backend = OpenBackend(url, {.read_only = true});
  ASSERT_TRUE(backend.ok());
  std::map<uint64_t, std::string> stored;
  ASSERT_TRUE((*backend)->Scan(0, UINT64_MAX, [&](uint64_t seq, std::string_view bytes) {
    stored[seq] = crypto::HashToSha256Ref(LeafHash(bytes));
    return Status::Ok();
  }).ok());
  size_t missing = 0;
  for (const auto& [seq, hash] : acks) missing += stored.count(seq) == 0 || stored[seq] != hash;
  EXPECT_EQ(missing, 0u) << "acknowledged records lost, of " << acks.size();
  EXPECT_TRUE(client_->Get(kube::ConfigMapPath(ns_, "audit-000001")).ok()) << "nothing was merged under load";
}

TEST_F(ConfigMapLedgerTest, FourProcessesTimes2500) {
  std::string url = Url();
  std::vector<std::unique_ptr<testing::KillOnExit>> writers;
  for (int w = 0; w < 4; ++w) {
    writers.push_back(std::make_unique<testing::KillOnExit>(testing::StartWriter(
        url, key_path_, "w" + std::to_string(w), 2500, dir_ + "/acks" + std::to_string(w), 16)));
  }
  std::map<uint64_t, std::string> acks;
  for (int w = 0; w < 4; ++w) {
    EXPECT_EQ(writers[static_cast<size_t>(w)]->Wait(), 0) << "writer " << w;
    for (auto& [seq, hash] : testing::ReadAcks(dir_ + "/acks" + std::to_string(w))) {
      EXPECT_TRUE(acks.emplace(seq, hash).second) << "seq acknowledged twice: " << seq;
    }
  }
  EXPECT_EQ(acks.size(), 10000u);
  auto r = testing::Verify(url, key_.Public());
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(testing::CountEntries(url), 10000u);
}

}  // namespace
}  // namespace execgov::ledger
