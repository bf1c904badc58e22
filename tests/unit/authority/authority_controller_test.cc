// The authority's reconcile (issue 20) over an in-memory API and a real file
// ledger, with a fake clock: a grant is recorded before it is signed, and a
// restart after a failed attach signs the same claims (same jti) rather than
// granting again; AutoDeny, the rule's timeout, a grant that expired
// unattached and the rate limit refuse, each with its record and status.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/authority_controller.h"
#include "authority/relay.h"
#include "authority_caches.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "ledger/ledger.h"
#include "support/artifact_factory.h"
#include "support/memory_kube_client.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

using testing::MemoryClient;

constexpr int64_t kCreated = 1800000000;

class AuthorityControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("authority-test-" + crypto::HexEncode(crypto::RandomBytes(6)));
    std::filesystem::create_directories(dir_);
    signer_ = std::make_unique<Signer>(Signer{testing::Authority::Make().key, "ops-1", "ops-authority", "cluster-a"});
    json epol = {{"apiVersion", "execgov.io/v1alpha1"},
                 {"kind", "ExecutionPolicy"},
                 {"metadata", {{"name", "p"}}},
                 {"spec", {{"maxTTL", "2m"}, {"match", {{"namespaces", {"agents"}}}}}}};
    client_.Put("executionpolicies", epol);
    UseRules({{{"name", "auto"}, {"action", "AutoApprove"}, {"ttl", "10m"}, {"timeout", "1h"}}});
    request_ = testing::MakeExecutionRequest("agents", "req");
    request_["metadata"]["creationTimestamp"] = "2027-01-15T08:00:00Z";  // kCreated
    request_["metadata"]["generation"] = 1;
    request_["status"] = {{"phase", "AwaitingAuthorization"}};
    client_.Put("executionrequests", request_);
  }
  void TearDown() override {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  void UseRules(json rules) {
    client_.Put("authoritypolicies", {{"apiVersion", "execgov.io/v1alpha1"},
                                      {"kind", "AuthorityPolicy"},
                                      {"metadata", {{"name", "ops"}, {"generation", 1}}},
                                      {"spec", {{"rules", std::move(rules)}}}});
  }

  // The webhook's record of admitting the request without an artifact, as
  // another writer of the ledger.
  void RecordAdmission(const std::string& initiator) {
    ledger::LedgerOptions options;
    options.signing_key_path = (dir_ / "ledger.key").string();
    auto webhook = ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), options);
    ASSERT_TRUE(webhook.ok()) << webhook.status().ToString();
    ASSERT_TRUE((*webhook)
                    ->Append({{"type", "admission"},
                              {"decision", "allowed"},
                              {"reason", "Allowed"},
                              {"authorization", "awaiting"},
                              {"initiator", initiator},
                              {"object", {{"kind", "ExecutionRequest"}, {"namespace", "agents"}, {"name", "req"},
                                          {"uid", api::UidOf(request_)}, {"operation", "CREATE"}}}})
                    .ok());
    ASSERT_TRUE((*webhook)->Close().ok());
  }

  // The webhook's record of an approval it admitted (approval.h).
  void RecordApproval(const std::string& approver, const std::vector<std::string>& groups, bool approve,
                      const std::string& digest, const std::string& approval_uid) {
    ledger::LedgerOptions options;
    options.signing_key_path = (dir_ / "ledger.key").string();
    auto webhook = ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), options);
    ASSERT_TRUE(webhook.ok()) << webhook.status().ToString();
    Approval a;
    a.ns = "agents";
    a.name = "req-" + approval_uid;
    a.uid = approval_uid;
    a.request_name = "req";
    a.request_uid = api::UidOf(request_);
    a.request_digest = digest;
    a.approve = approve;
    a.approver = approver;
    a.reason = approve ? "" : "not this week";
    ApprovalJudgement j;
    j.allowed = true;
    j.groups = groups;
    j.rule = "ops/review";
    ASSERT_TRUE((*webhook)->Append(ApprovalRecord(a, j, approver)).ok());
    ASSERT_TRUE((*webhook)->Close().ok());
  }
  std::string Digest() { return *api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, request_); }

  // A fresh authority process: its index read from the ledger, its caches listed.
  void Start() {
    Stop();
    if (!admission_recorded_) {
      RecordAdmission("agent:test");
      admission_recorded_ = true;
    }
    index_ = std::make_unique<GrantIndex>();
    ledger::LedgerOptions options;
    options.signing_key_path = (dir_ / "ledger.key").string();
    options.observe = [this](uint64_t, std::string_view record) { index_->Observe(record); };
    auto opened = ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ledger_ = std::move(opened).value();
    ASSERT_TRUE(ledger_->CatchUp().ok());
    ASSERT_TRUE(caches_.Start(&client_));
    AuthorityControllerDeps deps = caches_.Deps();
    deps.ledger = ledger_.get();
    deps.index = index_.get();
    deps.signer = signer_.get();
    deps.identity = "authority-test";
    deps.default_timeout_seconds = 600;
    deps.clock = &clock_;
    controller_ = std::make_unique<AuthorityController>(std::move(deps));
  }
  void Stop() {
    controller_.reset();
    caches_.Stop();
    if (ledger_) {
      ASSERT_TRUE(ledger_->Close().ok());
    }
    ledger_.reset();
  }

  std::vector<json> Records(const std::string& type) {
    std::vector<json> out;
    std::ifstream in(dir_ / "ledger.jsonl");
    for (std::string line; std::getline(in, line);) {
      json r = json::parse(line, nullptr, false);
      if (r.is_object() && r.value("type", "") == type) out.push_back(r);
    }
    return out;
  }
  json Stored() { return client_.Object("executionrequests", "agents", "req"); }

  std::filesystem::path dir_;
  bool admission_recorded_ = false;  // set before Start() to leave the record out
  MemoryClient client_;
  FakeClock clock_{kCreated + 5};
  std::unique_ptr<Signer> signer_;
  std::unique_ptr<GrantIndex> index_;
  std::unique_ptr<ledger::Ledger> ledger_;
  AuthorityCaches caches_;
  std::unique_ptr<AuthorityController> controller_;
  json request_;
};

