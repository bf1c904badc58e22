// The runtime verifier's decision (VerifyWorkload) with plain maps for the
// caches and the ledger's facts: each finding, and what is never one.
// Also RuntimeFacts' folding of ledger records and spec.runtime's parser.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "api/execution_scope.h"
#include "controllers/artifact_summary.h"
#include "controllers/runtime_facts.h"
#include "controllers/runtime_verifier.h"
#include "core/clock.h"
#include "policy/policy.h"
#include "policy/runtime_spec.h"
#include "support/artifact_factory.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1800000000;

json Namespace(const std::string& name, bool governed) {
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  if (governed) ns["metadata"]["labels"][std::string(api::kGovernedLabel)] = "true";
  return ns;
}

json WithMeta(json object, const std::string& uid, const json& owner = nullptr) {
  object["metadata"]["uid"] = uid;
  object["metadata"]["resourceVersion"] = "1";
  object["metadata"]["creationTimestamp"] = FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(kNow)));
  if (!owner.is_null()) {
    object["metadata"]["ownerReferences"] = json::array({{{"apiVersion", owner.value("apiVersion", "")},
                                                          {"kind", api::KindOf(owner)},
                                                          {"name", api::NameOf(owner)},
                                                          {"uid", api::UidOf(owner)},
                                                          {"controller", true}}});
  }
  return object;
}

std::string UnverifiedFactsJti(const json& object) { return UnverifiedFacts(*api::ArtifactOf(object))->jti; }

std::string DigestOf(const json& object) {
  auto d = api::ExecutionScopeDigest(object);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? *d : "";
}

// An allowed admission record as the webhook writes it.
json Admission(const json& object, const std::string& jti, const std::string& op, const std::string& policy = "team",
               const std::string& kid = "ops-1") {
  json r = {{"type", "admission"},
            {"decision", "allowed"},
            {"reason", "Allowed"},
            {"object",
             {{"kind", api::KindOf(object)},
              {"namespace", api::NamespaceOf(object)},
              {"name", api::NameOf(object)},
              {"uid", api::UidOf(object)},
              {"operation", "CREATE"}}},
            {"digest", DigestOf(object)},
            {"policy", {{"name", policy}, {"generation", 1}, {"enforcement", "Enforce"}}}};
  if (!jti.empty()) r["artifact"] = {{"iss", "ops-authority"}, {"kid", kid}, {"jti", jti}, {"digest", DigestOf(object)}};
  if (!op.empty()) r["replay"] = {{"op", op}};
  return r;
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override { SetPolicy(json::object()); }

  void SetPolicy(const json& spec_patch) {
    json p = testing::MakePolicy("team", {&authority_});
    p["metadata"]["generation"] = 1;
    p["spec"].merge_patch(spec_patch);
    auto compiled = policy::CompilePolicy(p);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    set_ = std::make_shared<policy::PolicySet>();
    set_->ready = true;
    set_->version = ++version_;
    set_->policies = {*compiled};
  }

  VerifyContext Ctx() {
    VerifyContext ctx;
    ctx.policies = set_.get();
    ctx.facts = &facts_;
    ctx.now = kNow;
    ctx.owner = [this](const std::string& kind, const std::string& ns, const std::string& name) -> runtime::ObjectPtr {
      auto it = owners_.find(kind + "/" + ns + "/" + name);
      return it == owners_.end() ? nullptr : std::make_shared<const json>(it->second);
    };
    ctx.decide = [this](const policy::AdmissionAttributes& a, int64_t at) {
      policy::DecisionInputs in;
      in.policies = set_.get();
      in.now = at;
      in.replay = &facts_;
      return policy::Decide(a, in);
    };
    return ctx;
  }

  std::vector<Finding> Verify(const json& object, bool governed = true) {
    auto kind = api::ParseGovernedKind(api::KindOf(object));
    return VerifyWorkload(*kind, object, Namespace(api::NamespaceOf(object), governed), Ctx());
  }

  void Record(const json& r) { facts_.Observe(++seq_, r); }
  void Owner(const json& o) { owners_[api::KindOf(o) + "/" + api::NamespaceOf(o) + "/" + api::NameOf(o)] = o; }

  // A Job signed and admitted (it consumed its jti), and one Pod of it,
  // admitted by inheritance.
  std::pair<json, json> AdmittedJobAndPod() {
    json job = WithMeta(testing::MakeJob("team-a", "rotate"), "uid-job");
    json claims = testing::ClaimsFor(job, authority_, kNow);
    jti_ = claims["jti"];
    job = testing::WithArtifact(job, testing::Sign(claims, authority_));
    json pod = testing::MakePod("team-a", "rotate-x");
    pod["spec"] = job["spec"]["template"]["spec"];
    pod = testing::WithArtifact(WithMeta(pod, "uid-pod", job), *api::ArtifactOf(job));
    Record(Admission(job, jti_, "consume"));
    Record(Admission(pod, jti_, ""));
    Owner(job);
    return {job, pod};
  }

  testing::Authority authority_ = testing::Authority::Make();
  std::shared_ptr<policy::PolicySet> set_;
  uint64_t version_ = 0;
  FakeClock clock_{kNow};
  RuntimeFacts facts_{&clock_};
  uint64_t seq_ = 0;
  std::string jti_;
  std::map<std::string, json> owners_;
};

