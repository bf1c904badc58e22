// The ExecutionRequest reconciler against the real API server (informers,
// status subresource, Jobs, owner references) with a real file ledger. No
// webhook here: what is tested is what the operator does with a request the
// webhook admitted.
#include <gtest/gtest.h>

#include <limits>

#include "api/object.h"
#include "cluster_env.h"
#include "controllers/ledger_index.h"
#include "controllers/request_controller.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "support/artifact_factory.h"
#include "support/subprocess.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;
namespace testenv = kube::testenv;

class RequestControllerTest : public testenv::NamespaceTest {
 protected:
  RequestControllerTest() : NamespaceTest("ereq") {}

  void SetUp() override {
    NamespaceTest::SetUp();
    if (HasFatalFailure()) return;
    // The CRDs are shared by every test and never deleted (as in cluster_lib.sh).
    auto applied = testing::RunCommand(testenv::Kubectl() + " apply -f " + EXECGOV_SOURCE_DIR "/crds/");
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    ASSERT_TRUE(testenv::Poll([&] { return client_->List(RequestsPath(), {}).ok(); }, std::chrono::seconds(60)));
    auto labelled = client_->Patch(kube::ResourcePath("v1", "namespaces", "", ns_),
                                   {{"metadata", {{"labels", {{"execgov.io/governed", "true"}}}}}}, kube::PatchType::kMerge);
    ASSERT_TRUE(labelled.ok()) << labelled.status().ToString();

    ledger_url_ = "file:" + dir_.File("ledger.jsonl");
    auto ledger = ledger::OpenLedger(ledger_url_, {});
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ledger_ = std::move(ledger).value();
    UsePolicy(testing::MakePolicy("p", {&authority_}));

    requests_ = std::make_unique<runtime::Informer>(client_.get(), RequestsPath());
    jobs_ = std::make_unique<runtime::Informer>(client_.get(), kube::ResourcePath("batch/v1", "jobs", ns_));
    runtime::InformerOptions one_namespace;
    one_namespace.selector.field_selector = "metadata.name=" + ns_;
    namespaces_ = std::make_unique<runtime::Informer>(client_.get(), kube::ResourcePath("v1", "namespaces"), one_namespace);
    for (auto* i : {requests_.get(), jobs_.get(), namespaces_.get()}) {
      i->Start();
      ASSERT_TRUE(i->WaitForSync(std::chrono::seconds(30)));
    }
    ASSERT_TRUE(testenv::Poll([&] {
      auto n = namespaces_->Get(ns_);
      return n && api::StringAt(*n, {"metadata", "labels", "execgov.io/governed"}) == "true";
    }));
  }

  void TearDown() override {
    for (auto* i : {requests_.get(), jobs_.get(), namespaces_.get()}) {
      if (i) i->Stop();
    }
    NamespaceTest::TearDown();
  }

  std::string RequestsPath(const std::string& name = "") const {
    return kube::ResourcePath("execgov.io/v1alpha1", "executionrequests", ns_, name);
  }

  void UsePolicy(json policy) {
    policy["metadata"]["generation"] = 1;
    auto compiled = policy::CompilePolicy(policy);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto set = std::make_shared<policy::PolicySet>();
    set->ready = true;
    set->policies = {*compiled};
    policies_ = set;
  }

  // A controller as a freshly started leader has it: a new index of the ledger.
  std::unique_ptr<RequestController> NewLeader() {
    auto reader = ledger::OpenBackend(ledger_url_, {.read_only = true});
    EXPECT_TRUE(reader.ok());
    readers_.push_back(std::move(reader).value());
    indexes_.push_back(std::make_unique<LedgerIndex>(readers_.back().get()));
    RequestControllerDeps d;
    d.client = client_.get();
    d.requests = requests_.get();
    d.jobs = jobs_.get();
    d.namespaces = namespaces_.get();
    d.policies = [this] { return policies_; };
    d.ledger = ledger_.get();
    d.index = indexes_.back().get();
    d.ledger_origin = "test";
    d.operator_identity = "test-operator";
    return std::make_unique<RequestController>(d);
  }

  // Creates a request signed with `claims` changed by `edit`; returns it as cached.
  json Create(const std::string& name, const std::function<void(json&)>& edit = nullptr) {
    json request = testing::MakeExecutionRequest(ns_, name);
    request["metadata"].erase("uid");
    json claims = testing::ClaimsFor(request, authority_, std::time(nullptr));
    if (edit) edit(claims);
    request = testing::WithArtifact(request, testing::Sign(claims, authority_));
    auto created = client_->Create(RequestsPath(), request);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    EXPECT_TRUE(testenv::Poll([&] { return requests_->Get(ns_ + "/" + name) != nullptr; }));
    return created.ok() ? *created : json();
  }

  // Reconciles until the cached request reaches `phase` (a status write
  // races the cache: a conflict is retried, as the work queue would).
  json ReconcileUntil(RequestController& c, const std::string& name, const std::string& phase) {
    json last;
    EXPECT_TRUE(testenv::Poll([&] {
      (void)c.Reconcile(ns_ + "/" + name);
      auto cached = requests_->Get(ns_ + "/" + name);
      if (cached) last = *cached;
      return cached && api::StringAt(*cached, {"status", "phase"}) == phase;
    })) << name << " never reached " << phase << ": " << last.dump();
    return last;
  }

