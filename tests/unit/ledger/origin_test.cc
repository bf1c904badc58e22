// Origins (ledger/origin.h): a new in-cluster ledger's default is unique per
// cluster and ledger, and an existing ledger keeps the origin its
// checkpoints carry whatever is configured later (OpenLedger).
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ledger/origin.h"
#include "tamper_cases.h"

namespace execgov::ledger {
namespace {

namespace fs = std::filesystem;

TEST(ClusterOriginTest, NamesTheClusterAndTheLedger) {
  const char* uid = "6f1d2c3a-8b7e-4d5f-9a0b-1c2d3e4f5a6b";
  EXPECT_EQ(*ClusterLedgerOrigin(uid, "configmap://execgov-system"),
            std::string("execgov.local/cluster/") + uid + "/execgov-system/execgov-ledger");
  EXPECT_EQ(*ClusterLedgerOrigin(uid, "configmap://ns/audit?kubeconfig=/k"),
            std::string("execgov.local/cluster/") + uid + "/ns/audit");
  EXPECT_EQ(*ClusterLedgerOrigin(uid, "etcd://10.0.0.1:2379/execgov?cacert=/c"),
            std::string("execgov.local/cluster/") + uid + "/10.0.0.1:2379/execgov");
  EXPECT_EQ(*ClusterLedgerOrigin(uid, "file:/var/lib/execgov/ledger.jsonl"),
            std::string("execgov.local/cluster/") + uid + "/ledger.jsonl");
  // Two clusters, two origins.
  EXPECT_NE(*ClusterLedgerOrigin("a", "configmap://execgov-system"), *ClusterLedgerOrigin("b", "configmap://execgov-system"));
  for (const char* bad : {"", "a b", "a+b", "a/b"}) EXPECT_FALSE(ClusterLedgerOrigin(bad, "configmap://x").ok()) << bad;
  EXPECT_FALSE(ClusterLedgerOrigin("a", "configmap:///x").ok());
  EXPECT_FALSE(ClusterLedgerOrigin("a", "nothing").ok());
}

// Serves one object, the kube-system Namespace (or none); nothing else.
class KubeSystem : public kube::Client {
 public:
  explicit KubeSystem(bool present) : present_(present) {}
  StatusOr<nlohmann::json> Get(const std::string& path) override {
    if (!present_ || path != "/api/v1/namespaces/kube-system") return NotFound(path);
    return nlohmann::json{{"metadata", {{"name", "kube-system"}, {"uid", "1234-abcd"}}}};
  }
  StatusOr<nlohmann::json> Create(const std::string&, const nlohmann::json&) override { return Internal("fake"); }
  StatusOr<nlohmann::json> Update(const std::string&, const nlohmann::json&) override { return Internal("fake"); }
  Status Delete(const std::string&) override { return Internal("fake"); }
  StatusOr<kube::ListResult> List(const std::string&, const kube::ListOptions&) override { return Internal("fake"); }
  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Internal("fake");
  }
  StatusOr<nlohmann::json> Patch(const std::string&, const nlohmann::json&, kube::PatchType) override {
    return Internal("fake");
  }
  StatusOr<nlohmann::json> UpdateStatus(const std::string&, const nlohmann::json&) override { return Internal("fake"); }

 private:
  bool present_;
};

TEST(ClusterOriginTest, TheClusterIsKnownByItsKubeSystemUid) {
  KubeSystem client(true);
  EXPECT_EQ(*ClusterUid(client), "1234-abcd");
  KubeSystem none(false);
  EXPECT_FALSE(ClusterUid(none).ok());
}

TEST(ClusterOriginTest, AnExistingLedgerKeepsItsOrigin) {
  fs::path dir = fs::temp_directory_path() / ("execgov-origin-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string url = "file:" + (dir / "ledger.jsonl").string();
  FakeClock clock(1790000000);
  auto write = [&](const std::string& origin, int n) {
    LedgerOptions o;
    o.origin = origin;
    o.clock = &clock;
    auto ledger = OpenLedger(url, o);
    ASSERT_TRUE(ledger.ok()) << ledger.status().message();
    for (int i = 0; i < n; ++i) ASSERT_TRUE((*ledger)->Append(testing::Entry(i)).ok());
    ASSERT_TRUE((*ledger)->Close().ok());
  };
  write("first.example/ledger", 3);
  write("second.example/ledger", 3);  // a new default or flag later on
  write("", 2);
  std::ifstream in(dir / "ledger.jsonl");
  int checkpoints = 0;
  for (std::string line; std::getline(in, line);) {
    auto hdr = ScanRecord(line);
    ASSERT_TRUE(hdr.ok());
    if (hdr->type != "checkpoint") continue;
    ++checkpoints;
    EXPECT_EQ(ParseCheckpoint(*CheckpointNoteOf(*hdr))->origin, "first.example/ledger");
  }
  EXPECT_EQ(checkpoints, 3);
  // A new ledger takes the configured origin.
  fs::remove(dir / "ledger.jsonl");
  write("second.example/ledger", 1);
  auto backend = OpenBackend(url, BackendOptions{.read_only = true});
  ASSERT_TRUE(backend.ok());
  auto tail = (*backend)->Tail();
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(**CheckpointOriginOf(**backend, *tail, 0), "second.example/ledger");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace execgov::ledger