std::vector<std::string> Names(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(RuntimeFindingName(f.reason));
  return out;
}

using Strings = std::vector<std::string>;

TEST_F(VerifyTest, AnAdmittedJobAndItsPodAreClean) {
  auto [job, pod] = AdmittedJobAndPod();
  EXPECT_EQ(Names(Verify(job)), Strings{});
  EXPECT_EQ(Names(Verify(pod)), Strings{});
}

TEST_F(VerifyTest, APodWithNoRecordAndNoArtifactIsUnadmittedUnderTheMatchingPolicy) {
  json pod = WithMeta(testing::MakePod("team-a", "sneaky"), "uid-sneaky");
  auto f = Verify(pod);
  ASSERT_EQ(Names(f), Strings{"Unadmitted"});
  EXPECT_EQ(f[0].policy, "team");
  EXPECT_NE(f[0].message.find("no admission record"), std::string::npos) << f[0].message;
}

TEST_F(VerifyTest, ARecordDerivedAfterTheFactIsNoAdmission) {
  json pod = WithMeta(testing::MakePod("team-a", "sneaky"), "uid-sneaky");
  json derived = Admission(pod, "", "");
  derived["derived"] = true;
  Record(derived);
  EXPECT_EQ(Names(Verify(pod)), Strings{"Unadmitted"});
}

TEST_F(VerifyTest, AnUnrecordedObjectWithAValidArtifactOfItsOwnIsClean) {
  json pod = WithMeta(testing::MakePod("team-a", "signed"), "uid-signed");
  pod = testing::WithArtifact(pod, testing::Sign(testing::ClaimsFor(pod, authority_, kNow), authority_));
  EXPECT_EQ(Names(Verify(pod)), Strings{});
  // Another object consumed that jti: a replay, made while the webhook was away.
  json other = WithMeta(testing::MakePod("team-a", "first"), "uid-first");
  Record(Admission(other, UnverifiedFactsJti(pod), "consume"));
  EXPECT_EQ(Names(Verify(pod)), Strings{"Unadmitted"});
}

