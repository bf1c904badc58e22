// The operator's ledger index following a ConfigMap ledger across sealed
// segments: each catch-up reads from where the last one stopped (the
// backend's Scan starts at the segment holding that seq), misses nothing and
// repeats nothing.
#include <gtest/gtest.h>

#include "api/object.h"
#include "cluster_env.h"
#include "controllers/ledger_index.h"
#include "crypto/keys.h"
#include "ledger/configmap_backend.h"
#include "ledger/ledger.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;
namespace testenv = kube::testenv;

class LedgerIndexConfigMapTest : public testenv::NamespaceTest {
 protected:
  LedgerIndexConfigMapTest() : NamespaceTest("lidx") {}
};

json Admission(int i) {
  return {{"type", "admission"},
          {"decision", "allowed"},
          {"object", {{"kind", "Pod"}, {"uid", "uid-" + std::to_string(i)}}},
          {"pad", std::string(200, 'x')}};  // a few records fill a 1 KiB segment
}

TEST_F(LedgerIndexConfigMapTest, FollowsTheLedgerAcrossSealedSegments) {
  auto config = testenv::Config();
  ASSERT_TRUE(config.ok());
  auto client = kube::NewClient(*config);
  ASSERT_TRUE(client.ok());
  std::shared_ptr<kube::Client> shared(std::move(client).value());
  auto writer_backend = ledger::OpenConfigMapBackend(shared, ns_, "index-test", {}, 1024);
  ASSERT_TRUE(writer_backend.ok()) << writer_backend.status().ToString();
  auto key = crypto::PrivateKey::Generate(crypto::KeyAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  ledger::LedgerOptions options;
  options.checkpoint_every_records = 1000000;  // no checkpoints in between: records only
  auto ledger = ledger::OpenLedger(std::move(writer_backend).value(), *key, options);
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();

  auto reader = ledger::OpenConfigMapBackend(shared, ns_, "index-test", {.read_only = true}, 1024);
  ASSERT_TRUE(reader.ok());
  LedgerIndex index(reader->get());

  int appended = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 7; ++i, ++appended) ASSERT_TRUE((*ledger)->Append(Admission(appended)).ok());
    ASSERT_TRUE(index.CatchUp().ok());
    EXPECT_EQ(index.next_seq(), static_cast<uint64_t>(appended));
    EXPECT_EQ(index.admission_count(), static_cast<size_t>(appended));
    for (int i = 0; i < appended; ++i) EXPECT_TRUE(index.HasAdmission("uid-" + std::to_string(i))) << i;
  }
  // Several segments were sealed on the way.
  kube::ListOptions o;
  o.label_selector = "execgov.io/ledger=index-test";
  auto segments = shared->List(kube::ConfigMapsPath(ns_), o);
  ASSERT_TRUE(segments.ok());
  EXPECT_GE(segments->items.size(), 4u);
  // A catch-up with nothing new reads nothing new.
  ASSERT_TRUE(index.CatchUp().ok());
  EXPECT_EQ(index.next_seq(), static_cast<uint64_t>(appended));
}

}  // namespace
}  // namespace execgov::controllers
