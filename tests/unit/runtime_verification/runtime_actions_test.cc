// The runtime verifier's passes: what it writes (PolicyReports, the ledger's
// enforcement records) and stops (Pods, Jobs, ExecutionRequests) under each
// spec.runtime, against a client that records every request and a real file
// ledger, with a fake clock for grace periods. Last, its cost per 1,000 Pods,
// printed (CPU time and API requests per pass), not timed.
#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include "api/execution_scope.h"
#include "controllers/ledger_index.h"
#include "controllers/runtime_facts.h"
#include "controllers/runtime_verifier.h"
#include "core/clock.h"
#include "ledger/backend.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "policy/policy.h"
#include "support/artifact_factory.h"
#include "support/fake_kube_client.h"
#include "support/subprocess.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kNow = 1800000000;

// Records every request; serves Get of what it was told, and stores
// created and updated objects.
class RecordingClient final : public testing::ListWatchOnlyClient {
 public:
  StatusOr<json> Get(const std::string& path) override {
    Note("GET " + path);
    auto it = objects_.find(path);
    if (it == objects_.end()) return NotFound("no " + path);
    return it->second;
  }
  StatusOr<json> Create(const std::string& collection, const json& object) override {
    Note("POST " + collection);
    if (reports_missing_) return NotFound("the server could not find the requested resource");
    std::string path = collection + "/" + api::NameOf(object);
    if (objects_.count(path)) return AlreadyExists(path);
    json stored = object;
    stored["metadata"]["resourceVersion"] = "1";
    objects_[path] = stored;
    return stored;
  }
  StatusOr<json> Update(const std::string& path, const json& object) override {
    Note("PUT " + path);
    objects_[path] = object;
    return object;
  }
  StatusOr<json> UpdateStatus(const std::string& path, const json& object) override {
    Note("PUT " + path + "/status");
    objects_[path] = object;
    return object;
  }
  Status Delete(const std::string& path) override {
    Note("DELETE " + path);
    objects_.erase(path);
    return Status::Ok();
  }
  StatusOr<json> Patch(const std::string& path, const json& patch, kube::PatchType) override {
    Note("PATCH " + path + " " + patch.dump());
    return patch;
  }
  StatusOr<kube::ListResult> List(const std::string& path, const kube::ListOptions&) override {
    Note("LIST " + path);
    if (reports_missing_) return NotFound("the server could not find the requested resource");
    return kube::ListResult{{}, "1"};
  }

  Status Watch(const std::string&, const kube::WatchOptions&,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    return Internal("not watched");
  }

  std::vector<std::string> Take() {
    std::lock_guard l(mu_);
    return std::exchange(requests_, {});
  }
  std::map<std::string, json> objects_;
  bool reports_missing_ = false;

 private:
  void Note(std::string r) {
    std::lock_guard l(mu_);
    requests_.push_back(std::move(r));
  }
  std::mutex mu_;
  std::vector<std::string> requests_;
};

class RecordingEvents final : public kube::EventRecorder {
 public:
  void Record(const json& object, kube::EventType, const std::string& reason, const std::string&) override {
    reasons.push_back(api::NameOf(object) + ":" + reason);
  }
  std::vector<std::string> reasons;
};

json Namespace(const std::string& name, bool governed = true) {
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  if (governed) ns["metadata"]["labels"][std::string(api::kGovernedLabel)] = "true";
  return ns;
}

json Meta(json object, const std::string& uid) {
  object["metadata"]["uid"] = uid;
  object["metadata"]["resourceVersion"] = "7";
  object["metadata"]["creationTimestamp"] = "2027-01-15T08:00:00Z";
  return object;
}

class ActionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "file:" + dir_.File("ledger.jsonl");
    auto l = ledger::OpenLedger(url_, {});
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
    auto reader = ledger::OpenBackend(url_, {.read_only = true});
    ASSERT_TRUE(reader.ok());
    reader_ = std::move(reader).value();
    index_ = std::make_unique<LedgerIndex>(reader_.get(), &clock_);
    index_->AddObserver([this](uint64_t seq, const json& r, std::string_view) { facts_.Observe(seq, r); });
    SetRuntime(json::object());
    namespaces_["team-a"] = Namespace("team-a");
    namespaces_["kube-system"] = Namespace("kube-system");
    namespaces_["execgov-system"] = Namespace("execgov-system");
  }

  void SetRuntime(const json& runtime) {
    json p = testing::MakePolicy("team", {&authority_});
    p["metadata"]["generation"] = 2;
    if (!runtime.empty()) p["spec"]["runtime"] = runtime;
    auto compiled = policy::CompilePolicy(p);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto set = std::make_shared<policy::PolicySet>();
    set->ready = true;
    set->version = ++version_;
    set->policies = {*compiled};
    set_ = set;
  }

  ObjectSource Source(std::map<std::string, json>* store) {
    return {[store] {
              std::vector<runtime::ObjectPtr> out;
              for (const auto& [k, v] : *store) out.push_back(std::make_shared<const json>(v));
              return out;
            },
            [store](const std::string& key) -> runtime::ObjectPtr {
              auto it = store->find(key);
              return it == store->end() ? nullptr : std::make_shared<const json>(it->second);
            }};
  }

  std::unique_ptr<RuntimeVerifier> Verifier() {
    RuntimeVerifierDeps deps;
    deps.client = &client_;
    deps.pods = Source(&pods_);
    deps.jobs = Source(&jobs_);
    deps.requests = Source(&requests_);
    deps.namespaces = Source(&namespaces_);
    deps.policies = [this] { return set_; };
    deps.index = index_.get();
    deps.facts = &facts_;
    deps.ledger = ledger_.get();
    deps.events = &events_;
    deps.metrics = &metrics_;
    deps.operator_identity = "operator-0";
    deps.clock = &clock_;
    return std::make_unique<RuntimeVerifier>(std::move(deps));
  }

  RuntimeVerifier::PassResult Pass(RuntimeVerifier& v) {
    auto r = v.Pass();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RuntimeVerifier::PassResult{};
  }

  void AddPod(const std::string& ns, const std::string& name) {
    pods_[ns + "/" + name] = Meta(testing::MakePod(ns, name), "uid-" + name);
  }

  std::vector<json> LedgerRecords(const std::string& type) {
    std::vector<json> out;
    EXPECT_TRUE(reader_->Scan(0, UINT64_MAX, [&](uint64_t, std::string_view bytes) {
      json r = json::parse(bytes);
      if (r.value("type", "") == type) out.push_back(r);
      return Status::Ok();
    }).ok());
    return out;
  }

  std::string Metric(const std::string& needle) {
    std::string text = metrics_.Serialize();
    auto at = text.find(needle);
    if (at == std::string::npos) return "";
    return text.substr(at, text.find('\n', at) - at);
  }

  testing::TempDir dir_;
  std::string url_;
  FakeClock clock_{kNow};
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<ledger::Backend> reader_;
  std::unique_ptr<LedgerIndex> index_;
  RuntimeFacts facts_{&clock_};
  testing::Authority authority_ = testing::Authority::Make();
  std::shared_ptr<const policy::PolicySet> set_;
  uint64_t version_ = 0;
  std::map<std::string, json> pods_, jobs_, requests_, namespaces_;
  RecordingClient client_;
  RecordingEvents events_;
  metrics::Metrics metrics_;
};

