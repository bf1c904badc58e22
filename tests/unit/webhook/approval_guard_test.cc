// The webhook's handling of ExecutionApprovals (issue 20) through the real
// AdmissionHandler and a file ledger: an entitled approval is admitted and
// recorded; a refused one is recorded too; and every way it could go wrong
// (an UPDATE, a subresource, no way to read the cluster, a context that
// fails, a ledger that cannot record) is a refusal.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/approval.h"
#include "crypto/encoding.h"
#include "ledger/ledger.h"
#include "support/artifact_factory.h"
#include "support/no_replay_store.h"
#include "webhook/admission_handler.h"

namespace execgov::webhook {
namespace {

class ApprovalGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("approval-guard-" + crypto::HexEncode(crypto::RandomBytes(6)));
    std::filesystem::create_directories(dir_);
    ledger::LedgerOptions options;
    options.signing_key_path = (dir_ / "ledger.key").string();
    auto opened = ledger::OpenLedger("file:" + (dir_ / "ledger.jsonl").string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ledger_ = std::move(opened).value();
    request_ = testing::MakeExecutionRequest("agents", "req");
    request_["spec"]["initiator"] = "agent:bot";
    request_["status"] = {{"phase", "AwaitingAuthorization"}};
    auto policy = authority::CompileAuthorityPolicy(
        {{"apiVersion", "execgov.io/v1alpha1"},
         {"kind", "AuthorityPolicy"},
         {"metadata", {{"name", "ops"}}},
         {"spec",
          {{"rules",
            {{{"name", "review"},
              {"action", "RequireApprovals"},
              {"approvals", {{"count", 2}, {"groups", {"ops"}}}}}}}}}});
    ASSERT_TRUE(policy.ok());
    context_.request = request_;
    context_.policies.push_back(*policy);
  }
  void TearDown() override {
    if (ledger_) {
      EXPECT_TRUE(ledger_->Close().ok());
    }
    std::filesystem::remove_all(dir_);
  }

  AdmissionRequest Review(const std::string& user, policy::Operation op = policy::Operation::kCreate) {
    AdmissionRequest req;
    req.uid = "review-1";
    req.resource = {"execgov.io", "v1alpha1", "executionapprovals"};
    req.kind = {"execgov.io", "v1alpha1", "ExecutionApproval"};
    req.ns = "agents";
    req.name = "req-approve-1";
    req.operation = op;
    req.user = user;
    req.groups = {"ops", "system:authenticated"};
    req.object = {{"apiVersion", "execgov.io/v1alpha1"},
                  {"kind", "ExecutionApproval"},
                  {"metadata", {{"name", "req-approve-1"}, {"namespace", "agents"}, {"uid", "appr-1"}}},
                  {"spec",
                   {{"requestName", "req"},
                    {"requestUID", api::UidOf(request_)},
                    {"requestDigest", *api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, request_)},
                    {"decision", "Approve"},
                    {"approver", user}}}};
    if (op == policy::Operation::kUpdate) req.old_object = req.object;
    return req;
  }
  AdmissionResponse Send(const AdmissionRequest& req, ApprovalContextProvider provider, ledger::Ledger* ledger) {
    auto policies = std::make_shared<policy::PolicySet>();
    policies->ready = true;
    testing::NoReplayStore replay;
    HandlerDeps deps;
    deps.policies = [policies] { return policies; };
    deps.replay = &replay;
    deps.ledger = ledger;
    deps.clock = &clock_;
    deps.approvals = std::move(provider);
    AdmissionHandler handler(deps);
    return handler.Handle(req);
  }
  ApprovalContextProvider Context() {
    return [this](const std::string&, const std::string&) -> StatusOr<ApprovalContext> { return context_; };
  }
  std::vector<nlohmann::json> Approvals() {
    EXPECT_TRUE(ledger_->Close().ok());
    ledger_.reset();
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_ / "ledger.jsonl");
    for (std::string line; std::getline(in, line);) {
      auto r = nlohmann::json::parse(line, nullptr, false);
      if (r.is_object() && r.value("type", "") == "approval") out.push_back(r);
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  nlohmann::json request_;
  ApprovalContext context_;
  FakeClock clock_{1800000000};
};

TEST_F(ApprovalGuardTest, AnEntitledApprovalIsAdmittedAndRecorded) {
  auto resp = Send(Review("alice"), Context(), ledger_.get());
  EXPECT_TRUE(resp.allowed) << resp.message;
  EXPECT_TRUE(resp.audit_annotations.count("ledger-seq"));
  // The initiator's own approval: refused, and recorded as refused.
  resp = Send(Review("agent:bot"), Context(), ledger_.get());
  EXPECT_FALSE(resp.allowed);
  EXPECT_EQ(resp.message.rfind("execgov: ApprovalRefused: ", 0), 0u) << resp.message;
  auto records = Approvals();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["decision"], "allowed");
  EXPECT_EQ(records[0]["groups"], nlohmann::json::array({"ops"}));
  EXPECT_EQ(records[0]["object"]["uid"], api::UidOf(request_));
  EXPECT_EQ(records[0]["approval"]["uid"], "appr-1");
  EXPECT_EQ(records[1]["decision"], "denied");
  EXPECT_EQ(records[1]["approver"], "agent:bot");
}

TEST_F(ApprovalGuardTest, EverythingUnexpectedIsRefused) {
  auto refused = [&](const AdmissionRequest& req, ApprovalContextProvider provider, ledger::Ledger* ledger,
                     const std::string& why) {
    auto resp = Send(req, std::move(provider), ledger);
    EXPECT_FALSE(resp.allowed) << why;
    EXPECT_NE(resp.message.find(why), std::string::npos) << resp.message;
  };
  refused(Review("alice", policy::Operation::kUpdate), Context(), ledger_.get(), "cannot be changed");
  AdmissionRequest sub = Review("alice");
  sub.sub_resource = "status";
  refused(sub, Context(), ledger_.get(), "subresource status is not served");
  refused(Review("alice"), nullptr, ledger_.get(), "cannot read the cluster");
  refused(Review("alice"),
          [](const std::string&, const std::string&) -> StatusOr<ApprovalContext> { return Unavailable("API away"); },
          ledger_.get(), "API away");
  refused(Review("alice"), Context(), nullptr, "no ledger");
  AdmissionRequest no_uid = Review("alice");
  no_uid.object["metadata"].erase("uid");
  refused(no_uid, Context(), ledger_.get(), "no metadata.uid");
  AdmissionRequest elsewhere = Review("alice");
  elsewhere.ns = "other";
  refused(elsewhere, Context(), ledger_.get(), "namespace is not the request's");
  AdmissionRequest extra = Review("alice");
  extra.object["spec"]["count"] = 2;
  refused(extra, Context(), ledger_.get(), "unknown field");
  // A ledger that cannot record: an approval the authority would never see.
  ASSERT_TRUE(ledger_->Close().ok());
  refused(Review("alice"), Context(), ledger_.get(), "cannot record the approval");
  ledger_.reset();
  // Deleting one is allowed: the ledger keeps it.
  EXPECT_TRUE(Send(Review("alice", policy::Operation::kDelete), Context(), nullptr).allowed);
}

}  // namespace
}  // namespace execgov::webhook
