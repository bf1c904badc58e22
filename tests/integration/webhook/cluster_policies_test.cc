// ClusterPolicies fed by real informers from the real API server: policies
// applied as ExecutionPolicy objects (the CRDs of crds/, applied
// idempotently), keys from a Secret of the test's own install namespace, a
// bad edit keeping the last good generation, and the ledger's ConfigMaps
// left out of the key cache.
#include "controllers/cluster_policies.h"

#include <gtest/gtest.h>

#include "../kube/cluster_env.h"
#include "support/artifact_factory.h"
#include "crypto/encoding.h"
#include "support/subprocess.h"

namespace execgov::controllers {
namespace {

using namespace std::chrono_literals;
namespace testenv = kube::testenv;
using Json = nlohmann::json;

const std::string kPolicies = kube::ResourcePath("execgov.io/v1alpha1", "executionpolicies");

class ClusterPoliciesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = testenv::Connect();
    ASSERT_NE(client_, nullptr);
    // The CRDs are shared by every test on the control plane: applied, never
    // deleted. Tests applying them at once on a fresh cluster race to create
    // them, and the losers' apply fails with AlreadyExists: apply again.
    testing::CommandResult applied;
    EXPECT_TRUE(testenv::Poll([&] {
      applied = testing::RunCommand(testenv::Kubectl() + " apply -f " + EXECGOV_SOURCE_DIR + "/crds/ && " +
                                    testenv::Kubectl() +
                                    " wait --for condition=established --timeout=60s crd/executionpolicies.execgov.io");
      return applied.exit_code == 0;
    }, std::chrono::seconds(90)));
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    ns_ = testenv::UniqueName("cp");
    ASSERT_TRUE(testenv::CreateNamespace(*client_, ns_).ok());
    key_sources_.selector.label_selector = kKeySourceLabelSelector;
    policies_ = std::make_unique<runtime::Informer>(client_.get(), kPolicies);
    secrets_ = std::make_unique<runtime::Informer>(client_.get(), kube::ResourcePath("v1", "secrets", ns_), key_sources_);
    configmaps_ =
        std::make_unique<runtime::Informer>(client_.get(), kube::ResourcePath("v1", "configmaps", ns_), key_sources_);
    cluster_ = std::make_unique<ClusterPolicies>(policies_.get(), secrets_.get(), configmaps_.get(), ns_);
    cluster_->Register();
  }
  void TearDown() override {
    for (auto* i : {policies_.get(), secrets_.get(), configmaps_.get()}) {
      if (i) i->Stop();
    }
    if (!client_) return;
    for (const auto& name : created_) (void)client_->Delete(kPolicies + "/" + name);
    (void)client_->Delete("/api/v1/namespaces/" + ns_);
  }
  void Start() {
    for (auto* i : {policies_.get(), secrets_.get(), configmaps_.get()}) i->Start();
  }
  // A policy name unique to this test run (policies are cluster-scoped).
  std::string PolicyName(const std::string& suffix) {
    std::string name = ns_ + "-" + suffix;
    created_.push_back(name);
    return name;
  }
  Json RefPolicy(const std::string& name, const std::string& ref_ns, const std::string& secret) {
    Json p = testing::MakePolicy(name, {&a_});
    Json& key = p["spec"]["issuers"][0]["keys"][0];
    key.erase("publicKey");
    key["publicKeyRef"] = {{"kind", "Secret"}, {"namespace", ref_ns}, {"name", secret}, {"key", "ops.pub"}};
    return p;
  }
  std::shared_ptr<const policy::CompiledPolicy> Enforced(const std::string& name) {
    for (const auto& p : cluster_->Current()->policies) {
      if (p->name == name) return p;
    }
    return nullptr;
  }

  testing::Authority a_ = testing::Authority::Make();
  std::unique_ptr<kube::Client> client_;
  std::string ns_;
  std::vector<std::string> created_;
  runtime::InformerOptions key_sources_;
  std::unique_ptr<runtime::Informer> policies_, secrets_, configmaps_;
  std::unique_ptr<ClusterPolicies> cluster_;
};

TEST_F(ClusterPoliciesTest, NotReadyUntilEveryInformerHasSynced) {
  EXPECT_FALSE(cluster_->Current()->ready);
  policies_->Start();
  secrets_->Start();
  ASSERT_TRUE(policies_->WaitForSync(30s));
  ASSERT_TRUE(secrets_->WaitForSync(30s));
  EXPECT_FALSE(cluster_->Current()->ready) << "the ConfigMap informer has not started";
  configmaps_->Start();
  ASSERT_TRUE(configmaps_->WaitForSync(30s));
  EXPECT_TRUE(cluster_->Current()->ready);
}