TEST_F(VerifyTest, AnUnrecordedObjectWithAForgedOrMismatchedArtifactIsUnadmitted) {
  json pod = WithMeta(testing::MakePod("team-a", "forged"), "uid-forged");
  testing::Authority stranger = testing::Authority::Make(crypto::KeyAlgorithm::kEd25519, "ops-authority", "ops-1");
  auto forged = testing::WithArtifact(pod, testing::Sign(testing::ClaimsFor(pod, stranger, kNow), stranger));
  auto f = Verify(forged);
  ASSERT_EQ(Names(f), Strings{"Unadmitted"});
  EXPECT_NE(f[0].message.find("InvalidSignature"), std::string::npos) << f[0].message;
  json claims = testing::ClaimsFor(pod, authority_, kNow);
  json changed = pod;
  changed["spec"]["containers"][0]["image"] = "registry.example.com/evil:1";
  EXPECT_EQ(Names(Verify(testing::WithArtifact(changed, testing::Sign(claims, authority_)))), Strings{"Unadmitted"});
}

TEST_F(VerifyTest, ARevokedJtiOrKidIsRevokedNamingThePolicy) {
  auto [job, pod] = AdmittedJobAndPod();
  SetPolicy({{"revocations", {{"jtis", {jti_}}}}});
  auto f = Verify(job);
  ASSERT_EQ(Names(f), Strings{"Revoked"});
  EXPECT_EQ(f[0].policy, "team");
  EXPECT_EQ(Names(Verify(pod)), Strings{"Revoked"});
  SetPolicy({{"revocations", {{"kids", {"ops-1"}}}}});
  EXPECT_EQ(Names(Verify(job)), Strings{"Revoked"});
  SetPolicy(json::object());
  EXPECT_EQ(Names(Verify(job)), Strings{});
}

TEST_F(VerifyTest, AnUnrecordedObjectWhoseArtifactIsRevokedNowIsRevoked) {
  json pod = WithMeta(testing::MakePod("team-a", "signed"), "uid-signed");
  json claims = testing::ClaimsFor(pod, authority_, kNow);
  pod = testing::WithArtifact(pod, testing::Sign(claims, authority_));
  SetPolicy({{"revocations", {{"jtis", {claims["jti"]}}}}});
  EXPECT_EQ(Names(Verify(pod)), Strings{"Revoked"});
}

TEST_F(VerifyTest, AChangedScopeIsDrift) {
  auto [job, pod] = AdmittedJobAndPod();
  pod["spec"]["containers"][0]["image"] = "registry.example.com/evil:1";
  auto f = Verify(pod);
  ASSERT_EQ(Names(f), Strings{"Drift"});
  EXPECT_NE(f[0].message.find("changed without the webhook"), std::string::npos);
}

TEST_F(VerifyTest, AnInheritorWhoseOwnerIsGoneOrAnotherIsALineageDiscontinuity) {
  auto [job, pod] = AdmittedJobAndPod();
  owners_.clear();
  auto f = Verify(pod);
  ASSERT_EQ(Names(f), Strings{"LineageDiscontinuity"});
  EXPECT_NE(f[0].message.find("no longer exists"), std::string::npos) << f[0].message;
  // A Job of the same name but another uid is not the owner.
  json impostor = job;
  impostor["metadata"]["uid"] = "uid-other";
  Owner(impostor);
  EXPECT_EQ(Names(Verify(pod)), Strings{"LineageDiscontinuity"});
  // Orphaned: no controller owner at all.
  Owner(job);
  pod["metadata"].erase("ownerReferences");
  EXPECT_EQ(Names(Verify(pod)), Strings{"LineageDiscontinuity"});
}

TEST_F(VerifyTest, AnUnrecordedInheritorPassesOnlyThroughItsConsumerWithTheSignedSpec) {
  auto [job, pod] = AdmittedJobAndPod();
  json late = pod;  // a Pod the Job controller made while the webhook was away
  late["metadata"]["uid"] = "uid-late";
  EXPECT_EQ(Names(Verify(late)), Strings{});
  late["spec"]["containers"][0]["image"] = "registry.example.com/evil:1";
  EXPECT_EQ(Names(Verify(late)), Strings{"Unadmitted"});
  owners_.clear();
  EXPECT_EQ(Names(Verify(pod)), Strings{"LineageDiscontinuity"});
}