TEST_F(ActionsTest, ReportWritesOnePolicyReportPerNamespaceAndTouchesNothingElse) {
  AddPod("team-a", "sneaky");
  AddPod("kube-system", "dns");
  AddPod("execgov-system", "webhook");
  auto v = Verifier();
  auto r = Pass(*v);
  EXPECT_EQ(r.checked, 1u);
  EXPECT_EQ(r.findings, 1u);
  EXPECT_EQ(r.terminated, 0u);
  auto requests = client_.Take();
  EXPECT_EQ(requests, (std::vector<std::string>{
                          "LIST /apis/wgpolicyk8s.io/v1alpha2/policyreports",
                          "POST /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports"}));
  const json& report = client_.objects_["/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/execgov-runtime"];
  EXPECT_EQ(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
  EXPECT_EQ(report["kind"], "PolicyReport");
  EXPECT_EQ(report["summary"]["fail"], 1);
  ASSERT_EQ(report["results"].size(), 1u);
  const json& result = report["results"][0];
  EXPECT_EQ(result["policy"], "team");
  EXPECT_EQ(result["rule"], "Unadmitted");
  EXPECT_EQ(result["result"], "fail");
  EXPECT_EQ(result["source"], "execgov");
  EXPECT_EQ(result["resources"][0]["kind"], "Pod");
  EXPECT_EQ(result["resources"][0]["name"], "sneaky");
  EXPECT_EQ(result["resources"][0]["uid"], "uid-sneaky");
  EXPECT_EQ(result["properties"]["action"], "Report");
  EXPECT_EQ(result["timestamp"]["seconds"], kNow);
  EXPECT_EQ(events_.reasons, std::vector<std::string>{"sneaky:Unadmitted"});
  EXPECT_EQ(Metric("execgov_runtime_violations{reason=\"Unadmitted\"}"), "execgov_runtime_violations{reason=\"Unadmitted\"} 1");

  // Unchanged: no request at all, no second Event.
  clock_.Advance(10min);
  r = Pass(*v);
  EXPECT_EQ(r.api_requests, 0u);
  EXPECT_TRUE(client_.Take().empty());
  EXPECT_EQ(events_.reasons.size(), 1u);
  // Gone: the report goes too, and the gauge drops.
  pods_.erase("team-a/sneaky");
  Pass(*v);
  EXPECT_EQ(client_.Take(), (std::vector<std::string>{
                                "DELETE /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/execgov-runtime"}));
  EXPECT_EQ(Metric("execgov_runtime_violations{reason=\"Unadmitted\"}"), "execgov_runtime_violations{reason=\"Unadmitted\"} 0");
  EXPECT_TRUE(LedgerRecords("enforcement").empty());
}

TEST_F(ActionsTest, WithoutThePolicyReportCrdEventsAndMetricsStillTell) {
  client_.reports_missing_ = true;
  AddPod("team-a", "sneaky");
  auto v = Verifier();
  auto r = Pass(*v);
  EXPECT_EQ(r.findings, 1u);
  EXPECT_EQ(client_.Take(), std::vector<std::string>{"LIST /apis/wgpolicyk8s.io/v1alpha2/policyreports"});
  EXPECT_EQ(events_.reasons, std::vector<std::string>{"sneaky:Unadmitted"});
  Pass(*v);  // not asked again for a minute
  EXPECT_TRUE(client_.Take().empty());
}

TEST_F(ActionsTest, TerminateDeletesThePodAfterTheGraceWithOneEnforcementRecordFirst) {
  SetRuntime({{"action", "Terminate"}, {"gracePeriodSeconds", 30}});
  AddPod("team-a", "sneaky");
  AddPod("kube-system", "dns");
  auto v = Verifier();
  Pass(*v);
  client_.Take();
  EXPECT_TRUE(LedgerRecords("enforcement").empty());  // within the grace
  clock_.Advance(29s);
  EXPECT_EQ(Pass(*v).terminated, 0u);
  clock_.Advance(1s);
  auto r = Pass(*v);
  EXPECT_EQ(r.terminated, 1u);
  auto requests = client_.Take();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests[0], "DELETE /api/v1/namespaces/team-a/pods/sneaky");
  auto records = LedgerRecords("enforcement");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["action"], "delete");
  EXPECT_EQ(records[0]["reason"], "Unadmitted");
  EXPECT_EQ(records[0]["object"], (json{{"kind", "Pod"}, {"namespace", "team-a"}, {"name", "sneaky"}, {"uid", "uid-sneaky"}}));
  EXPECT_EQ(records[0]["policy"], (json{{"name", "team"}, {"generation", 2}}));
  EXPECT_EQ(records[0]["operator"], "operator-0");
  // The API server has not removed it yet: deleted again, recorded once.
  Pass(*v);
  EXPECT_EQ(LedgerRecords("enforcement").size(), 1u);
  // A new leader reads the record and does not write it again either.
  auto other = Verifier();
  ASSERT_TRUE(index_->CatchUp().ok());
  EXPECT_TRUE(facts_.Enforced("uid-sneaky", "delete"));
  for (const auto& req : client_.Take()) EXPECT_EQ(req.find("kube-system"), std::string::npos) << req;
}