  std::vector<json> Steps(const std::string& uid) {
    std::vector<json> out;
    auto reader = ledger::OpenBackend(ledger_url_, {.read_only = true});
    EXPECT_TRUE(reader.ok());
    Status st = (*reader)->Scan(0, std::numeric_limits<uint64_t>::max(), [&](uint64_t, std::string_view bytes) {
      json r = json::parse(bytes);
      if (r.value("type", "") == "execution" && r["object"]["uid"] == uid) out.push_back(r);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  size_t JobCount() {
    auto jobs = client_->List(kube::ResourcePath("batch/v1", "jobs", ns_), {});
    EXPECT_TRUE(jobs.ok());
    return jobs.ok() ? jobs->items.size() : 0;
  }

  testing::TempDir dir_;
  testing::Authority authority_ = testing::Authority::Make();
  std::string ledger_url_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::vector<std::unique_ptr<ledger::Backend>> readers_;
  std::vector<std::unique_ptr<LedgerIndex>> indexes_;
  std::shared_ptr<const policy::PolicySet> policies_;
  std::unique_ptr<runtime::Informer> requests_, jobs_, namespaces_;
};

TEST_F(RequestControllerTest, AuthorizedRequestBecomesOneOwnedJobWithEveryStepRecorded) {
  json request = Create("run");
  std::string uid = api::UidOf(request);
  auto leader = NewLeader();
  json running = ReconcileUntil(*leader, "run", kPhaseRunning);

  auto job = client_->Get(kube::ResourcePath("batch/v1", "jobs", ns_, JobNameFor("run", uid)));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(api::ControllerOf(*job).has_value());
  EXPECT_EQ(api::ControllerOf(*job)->uid, uid);
  EXPECT_EQ(api::ArtifactOf(*job), api::ArtifactOf(request));
  EXPECT_EQ(api::StringAt(running, {"status", "jobRef", "uid"}), api::UidOf(*job));

  auto steps = Steps(uid);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0]["phase"], kPhaseAuthorized);
  EXPECT_EQ(steps[0]["decision"], "allowed");
  EXPECT_EQ(steps[1]["phase"], kPhaseRunning);
  EXPECT_EQ(steps[1]["job"]["uid"], api::UidOf(*job));
  EXPECT_EQ(running["status"]["lineage"]["seq"], steps[1]["seq"]);
  EXPECT_FALSE(steps[0].contains("previous"));
  EXPECT_TRUE(steps[1].contains("previous"));

  // The real Job controller made a Pod; with no kubelet here, the Pod is
  // marked Succeeded by hand, the Job controller completes the Job, and the
  // request follows it.
  std::string pod;
  ASSERT_TRUE(testenv::Poll([&] {
    kube::ListOptions o;
    o.label_selector = "batch.kubernetes.io/job-name=" + api::NameOf(*job);
    auto pods = client_->List(kube::ResourcePath("v1", "pods", ns_), o);
    if (!pods.ok() || pods->items.empty()) return false;
    pod = api::NameOf(pods->items[0]);
    return true;
  }, std::chrono::seconds(60)));
  auto patched = client_->Patch(kube::ResourcePath("v1", "pods", ns_, pod) + "/status",
                                {{"status", {{"phase", "Succeeded"}}}}, kube::PatchType::kMerge);
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  json succeeded = ReconcileUntil(*leader, "run", kPhaseSucceeded);
  steps = Steps(uid);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[2]["phase"], kPhaseSucceeded);
  EXPECT_EQ(steps[2]["previous"], running["status"]["lineage"]["hash"]);
  EXPECT_EQ(succeeded["status"]["lineage"]["seq"], steps[2]["seq"]);
  EXPECT_EQ(JobCount(), 1u);
}

TEST_F(RequestControllerTest, ACrashAfterAppendingRepeatsOnlyTheStatusWrite) {
  json request = Create("crash");
  std::string uid = api::UidOf(request);
  // An earlier leader appended the Authorized step and died before writing
  // status: its record is in the ledger, the request's status is empty.
  auto earlier = ledger_->Append({{"type", "execution"},
                                  {"phase", kPhaseAuthorized},
                                  {"decision", "allowed"},
                                  {"object", {{"kind", "ExecutionRequest"}, {"namespace", ns_}, {"name", "crash"}, {"uid", uid}}}});
  ASSERT_TRUE(earlier.ok());
  // It had also created the Job before dying (the Running step never recorded).
  auto job = BuildJob(request);
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(client_->Create(kube::ResourcePath("batch/v1", "jobs", ns_), *job).ok());

  auto leader = NewLeader();
  ReconcileUntil(*leader, "crash", kPhaseRunning);
  auto steps = Steps(uid);
  ASSERT_EQ(steps.size(), 2u) << "a step was appended twice";
  EXPECT_EQ(steps[0]["seq"], earlier->seq);
  EXPECT_EQ(steps[1]["phase"], kPhaseRunning);
  EXPECT_EQ(JobCount(), 1u) << "the earlier leader's Job was not adopted";

  // And a third leader, after everything was recorded, changes nothing.
  auto later = NewLeader();
  ASSERT_TRUE(later->Reconcile(ns_ + "/crash").ok());
  EXPECT_EQ(Steps(uid).size(), 2u);
  EXPECT_EQ(JobCount(), 1u);
}