TEST_F(VerifyTest, ANamespaceThatLostItsLabelIsUngovernedForWhatTheLedgerAdmittedOnly) {
  auto [job, pod] = AdmittedJobAndPod();
  EXPECT_EQ(Names(Verify(job, /*governed=*/false)), Strings{"Ungoverned"});
  json never = WithMeta(testing::MakePod("team-a", "plain"), "uid-plain");
  EXPECT_EQ(Names(Verify(never, /*governed=*/false)), Strings{});
}

TEST_F(VerifyTest, NeverGovernedNamespacesAreNeverJudged) {
  for (const char* ns : {"kube-system", "execgov-system"}) {
    json pod = WithMeta(testing::MakePod(ns, "system"), std::string("uid-") + ns);
    Record(Admission(pod, "jti-never-governed-0000000", "consume"));
    EXPECT_EQ(Names(Verify(pod)), Strings{}) << ns;
  }
}

TEST_F(VerifyTest, BreakGlassIsReportedAsSuch) {
  json pod = WithMeta(testing::MakePod("team-a", "emergency"), "uid-bg");
  json r = Admission(pod, "", "");
  r["breakGlass"] = {{"policy", "team"}, {"group", "oncall"}};
  Record(r);
  EXPECT_EQ(Names(Verify(pod)), Strings{"BreakGlass"});
}

TEST_F(VerifyTest, ObjectsOlderThanTheKeptLedgerAreNotJudgedOnAMissingRecord) {
  json pod = WithMeta(testing::MakePod("team-a", "old"), "uid-old");
  VerifyContext ctx = Ctx();
  ctx.trimmed_before = std::chrono::system_clock::time_point(std::chrono::seconds(kNow + 60));
  EXPECT_TRUE(VerifyWorkload(api::GovernedKind::kPod, pod, Namespace("team-a", true), ctx).empty());
  ctx.trimmed_before = std::chrono::system_clock::time_point(std::chrono::seconds(kNow - 3600));
  EXPECT_EQ(Names(VerifyWorkload(api::GovernedKind::kPod, pod, Namespace("team-a", true), ctx)), Strings{"Unadmitted"});
}

