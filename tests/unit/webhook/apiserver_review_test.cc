// AdmissionReviews exactly as a real kube-apiserver sent them (testdata/
// apiserver, README there): decoded field by field, then decided by the
// handler at the time they were sent. The API server's objects carry what the
// signed manifests did not (defaults, managedFields, the service account
// volume, tolerations), so this holds the decode and the scope digest to the
// real shape, not to the shape our own builders give.
#include <gtest/gtest.h>

#include "core/file.h"
#include "core/json_fast.h"
#include "crypto/encoding.h"
#include "support/subprocess.h"
#include "webhook/admission_handler.h"
#include "webhook/admission_review.h"
#include "webhook/replay_store.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;

std::string Captured(const std::string& name) {
  auto text = ReadFile(std::string(EXECGOV_SOURCE_DIR) + "/tests/unit/webhook/testdata/apiserver/" + name);
  EXPECT_TRUE(text.ok()) << name << ": " << text.status().ToString();
  return text.ok() ? *text : "";
}

AdmissionRequest Decoded(const std::string& name) {
  auto req = DecodeAdmissionReview(Captured(name));
  EXPECT_TRUE(req.ok()) << name << ": " << req.status().ToString();
  return req.ok() ? *req : AdmissionRequest{};
}

TEST(ApiServerReview, DecodesWhatTheApiServerSent) {
  AdmissionRequest job = Decoded("job-create.json");
  Json sent = Json::parse(Captured("job-create.json"))["request"];
  EXPECT_EQ(job.uid, sent["uid"]);
  EXPECT_EQ(job.resource, (GroupVersionResource{"batch", "v1", "jobs"}));
  EXPECT_EQ(job.kind, (GroupVersionKind{"batch", "v1", "Job"}));
  ASSERT_TRUE(job.request_kind.has_value());
  EXPECT_EQ(*job.request_kind, (GroupVersionKind{"batch", "v1", "Job"}));
  EXPECT_EQ(job.sub_resource, "");
  EXPECT_EQ(job.ns, "agents");
  EXPECT_EQ(job.name, "rotate-payments");
  EXPECT_EQ(job.operation, policy::Operation::kCreate);
  EXPECT_EQ(job.user, "agent:bench");
  EXPECT_FALSE(job.dry_run);
  EXPECT_TRUE(job.old_object.is_null());
  EXPECT_EQ(job.object["spec"]["template"]["spec"]["containers"][0]["name"], "main");

  AdmissionRequest pod = Decoded("pod-create-by-job-controller.json");
  sent = Json::parse(Captured("pod-create-by-job-controller.json"))["request"];
  EXPECT_EQ(pod.resource, (GroupVersionResource{"", "v1", "pods"}));
  EXPECT_EQ(pod.kind, (GroupVersionKind{"", "v1", "Pod"}));
  // Named from generateName by the API server; the request carries the name.
  EXPECT_EQ(pod.name.rfind("rotate-payments-", 0), 0u) << pod.name;
  EXPECT_EQ(pod.name, sent["object"]["metadata"]["name"]);
  EXPECT_EQ(pod.user, "system:serviceaccount:kube-system:job-controller");
  EXPECT_EQ(pod.groups, (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:kube-system",
                                                  "system:authenticated"}));

  AdmissionRequest update = Decoded("pod-update.json");
  EXPECT_EQ(update.operation, policy::Operation::kUpdate);
  ASSERT_TRUE(update.old_object.is_object());
  EXPECT_EQ(update.old_object["metadata"]["uid"], update.object["metadata"]["uid"]);

  EXPECT_TRUE(Decoded("job-create-dry-run.json").dry_run);

  AdmissionRequest ereq = Decoded("executionrequest-create.json");
  EXPECT_EQ(ereq.resource, (GroupVersionResource{"execgov.io", "v1alpha1", "executionrequests"}));
  EXPECT_EQ(ereq.kind, (GroupVersionKind{"execgov.io", "v1alpha1", "ExecutionRequest"}));

  // Each maps to its governed kind by its resource; the kinds agree.
  for (const char* name : {"job-create.json", "pod-create-by-job-controller.json", "pod-update.json",
                           "executionrequest-create.json"}) {
    AdmissionRequest req = Decoded(name);
    auto kind = GovernedKindOf(req.resource, req.sub_resource);
    ASSERT_TRUE(kind.has_value()) << name;
    EXPECT_EQ(api::GovernedKindName(*kind), req.kind.kind) << name;
    EXPECT_EQ(KindConflict(*kind, req), "") << name;
  }
}