TEST_F(AuthorityControllerTest, AGrantIsRecordedFirstAndARestartSignsTheSameClaims) {
  client_.fail_updates = 1;  // the attach fails, as if the process died before it
  Start();
  auto r = controller_->Reconcile("agents/req");
  ASSERT_FALSE(r.ok());
  auto grants = Records("grant");
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_FALSE(api::ArtifactOf(Stored()).has_value());
  const json claims = grants[0]["claims"];
  EXPECT_EQ(claims["sub"], "agent:test");
  EXPECT_EQ(claims["aud"], "cluster-a");
  EXPECT_EQ(claims["scope"]["name"], "req");
  EXPECT_EQ(claims["scope"]["digest"], *api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, request_));
  EXPECT_EQ(claims["intent"], "test");
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 120);  // the ExecutionPolicy's maxTTL
  EXPECT_EQ(grants[0]["rule"]["name"], "auto");

  clock_.Advance(std::chrono::seconds(30));
  Start();  // a new process: it learns the grant from the ledger
  r = controller_->Reconcile("agents/req");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto token = api::ArtifactOf(Stored());
  ASSERT_TRUE(token.has_value());
  crypto::ParsedJws jws;
  ASSERT_EQ(crypto::ParseJws(*token, &jws).failure, crypto::JwsFailure::kNone);
  EXPECT_EQ(jws.claims, claims);  // the same grant, not a second one
  EXPECT_EQ(Records("grant").size(), 1u);
  EXPECT_EQ(api::StringAt(Stored(), {"status", "authorization", "jti"}), claims["jti"].get<std::string>());
}

