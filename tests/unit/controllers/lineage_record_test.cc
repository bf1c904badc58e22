// What lineage completeness appends for an admitted object without a
// record: the object's identity, the artifact's claims (never its
// signature), marked derived; and which namespaces count as governed.
#include <gtest/gtest.h>

#include "api/execution_scope.h"
#include "api/object.h"
#include "controllers/artifact_summary.h"
#include "controllers/lineage_controller.h"
#include "support/artifact_factory.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;

TEST(DerivedAdmissionRecordTest, CarriesTheObjectAndClaimsButNoSignature) {
  auto authority = testing::Authority::Make();
  json pod = testing::MakePod("agents", "worker-1");
  json claims = testing::ClaimsFor(pod, authority, 1800000000);
  claims["intent"] = "rotate the payment keys";
  std::string token = testing::Sign(claims, authority);
  pod = testing::WithArtifact(pod, token);
  pod["metadata"]["creationTimestamp"] = "2027-01-15T08:00:00Z";

  auto entry = DerivedAdmissionRecord(pod);
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  EXPECT_EQ((*entry)["type"], "admission");
  EXPECT_EQ((*entry)["derived"], true);
  EXPECT_EQ((*entry)["decision"], "allowed");
  EXPECT_EQ((*entry)["object"]["kind"], "Pod");
  EXPECT_EQ((*entry)["object"]["uid"], api::UidOf(pod));
  EXPECT_EQ((*entry)["object"]["namespace"], "agents");
  EXPECT_EQ((*entry)["artifact"]["jti"], claims["jti"]);
  EXPECT_EQ((*entry)["artifact"]["kid"], authority.kid);
  EXPECT_EQ((*entry)["artifact"]["digest"], *api::ExecutionScopeDigest(pod));
  EXPECT_EQ((*entry)["digest"], *api::ExecutionScopeDigest(pod));
  EXPECT_EQ((*entry)["intent"], "rotate the payment keys");
  std::string signature = token.substr(token.rfind('.') + 1);
  EXPECT_EQ(entry->dump().find(signature), std::string::npos);
  EXPECT_EQ(entry->dump().find(token), std::string::npos);
}

TEST(DerivedAdmissionRecordTest, RefusesKindsExecgovDoesNotGovern) {
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}, {"namespace", "agents"}}}};
  EXPECT_EQ(DerivedAdmissionRecord(cm).status().code(), StatusCode::kInvalidArgument);
}

TEST(UnverifiedFactsTest, ReadsClaimsAndRejectsGarbage) {
  auto authority = testing::Authority::Make();
  json job = testing::MakeJob("agents", "j");
  json claims = testing::ClaimsFor(job, authority, 1800000000);
  auto facts = UnverifiedFacts(testing::Sign(claims, authority));
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->iss, authority.issuer);
  EXPECT_EQ(facts->sub, "agent:test");
  EXPECT_EQ(facts->jti, claims["jti"]);
  EXPECT_EQ(facts->scope_kind, "Job");
  EXPECT_EQ(facts->exp, 1800000600);
  EXPECT_FALSE(UnverifiedFacts("not-a-jws").has_value());
  EXPECT_FALSE(UnverifiedFacts("").has_value());
}

TEST(GovernedNamespaceTest, OnlyLabelledNamespacesOutsideTheSystemOnes) {
  json ns = {{"metadata", {{"name", "agents"}, {"labels", {{"execgov.io/governed", "true"}}}}}};
  EXPECT_TRUE(IsGovernedNamespace(ns));
  ns["metadata"]["labels"]["execgov.io/governed"] = "false";
  EXPECT_FALSE(IsGovernedNamespace(ns));
  json plain = {{"metadata", {{"name", "plain"}}}};
  EXPECT_FALSE(IsGovernedNamespace(plain));
  for (const char* system : {"kube-system", "execgov-system"}) {
    json s = {{"metadata", {{"name", system}, {"labels", {{"execgov.io/governed", "true"}}}}}};
    EXPECT_FALSE(IsGovernedNamespace(s)) << system;
    EXPECT_FALSE(IsGovernedNamespace(s, "governance")) << system;
  }
  // The namespace the operator runs in (--namespace), when it is not the default.
  json governance = {{"metadata", {{"name", "governance"}, {"labels", {{"execgov.io/governed", "true"}}}}}};
  EXPECT_TRUE(IsGovernedNamespace(governance));
  EXPECT_FALSE(IsGovernedNamespace(governance, "governance"));
}

}  // namespace
}  // namespace execgov::controllers
