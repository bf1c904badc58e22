// policy::Decide for ExecutionRequests that wait for their artifact (issue 20):
// admitted without one only where a policy opts in and spec.initiator is who
// asks; the UPDATE that attaches the artifact verified as a CREATE, every
// refusal on its own; and nothing else about a waiting request may change.
#include <gtest/gtest.h>

#include <map>

#include "api/object.h"
#include "policy/decision.h"
#include "support/artifact_factory.h"

namespace execgov::policy {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1800000000;

class MemReplay : public ReplayView {
 public:
  std::optional<Consumption> Find(const std::string& jti, const std::string&) const override {
    auto it = m.find(jti);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, Consumption> m;
};

class PendingRequestTest : public ::testing::Test {
 protected:
  testing::Authority auth_ = testing::Authority::Make();
  testing::Authority other_ = testing::Authority::Make(crypto::KeyAlgorithm::kEd25519, "ops-authority", "ops-1");
  MemReplay replay_;
  PolicySet set_;
  // The request's initiator (MakeExecutionRequest) and the claims' sub.
  std::string user_ = "agent:test";

  void SetUp() override { Load({Policy("default", true)}); }

  static Json Policy(const std::string& name, bool allow_pending, const testing::Authority& a,
                     const std::string& enforcement = "Enforce") {
    Json p = testing::MakePolicy(name, {&a}, enforcement);
    if (allow_pending) p["spec"]["authorization"] = {{"allowPendingRequests", true}};
    return p;
  }
  Json Policy(const std::string& name, bool allow_pending, const std::string& enforcement = "Enforce") const {
    return Policy(name, allow_pending, auth_, enforcement);
  }

  void Load(const std::vector<Json>& policies) {
    set_ = PolicySet();
    for (const auto& p : policies) {
      auto compiled = CompilePolicy(p);
      ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
      set_.policies.push_back(*compiled);
    }
    set_.ready = true;
  }

  Decision Run(const Json& object, Operation op = Operation::kCreate, const Json* old = nullptr,
               const std::function<void(AdmissionAttributes&)>& edit = nullptr) {
    AdmissionAttributes a;
    a.kind = api::KindOf(object);
    a.operation = op;
    a.ns = api::NamespaceOf(object);
    a.name = api::NameOf(object);
    a.uid = api::UidOf(object);
    a.object = &object;
    a.old_object = old;
    a.user = user_;
    if (edit) edit(a);
    DecisionInputs in;
    in.policies = &set_;
    in.now = kNow;
    in.replay = &replay_;
    return Decide(a, in);
  }

  // The waiting request with an artifact for it attached, after `edit`
  // changed the claims.
  Json Attached(const Json& request, const std::function<void(Json&)>& edit = nullptr,
                const testing::Authority* signer = nullptr) {
    Json claims = testing::ClaimsFor(request, auth_, kNow);
    if (edit) edit(claims);
    return testing::WithArtifact(request, testing::Sign(claims, signer ? *signer : auth_));
  }