TEST_F(AuthorityControllerTest, AGrantThatExpiredUnattachedExpiresTheRequest) {
  client_.fail_updates = 1;
  Start();
  ASSERT_FALSE(controller_->Reconcile("agents/req").ok());
  clock_.Advance(std::chrono::seconds(200));  // past the grant's 120 s
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Expired");
  EXPECT_FALSE(api::ArtifactOf(Stored()).has_value());
  EXPECT_EQ(Records("grant").size(), 1u);
  ASSERT_EQ(Records("denial").size(), 1u);
  EXPECT_EQ(Records("denial")[0]["reason"], "Expired");
}

TEST_F(AuthorityControllerTest, AutoDenyNamesTheRule) {
  UseRules({{{"name", "nothing"}, {"action", "AutoDeny"}}});
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  json stored = Stored();
  EXPECT_EQ(api::StringAt(stored, {"status", "phase"}), "Denied");
  EXPECT_NE(stored["status"]["conditions"][0]["message"].get<std::string>().find("ops/nothing"), std::string::npos);
  auto denials = Records("denial");
  ASSERT_EQ(denials.size(), 1u);
  EXPECT_EQ(denials[0]["rule"], "ops/nothing");
  EXPECT_TRUE(Records("grant").empty());
  // Again: one record, not two.
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(Records("denial").size(), 1u);
}

TEST_F(AuthorityControllerTest, ApprovalsNeverGivenExpireAtTheRulesTimeout) {
  UseRules({{{"name", "review"},
             {"action", "RequireApprovals"},
             {"approvals", {{"count", 2}, {"groups", {"ops"}}}},
             {"timeout", "60s"}}});
  Start();
  auto r = controller_->Reconcile("agents/req");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeue_after, std::chrono::seconds(55));
  EXPECT_EQ(api::StringAt(Stored(), {"status", "authorization", "waitingFor"}), "2 approvals from ops (0 given)");
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "AwaitingAuthorization");
  clock_.Advance(std::chrono::seconds(55));
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Expired");
  EXPECT_TRUE(Records("grant").empty());
}

TEST_F(AuthorityControllerTest, TheRateLimitCountsGrantsPerInitiator) {
  UseRules({{{"name", "auto"}, {"action", "AutoApprove"}, {"rateLimit", {{"count", 1}, {"per", "1h"}}}}});
  Start();
  index_->NoteGrant("another-request", {json::object(), "ops/auto", "agent:test", clock_.NowUnix() - 60, 0});
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Denied");
  EXPECT_TRUE(Records("grant").empty());
}

TEST_F(AuthorityControllerTest, OnlyWaitingRequestsWithoutAnArtifactAreJudged) {
  request_["status"]["phase"] = "Pending";
  client_.Put("executionrequests", request_);
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_TRUE(Records("grant").empty());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Pending");
}

TEST_F(AuthorityControllerTest, NoRecordOfTheAdmissionNoGrant) {
  admission_recorded_ = true;  // as if the webhook had been bypassed
  Start();
  auto r = controller_->Reconcile("agents/req");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->requeue_after, std::chrono::seconds(2));
  EXPECT_TRUE(Records("grant").empty());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "authorization", "waitingFor"}), "the record of its admission in the ledger");
  // The record arrives (another writer): granted at the next look.
  RecordAdmission("agent:test");
  r = controller_->Reconcile("agents/req");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Records("grant").size(), 1u);
  EXPECT_TRUE(api::ArtifactOf(Stored()).has_value());
}

TEST_F(AuthorityControllerTest, NoRecordUntilTheTimeoutExpires) {
  admission_recorded_ = true;
  Start();
  clock_.Advance(std::chrono::hours(2));  // past the rule's 1h
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Expired");
  EXPECT_TRUE(Records("grant").empty());
}

