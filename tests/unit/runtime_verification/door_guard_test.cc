// Guards on the door (webhook/door_guard.h) through the admission handler,
// with a real file ledger: removing execgov.io/governed from a namespace is
// refused except to the guardians a policy names, and every attempt is
// recorded; break-glass admits an unsigned CREATE for a named group only,
// recorded as such, and nothing else.
#include <gtest/gtest.h>

#include "controllers/runtime_facts.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "support/artifact_factory.h"
#include "support/no_replay_store.h"
#include "support/subprocess.h"
#include "webhook/admission_handler.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;

using NoReplay = testing::NoReplayStore;

Json Namespace(const std::string& name, bool governed) {
  Json ns = {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata", {{"name", name}, {"uid", "uid-ns-" + name}, {"labels", {{"team", "a"}}}}}};
  if (governed) ns["metadata"]["labels"]["execgov.io/governed"] = "true";
  return ns;
}

class DoorGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "file:" + dir_.File("ledger.jsonl");
    auto l = ledger::OpenLedger(url_, {});
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
    Json p = testing::MakePolicy("team", {&authority_});
    p["spec"]["match"] = {{"namespaces", {"team-a"}}};
    p["spec"]["runtime"] = {{"namespaceGuardians", {{"users", {"alice"}}, {"groups", {"platform-admins"}}}},
                            {"breakGlass", {{"groups", {"oncall"}}}}};
    auto compiled = policy::CompilePolicy(p);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto set = std::make_shared<policy::PolicySet>();
    set->ready = true;
    set->policies.push_back(*compiled);
    policies_ = set;
    HandlerDeps deps;
    deps.policies = [this] { return policies_; };
    deps.replay = &replay_;
    deps.ledger = ledger_.get();
    deps.clock = &clock_;
    deps.break_glass = &break_glass_;
    handler_ = std::make_unique<AdmissionHandler>(deps);
  }

  AdmissionResponse Relabel(const std::string& ns, const std::string& user, std::vector<std::string> groups,
                            bool keep_label = false) {
    AdmissionRequest req;
    req.uid = "req-" + std::to_string(++n_);
    req.resource = {"", "v1", "namespaces"};
    req.kind = {"", "v1", "Namespace"};
    req.name = ns;
    req.operation = policy::Operation::kUpdate;
    req.user = user;
    req.groups = std::move(groups);
    req.old_object = Namespace(ns, true);
    req.object = Namespace(ns, keep_label);
    req.object["metadata"]["labels"]["team"] = "b";
    return handler_->Handle(req);
  }

  AdmissionResponse CreateJob(const std::string& user, std::vector<std::string> groups, Json job) {
    return CreatePod(user, std::move(groups), std::move(job));
  }

  // A Pod, or a Job (by the object's kind).
  AdmissionResponse CreatePod(const std::string& user, std::vector<std::string> groups, Json pod,
                              policy::Operation op = policy::Operation::kCreate) {
    AdmissionRequest req;
    req.uid = "req-" + std::to_string(++n_);
    if (api::KindOf(pod) == "Job") {
      req.resource = {"batch", "v1", "jobs"};
      req.kind = {"batch", "v1", "Job"};
    } else {
      req.resource = {"", "v1", "pods"};
      req.kind = {"", "v1", "Pod"};
    }
    req.ns = "team-a";
    req.name = api::NameOf(pod);
    req.operation = op;
    req.user = user;
    req.groups = std::move(groups);
    req.object = pod;
    if (op == policy::Operation::kUpdate) {
      req.old_object = pod;
      req.old_object["spec"]["containers"][0]["image"] = "registry.example.com/old:1";
    }
    return handler_->Handle(req);
  }

  std::vector<Json> Records(const std::string& type) {
    auto reader = ledger::OpenBackend(url_, {.read_only = true});
    std::vector<Json> out;
    EXPECT_TRUE((*reader)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view bytes) {
      Json r = Json::parse(bytes);
      if (r.value("type", "") == type) out.push_back(r);
      return Status::Ok();
    }).ok());
    return out;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<ledger::Ledger> ledger_;
  testing::Authority authority_ = testing::Authority::Make();
  std::shared_ptr<const policy::PolicySet> policies_;
  NoReplay replay_;
  FakeClock clock_{1800000000};
  BreakGlassIndex break_glass_;
  std::unique_ptr<AdmissionHandler> handler_;
  int n_ = 0;
};

