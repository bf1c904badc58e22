// ExecutionApproval parsing and the webhook's judgement (issue 20): the
// approver is the requesting user, not the initiator, in an approver group
// of the rule holding the request; the request is the one named, still
// waiting and unchanged; anything malformed is refused.
#include <gtest/gtest.h>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/approval.h"
#include "support/artifact_factory.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

class ApprovalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    request_ = testing::MakeExecutionRequest("agents", "req");
    request_["spec"]["initiator"] = "agent:bot";
    request_["status"] = {{"phase", "AwaitingAuthorization"}};
    digest_ = *api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, request_);
    auto compiled = CompileAuthorityPolicy(
        {{"apiVersion", "execgov.io/v1alpha1"},
         {"kind", "AuthorityPolicy"},
         {"metadata", {{"name", "ops"}}},
         {"spec",
          {{"rules",
            {{{"name", "review"},
              {"action", "RequireApprovals"},
              {"approvals", {{"count", 2}, {"groups", {"ops", "sre"}}}}}}}}}});
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    policies_.push_back(*compiled);
  }
  json ApprovalObject(const std::string& approver, const std::string& decision = "Approve") {
    return {{"apiVersion", "execgov.io/v1alpha1"},
            {"kind", "ExecutionApproval"},
            {"metadata", {{"name", "req-approve-1"}, {"namespace", "agents"}, {"uid", "u-1"}}},
            {"spec",
             {{"requestName", "req"},
              {"requestUID", api::UidOf(request_)},
              {"requestDigest", digest_},
              {"decision", decision},
              {"approver", approver},
              {"reason", "looked at it"}}}};
  }
  ApprovalJudgement Judge(const json& object, const std::string& user, std::vector<std::string> groups) {
    auto a = ParseApproval(object);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    if (!a.ok()) return {};
    return JudgeApproval(*a, user, groups, &request_, policies_, 1800000000);
  }
  json request_;
  std::string digest_;
  std::vector<std::shared_ptr<const CompiledAuthorityPolicy>> policies_;
};

TEST_F(ApprovalTest, AnEntitledApproverIsAllowedWithTheGroupsThatQualify) {
  auto j = Judge(ApprovalObject("alice"), "alice", {"system:authenticated", "sre"});
  EXPECT_TRUE(j.allowed) << j.message;
  EXPECT_EQ(j.rule, "ops/review");
  EXPECT_EQ(j.groups, std::vector<std::string>{"sre"});
  auto record = ApprovalRecord(*ParseApproval(ApprovalObject("alice")), j, "alice");
  auto read = ReadApprovalRecord(record);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->first, api::UidOf(request_));
  EXPECT_EQ(read->second.approver, "alice");
  EXPECT_TRUE(read->second.approve);
  EXPECT_EQ(read->second.groups, std::vector<std::string>{"sre"});
}

TEST_F(ApprovalTest, RefusalsSayWhy) {
  // Someone else's name.
  auto j = Judge(ApprovalObject("alice"), "mallory", {"ops"});
  EXPECT_FALSE(j.allowed);
  EXPECT_NE(j.message.find("must be the user creating the approval"), std::string::npos) << j.message;
  // The initiator approving their own request.
  j = Judge(ApprovalObject("agent:bot"), "agent:bot", {"ops"});
  EXPECT_FALSE(j.allowed);
  EXPECT_NE(j.message.find("separation of duties"), std::string::npos) << j.message;
  // Outside the approver groups.
  j = Judge(ApprovalObject("eve"), "eve", {"devs"});
  EXPECT_FALSE(j.allowed);
  EXPECT_NE(j.message.find("none of the approver groups"), std::string::npos) << j.message;
  // The request changed (another digest), was made again (another uid), or ended.
  json stale = ApprovalObject("alice");
  stale["spec"]["requestDigest"] = "sha256:" + std::string(64, 'a');
  EXPECT_NE(Judge(stale, "alice", {"ops"}).message.find("changed since"), std::string::npos);
  json other = ApprovalObject("alice");
  other["spec"]["requestUID"] = "another";
  EXPECT_FALSE(Judge(other, "alice", {"ops"}).allowed);
  request_["status"]["phase"] = "Denied";
  EXPECT_NE(Judge(ApprovalObject("alice"), "alice", {"ops"}).message.find("not awaiting"), std::string::npos);
  // No request at all.
  auto a = ParseApproval(ApprovalObject("alice"));
  EXPECT_FALSE(JudgeApproval(*a, "alice", {"ops"}, nullptr, policies_, 1800000000).allowed);
  // A rule that takes no approvals.
  request_["status"]["phase"] = "AwaitingAuthorization";
  auto auto_rule = CompileAuthorityPolicy({{"apiVersion", "execgov.io/v1alpha1"},
                                           {"kind", "AuthorityPolicy"},
                                           {"metadata", {{"name", "a"}}},
                                           {"spec", {{"rules", {{{"name", "auto"}, {"action", "AutoApprove"}}}}}}});
  ASSERT_TRUE(auto_rule.ok());
  EXPECT_NE(JudgeApproval(*a, "alice", {"ops"}, &request_, {*auto_rule}, 1800000000).message.find("takes no approvals"),
            std::string::npos);
}