TEST_F(AuthorityControllerTest, AnInitiatorOtherThanTheAdmittedOneIsDenied) {
  admission_recorded_ = true;
  RecordAdmission("agent:someone-else");
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Denied");
  EXPECT_TRUE(Records("grant").empty());
}

// Two approvals of distinct entitled approvers grant: the initiator's own, a
// second one by the same approver, one from a group the rule does not name
// and one of another digest (the request changed since) count for nothing.
TEST_F(AuthorityControllerTest, TwoDistinctEntitledApproversGrant) {
  UseRules({{{"name", "review"},
             {"action", "RequireApprovals"},
             {"approvals", {{"count", 2}, {"groups", {"ops"}}}},
             {"timeout", "1h"}}});
  RecordApproval("agent:test", {"ops"}, true, Digest(), "a1");   // the initiator
  RecordApproval("alice", {"ops"}, true, Digest(), "a2");
  RecordApproval("alice", {"ops"}, true, Digest(), "a3");        // alice again
  RecordApproval("mallory", {"devs"}, true, Digest(), "a4");     // not an ops group
  RecordApproval("carol", {"ops"}, true, "sha256:" + std::string(64, '0'), "a5");  // another digest
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "authorization", "waitingFor"}), "2 approvals from ops (1 given)");
  EXPECT_TRUE(Records("grant").empty());

  RecordApproval("bob", {"dev", "ops"}, true, Digest(), "a6");
  ASSERT_TRUE(ledger_->CatchUp().ok());
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  auto grants = Records("grant");
  ASSERT_EQ(grants.size(), 1u);
  ASSERT_EQ(grants[0]["approvals"].size(), 2u) << grants[0].dump();
  EXPECT_EQ(grants[0]["approvals"][0]["approver"], "alice");
  EXPECT_EQ(grants[0]["approvals"][1]["approver"], "bob");
  EXPECT_EQ(grants[0]["approvals"][1]["uid"], "a6");
  EXPECT_TRUE(api::ArtifactOf(Stored()).has_value());
}

// One entitled Deny ends the request, naming who and why, whatever
// approvals there are; the denial record links the approval.
TEST_F(AuthorityControllerTest, ADenyFromAnApproverDeniesTheRequest) {
  UseRules({{{"name", "review"},
             {"action", "RequireApprovals"},
             {"approvals", {{"count", 1}, {"groups", {"ops"}}}},
             {"timeout", "1h"}}});
  RecordApproval("agent:test", {"ops"}, false, Digest(), "d1");  // the initiator's Deny: ignored
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "AwaitingAuthorization");
  RecordApproval("dave", {"ops"}, false, Digest(), "d2");
  RecordApproval("alice", {"ops"}, true, Digest(), "d3");
  ASSERT_TRUE(ledger_->CatchUp().ok());
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(api::StringAt(Stored(), {"status", "phase"}), "Denied");
  const json condition = Stored()["status"]["conditions"][0];
  EXPECT_NE(condition.value("message", "").find("denied by dave"), std::string::npos) << condition.dump();
  EXPECT_NE(condition.value("message", "").find("not this week"), std::string::npos) << condition.dump();
  auto denials = Records("denial");
  ASSERT_EQ(denials.size(), 1u);
  EXPECT_EQ(denials[0]["approver"], "dave");
  EXPECT_EQ(denials[0]["approval"]["uid"], "d2");
  EXPECT_TRUE(Records("grant").empty());
}

}  // namespace
}  // namespace execgov::authority

