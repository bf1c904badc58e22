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

  AdmissionResponse CreatePod(const std::string& user, std::vector<std::string> groups, Json pod,
                              policy::Operation op = policy::Operation::kCreate) {
    AdmissionRequest req;
    req.uid = "req-" + std::to_string(++n_);
    req.resource = {"", "v1", "pods"};
    req.kind = {"", "v1", "Pod"};
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

}  // namespace
}  // namespace execgov::webhook