TEST_F(ApprovalTest, AnythingMalformedIsRefused) {
  auto refused = [&](const std::function<void(json&)>& edit) {
    json o = ApprovalObject("alice");
    edit(o);
    return !ParseApproval(o).ok();
  };
  EXPECT_TRUE(refused([](json& o) { o["spec"]["extra"] = true; }));
  EXPECT_TRUE(refused([](json& o) { o["spec"]["decision"] = "Maybe"; }));
  EXPECT_TRUE(refused([](json& o) { o["spec"]["decision"] = 1; }));
  EXPECT_TRUE(refused([](json& o) { o["spec"]["approver"] = ""; }));
  EXPECT_TRUE(refused([](json& o) { o["spec"].erase("requestUID"); }));
  EXPECT_TRUE(refused([](json& o) { o["spec"]["requestDigest"] = "sha256:ABC"; }));
  EXPECT_TRUE(refused([](json& o) { o["spec"]["requestName"] = "Not_A_Name"; }));
  EXPECT_TRUE(refused([](json& o) { o["spec"]["reason"] = std::string(kMaxApprovalReasonBytes + 1, 'x'); }));
  EXPECT_TRUE(refused([](json& o) { o["kind"] = "ExecutionRequest"; }));
  EXPECT_TRUE(refused([](json& o) { o["metadata"].erase("namespace"); }));
  EXPECT_TRUE(refused([](json& o) { o["spec"] = json::array(); }));
  EXPECT_FALSE(refused([](json& o) { o["spec"].erase("reason"); }));
  // A record that is not an admitted approval is never read as one.
  auto j = Judge(ApprovalObject("alice"), "alice", {"ops"});
  json record = ApprovalRecord(*ParseApproval(ApprovalObject("alice")), j, "alice");
  record["decision"] = "denied";
  EXPECT_FALSE(ReadApprovalRecord(record).has_value());
  record["decision"] = "allowed";
  record["groups"] = "ops";
  EXPECT_FALSE(ReadApprovalRecord(record).has_value());
}

// What execgov approve and the console create: the request named by name
// and uid, its digest now, a fresh name per decision; an approval the
// webhook then judges as any other. Refused for a request not waiting.
TEST_F(ApprovalTest, NewApprovalIsWhatTheWebhookJudges) {
  auto made = NewApproval(request_, true, "alice", "");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ((*made)["metadata"]["generateName"], "req-approve-");
  EXPECT_EQ((*made)["metadata"]["namespace"], "agents");
  EXPECT_EQ((*made)["spec"]["requestDigest"], digest_);
  EXPECT_FALSE((*made)["spec"].contains("reason"));
  (*made)["metadata"]["name"] = "req-approve-x1";
  (*made)["metadata"]["uid"] = "u-2";
  EXPECT_TRUE(Judge(*made, "alice", {"ops"}).allowed);

  auto denial = NewApproval(request_, false, "alice", "not today");
  ASSERT_TRUE(denial.ok());
  EXPECT_EQ((*denial)["metadata"]["generateName"], "req-deny-");
  EXPECT_EQ((*denial)["spec"]["decision"], "Deny");
  EXPECT_EQ((*denial)["spec"]["reason"], "not today");

  request_["status"]["phase"] = "Authorized";
  auto late = NewApproval(request_, true, "alice", "");
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(late.status().message().find("phase Authorized"), std::string::npos);
  request_.erase("status");
  EXPECT_NE(NewApproval(request_, true, "alice", "").status().message().find("none yet"), std::string::npos);
}

}  // namespace
}  // namespace execgov::authority
