// The Job an ExecutionRequest becomes: a stable name, controlled by the
// request, the artifact on the Job and its pod template, and the same
// execution-scope digest as the request (so the artifact covers it).
#include <gtest/gtest.h>

#include "api/execution_scope.h"
#include "api/object.h"
#include "controllers/request_controller.h"
#include "support/artifact_factory.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;

json SignedRequest() {
  auto authority = testing::Authority::Make();
  json request = testing::MakeExecutionRequest("agents", "rotate-keys");
  request["metadata"]["uid"] = "0b9d6c1e-1111-4222-8333-944455556666";
  request["spec"]["template"]["metadata"] = {{"labels", {{"team", "payments"}}}};
  std::string token = testing::Sign(testing::ClaimsFor(request, authority, 1800000000), authority);
  return testing::WithArtifact(request, token);
}

TEST(JobNameTest, StableShortAndUidSpecific) {
  std::string a = JobNameFor("rotate-keys", "uid-1");
  EXPECT_EQ(a, JobNameFor("rotate-keys", "uid-1"));
  EXPECT_NE(a, JobNameFor("rotate-keys", "uid-2"));
  EXPECT_EQ(a.rfind("rotate-keys-", 0), 0u);
  EXPECT_EQ(a.size(), std::string("rotate-keys-").size() + 10);

  std::string long_name(200, 'a');
  long_name[51] = '-';  // the cut lands on a dash, which is dropped
  std::string b = JobNameFor(long_name, "uid-1");
  EXPECT_LE(b.size(), 63u);
  EXPECT_EQ(b.find("--"), std::string::npos);
  EXPECT_NE(b.back(), '-');
}

TEST(BuildJobTest, ControlledByTheRequestAndCarriesTheArtifact) {
  json request = SignedRequest();
  auto job = BuildJob(request);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ((*job)["kind"], "Job");
  EXPECT_EQ(api::NamespaceOf(*job), "agents");
  EXPECT_EQ(api::NameOf(*job), JobNameFor("rotate-keys", api::UidOf(request)));
  auto owner = api::ControllerOf(*job);
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->kind, "ExecutionRequest");
  EXPECT_EQ(owner->uid, api::UidOf(request));
  EXPECT_EQ((*job)["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
  EXPECT_EQ((*job)["metadata"]["labels"]["team"], "payments");
  EXPECT_EQ((*job)["metadata"]["labels"][kRequestUidLabel], api::UidOf(request));

  auto token = api::ArtifactOf(request);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(api::ArtifactOf(*job), token);
  EXPECT_EQ((*job)["spec"]["template"]["metadata"]["annotations"][std::string(api::kArtifactAnnotation)], *token);

  auto request_digest = api::ExecutionScopeDigest(request);
  auto job_digest = api::ExecutionScopeDigest(*job);
  ASSERT_TRUE(request_digest.ok() && job_digest.ok());
  EXPECT_EQ(*request_digest, *job_digest);
}

TEST(BuildJobTest, RefusesARequestWithNothingToRun) {
  json request = SignedRequest();
  request["spec"].erase("template");
  auto job = BuildJob(request);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(job.status().message().find("spec.template.spec"), std::string::npos);
}

TEST(JobOutcomeTest, FollowsTheJobsTerminalConditions) {
  json job = {{"status", {{"active", 1}}}};
  EXPECT_FALSE(JobOutcome(job).has_value());
  job["status"]["conditions"] = json::array({{{"type", "SuccessCriteriaMet"}, {"status", "True"}}});
  EXPECT_FALSE(JobOutcome(job).has_value());
  job["status"]["conditions"].push_back({{"type", "Complete"}, {"status", "True"}});
  EXPECT_EQ(JobOutcome(job), std::optional<std::string>(kPhaseSucceeded));
  json failed = {{"status", {{"conditions", json::array({{{"type", "Failed"}, {"status", "True"}}})}}}};
  EXPECT_EQ(JobOutcome(failed), std::optional<std::string>(kPhaseFailed));
  json not_yet = {{"status", {{"conditions", json::array({{{"type", "Failed"}, {"status", "False"}}})}}}};
  EXPECT_FALSE(JobOutcome(not_yet).has_value());
}

TEST(PhaseTest, FinalPhases) {
  for (const char* p : {kPhaseSucceeded, kPhaseFailed, kPhaseDenied, kPhaseRevoked}) EXPECT_TRUE(IsFinalPhase(p)) << p;
  for (const char* p : {"", kPhasePending, kPhaseAuthorized, kPhaseRunning}) EXPECT_FALSE(IsFinalPhase(p)) << p;
}

}  // namespace
}  // namespace execgov::controllers
