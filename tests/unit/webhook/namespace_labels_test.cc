// The handler's use of Namespace labels (in cluster): a policy's
// namespaceSelector is evaluated against them, a lookup that fails denies,
// and they are never asked for where they cannot matter (kube-system, the
// install namespace, before the policies are ready), so a failing lookup
// can neither lock those namespaces nor hide PolicyNotReady.
#include <gtest/gtest.h>

#include "support/artifact_factory.h"
#include "support/no_replay_store.h"
#include "webhook/admission_handler.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;
using Labels = std::map<std::string, std::string>;

// Nothing is consumed in these tests: every request is refused or ungoverned.
using NoReplay = testing::NoReplayStore;

class NamespaceLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Json p = testing::MakePolicy("selected", {&authority_});
    p["spec"]["match"] = {{"namespaceSelector", {{"matchLabels", {{"team", "payments"}}}}}};
    auto compiled = policy::CompilePolicy(p);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto set = std::make_shared<policy::PolicySet>();
    set->ready = true;
    set->policies.push_back(*compiled);
    policies_ = set;
  }
  AdmissionResponse Send(const std::string& ns) {
    HandlerDeps deps;
    deps.policies = [this] { return policies_; };
    deps.replay = &replay_;
    deps.clock = &clock_;
    deps.namespace_labels = [this](const std::string& name) -> StatusOr<Labels> {
      asked_.push_back(name);
      if (!lookup_error_.ok()) return lookup_error_;
      return labels_;
    };
    AdmissionHandler handler(deps);
    AdmissionRequest req;
    req.uid = "req-1";
    req.resource = {"", "v1", "pods"};
    req.kind = {"", "v1", "Pod"};
    req.ns = ns;
    req.name = "unsigned";
    req.user = "someone";
    req.object = testing::MakePod(ns, "unsigned");
    req.object["metadata"]["uid"] = "pod-uid";
    return handler.Handle(req);
  }

  testing::Authority authority_ = testing::Authority::Make();
  std::shared_ptr<const policy::PolicySet> policies_;
  NoReplay replay_;
  FakeClock clock_{1800000000};
  Labels labels_;
  Status lookup_error_;
  std::vector<std::string> asked_;
};

TEST_F(NamespaceLabelsTest, TheSelectorMatchesTheNamespacesLabels) {
  labels_ = {{"team", "payments"}, {"execgov.io/governed", "true"}};
  auto r = Send("payments");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.message.rfind("execgov: MissingArtifact: ", 0), 0u) << r.message;
  EXPECT_EQ(asked_, std::vector<std::string>{"payments"});

  labels_ = {{"team", "web"}};
  r = Send("web");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.message.rfind("execgov: NoMatchingPolicy: ", 0), 0u) << r.message;
}

TEST_F(NamespaceLabelsTest, ALookupThatFailsDenies) {
  lookup_error_ = Unavailable("connection refused");
  auto r = Send("payments");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 403);
  EXPECT_EQ(r.message, "execgov: InternalError: cannot read the labels of namespace payments: connection refused");
}

TEST_F(NamespaceLabelsTest, NeverAskedForNamespacesThatAreNeverGoverned) {
  lookup_error_ = Unavailable("connection refused");
  for (const char* ns : {"kube-system", "execgov-system"}) {
    auto r = Send(ns);
    EXPECT_TRUE(r.allowed) << ns << ": " << r.message;
  }
  EXPECT_TRUE(asked_.empty());
}

TEST_F(NamespaceLabelsTest, NotReadyPoliciesAnswerPolicyNotReadyWithoutALookup) {
  lookup_error_ = Unavailable("connection refused");
  policies_ = std::make_shared<policy::PolicySet>();  // ready = false
  auto r = Send("payments");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.message.rfind("execgov: PolicyNotReady: ", 0), 0u) << r.message;
  EXPECT_TRUE(asked_.empty());
}

}  // namespace
}  // namespace execgov::webhook
