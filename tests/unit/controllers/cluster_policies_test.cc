// The pure part of ClusterPolicies: compiling the cached ExecutionPolicies,
// keeping the last good compilation on a bad edit, and resolving
// publicKeyRefs against the install namespace's Secrets and ConfigMaps.
// (The informer-fed whole runs against the real API server in
// tests/integration/webhook/api_state_test.cc.)
#include <gtest/gtest.h>

#include <map>

#include "support/artifact_factory.h"
#include "controllers/cluster_policies.h"
#include "crypto/encoding.h"

namespace execgov::controllers {
namespace {

using testing::Authority;
using Json = nlohmann::json;

runtime::ObjectPtr Obj(Json j) { return std::make_shared<const Json>(std::move(j)); }

Json WithGeneration(Json policy, int64_t generation) {
  policy["metadata"]["generation"] = generation;
  return policy;
}

// A policy whose only key comes from `ref` instead of inline PEM.
Json RefPolicy(const std::string& name, const Authority& a, Json ref) {
  Json p = testing::MakePolicy(name, {&a});
  Json& key = p["spec"]["issuers"][0]["keys"][0];
  key.erase("publicKey");
  key["publicKeyRef"] = std::move(ref);
  return p;
}

// Secrets and ConfigMaps of the install namespace, by kind and name.
struct Objects {
  std::map<std::pair<std::string, std::string>, Json> items;
  KeySourceFinder Finder() const {
    return [this](const std::string& kind, const std::string& name) -> runtime::ObjectPtr {
      auto it = items.find({kind, name});
      return it == items.end() ? nullptr : Obj(it->second);
    };
  }
};

class PolicyCompilerTest : public ::testing::Test {
 protected:
  Authority a_ = Authority::Make();
  Objects objects_;
  policy::KeyRefResolver resolver_ = MakeKeyRefResolver("execgov-system", objects_.Finder());
  PolicyCompiler compiler_;
};

TEST_F(PolicyCompilerTest, CompilesEveryPolicySortedByName) {
  auto set = compiler_.Compile({Obj(testing::MakePolicy("zeta", {&a_})), Obj(testing::MakePolicy("alpha", {&a_}))},
                               resolver_);
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0]->name, "alpha");
  EXPECT_EQ(set[1]->name, "zeta");
  auto r = compiler_.Result("alpha");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->status.ok()) << r->status.ToString();
  EXPECT_EQ(r->keys, 1u);
  EXPECT_EQ(r->summary, "1 issuer, 1 key");
}

TEST_F(PolicyCompilerTest, ABadEditKeepsTheLastGoodCompilation) {
  Json good = WithGeneration(testing::MakePolicy("p", {&a_}), 1);
  ASSERT_EQ(compiler_.Compile({Obj(good)}, resolver_).size(), 1u);

  Json bad = WithGeneration(good, 2);
  bad["spec"]["issuers"][0]["keys"][0]["algorithm"] = "RS256";
  auto set = compiler_.Compile({Obj(bad)}, resolver_);
  ASSERT_EQ(set.size(), 1u) << "a bad edit dropped the policy";
  EXPECT_EQ(set[0]->generation, 1) << "the last good generation stays in force";
  auto r = compiler_.Result("p");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->generation, 2);
  EXPECT_FALSE(r->status.ok());
  EXPECT_NE(r->status.message().find("spec.issuers[0].keys[0].algorithm"), std::string::npos) << r->status.message();

  // Still bad a rebuild later (another object changed): still the last good.
  set = compiler_.Compile({Obj(bad)}, resolver_);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0]->generation, 1);

  // Fixed: the new generation takes over.
  set = compiler_.Compile({Obj(WithGeneration(good, 3))}, resolver_);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0]->generation, 3);
  EXPECT_TRUE(compiler_.Result("p")->status.ok());
}

TEST_F(PolicyCompilerTest, APolicyThatNeverCompiledIsLeftOutWithItsError) {
  Json bad = testing::MakePolicy("broken", {&a_});
  bad["spec"]["audience"] = "";
  auto set = compiler_.Compile({Obj(bad), Obj(testing::MakePolicy("fine", {&a_}))}, resolver_);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0]->name, "fine");
  auto r = compiler_.Result("broken");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->status.ok());
  EXPECT_NE(r->status.message().find("spec.audience"), std::string::npos) << r->status.message();
}

