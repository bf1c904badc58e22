// Relayed requests (authority/relay.h): a POSTed Job or Pod held for
// approvals as an ExecutionRequest that carries its pod spec unchanged, is
// judged as the kind it relays, and rebuilds to a manifest of the same
// execution-scope digest.
#include "authority/relay.h"

#include <gtest/gtest.h>

#include "api/execution_scope.h"

namespace execgov::authority {
namespace {

using json = nlohmann::json;

json Job() {
  return json::parse(R"({"apiVersion":"batch/v1","kind":"Job",
    "metadata":{"name":"rotate","namespace":"agents","labels":{"team":"a"},"annotations":{"note":"n"}},
    "spec":{"backoffLimit":0,"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"r","image":"registry.example.com/slow/rotate:1","command":["/run"]}]}}}})");
}

json Pod() {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"probe","namespace":"agents","labels":{"x":"y"}},
    "spec":{"containers":[{"name":"p","image":"registry.example.com/slow/probe:1"}]}})");
}

TEST(RelayTest, AJobIsCarriedUnchangedAndRebuilt) {
  auto request = NewRelayedRequest(api::GovernedKind::kJob, Job(), "system:serviceaccount:agents:agent");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_EQ(api::StringAt(*request, {"metadata", "generateName"}), "rotate-");
  EXPECT_EQ(api::StringAt(*request, {"metadata", "namespace"}), "agents");
  EXPECT_EQ(api::StringAt(*request, {"spec", "initiator"}), "system:serviceaccount:agents:agent");
  EXPECT_EQ((*request)["spec"]["relay"], json({{"kind", "Job"}, {"name", "rotate"}}));
  // The approvers approve the request's digest: the Job's.
  EXPECT_EQ(api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, *request).value(),
            api::ExecutionScopeDigest(api::GovernedKind::kJob, Job()).value());
  auto rebuilt = RelayedManifest(*request);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, Job());  // apiVersion, kind, name, namespace, labels, annotations, spec
  AuthorityRequest facts = RequestFacts(*request);
  EXPECT_EQ(facts.kind, "Job");
  EXPECT_EQ(facts.ns, "agents");
  EXPECT_EQ(facts.initiator, "system:serviceaccount:agents:agent");
  EXPECT_EQ(facts.images, std::vector<std::string>{"registry.example.com/slow/rotate:1"});
}

TEST(RelayTest, APodIsCarriedAsAJobTemplateAndRebuiltWithTheSameScope) {
  auto request = NewRelayedRequest(api::GovernedKind::kPod, Pod(), "alice");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  // The request's schema wants a restartPolicy; a Pod's default, outside the scope.
  EXPECT_EQ(api::StringAt(*request, {"spec", "template", "spec", "template", "spec", "restartPolicy"}), "Always");
  auto rebuilt = RelayedManifest(*request);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(api::KindOf(*rebuilt), "Pod");
  EXPECT_EQ(api::StringAt(*rebuilt, {"metadata", "labels", "x"}), "y");
  EXPECT_EQ(api::ExecutionScopeDigest(api::GovernedKind::kPod, *rebuilt).value(),
            api::ExecutionScopeDigest(api::GovernedKind::kPod, Pod()).value());
  EXPECT_EQ(RequestFacts(*request).kind, "Pod");
}

TEST(RelayTest, ALongNameLeavesRoomForTheGeneratedSuffix) {
  json job = Job();
  job["metadata"]["name"] = std::string(39, 'a') + "-" + std::string(60, 'b');
  auto request = NewRelayedRequest(api::GovernedKind::kJob, job, "alice");
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(api::StringAt(*request, {"metadata", "generateName"}), std::string(39, 'a') + "-");
  EXPECT_EQ(api::StringAt(*request, {"spec", "relay", "name"}), job["metadata"]["name"]);
}

TEST(RelayTest, OnlyAWellFormedRelayCounts) {
  json request = {{"spec", {{"initiator", "alice"}}}};
  auto none = RelayOf(request);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(RequestFacts(request).kind, "ExecutionRequest");
  for (const json& relay : {json("Job"), json({{"kind", "CronJob"}, {"name", "x"}}), json({{"kind", "Job"}}),
                            json({{"kind", "Job"}, {"name", "Not_A_Name"}}),
                            json({{"kind", "Job"}, {"name", "x"}, {"extra", 1}}), json({{"kind", "Job"}, {"name", 7}})}) {
    request["spec"]["relay"] = relay;
    EXPECT_FALSE(RelayOf(request).ok()) << relay.dump();
    EXPECT_EQ(RequestFacts(request).kind, "ExecutionRequest") << relay.dump();
    EXPECT_FALSE(RelayedManifest(request).ok()) << relay.dump();
  }
  EXPECT_FALSE(RelayedManifest(json::object()).ok());
  EXPECT_FALSE(NewRelayedRequest(api::GovernedKind::kExecutionRequest, Job(), "alice").ok());
}

}  // namespace
}  // namespace execgov::authority