TEST(RuntimeWorkloadTest, FinishedAndDeletingObjectsAreNotActive) {
  json pod = testing::MakePod("a", "p");
  EXPECT_TRUE(IsActiveWorkload(api::GovernedKind::kPod, pod));
  pod["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(IsActiveWorkload(api::GovernedKind::kPod, pod));
  json job = testing::MakeJob("a", "j");
  EXPECT_TRUE(IsActiveWorkload(api::GovernedKind::kJob, job));
  job["status"]["conditions"] = json::array({{{"type", "Complete"}, {"status", "True"}}});
  EXPECT_FALSE(IsActiveWorkload(api::GovernedKind::kJob, job));
  json request = testing::MakeExecutionRequest("a", "r");
  request["status"]["phase"] = "Running";
  EXPECT_TRUE(IsActiveWorkload(api::GovernedKind::kExecutionRequest, request));
  request["status"]["phase"] = "Revoked";
  EXPECT_FALSE(IsActiveWorkload(api::GovernedKind::kExecutionRequest, request));
  json deleting = testing::MakePod("a", "d");
  deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  EXPECT_FALSE(IsActiveWorkload(api::GovernedKind::kPod, deleting));
}

TEST(RuntimeFactsTest, FoldsAllowedAdmissionsKeepsTheWebhooksOverDerivedAndForgetsWhatIsGone) {
  FakeClock clock(kNow);
  RuntimeFacts facts(&clock);
  json pod = WithMeta(testing::MakePod("team-a", "p"), "uid-p");
  json denied = Admission(pod, "jti-0123456789012345678901", "consume");
  denied["decision"] = "denied";
  facts.Observe(1, denied);
  EXPECT_FALSE(facts.Find("uid-p"));
  EXPECT_FALSE(facts.ConsumerOf("jti-0123456789012345678901"));
  facts.Observe(2, Admission(pod, "jti-0123456789012345678901", "consume"));
  ASSERT_TRUE(facts.Find("uid-p"));
  EXPECT_TRUE(facts.Find("uid-p")->consumed);
  EXPECT_EQ(facts.ConsumerOf("jti-0123456789012345678901"), "uid-p");
  json derived = Admission(pod, "", "");
  derived["derived"] = true;
  facts.Observe(3, derived);
  EXPECT_FALSE(facts.Find("uid-p")->derived);
  EXPECT_EQ(facts.Find("uid-p")->seq, 2u);
  // A second consumer of the same jti (never admitted by the webhook; a
  // derived record at most) does not take the consumption over.
  json other = WithMeta(testing::MakePod("team-a", "q"), "uid-q");
  facts.Observe(4, Admission(other, "jti-0123456789012345678901", "consume"));
  EXPECT_EQ(facts.ConsumerOf("jti-0123456789012345678901"), "uid-p");
  facts.Observe(5, {{"type", "enforcement"}, {"action", "delete"}, {"object", {{"uid", "uid-p"}}}});
  EXPECT_TRUE(facts.Enforced("uid-p", "delete"));
  EXPECT_FALSE(facts.Enforced("uid-p", "suspend"));

  auto none_alive = [](const std::string&) { return false; };
  EXPECT_EQ(facts.Prune(clock.Now() - 1s, none_alive), 0u);  // read too recently
  clock.Advance(std::chrono::minutes(11));
  EXPECT_EQ(facts.Prune(clock.Now() - std::chrono::minutes(10), [](const std::string& uid) { return uid == "uid-q"; }), 1u);
  EXPECT_FALSE(facts.Find("uid-p"));
  EXPECT_TRUE(facts.Find("uid-q"));
  EXPECT_FALSE(facts.ConsumerOf("jti-0123456789012345678901"));
  EXPECT_FALSE(facts.Enforced("uid-p", "delete"));
}

// The webhook records an UPDATE that leaves the execution scope unchanged
// (the garbage collector removing an owner reference, the Job controller its
// finalizer) without an artifact or policy: the object keeps what it was
// admitted with, so a later revocation or a broken lineage is still found.
TEST_F(VerifyTest, AnUnchangedScopeUpdateKeepsWhatTheObjectWasAdmittedWith) {
  auto [job, pod] = AdmittedJobAndPod();
  json update = Admission(pod, "", "");
  update["object"]["operation"] = "UPDATE";
  update.erase("policy");
  Record(update);
  auto known = facts_.Find(api::UidOf(pod));
  ASSERT_TRUE(known);
  EXPECT_EQ(known->jti, jti_);
  EXPECT_EQ(known->kid, "ops-1");
  EXPECT_EQ(known->policy, "team");
  EXPECT_FALSE(known->signed_digest.empty());
  // Orphaned: no controller owner any more.
  pod["metadata"].erase("ownerReferences");
  EXPECT_EQ(Names(Verify(pod)), Strings{"LineageDiscontinuity"});
  // A break-glass admission stays one after an update.
  json bg = WithMeta(testing::MakePod("team-a", "emergency"), "uid-bg-update");
  json r = Admission(bg, "", "");
  r["breakGlass"] = {{"policy", "team"}, {"group", "oncall"}};
  Record(r);
  json bg_update = Admission(bg, "", "");
  bg_update["object"]["operation"] = "UPDATE";
  Record(bg_update);
  EXPECT_EQ(Names(Verify(bg)), Strings{"BreakGlass"});
}

// Nor does such an UPDATE admit an object the webhook never admitted (made
// while it was bypassed, or known only from a derived record): a label put
// on it afterwards must not end its Unadmitted finding.
TEST_F(VerifyTest, AnUnchangedScopeUpdateAdmitsNothingTheWebhookNeverAdmitted) {
  json pod = WithMeta(testing::MakePod("team-a", "bypass"), "uid-bypass");
  json update = Admission(pod, "", "");
  update["object"]["operation"] = "UPDATE";
  update.erase("policy");
  Record(update);
  EXPECT_FALSE(facts_.Find("uid-bypass"));
  EXPECT_EQ(Names(Verify(pod)), Strings{"Unadmitted"});
  json derived = Admission(pod, "", "");
  derived["derived"] = true;
  Record(derived);
  Record(update);
  ASSERT_TRUE(facts_.Find("uid-bypass"));
  EXPECT_TRUE(facts_.Find("uid-bypass")->derived);
  EXPECT_EQ(Names(Verify(pod)), Strings{"Unadmitted"});
}

TEST(RuntimeSpecTest, DefaultsAndBounds) {
  auto d = policy::CompileRuntimeSpec(json::object());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->action, policy::RuntimeAction::kReport);
  EXPECT_EQ(d->grace_period_seconds, policy::kDefaultRuntimeGraceSeconds);
  EXPECT_FALSE(d->Terminates());
  auto t = policy::CompileRuntimeSpec({{"runtime", {{"action", "Terminate"}, {"gracePeriodSeconds", 0}}}});
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Terminates());
  auto dry = policy::CompileRuntimeSpec({{"runtime", {{"action", "Terminate"}, {"dryRun", true}}}});
  ASSERT_TRUE(dry.ok());
  EXPECT_FALSE(dry->Terminates());
  for (const json& bad : {json{{"runtime", "Terminate"}}, json{{"runtime", {{"action", "Kill"}}}},
                          json{{"runtime", {{"action", 1}}}}, json{{"runtime", {{"gracePeriodSeconds", -1}}}},
                          json{{"runtime", {{"gracePeriodSeconds", 86401}}}},
                          json{{"runtime", {{"gracePeriodSeconds", 1.5}}}},
                          json{{"runtime", {{"gracePeriodSeconds", 18446744073709551615ull}}}},
                          json{{"runtime", {{"dryRun", "yes"}}}}, json{{"runtime", {{"mode", "Report"}}}},
                          json{{"runtime", {{"namespaceGuardians", {{"users", "alice"}}}}}},
                          json{{"runtime", {{"namespaceGuardians", {{"users", {""}}}}}}},
                          json{{"runtime", {{"namespaceGuardians", {{"roles", {"x"}}}}}}},
                          json{{"runtime", {{"breakGlass", {{"groups", json::array({1})}}}}}},
                          json{{"runtime", {{"breakGlass", {{"groups", std::vector<std::string>(33, "g")}}}}}},
                          json{{"runtime", {{"breakGlass", {{"groups", {std::string(254, 'g')}}}}}}}}) {
    auto r = policy::CompileRuntimeSpec(bad);
    EXPECT_FALSE(r.ok()) << bad.dump();
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("spec.runtime", 0), 0u) << r.status().message();
    }
  }
  // Through the whole policy: an unknown member of spec.runtime refuses the policy.
  testing::Authority a = testing::Authority::Make();
  json p = testing::MakePolicy("team", {&a});
  p["spec"]["runtime"] = {{"action", "Terminate"}, {"gracePeriodSeconds", 5}, {"dryRun", true}};
  auto compiled = policy::CompilePolicy(p);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  EXPECT_EQ((*compiled)->runtime.grace_period_seconds, 5);
  EXPECT_TRUE((*compiled)->runtime.dry_run);
  p["spec"]["runtime"]["extra"] = true;
  EXPECT_FALSE(policy::CompilePolicy(p).ok());
}

}  // namespace
}  // namespace execgov::controllers