TEST_F(PolicyCompilerTest, ADeletedPolicyIsForgottenWithItsLastGood) {
  compiler_.Compile({Obj(testing::MakePolicy("p", {&a_}))}, resolver_);
  EXPECT_TRUE(compiler_.Compile({}, resolver_).empty());
  EXPECT_FALSE(compiler_.Result("p").has_value());
  // Re-created broken: nothing of the deleted one comes back.
  Json bad = testing::MakePolicy("p", {&a_});
  bad["spec"]["audience"] = "";
  EXPECT_TRUE(compiler_.Compile({Obj(bad)}, resolver_).empty());
}

TEST_F(PolicyCompilerTest, ResolvesKeysFromSecretsAndConfigMaps) {
  std::string pem = a_.key.Public().ToPem();
  objects_.items[{"Secret", "keys"}] = {{"metadata", {{"name", "keys"}, {"namespace", "execgov-system"}}},
                                        {"data", {{"ops.pub", crypto::Base64Encode(pem)}}}};
  objects_.items[{"ConfigMap", "keys"}] = {{"metadata", {{"name", "keys"}, {"namespace", "execgov-system"}}},
                                           {"data", {{"ops.pub", pem}}},
                                           {"binaryData", {{"bin.pub", crypto::Base64Encode(pem)}}}};
  Json from_secret = RefPolicy("s", a_, {{"kind", "Secret"}, {"namespace", "execgov-system"}, {"name", "keys"}, {"key", "ops.pub"}});
  Json from_cm = RefPolicy("c", a_, {{"kind", "ConfigMap"}, {"namespace", "execgov-system"}, {"name", "keys"}, {"key", "ops.pub"}});
  Json from_bin = RefPolicy("b", a_, {{"kind", "ConfigMap"}, {"namespace", "execgov-system"}, {"name", "keys"}, {"key", "bin.pub"}});
  auto set = compiler_.Compile({Obj(from_secret), Obj(from_cm), Obj(from_bin)}, resolver_);
  for (const char* name : {"s", "c", "b"}) {
    auto r = compiler_.Result(name);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->status.ok()) << name << ": " << r->status.message();
  }
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set[0]->issuers[0].keys[0].public_key.ToPem(), pem);
}

TEST_F(PolicyCompilerTest, RefusesKeysOutsideTheInstallNamespaceNamingTheField) {
  objects_.items[{"Secret", "keys"}] = {{"metadata", {{"name", "keys"}, {"namespace", "team-a"}}},
                                        {"data", {{"ops.pub", crypto::Base64Encode(a_.key.Public().ToPem())}}}};
  Json p = RefPolicy("p", a_, {{"kind", "Secret"}, {"namespace", "team-a"}, {"name", "keys"}, {"key", "ops.pub"}});
  EXPECT_TRUE(compiler_.Compile({Obj(p)}, resolver_).empty());
  std::string msg = compiler_.Result("p")->status.message();
  EXPECT_NE(msg.find("spec.issuers[0].keys[0].publicKeyRef: namespace: \"team-a\" is not execgov-system"),
            std::string::npos)
      << msg;
}

TEST_F(PolicyCompilerTest, MissingOrUnreadableKeySourcesAreNamed) {
  objects_.items[{"Secret", "garbled"}] = {{"metadata", {{"name", "garbled"}, {"namespace", "execgov-system"}}},
                                           {"data", {{"ops.pub", "***not base64***"}}}};
  struct Case {
    Json ref;
    std::string want;
  } cases[] = {
      {{{"kind", "Secret"}, {"namespace", "execgov-system"}, {"name", "absent"}, {"key", "ops.pub"}},
       "Secret execgov-system/absent does not exist"},
      {{{"kind", "Secret"}, {"namespace", "execgov-system"}, {"name", "garbled"}, {"key", "other.pub"}},
       "has no key \"other.pub\""},
      {{{"kind", "Secret"}, {"namespace", "execgov-system"}, {"name", "garbled"}, {"key", "ops.pub"}},
       "is not base64"},
  };
  for (const auto& c : cases) {
    PolicyCompiler compiler;
    EXPECT_TRUE(compiler.Compile({Obj(RefPolicy("p", a_, c.ref))}, resolver_).empty()) << c.ref.dump();
    std::string msg = compiler.Result("p")->status.message();
    EXPECT_NE(msg.find("spec.issuers[0].keys[0].publicKeyRef"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace execgov::controllers