TEST_F(ClusterPoliciesTest, KeysFromASecretAndTheLastGoodGenerationOnABadEdit) {
  Start();
  std::string pem = a_.key.Public().ToPem();
  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "keys"}, {"namespace", ns_}}},
                 {"data", {{"ops.pub", crypto::Base64Encode(pem)}}}};
  ASSERT_TRUE(client_->Create(kube::ResourcePath("v1", "secrets", ns_), secret).ok());
  std::string name = PolicyName("ref");
  auto created = client_->Create(kPolicies, RefPolicy(name, ns_, "keys"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(testenv::Poll([&] { return Enforced(name) != nullptr; })) << "the policy never compiled: "
                                                                        << (cluster_->Result(name) ? cluster_->Result(name)->status.ToString() : "no result");
  EXPECT_TRUE(cluster_->Current()->ready);
  EXPECT_EQ(Enforced(name)->issuers[0].keys[0].public_key.ToPem(), pem);
  auto result = cluster_->Result(name);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->keys, 1u);
  EXPECT_EQ(result->generation, 1);

  // A bad edit: generation 2 does not compile, generation 1 stays in force.
  auto edited = kube::UpdateWithRetry(*client_, kPolicies + "/" + name, [](Json& p) {
    p["spec"]["issuers"][0]["keys"][0]["publicKeyRef"]["name"] = "absent";
    return true;
  });
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  ASSERT_TRUE(testenv::Poll([&] {
    auto r = cluster_->Result(name);
    return r && r->generation == 2;
  }));
  result = cluster_->Result(name);
  EXPECT_NE(result->status.message().find("spec.issuers[0].keys[0].publicKeyRef: Secret " + ns_ + "/absent does not exist"),
            std::string::npos)
      << result->status.message();
  ASSERT_NE(Enforced(name), nullptr) << "a bad edit dropped enforcement";
  EXPECT_EQ(Enforced(name)->generation, 1);

  // The Secret it names appears: generation 2 compiles without another edit.
  secret["metadata"]["name"] = "absent";
  ASSERT_TRUE(client_->Create(kube::ResourcePath("v1", "secrets", ns_), secret).ok());
  ASSERT_TRUE(testenv::Poll([&] { return Enforced(name) && Enforced(name)->generation == 2; }));
  EXPECT_TRUE(cluster_->Result(name)->status.ok());

  // Deleted: gone from the snapshot and from the results.
  ASSERT_TRUE(client_->Delete(kPolicies + "/" + name).ok());
  ASSERT_TRUE(testenv::Poll([&] { return Enforced(name) == nullptr && !cluster_->Result(name); }));
}

TEST_F(ClusterPoliciesTest, ARefOutsideTheInstallNamespaceIsACompileError) {
  Start();
  std::string name = PolicyName("elsewhere");
  ASSERT_TRUE(client_->Create(kPolicies, RefPolicy(name, "kube-system", "keys")).ok());
  ASSERT_TRUE(testenv::Poll([&] { return cluster_->Result(name).has_value(); }));
  EXPECT_EQ(Enforced(name), nullptr);
  std::string msg = cluster_->Result(name)->status.message();
  EXPECT_NE(msg.find("spec.issuers[0].keys[0].publicKeyRef: namespace: \"kube-system\" is not " + ns_), std::string::npos)
      << msg;
}

TEST_F(ClusterPoliciesTest, LedgerAndReplayConfigMapsAreNotCachedAsKeySources) {
  ASSERT_TRUE(client_->Create(kube::ConfigMapsPath(ns_), testenv::ConfigMap(ns_, "ledger-000000", {{"records", "x"}},
                                                                            {{"execgov.io/ledger", "ledger"}}))
                  .ok());
  ASSERT_TRUE(client_->Create(kube::ConfigMapsPath(ns_), testenv::ConfigMap(ns_, "execgov-jti-1", {{"jti", "x"}},
                                                                            {{"execgov.io/replay", "true"}}))
                  .ok());
  ASSERT_TRUE(client_->Create(kube::ConfigMapsPath(ns_), testenv::ConfigMap(ns_, "keys", {{"ops.pub", "x"}})).ok());
  Start();
  ASSERT_TRUE(configmaps_->WaitForSync(30s));
  EXPECT_NE(configmaps_->Get(ns_ + "/keys"), nullptr);
  EXPECT_EQ(configmaps_->Get(ns_ + "/ledger-000000"), nullptr);
  EXPECT_EQ(configmaps_->Get(ns_ + "/execgov-jti-1"), nullptr);
}

}  // namespace
}  // namespace execgov::controllers