TEST_F(RequestControllerTest, AJobOfTheSameNameThatIsNotOursIsNeverAdopted) {
  json request = Create("taken");
  std::string uid = api::UidOf(request);
  json foreign = testing::MakeJob(ns_, JobNameFor("taken", uid));
  foreign["metadata"].erase("uid");
  ASSERT_TRUE(client_->Create(kube::ResourcePath("batch/v1", "jobs", ns_), foreign).ok());
  ASSERT_TRUE(testenv::Poll([&] { return jobs_->Get(ns_ + "/" + JobNameFor("taken", uid)) != nullptr; }));

  auto leader = NewLeader();
  StatusOr<runtime::ReconcileResult> r = Status::Ok();
  ASSERT_TRUE(testenv::Poll([&] {
    r = leader->Reconcile(ns_ + "/taken");
    return !r.ok() && r.status().code() == StatusCode::kFailedPrecondition;
  })) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not controlled by this request"), std::string::npos);
  auto cached = requests_->Get(ns_ + "/taken");
  ASSERT_TRUE(testenv::Poll([&] {
    cached = requests_->Get(ns_ + "/taken");
    return api::StringAt(*cached, {"status", "phase"}) == kPhaseAuthorized;
  }));
  EXPECT_EQ(JobCount(), 1u);
  EXPECT_EQ(Steps(uid).size(), 1u);  // Authorized only: nothing runs
}

TEST_F(RequestControllerTest, RevokedKeyGivesRevokedAndNoJob) {
  json request = Create("revoked");
  json policy = testing::MakePolicy("p", {&authority_});
  policy["spec"]["revocations"] = {{"kids", {authority_.kid}}};
  UsePolicy(policy);
  auto leader = NewLeader();
  json revoked = ReconcileUntil(*leader, "revoked", kPhaseRevoked);
  bool found = false;
  for (const auto& c : revoked["status"]["conditions"]) {
    if (c["type"] == "Authorized") {
      found = true;
      EXPECT_EQ(c["status"], "False");
      EXPECT_EQ(c["reason"], "Revoked");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(JobCount(), 0u);
  auto steps = Steps(api::UidOf(request));
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0]["decision"], "denied");
  EXPECT_EQ(steps[0]["reason"], "Revoked");
  // Final: a later reconcile changes nothing.
  ASSERT_TRUE(leader->Reconcile(ns_ + "/revoked").ok());
  EXPECT_EQ(JobCount(), 0u);
}

TEST_F(RequestControllerTest, TimeIsJudgedAsOfAdmission) {
  // Expired before the request was created: denied.
  json expired = Create("expired", [](json& c) {
    c["iat"] = c["iat"].get<int64_t>() - 3600;
    c["nbf"] = c["iat"];
    c["exp"] = c["iat"].get<int64_t>() + 60;
  });
  auto leader = NewLeader();
  ReconcileUntil(*leader, "expired", kPhaseDenied);
  EXPECT_EQ(Steps(api::UidOf(expired))[0]["reason"], "ArtifactExpired");

  // Valid when created, expired by the time the operator gets to it:
  // authorized, because the admission was made in time. (No clock skew, so
  // that the artifact expires two seconds after it is made.)
  json policy = testing::MakePolicy("p", {&authority_});
  policy["spec"]["clockSkew"] = "0s";
  UsePolicy(policy);
  int64_t now = std::time(nullptr);
  json late = Create("late", [now](json& c) { c["exp"] = now + 2; });
  ASSERT_TRUE(testenv::Poll([&] { return std::time(nullptr) > now + 2; }, std::chrono::seconds(10)));
  ReconcileUntil(*leader, "late", kPhaseRunning);
  EXPECT_EQ(JobCount(), 1u);
}

TEST_F(RequestControllerTest, NotGovernedNamespaceIsDenied) {
  json request = Create("ungoverned");
  auto unlabelled = client_->Patch(kube::ResourcePath("v1", "namespaces", "", ns_),
                                   {{"metadata", {{"labels", {{"execgov.io/governed", nullptr}}}}}}, kube::PatchType::kMerge);
  ASSERT_TRUE(unlabelled.ok());
  ASSERT_TRUE(testenv::Poll([&] {
    return api::StringAt(*namespaces_->Get(ns_), {"metadata", "labels", "execgov.io/governed"}).empty();
  }));
  auto leader = NewLeader();
  ReconcileUntil(*leader, "ungoverned", kPhaseDenied);
  EXPECT_EQ(Steps(api::UidOf(request))[0]["reason"], "NoMatchingPolicy");
  EXPECT_EQ(JobCount(), 0u);
}

}  // namespace
}  // namespace execgov::controllers