TEST_F(DoorGuardTest, RemovingTheGovernedLabelIsRefusedToAnUnlistedUserAndRecorded) {
  auto r = Relabel("team-a", "mallory", {"system:authenticated"});
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 403);
  EXPECT_EQ(r.message.rfind("execgov: GuardRefused: ", 0), 0u) << r.message;
  auto records = Records("guard");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["decision"], "denied");
  EXPECT_EQ(records[0]["guard"], "namespace-governed-label");
  EXPECT_EQ(records[0]["user"], "mallory");
  EXPECT_EQ(records[0]["object"], (Json{{"kind", "Namespace"}, {"name", "team-a"}, {"uid", "uid-ns-team-a"}, {"operation", "UPDATE"}}));
  EXPECT_EQ(r.audit_annotations["ledger-seq"], std::to_string(records[0]["seq"].get<uint64_t>()));
}

TEST_F(DoorGuardTest, GuardiansByUserOrGroupMayAndAreRecordedToo) {
  EXPECT_TRUE(Relabel("team-a", "alice", {}).allowed);
  EXPECT_TRUE(Relabel("team-a", "bob", {"platform-admins"}).allowed);
  auto records = Records("guard");
  ASSERT_EQ(records.size(), 2u);
  for (const auto& r : records) {
    EXPECT_EQ(r["decision"], "allowed");
    EXPECT_EQ(r["policy"]["name"], "team");
  }
  // A namespace no policy covers has no guardian: refused.
  EXPECT_FALSE(Relabel("team-z", "alice", {}).allowed);
}

TEST_F(DoorGuardTest, OtherNamespaceUpdatesPassUnrecordedAndNeverGovernedOnesAreNotGuarded) {
  EXPECT_TRUE(Relabel("team-a", "mallory", {}, /*keep_label=*/true).allowed);
  EXPECT_TRUE(Relabel("kube-system", "mallory", {}).allowed);
  EXPECT_TRUE(Records("guard").empty());
}

TEST_F(DoorGuardTest, NotReadyPoliciesRefuseTheRemoval) {
  auto set = std::make_shared<policy::PolicySet>();
  policies_ = set;  // not ready
  EXPECT_FALSE(Relabel("team-a", "alice", {}).allowed);
}

TEST_F(DoorGuardTest, BreakGlassAdmitsAnUnsignedCreateForTheNamedGroupOnlyAndRecordsIt) {
  Json pod = testing::MakePod("team-a", "emergency");
  auto refused = CreatePod("carol", {"developers"}, pod);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.message.rfind("execgov: MissingArtifact: ", 0), 0u) << refused.message;

  auto r = CreatePod("dave", {"system:authenticated", "oncall"}, pod);
  EXPECT_TRUE(r.allowed) << r.message;
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].rfind("execgov: BreakGlass: ", 0), 0u);
  auto records = Records("admission");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["decision"], "allowed");
  EXPECT_EQ(records[1]["breakGlass"], (Json{{"policy", "team"}, {"group", "oncall"}}));
  EXPECT_FALSE(records[0].contains("breakGlass"));
  // The operator's facts read it as break-glass.
  controllers::RuntimeFacts facts;
  facts.Observe(1, records[1]);
  ASSERT_TRUE(facts.Find(api::UidOf(pod)));
  EXPECT_TRUE(facts.Find(api::UidOf(pod))->break_glass);

  // Not for an artifact that fails (only a missing one), and not for an UPDATE.
  testing::Authority stranger = testing::Authority::Make();
  Json forged = testing::WithArtifact(pod, testing::Sign(testing::ClaimsFor(pod, stranger, 1800000000), stranger));
  EXPECT_FALSE(CreatePod("dave", {"oncall"}, forged).allowed);
  EXPECT_FALSE(CreatePod("dave", {"oncall"}, pod, policy::Operation::kUpdate).allowed);
}