  Json request_ = testing::MakeExecutionRequest("agents", "req");
};

TEST_F(PendingRequestTest, WithoutTheOptInARequestWithoutArtifactIsDenied) {
  Load({Policy("default", false)});
  Decision d = Run(request_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kMissingArtifact);
  EXPECT_FALSE(d.awaiting_authorization);
}

TEST_F(PendingRequestTest, WithTheOptInItWaitsForItsInitiator) {
  Decision d = Run(request_);
  ASSERT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_TRUE(d.awaiting_authorization);
  EXPECT_FALSE(d.verified);
  EXPECT_EQ(d.replay_action, ReplayAction::kNone);
  EXPECT_EQ(d.initiator, "agent:test");
  EXPECT_NE(d.message.find("awaiting authorization"), std::string::npos) << d.message;
}

TEST_F(PendingRequestTest, TheInitiatorMustBeTheRequestingUser) {
  user_ = "system:serviceaccount:agents:bot";
  Decision d = Run(request_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kIdentityMismatch);
  EXPECT_NE(d.message.find("\"system:serviceaccount:agents:bot\""), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("\"agent:test\""), std::string::npos) << d.message;
}

TEST_F(PendingRequestTest, AMappingLetsAUserNameTheInitiatorsItLists) {
  Json p = Policy("default", true);
  p["spec"]["authorization"]["initiatorMappings"] = {
      {{"user", "system:serviceaccount:agents:bot"}, {"initiators", {"agent:test"}}},
      {{"user", "system:serviceaccount:agents:other"}, {"initiators", {"agent:other"}}}};
  Load({p});
  user_ = "system:serviceaccount:agents:bot";
  EXPECT_TRUE(Run(request_).allowed);
  user_ = "system:serviceaccount:agents:other";  // mapped, but to someone else
  EXPECT_EQ(Run(request_).reason, Reason::kIdentityMismatch);
  user_ = "system:serviceaccount:agents:nobody";
  EXPECT_EQ(Run(request_).reason, Reason::kIdentityMismatch);
}

TEST_F(PendingRequestTest, TheOperatorCannotSeeTheRequesterAndDoesNotJudgeIt) {
  user_ = "";
  Decision d = Run(request_, Operation::kCreate, nullptr, [](AdmissionAttributes& a) { a.requester_unknown = true; });
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_TRUE(d.awaiting_authorization);
}

TEST_F(PendingRequestTest, OnlyExecutionRequestsWait) {
  Json job = testing::MakeJob("agents", "rotate");
  Decision d = Run(job);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kMissingArtifact);
  Json pod = testing::MakePod("agents", "p");
  EXPECT_EQ(Run(pod).reason, Reason::kMissingArtifact);
}

TEST_F(PendingRequestTest, EveryEnforcePolicyMustOptIn) {
  Load({Policy("a", true), Policy("b", false)});
  Decision d = Run(request_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kMissingArtifact);
  EXPECT_NE(d.message.find("ExecutionPolicy b"), std::string::npos) << d.message;
  // A Warn policy without the opt-in only warns.
  Load({Policy("a", true), Policy("b", false, "Warn")});
  d = Run(request_);
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_TRUE(d.awaiting_authorization);
  ASSERT_EQ(d.warnings.size(), 1u);
}

TEST_F(PendingRequestTest, AWaitingRequestKeepsItsSpec) {
  Json changed = request_;
  changed["metadata"]["labels"]["x"] = "y";
  Decision d = Run(changed, Operation::kUpdate, &request_);
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
  for (auto edit : std::vector<std::function<void(Json&)>>{
           [](Json& r) { r["spec"]["initiator"] = "agent:someone-else"; },
           [](Json& r) { r["spec"]["intent"] = "another purpose"; },
           [](Json& r) { r["spec"]["parentRef"] = {{"name", "p"}}; },
           [](Json& r) { r["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1"; }}) {
    Json next = request_;
    edit(next);
    d = Run(next, Operation::kUpdate, &request_);
    EXPECT_FALSE(d.allowed) << next.dump();
    EXPECT_EQ(d.reason, Reason::kScopeMismatch) << d.message;
    // Not even with an artifact for the new spec.
    d = Run(Attached(next), Operation::kUpdate, &request_);
    EXPECT_FALSE(d.allowed) << next.dump();
    EXPECT_EQ(d.reason, Reason::kScopeMismatch) << d.message;
  }
}

TEST_F(PendingRequestTest, AttachingTheArtifactIsVerifiedAndConsumesIt) {
  Json attached = Attached(request_);
  Decision d = Run(attached, Operation::kUpdate, &request_, [](AdmissionAttributes& a) {
    a.user = "system:serviceaccount:execgov-system:execgov-authority";  // who attaches it
  });
  ASSERT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_TRUE(d.verified);
  EXPECT_TRUE(d.artifact_attached);
  EXPECT_FALSE(d.awaiting_authorization);
  EXPECT_EQ(d.replay_action, ReplayAction::kConsume);
  ASSERT_TRUE(d.artifact.has_value());
  // Asked again for the same object (a retry): not a replay.
  replay_.m[d.artifact->jti] = {"ExecutionRequest", "agents", "req", api::UidOf(request_)};
  EXPECT_TRUE(Run(attached, Operation::kUpdate, &request_).allowed);
}

TEST_F(PendingRequestTest, EveryRefusalOfTheAttachingUpdate) {
  struct Case {
    const char* name;
    std::function<Json()> make;
    Reason want;
  };
  const testing::Authority stranger = testing::Authority::Make(crypto::KeyAlgorithm::kEd25519, "ops-authority", "ops-9");
  std::vector<Case> cases = {
      {"unknown key", [&] { return Attached(request_, nullptr, &stranger); }, Reason::kUnknownKey},
      {"bad signature", [&] { return Attached(request_, nullptr, &other_); }, Reason::kInvalidSignature},
      {"expired", [&] { return Attached(request_, [](Json& c) { c["iat"] = kNow - 900; c["nbf"] = kNow - 900; c["exp"] = kNow - 300; }); },
       Reason::kArtifactExpired},
      {"other audience", [&] { return Attached(request_, [](Json& c) { c["aud"] = "cluster-b"; }); }, Reason::kAudienceMismatch},
      {"sub not the initiator", [&] { return Attached(request_, [](Json& c) { c["sub"] = "agent:other"; }); },
       Reason::kIdentityMismatch},
      {"other namespace", [&] { return Attached(request_, [](Json& c) { c["scope"]["namespace"] = "elsewhere"; }); },
       Reason::kScopeMismatch},
      {"signed for a Job", [&] { return Attached(request_, [](Json& c) { c["scope"]["kind"] = "Job"; }); },
       Reason::kScopeMismatch},
      {"other digest",
       [&] {
         return Attached(request_, [](Json& c) {
           c["scope"]["digest"] = "sha256:" + std::string(64, 'a');
         });
       },
       Reason::kDigestMismatch},
      {"malformed", [&] { return testing::WithArtifact(request_, "not.a.jws"); }, Reason::kMalformedArtifact},
  };
  for (const auto& c : cases) {
    Json attached = c.make();
    Decision d = Run(attached, Operation::kUpdate, &request_);
    EXPECT_FALSE(d.allowed) << c.name;
    EXPECT_EQ(ReasonName(d.reason), std::string(ReasonName(c.want))) << c.name << ": " << d.message;
    EXPECT_EQ(d.replay_action, ReplayAction::kNone) << c.name;
  }
  // A jti another object consumed.
  Json attached = Attached(request_);
  Decision first = Run(attached, Operation::kUpdate, &request_);
  ASSERT_TRUE(first.allowed);
  replay_.m[first.artifact->jti] = {"ExecutionRequest", "agents", "earlier", "uid-earlier"};
  Decision d = Run(attached, Operation::kUpdate, &request_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kReplayDetected) << d.message;
}

// An ended request runs nothing: attaching to it is refused before its jti
// could be consumed (the webhook keeps the old object's status.phase).
TEST_F(PendingRequestTest, AnArtifactIsNotAttachedToAnEndedRequest) {
  Json attached = Attached(request_);
  for (const char* phase : {"Denied", "Expired"}) {
    Json old = request_;
    old["status"] = {{"phase", phase}};
    Decision d = Run(attached, Operation::kUpdate, &old);
    EXPECT_FALSE(d.allowed) << phase;
    EXPECT_EQ(d.reason, Reason::kScopeMismatch) << d.message;
    EXPECT_NE(d.message.find(std::string(phase) + ": it will never run"), std::string::npos) << d.message;
    EXPECT_EQ(d.replay_action, ReplayAction::kNone);
  }
  Json waiting = request_;
  waiting["status"] = {{"phase", "AwaitingAuthorization"}};
  EXPECT_TRUE(Run(attached, Operation::kUpdate, &waiting).allowed);
}

TEST_F(PendingRequestTest, BindRequesterMeansTheInitiatorWhenTheArtifactComesLater) {
  Json p = Policy("default", true);
  p["spec"]["bindRequester"] = true;
  Load({p});
  Json attached = Attached(request_);
  Decision d = Run(attached, Operation::kUpdate, &request_,
                   [](AdmissionAttributes& a) { a.user = "system:serviceaccount:execgov-system:execgov-authority"; });
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
}

// A relayed request (spec.relay: a manifest POSTed to the authority's HTTPS
// endpoint, held for approvals): a relay user names the caller as initiator,
// on that kind of request only, and no artifact is ever admitted on it.
TEST_F(PendingRequestTest, ARelayUserNamesTheCallerOnlyOnARelayedRequest) {
  Json p = Policy("default", true);
  p["spec"]["authorization"]["relayUsers"] = {"system:serviceaccount:execgov-system:execgov-authority"};
  Load({p});
  Json relayed = request_;
  relayed["spec"]["relay"] = {{"kind", "Job"}, {"name", "rotate"}};
  user_ = "system:serviceaccount:execgov-system:execgov-authority";
  Decision d = Run(relayed);
  ASSERT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_TRUE(d.awaiting_authorization);
  EXPECT_EQ(d.initiator, "agent:test");
  // The same user naming another initiator on a request that would run.
  EXPECT_EQ(Run(request_).reason, Reason::kIdentityMismatch);
  // Another user relaying.
  user_ = "system:serviceaccount:agents:bot";
  EXPECT_EQ(Run(relayed).reason, Reason::kIdentityMismatch);
  // A policy listing no relay users.
  Load({Policy("default", true)});
  user_ = "system:serviceaccount:execgov-system:execgov-authority";
  EXPECT_EQ(Run(relayed).reason, Reason::kIdentityMismatch);
}

TEST_F(PendingRequestTest, NoArtifactIsAdmittedOnARelayedRequest) {
  Json relayed = request_;
  relayed["spec"]["relay"] = {{"kind", "Job"}, {"name", "rotate"}};
  relayed["status"] = {{"phase", "AwaitingAuthorization"}};
  Json attached = Attached(relayed);
  for (const Json* old : std::initializer_list<const Json*>{nullptr, &relayed}) {
    Decision d = Run(attached, old ? Operation::kUpdate : Operation::kCreate, old, [](AdmissionAttributes& a) {
      a.user = "agent:test";
    });
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, Reason::kScopeMismatch) << d.message;
    EXPECT_NE(d.message.find("never runs in the cluster"), std::string::npos) << d.message;
    EXPECT_EQ(d.replay_action, ReplayAction::kNone);
  }
  // Under Audit too: a relayed request is never a way to run.
  Load({Policy("default", true, "Audit")});
  EXPECT_FALSE(Run(attached, Operation::kUpdate, &relayed).allowed);
  // Nor is spec.relay added to a request that carries one.
  Json running = Attached(request_);
  Json marked = running;
  marked["spec"]["relay"] = {{"kind", "Pod"}, {"name", "x"}};
  EXPECT_FALSE(Run(marked, Operation::kUpdate, &running).allowed);
}

TEST_F(PendingRequestTest, RelayUsersAreBounded) {
  Json p = Policy("default", true);
  p["spec"]["authorization"]["relayUsers"] = Json::array();
  for (int i = 0; i < 17; ++i) p["spec"]["authorization"]["relayUsers"].push_back("u" + std::to_string(i));
  EXPECT_FALSE(CompilePolicy(p).ok());
  p["spec"]["authorization"]["relayUsers"] = {""};
  EXPECT_FALSE(CompilePolicy(p).ok());
  p["spec"]["authorization"]["relayUsers"] = "system:serviceaccount:a:b";
  EXPECT_FALSE(CompilePolicy(p).ok());
}

TEST_F(PendingRequestTest, AnArtifactOnceSetNeverChanges) {
  Json first = Attached(request_);
  Json second = Attached(request_);
  Decision d = Run(second, Operation::kUpdate, &first);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kScopeMismatch) << d.message;
  d = Run(request_, Operation::kUpdate, &first);  // removed
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kScopeMismatch) << d.message;
  Json labelled = first;
  labelled["metadata"]["labels"]["x"] = "y";
  d = Run(labelled, Operation::kUpdate, &first);
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
  EXPECT_EQ(d.replay_action, ReplayAction::kNone);
}