// request.resource is required (400); kind and requestKind must be the
// resource's group and kind, and the object what the request is for.
TEST(ApiServerReview, OneKindFromTheResource) {
  Json sent = Json::parse(Captured("job-create.json"));
  Json no_resource = sent;
  no_resource["request"].erase("resource");
  auto r = DecodeAdmissionReview(no_resource.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the AdmissionReview request has no resource ({group, version, resource})");
  Json no_kind = sent;
  no_kind["request"].erase("kind");
  EXPECT_FALSE(DecodeAdmissionReview(no_kind.dump()).ok());

  EXPECT_EQ(GovernedKindOf({"", "v1", "pods"}, "ephemeralcontainers"), api::GovernedKind::kPod);
  EXPECT_EQ(GovernedKindOf({"", "v1", "pods"}, "status"), std::nullopt);
  EXPECT_EQ(GovernedKindOf({"batch", "v1", "jobs"}, "status"), std::nullopt);
  EXPECT_EQ(GovernedKindOf({"", "v1", "jobs"}, ""), std::nullopt);
  EXPECT_EQ(GovernedKindOf({"batch", "v2", "jobs"}, ""), std::nullopt);
  EXPECT_EQ(GovernedKindOf({"execgov.io", "v1alpha1", "executionrequests"}, ""), api::GovernedKind::kExecutionRequest);

  AdmissionRequest job = Decoded("job-create.json");
  AdmissionRequest lenient = job;  // Job, but in the core group
  lenient.kind.group = "";
  EXPECT_EQ(KindConflict(api::GovernedKind::kJob, lenient),
            "the request is for a Job (resource jobs) but its kind is \"v1, Kind=Job\"");
  AdmissionRequest other = job;
  other.request_kind = GroupVersionKind{"batch", "v1", "CronJob"};
  EXPECT_EQ(KindConflict(api::GovernedKind::kJob, other),
            "the request is for a Job (resource jobs) but its requestKind is \"batch/v1, Kind=CronJob\"");
  AdmissionRequest converted = job;  // another version of the same kind is the same kind
  converted.request_kind = GroupVersionKind{"batch", "v1beta1", "Job"};
  EXPECT_EQ(KindConflict(api::GovernedKind::kJob, converted), "");
}

// The field managers' bookkeeping and the status are never read: they are
// left out of the decoded objects, the same whether the fast parse or
// nlohmann's read the body (one over the fast parse's 64 KiB takes
// nlohmann's). Nothing else is.
TEST(ApiServerReview, UnreadMembersAreLeftOut) {
  for (const char* name : {"pod-update.json", "job-create.json"}) {
    Json full = Json::parse(Captured(name));
    auto without = [&](const char* which) {
      Json o = full["request"][which];
      EXPECT_TRUE(o["metadata"].contains("managedFields") && o.contains("status")) << name << " " << which;
      o["metadata"].erase("managedFields");
      // The old object keeps its status phase only (an ended request refuses an artifact by it).
      Json phase = std::string(which) == "oldObject" ? o["status"].value("phase", Json()) : Json();
      o.erase("status");
      if (phase.is_string()) o["status"] = {{"phase", phase}};
      return o;
    };
    AdmissionRequest fast = Decoded(name);
    EXPECT_EQ(fast.object, without("object")) << name;

    Json padded = full;
    padded["request"]["object"]["metadata"]["annotations"]["pad"] = std::string(kFastJsonMaxBytes, 'x');
    auto slow = DecodeAdmissionReview(padded.dump());
    ASSERT_TRUE(slow.ok()) << slow.status().ToString();
    slow->object["metadata"]["annotations"].erase("pad");
    EXPECT_EQ(slow->object, without("object")) << name;
    EXPECT_EQ(slow->old_object, fast.old_object) << name;
    if (full["request"]["oldObject"].is_object()) {
      EXPECT_EQ(fast.old_object, without("oldObject")) << name;
    }
  }
}

// The policy the captures were decided under: the capturing authority's key,
// audience cluster-a, the Job controller trusted to create Pods of a Job.
std::shared_ptr<const policy::PolicySet> CapturePolicies() {
  Json p = {{"apiVersion", "execgov.io/v1alpha1"},
            {"kind", "ExecutionPolicy"},
            {"metadata", {{"name", "captured"}, {"generation", 1}}},
            {"spec",
             {{"enforcement", "Enforce"},
              {"audience", "cluster-a"},
              {"maxTTL", "15m"},
              {"clockSkew", "30s"},
              {"match", {{"kinds", {"Pod", "Job", "ExecutionRequest"}}}},
              {"trustedControllers", {"system:serviceaccount:kube-system:job-controller"}},
              {"issuers",
               {{{"name", "ops-authority"},
                 {"subjects", {"agent:*"}},
                 {"keys", {{{"kid", "bench-1"}, {"algorithm", "Ed25519"}, {"publicKey", Captured("authority.pub")}}}}}}}}}};
  auto compiled = policy::CompilePolicy(p);
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
  auto set = std::make_shared<policy::PolicySet>();
  set->ready = true;
  if (compiled.ok()) set->policies.push_back(*compiled);
  return set;
}

// The iat claim of the request object's artifact: when the authority signed.
int64_t SignedAt(const AdmissionRequest& req) {
  std::string token = req.object["metadata"]["annotations"]["execgov.io/authorization"];
  size_t a = token.find('.'), b = token.find('.', a + 1);
  auto claims = crypto::Base64UrlDecode(token.substr(a + 1, b - a - 1));
  EXPECT_TRUE(claims) << token;
  return claims ? Json::parse(*claims).at("iat").get<int64_t>() : 0;
}

std::string Reason(const AdmissionResponse& r) {
  if (r.allowed) return "Allowed";
  size_t a = r.message.find(": "), b = r.message.find(": ", a + 2);
  return r.message.substr(a + 2, b - a - 2);
}

TEST(ApiServerReview, DecidedAsWhenTheyWereSent) {
  AdmissionRequest job = Decoded("job-create.json");
  int64_t now = SignedAt(job) + 5;
  FakeClock clock(now);
  testing::TempDir dir;
  auto replay = FileReplayStore::Open(dir.File("replay.jsonl"), now);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  auto policies = CapturePolicies();
  HandlerDeps deps;
  deps.policies = [&] { return policies; };
  deps.replay = replay->get();
  deps.clock = &clock;
  AdmissionHandler handler(deps);

  // The Job as its agent created it: signed over the manifest it wrote, and
  // verified against the object the API server defaulted.
  AdmissionResponse r = handler.Handle(job);
  EXPECT_EQ(Reason(r), "Allowed") << r.message;
  EXPECT_EQ(r.uid, job.uid);
  // Its Pod, created by the Job controller, inherits the Job's artifact.
  r = handler.Handle(Decoded("pod-create-by-job-controller.json"));
  EXPECT_EQ(Reason(r), "Allowed") << r.message;
  // The same artifact again, for a Job of another name (a server dry run).
  r = handler.Handle(Decoded("job-create-dry-run.json"));
  EXPECT_EQ(Reason(r), "ReplayDetected") << r.message;
  // An UPDATE (kubectl label) that leaves the execution as it was.
  r = handler.Handle(Decoded("pod-update.json"));
  EXPECT_EQ(Reason(r), "Allowed") << r.message;
  // An ExecutionRequest, with its own artifact.
  r = handler.Handle(Decoded("executionrequest-create.json"));
  EXPECT_EQ(Reason(r), "Allowed") << r.message;

  // The Pod's review with its object claiming to be a Job: refused, never
  // digested as the Job it claims to be.
  AdmissionRequest claims_job = Decoded("pod-create-by-job-controller.json");
  claims_job.uid = "claims-job";
  claims_job.object["apiVersion"] = "batch/v1";
  claims_job.object["kind"] = "Job";
  r = handler.Handle(claims_job);
  EXPECT_EQ(Reason(r), "ScopeMismatch") << r.message;
  EXPECT_NE(r.message.find("the request is for a Pod (v1) but its object is apiVersion \"batch/v1\" kind \"Job\""),
            std::string::npos)
      << r.message;
  // The ExecutionRequest's review saying its kind is in the core group.
  AdmissionRequest lenient = Decoded("executionrequest-create.json");
  lenient.kind.group = "";
  r = handler.Handle(lenient);
  EXPECT_EQ(Reason(r), "ScopeMismatch") << r.message;
  // The ExecutionRequest again, as another object without a uid: refused
  // for the uid, where with one it would be a replay.
  AdmissionRequest no_uid = Decoded("executionrequest-create.json");
  no_uid.object["metadata"].erase("uid");
  r = handler.Handle(no_uid);
  EXPECT_EQ(Reason(r), "InternalError") << r.message;
  EXPECT_NE(r.message.find("has no metadata.uid: the single use of its artifact cannot be recorded without one"),
            std::string::npos)
      << r.message;

  // The Pod with its image changed no longer matches what was signed.
  AdmissionRequest changed = Decoded("pod-create-by-job-controller.json");
  changed.uid = "changed";
  changed.object["metadata"]["uid"] = "another-pod";
  changed.object["spec"]["containers"][0]["image"] = "registry.example.com/tools/rotate:latest";
  r = handler.Handle(changed);
  EXPECT_EQ(Reason(r), "DigestMismatch") << r.message;
}

}  // namespace
}  // namespace execgov::webhook
