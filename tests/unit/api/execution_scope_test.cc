// The execution-scope digest of DESIGN §3.
#include <gtest/gtest.h>

#include "api/execution_scope.h"
#include "api/manifest.h"

namespace execgov::api {
namespace {

// The worked example of DESIGN §3, with its published projection and digest.
constexpr char kDesignJob[] = R"(apiVersion: batch/v1
kind: Job
metadata: {name: rotate-keys, namespace: agents}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: rotate
        image: registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4
        command: ["/rotate"]
        args: ["--service", "payments"]
        env: [{name: MODE, value: safe}]
        resources: {}
        imagePullPolicy: IfNotPresent
)";

Json DesignJob() { return ParseManifests(kDesignJob, "design")->at(0); }

TEST(ExecutionScopeTest, DesignExampleMatchesByteForByte) {
  Json job = DesignJob();
  auto projection = ProjectExecutionScope(GovernedKind::kJob, job["spec"]["template"]["spec"]);
  ASSERT_TRUE(projection.ok());
  EXPECT_EQ(*crypto::Canonicalize(*projection),
            R"({"containers":[{"args":["--service","payments"],"command":["/rotate"],"env":[{"name":"MODE","value":"safe"}],"image":"registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4","name":"rotate"}],"serviceAccountName":"default"})");
  EXPECT_EQ(*ExecutionScopeDigest(job), "sha256:dd10cff05d3f711e43098d458848787800cd28b3f4110852a021461190a580a9");
}

TEST(ExecutionScopeTest, SameDigestForRequestJobAndPod) {
  Json job = DesignJob();
  Json spec = job["spec"]["template"]["spec"];
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "p"}}}, {"spec", spec}};
  Json ereq = {{"apiVersion", "execgov.io/v1alpha1"},
               {"kind", "ExecutionRequest"},
               {"metadata", {{"name", "r"}}},
               {"spec", {{"template", {{"spec", {{"template", {{"spec", spec}}}}}}}}}};
  EXPECT_EQ(*ExecutionScopeDigest(pod), *ExecutionScopeDigest(job));
  EXPECT_EQ(*ExecutionScopeDigest(ereq), *ExecutionScopeDigest(job));
}

TEST(ExecutionScopeTest, ApiServerDefaultsDoNotChangeTheDigest) {
  Json manifest = DesignJob();
  manifest["spec"]["template"]["spec"]["containers"][0]["env"].push_back(
      {{"name", "NODE"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.nodeName"}}}}}});
  manifest["spec"]["template"]["spec"]["containers"][0]["env"].push_back(
      {{"name", "CPU"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}}}}}});
  // What the API server stores: defaults filled in, admission plugins' additions.
  Json stored = manifest;
  Json& spec = stored["spec"]["template"]["spec"];
  spec["serviceAccountName"] = "default";
  spec["serviceAccount"] = "default";
  spec["securityContext"] = Json::object();
  spec["hostNetwork"] = false;
  spec["dnsPolicy"] = "ClusterFirst";
  spec["terminationGracePeriodSeconds"] = 30;
  spec["volumes"] = {{{"name", "kube-api-access-x"}, {"projected", Json::object()}}};
  Json& c = spec["containers"][0];
  c["terminationMessagePath"] = "/dev/termination-log";
  c["terminationMessagePolicy"] = "File";
  c["volumeMounts"] = {{{"name", "kube-api-access-x"}, {"mountPath", "/var/run/secrets"}}};
  c["env"][1]["valueFrom"]["fieldRef"]["apiVersion"] = "v1";
  c["env"][2]["valueFrom"]["resourceFieldRef"]["divisor"] = "0";
  c["securityContext"] = {{"privileged", false}};
  EXPECT_EQ(*ExecutionScopeDigest(stored), *ExecutionScopeDigest(manifest));
}

TEST(ExecutionScopeTest, ProjectedFieldsChangeTheDigest) {
  Json base = DesignJob();
  std::string digest = *ExecutionScopeDigest(base);
  auto changed = [&](const std::function<void(Json&)>& edit) {
    Json j = base;
    edit(j["spec"]["template"]["spec"]);
    return *ExecutionScopeDigest(j);
  };
  EXPECT_NE(changed([](Json& s) { s["containers"][0]["image"] = "other:1"; }), digest);
  EXPECT_NE(changed([](Json& s) { s["containers"][0]["args"][1] = "billing"; }), digest);
  EXPECT_NE(changed([](Json& s) { s["serviceAccountName"] = "admin"; }), digest);
  EXPECT_NE(changed([](Json& s) { s["hostPID"] = true; }), digest);
  EXPECT_NE(changed([](Json& s) { s["containers"][0]["securityContext"] = {{"privileged", true}}; }), digest);
  EXPECT_NE(changed([](Json& s) { s["initContainers"] = {{{"name", "init"}, {"image", "busybox"}}}; }), digest);
  EXPECT_NE(changed([](Json& s) { s["containers"].push_back({{"name", "side"}, {"image", "x"}}); }), digest);
  // Fields outside the projection do not.
  EXPECT_EQ(changed([](Json& s) { s["containers"][0]["resources"] = {{"limits", {{"cpu", "1"}}}}; }), digest);
  EXPECT_EQ(changed([](Json& s) { s["restartPolicy"] = "OnFailure"; }), digest);
}

TEST(ExecutionScopeTest, UngovernedKindsAndMissingSpecsAreErrors) {
  EXPECT_FALSE(ExecutionScopeDigest({{"kind", "Deployment"}}).ok());
  EXPECT_FALSE(ExecutionScopeDigest({{"kind", "Job"}, {"spec", Json::object()}}).ok());
}

}  // namespace
}  // namespace execgov::api