// The Job controller makes the Pods of a break-glass Job without an artifact
// (the Job has none to pass on): admitted as break-glass too, recorded with
// the Job's uid, when the ledger shows the Job admitted under break-glass and
// a trusted controller of that policy makes them. Nothing else gets through.
TEST_F(DoorGuardTest, ThePodsOfABreakGlassJobAreBreakGlassTooAndNothingElseIs) {
  const std::string job_controller = "system:serviceaccount:kube-system:job-controller";
  auto pod_of = [](const std::string& name, const std::string& job, const std::string& uid, bool controller = true) {
    Json pod = testing::MakePod("team-a", name);
    pod["metadata"]["ownerReferences"] = Json::array(
        {{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", job}, {"uid", uid}, {"controller", controller}}});
    return pod;
  };
  // A Job nobody broke glass for: refused; its Pods would be too.
  EXPECT_FALSE(CreateJob("carol", {"developers"}, testing::MakeJob("team-a", "plain")).allowed);
  EXPECT_FALSE(CreatePod(job_controller, {}, pod_of("plain-1", "plain", "uid-job-plain")).allowed);

  Json job = testing::MakeJob("team-a", "fix");
  auto j = CreateJob("dave", {"system:authenticated", "oncall"}, job);
  ASSERT_TRUE(j.allowed) << j.message;
  ASSERT_TRUE(break_glass_.Find("uid-job-fix"));

  auto p = CreatePod(job_controller, {"system:serviceaccounts"}, pod_of("fix-1", "fix", "uid-job-fix"));
  EXPECT_TRUE(p.allowed) << p.message;
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0].rfind("execgov: BreakGlass: ", 0), 0u) << p.warnings[0];
  auto records = Records("admission");
  ASSERT_FALSE(records.empty());
  const Json& pod_record = records.back();
  EXPECT_EQ(pod_record["decision"], "allowed");
  EXPECT_EQ(pod_record["object"]["name"], "fix-1");
  EXPECT_EQ(pod_record["breakGlass"], (Json{{"policy", "team"}, {"group", "oncall"}, {"job", "uid-job-fix"}}));
  controllers::RuntimeFacts facts;
  facts.Observe(1, pod_record);
  EXPECT_TRUE(facts.Find("uid-pod-fix-1")->break_glass);

  // Not for anyone but a trusted controller, not for an owner that is not
  // the Job's controller reference or not that Job, not for a forged owner uid.
  EXPECT_FALSE(CreatePod("mallory", {"system:authenticated"}, pod_of("fix-2", "fix", "uid-job-fix")).allowed);
  EXPECT_FALSE(CreatePod(job_controller, {}, pod_of("fix-3", "fix", "uid-job-fix", /*controller=*/false)).allowed);
  EXPECT_FALSE(CreatePod(job_controller, {}, pod_of("fix-4", "fix", "uid-job-other")).allowed);
  Json by_rs = pod_of("fix-5", "fix", "uid-job-fix");
  by_rs["metadata"]["ownerReferences"][0]["kind"] = "ReplicaSet";
  EXPECT_FALSE(CreatePod(job_controller, {}, by_rs).allowed);
  // Not with an artifact that fails (only a missing one).
  testing::Authority stranger = testing::Authority::Make();
  Json forged = pod_of("fix-6", "fix", "uid-job-fix");
  forged = testing::WithArtifact(forged, testing::Sign(testing::ClaimsFor(forged, stranger, 1800000000), stranger));
  EXPECT_FALSE(CreatePod(job_controller, {}, forged).allowed);

  // Another replica learns the Job from the ledger record.
  BreakGlassIndex other;
  auto reader = ledger::OpenBackend(url_, {.read_only = true});
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view bytes) {
    other.Observe(bytes);
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(other.Find("uid-job-fix"));
  EXPECT_EQ(other.size(), 1u);  // the Pod's record and the refusals are not Jobs admitted under break-glass

  // The group taken out of the policy: no further Pods.
  Json p2 = testing::MakePolicy("team", {&authority_});
  p2["spec"]["match"] = {{"namespaces", {"team-a"}}};
  p2["spec"]["runtime"] = {{"breakGlass", {{"groups", {"platform-admins"}}}}};
  auto compiled = policy::CompilePolicy(p2);
  ASSERT_TRUE(compiled.ok());
  auto set = std::make_shared<policy::PolicySet>();
  set->ready = true;
  set->policies.push_back(*compiled);
  policies_ = set;
  EXPECT_FALSE(CreatePod(job_controller, {}, pod_of("fix-7", "fix", "uid-job-fix")).allowed);
}

TEST(BreakGlassIndexTest, HoldsAtMostItsCapacityForgettingTheOldestAndIgnoresWhatIsNotABreakGlassJob) {
  BreakGlassIndex index(2);
  auto record = [](const std::string& kind, const std::string& uid, const std::string& decision) {
    return Json{{"type", "admission"}, {"decision", decision},
                {"object", {{"kind", kind}, {"namespace", "a"}, {"name", "n"}, {"uid", uid}, {"operation", "CREATE"}}},
                {"breakGlass", {{"policy", "p"}, {"group", "g"}}}}
        .dump();
  };
  index.Observe(record("Pod", "u-pod", "allowed"));
  index.Observe(record("Job", "u-denied", "denied"));
  index.Observe("{\"breakGlass\":{" + std::string(100, '[') + "}");  // malformed, deep: ignored
  index.Observe(R"({"type":"admission","decision":"allowed","object":{"kind":"Job","uid":"u-x","operation":"CREATE"}})");
  EXPECT_EQ(index.size(), 0u);
  index.Observe(record("Job", "u1", "allowed"));
  index.Observe(record("Job", "u2", "allowed"));
  index.Observe(record("Job", "u1", "allowed"));  // again: no second slot
  index.Observe(record("Job", "u3", "allowed"));
  EXPECT_EQ(index.size(), 2u);
  EXPECT_FALSE(index.Find("u1"));
  EXPECT_TRUE(index.Find("u2"));
  EXPECT_EQ(index.Find("u3")->policy, "p");
  EXPECT_EQ(index.Find("u3")->group, "g");
}

}  // namespace
}  // namespace execgov::webhook