TEST_F(ActionsTest, DryRunSaysWhatWouldStopAndStopsNothing) {
  SetRuntime({{"action", "Terminate"}, {"gracePeriodSeconds", 0}, {"dryRun", true}});
  AddPod("team-a", "sneaky");
  auto v = Verifier();
  Pass(*v);
  clock_.Advance(1h);
  Pass(*v);
  for (const auto& req : client_.Take()) EXPECT_EQ(req.rfind("DELETE", 0), std::string::npos) << req;
  EXPECT_TRUE(LedgerRecords("enforcement").empty());
  EXPECT_EQ(events_.reasons, (std::vector<std::string>{"sneaky:Unadmitted", "sneaky:WouldTerminate"}));
  const json& report = client_.objects_["/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/execgov-runtime"];
  EXPECT_EQ(report["results"][0]["properties"]["action"], "Terminate (dry run)");
}

TEST_F(ActionsTest, ARevokedJtiSuspendsTheJobAndRevokesTheRequest) {
  json request = Meta(testing::MakeExecutionRequest("team-a", "rotate"), "uid-er");
  json claims = testing::ClaimsFor(request, authority_, kNow);
  const std::string jti = claims["jti"];
  request = testing::WithArtifact(request, testing::Sign(claims, authority_));
  request["status"]["phase"] = "Running";
  json job = Meta(testing::MakeJob("team-a", "rotate-1"), "uid-job");
  job["spec"]["template"]["spec"] = request["spec"]["template"]["spec"]["template"]["spec"];
  job = testing::WithArtifact(job, *api::ArtifactOf(request));
  job["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "execgov.io/v1alpha1"}, {"kind", "ExecutionRequest"}, {"name", "rotate"}, {"uid", "uid-er"}, {"controller", true}}});
  auto admit = [&](const json& o, const std::string& op) {
    json r = {{"type", "admission"}, {"decision", "allowed"}, {"reason", "Allowed"},
              {"object", {{"kind", api::KindOf(o)}, {"namespace", "team-a"}, {"name", api::NameOf(o)}, {"uid", api::UidOf(o)}, {"operation", "CREATE"}}},
              {"digest", *api::ExecutionScopeDigest(o)},
              {"artifact", {{"kid", "ops-1"}, {"jti", jti}, {"digest", claims["scope"]["digest"]}}},
              {"policy", {{"name", "team"}}},
              {"replay", {{"op", op}}}};
    ASSERT_TRUE(ledger_->Append(r).ok());
  };
  // And a Pod of the Job, which its Job controller makes.
  json pod = Meta(testing::MakePod("team-a", "rotate-1-x"), "uid-pod");
  pod["spec"] = job["spec"]["template"]["spec"];
  pod = testing::WithArtifact(pod, *api::ArtifactOf(request));
  pod["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "rotate-1"}, {"uid", "uid-job"}, {"controller", true}}});
  admit(request, "consume");
  admit(job, "inherit");
  admit(pod, "");
  requests_["team-a/rotate"] = request;
  jobs_["team-a/rotate-1"] = job;
  pods_["team-a/rotate-1-x"] = pod;
  client_.objects_["/apis/execgov.io/v1alpha1/namespaces/team-a/executionrequests/rotate"] = request;
  auto v = Verifier();
  EXPECT_EQ(Pass(*v).findings, 0u);
  client_.Take();

  SetRuntime({{"action", "Terminate"}, {"gracePeriodSeconds", 0}, {"dryRun", false}});
  json revoking = testing::MakePolicy("team", {&authority_});
  revoking["spec"]["runtime"] = {{"action", "Terminate"}, {"gracePeriodSeconds", 0}};
  revoking["spec"]["revocations"]["jtis"] = json::array({jti});
  auto compiled = policy::CompilePolicy(revoking);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  auto set = std::make_shared<policy::PolicySet>();
  set->ready = true;
  set->version = 99;
  set->policies = {*compiled};
  set_ = set;
  auto r = Pass(*v);
  EXPECT_EQ(r.findings, 3u);
  EXPECT_EQ(r.terminated, 2u);  // the Pod is left to its Job's suspension
  auto requests = client_.Take();
  for (const auto& req : requests) EXPECT_EQ(req.find("/pods/"), std::string::npos) << req;
  EXPECT_NE(std::find(requests.begin(), requests.end(),
                      "PATCH /apis/batch/v1/namespaces/team-a/jobs/rotate-1 {\"spec\":{\"suspend\":true}}"),
            requests.end());
  const json& stored = client_.objects_["/apis/execgov.io/v1alpha1/namespaces/team-a/executionrequests/rotate"];
  EXPECT_EQ(stored["status"]["phase"], "Revoked");
  EXPECT_EQ(stored["status"]["conditions"][0]["reason"], "Revoked");
  auto records = LedgerRecords("enforcement");
  ASSERT_EQ(records.size(), 2u);
  std::set<std::string> actions = {records[0]["action"], records[1]["action"]};
  EXPECT_EQ(actions, (std::set<std::string>{"revoke", "suspend"}));
  EXPECT_EQ(records[0]["reason"], "Revoked");
  EXPECT_EQ(Metric("execgov_runtime_enforcements_total{action=\"suspend\",result=\"success\"}"),
            "execgov_runtime_enforcements_total{action=\"suspend\",result=\"success\"} 1");
}

// Ungoverned is report-only, even under Terminate: stopping every workload of
// a namespace someone unlabelled is too destructive to do unasked (the
// namespace guard refuses an unlisted relabel at the door).
TEST_F(ActionsTest, UngovernedIsReportedAndNeverStoppedEvenUnderTerminate) {
  SetRuntime({{"action", "Terminate"}, {"gracePeriodSeconds", 0}});
  AddPod("team-a", "admitted");
  const json& pod = pods_["team-a/admitted"];
  json r = {{"type", "admission"}, {"decision", "allowed"}, {"reason", "Allowed"},
            {"object", {{"kind", "Pod"}, {"namespace", "team-a"}, {"name", "admitted"}, {"uid", "uid-admitted"}, {"operation", "CREATE"}}},
            {"digest", *api::ExecutionScopeDigest(pod)},
            {"artifact", {{"kid", "ops-1"}, {"jti", "jti-ungoverned-000000000000"}, {"digest", *api::ExecutionScopeDigest(pod)}}},
            {"policy", {{"name", "team"}}},
            {"replay", {{"op", "consume"}}}};
  ASSERT_TRUE(ledger_->Append(r).ok());
  namespaces_["team-a"] = Namespace("team-a", /*governed=*/false);
  auto v = Verifier();
  auto first = Pass(*v);
  EXPECT_EQ(first.findings, 1u);
  clock_.Advance(1h);  // long past any grace period
  auto later = Pass(*v);
  EXPECT_EQ(later.findings, 1u);
  EXPECT_EQ(first.terminated + later.terminated, 0u);
  for (const auto& req : client_.Take()) {
    EXPECT_EQ(req.rfind("DELETE /api/v1", 0), std::string::npos) << req;
    EXPECT_EQ(req.rfind("PATCH", 0), std::string::npos) << req;
  }
  EXPECT_TRUE(LedgerRecords("enforcement").empty());
  EXPECT_EQ(events_.reasons, std::vector<std::string>{"admitted:Ungoverned"});  // no WouldTerminate, no Terminated
  const json& report = client_.objects_["/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/execgov-runtime"];
  ASSERT_EQ(report["results"].size(), 1u);
  EXPECT_EQ(report["results"][0]["rule"], "Ungoverned");
  EXPECT_EQ(report["results"][0]["properties"]["action"], "Report");
  EXPECT_EQ(Metric("execgov_runtime_violations{reason=\"Ungoverned\"}"), "execgov_runtime_violations{reason=\"Ungoverned\"} 1");
  // Nor does dryRun announce a termination that will never come.
  SetRuntime({{"action", "Terminate"}, {"gracePeriodSeconds", 0}, {"dryRun", true}});
  Pass(*v);
  EXPECT_EQ(events_.reasons.size(), 1u);
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Cost per 1,000 Pods: 10 admitted Jobs of 100 admitted Pods each. The first
// pass computes every digest; later passes find them cached and make no
// API request. Printed for the docs; the assertions are on work done, not time.
TEST_F(ActionsTest, CostPerThousandPods) {
  for (int j = 0; j < 10; ++j) {
    json job = Meta(testing::MakeJob("team-a", "job-" + std::to_string(j)), "uid-job-" + std::to_string(j));
    json claims = testing::ClaimsFor(job, authority_, kNow);
    job = testing::WithArtifact(job, testing::Sign(claims, authority_));
    jobs_["team-a/" + api::NameOf(job)] = job;
    const std::string digest = *api::ExecutionScopeDigest(job);
    std::vector<ledger::Entry> batch;
    json r = {{"type", "admission"}, {"decision", "allowed"},
              {"object", {{"kind", "Job"}, {"namespace", "team-a"}, {"name", api::NameOf(job)}, {"uid", api::UidOf(job)}, {"operation", "CREATE"}}},
              {"digest", digest}, {"artifact", {{"kid", "ops-1"}, {"jti", claims["jti"]}, {"digest", digest}}},
              {"policy", {{"name", "team"}}}, {"replay", {{"op", "consume"}}}};
    ASSERT_TRUE(ledger_->Append(r).ok());
    for (int p = 0; p < 100; ++p) {
      json pod = Meta(testing::MakePod("team-a", api::NameOf(job) + "-" + std::to_string(p)),
                      api::UidOf(job) + "-pod-" + std::to_string(p));
      pod["spec"] = job["spec"]["template"]["spec"];
      pod = testing::WithArtifact(pod, *api::ArtifactOf(job));
      pod["metadata"]["ownerReferences"] = json::array(
          {{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", api::NameOf(job)}, {"uid", api::UidOf(job)}, {"controller", true}}});
      pods_["team-a/" + api::NameOf(pod)] = pod;
      json pr = r;
      pr["object"] = {{"kind", "Pod"}, {"namespace", "team-a"}, {"name", api::NameOf(pod)}, {"uid", api::UidOf(pod)}, {"operation", "CREATE"}};
      pr.erase("replay");
      ASSERT_TRUE(ledger_->Append(pr).ok());
    }
  }
  auto v = Verifier();
  double t0 = CpuSeconds();
  auto first = Pass(*v);
  double t1 = CpuSeconds();
  auto second = Pass(*v);
  double t2 = CpuSeconds();
  EXPECT_EQ(first.checked, 1010u);
  EXPECT_EQ(first.findings, 0u);
  EXPECT_EQ(first.digests_computed, 1010u);
  EXPECT_EQ(second.digests_computed, 0u);
  EXPECT_EQ(second.api_requests, 0u);
  std::printf("runtime verification, 1,000 Pods + 10 Jobs: first pass %.1f ms CPU (%zu digests, ledger read "
              "included), later passes %.1f ms CPU, %zu API requests per pass (%zu on the first: the report list)\n",
              (t1 - t0) * 1e3, first.digests_computed, (t2 - t1) * 1e3, second.api_requests, first.api_requests);
}

}  // namespace
}  // namespace execgov::controllers