namespace execgov::authority {
namespace {

// A relayed request (relay.h) is judged as the Job it stands for, and its
// grant is for that Job: recorded, never attached, the request Granted.
TEST_F(AuthorityControllerTest, ARelayedRequestIsGrantedForTheJobAndNotAttached) {
  request_["spec"]["relay"] = {{"kind", "Job"}, {"name", "rotate"}};
  client_.Put("executionrequests", request_);
  UseRules({{{"name", "requests-only"}, {"match", {{"kinds", {"ExecutionRequest"}}}}, {"action", "AutoDeny"}},
            {{"name", "jobs"}, {"match", {{"kinds", {"Job"}}}}, {"action", "AutoApprove"}, {"ttl", "10m"}}});
  Start();
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  const json stored = Stored();
  EXPECT_EQ(api::StringAt(stored, {"status", "phase"}), "Granted");
  EXPECT_FALSE(api::ArtifactOf(stored).has_value());
  EXPECT_EQ(api::StringAt(stored, {"status", "authorization", "rule"}), "ops/jobs");
  auto grants = Records("grant");
  ASSERT_EQ(grants.size(), 1u);
  const json scope = grants[0]["claims"]["scope"];
  EXPECT_EQ(scope["kind"], "Job");
  EXPECT_EQ(scope["name"], "rotate");
  auto manifest = RelayedManifest(request_);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(scope["digest"], api::ExecutionScopeDigest(api::GovernedKind::kJob, *manifest).value());
  EXPECT_EQ(grants[0]["via"], "https");
  EXPECT_EQ(grants[0]["relayed"]["name"], "rotate");
  EXPECT_EQ(grants[0]["claims"]["sub"], "agent:test");
  // Looked at again (or by a restarted authority): nothing more.
  ASSERT_TRUE(controller_->Reconcile("agents/req").ok());
  EXPECT_EQ(Records("grant").size(), 1u);
}

}  // namespace
}  // namespace execgov::authority

namespace execgov::authority {
namespace {

// An attach refused after the grant was recorded is retried with a capped
// exponential back-off, whatever wakes the request meanwhile: each attempt
// the webhook allows but something later refuses leaves an "attach"
// admission record for an object never stored.
TEST_F(AuthorityControllerTest, AttachRetriesBackOffExponentiallyUpToACap) {
  client_.Put("executionpolicies", {{"apiVersion", "execgov.io/v1alpha1"},
                                    {"kind", "ExecutionPolicy"},
                                    {"metadata", {{"name", "p"}}},
                                    {"spec", {{"maxTTL", "1h"}, {"match", {{"namespaces", {"agents"}}}}}}});
  Start();
  client_.fail_updates = 1;
  EXPECT_FALSE(controller_->Reconcile("agents/req").ok());  // recorded, not attached
  ASSERT_EQ(Records("grant").size(), 1u);
  const std::vector<int64_t> waits = {1, 2, 4, 8, 16, 32, 60, 60};
  for (size_t i = 0; i < waits.size(); ++i) {
    // Woken early (an event, the work queue's own retry): no attempt.
    auto early = controller_->Reconcile("agents/req");
    ASSERT_TRUE(early.ok()) << early.status().ToString();
    EXPECT_EQ(early->requeue_after, std::chrono::seconds(waits[i])) << i;
    clock_.Advance(std::chrono::seconds(waits[i]) - std::chrono::milliseconds(1));
    EXPECT_EQ(controller_->Reconcile("agents/req")->requeue_after, std::chrono::milliseconds(1)) << i;
    EXPECT_FALSE(api::ArtifactOf(Stored()).has_value());
    clock_.Advance(std::chrono::milliseconds(1));
    if (i + 1 < waits.size()) {
      client_.fail_updates = 1;
      EXPECT_FALSE(controller_->Reconcile("agents/req").ok()) << i;
      EXPECT_EQ(client_.fail_updates, 0) << "attempted at " << i;
    }
  }
  // Due, and the API server takes it: attached, the back-off forgotten.
  auto attached = controller_->Reconcile("agents/req");
  ASSERT_TRUE(attached.ok()) << attached.status().ToString();
  EXPECT_TRUE(api::ArtifactOf(Stored()).has_value());
  EXPECT_EQ(Records("grant").size(), 1u);
}

}  // namespace
}  // namespace execgov::authority