TEST_F(PendingRequestTest, TheOperatorHoldsALaterArtifactToTheInitiator) {
  Json attached = Attached(request_, [](Json& c) { c["sub"] = "agent:other"; });
  auto later = [](AdmissionAttributes& a) {
    a.requester_unknown = true;
    a.artifact_attached_later = true;
    a.user = "agent:other";
  };
  Decision d = Run(attached, Operation::kCreate, nullptr, later);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, Reason::kIdentityMismatch) << d.message;
  // Created with its artifact, as before issue 20: sub and initiator may differ.
  d = Run(attached, Operation::kCreate, nullptr, [](AdmissionAttributes& a) { a.user = "agent:other"; });
  EXPECT_TRUE(d.allowed) << d.StatusMessage();
}

TEST(PendingRequestPolicyTest, TheAuthorizationSectionIsValidated) {
  testing::Authority auth = testing::Authority::Make();
  struct Case {
    Json authorization;
    const char* want;
  };
  std::vector<Case> cases = {
      {Json::array(), "spec.authorization: must be an object"},
      {{{"allowPending", true}}, "spec.authorization.allowPending: unknown field"},
      {{{"allowPendingRequests", "yes"}}, "spec.authorization.allowPendingRequests: must be true or false"},
      {{{"initiatorMappings", {{{"user", ""}, {"initiators", {"a"}}}}}}, "initiatorMappings[0].user: must be"},
      {{{"initiatorMappings", {{{"user", "u"}, {"initiators", Json::array()}}}}}, "initiatorMappings[0].initiators: must list"},
      {{{"initiatorMappings", {{{"user", "u"}, {"initiators", {std::string(254, 'x')}}}}}}, "initiatorMappings[0].initiators: each"},
      {{{"initiatorMappings", {{{"user", "u"}, {"initiators", {"a"}}}, {{"user", "u"}, {"initiators", {"b"}}}}}},
       "initiatorMappings[1].user: \"u\" is mapped twice"},
      {{{"initiatorMappings", {{{"user", "u"}, {"initiators", {"a"}}, {"groups", {"g"}}}}}}, "initiatorMappings[0].groups: unknown field"},
  };
  for (const auto& c : cases) {
    Json p = testing::MakePolicy("default", {&auth});
    p["spec"]["authorization"] = c.authorization;
    auto compiled = CompilePolicy(p);
    ASSERT_FALSE(compiled.ok()) << c.authorization.dump();
    EXPECT_NE(compiled.status().message().find(c.want), std::string::npos) << compiled.status().message();
  }
  Json p = testing::MakePolicy("default", {&auth});
  p["spec"]["authorization"] = {{"allowPendingRequests", true},
                                {"initiatorMappings", {{{"user", "u"}, {"initiators", {"a", "b"}}}}}};
  auto compiled = CompilePolicy(p);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  EXPECT_TRUE((*compiled)->allow_pending_requests);
  EXPECT_EQ((*compiled)->initiator_mappings.at("u"), (std::set<std::string>{"a", "b"}));
  EXPECT_FALSE((*CompilePolicy(testing::MakePolicy("default", {&auth})))->allow_pending_requests);
}

}  // namespace
}  // namespace execgov::policy
