#include "controllers/request_controller.h"

#include <algorithm>
#include <chrono>

#include "api/execution_scope.h"
#include "api/object.h"
#include "controllers/artifact_summary.h"
#include "controllers/status_conditions.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/sha256.h"

namespace execgov::controllers {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kWaitForPolicies{1000};
constexpr milliseconds kWaitForParent{2000};
// How long a reconcile trusts its own last status write over a cache that
// has not shown it yet, and how soon it looks again meanwhile.
constexpr std::chrono::seconds kTrustOwnWrite{10};
constexpr milliseconds kWaitForCache{200};

// Progress along the lifecycle: a cache showing a lower rank than what was
// written is behind.
int PhaseRank(const std::string& phase) {
  if (phase == kPhasePending || phase == kPhaseAwaitingAuthorization) return 1;
  if (phase == kPhaseAuthorized) return 2;
  if (phase == kPhaseRunning) return 3;
  if (IsFinalPhase(phase)) return 4;
  return 0;
}

std::string RequestsPath(const std::string& ns, const std::string& name = "") {
  return kube::ResourcePath(std::string(api::kApiVersion), "executionrequests", ns, name);
}

std::string JobsPath(const std::string& ns, const std::string& name = "") {
  return kube::ResourcePath("batch/v1", "jobs", ns, name);
}

// Looks parents up in the ledger, remembering whether a lookup failed: a
// ledger that cannot be read is a reason to retry, not to deny a request
// the webhook admitted.
class LedgerLineage : public policy::LineageView {
 public:
  explicit LedgerLineage(ledger::Ledger* ledger) : ledger_(ledger) {}
  bool HasRecord(const std::string& ref) const override {
    auto r = ledger_->Contains(ref);
    if (!r.ok()) {
      error_ = r.status();
      return false;
    }
    return *r;
  }
  const Status& error() const { return error_; }

 private:
  ledger::Ledger* ledger_;
  mutable Status error_;
};

int64_t GenerationOf(const json& object) { return object.value("metadata", json::object()).value("generation", int64_t{0}); }

}  // namespace

bool IsFinalPhase(const std::string& phase) {
  return phase == kPhaseSucceeded || phase == kPhaseFailed || phase == kPhaseDenied || phase == kPhaseRevoked ||
         phase == kPhaseExpired || phase == kPhaseGranted;
}

std::string JobNameFor(const std::string& request_name, const std::string& request_uid) {
  std::string base = request_name.substr(0, 52);
  while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
  std::string hex = crypto::HexEncode(crypto::HashBytes(crypto::Sha256(request_uid))).substr(0, 10);
  return base.empty() ? "execgov-" + hex : base + "-" + hex;
}

StatusOr<json> BuildJob(const json& request) {
  const json* tmpl = nullptr;
  if (auto spec = request.find("spec"); spec != request.end() && spec->is_object()) {
    if (auto t = spec->find("template"); t != spec->end() && t->is_object()) tmpl = &*t;
  }
  if (!tmpl || !tmpl->contains("spec") || !(*tmpl)["spec"].is_object()) {
    return InvalidArgument("spec.template.spec is missing: there is nothing to run");
  }
  std::string ns = api::NamespaceOf(request), name = api::NameOf(request), uid = api::UidOf(request);
  json meta = tmpl->value("metadata", json::object());
  json labels = meta.value("labels", json::object());
  json annotations = meta.value("annotations", json::object());
  labels[kRequestUidLabel] = uid;
  json job_spec = (*tmpl)["spec"];
  if (auto token = api::ArtifactOf(request)) {
    annotations[std::string(api::kArtifactAnnotation)] = *token;
    // The Job controller copies the pod template into each Pod: they inherit
    // the artifact through the Job, as the Job does through the request.
    json& pod_meta = job_spec["template"]["metadata"];
    if (!pod_meta.is_object()) pod_meta = json::object();
    pod_meta["annotations"][std::string(api::kArtifactAnnotation)] = *token;
  }
  json job_meta = {{"name", JobNameFor(name, uid)},
                   {"namespace", ns},
                   {"labels", labels},
                   {"ownerReferences",
                    json::array({{{"apiVersion", std::string(api::kApiVersion)},
                                  {"kind", "ExecutionRequest"},
                                  {"name", name},
                                  {"uid", uid},
                                  {"controller", true},
                                  {"blockOwnerDeletion", true}}})}};
  if (!annotations.empty()) job_meta["annotations"] = annotations;
  return json{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", job_meta}, {"spec", job_spec}};
}

std::optional<std::string> JobOutcome(const json& job) {
  auto conditions = job.value("status", json::object()).value("conditions", json::array());
  for (const auto& c : conditions) {
    if (!c.is_object() || c.value("status", "") != "True") continue;
    std::string type = c.value("type", "");
    if (type == "Complete") return std::string(kPhaseSucceeded);
    if (type == "Failed") return std::string(kPhaseFailed);
  }
  return std::nullopt;
}

RequestController::RequestController(RequestControllerDeps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = &SystemClock::Get();
}

StatusOr<runtime::ReconcileResult> RequestController::Reconcile(const std::string& key) {
  runtime::ObjectPtr cached = deps_.requests->Get(key);
  if (!cached) return runtime::ReconcileResult{};  // deleted: its Job goes with it (owner reference)
  if (!deps_.watch_namespaces.empty() && !deps_.watch_namespaces.count(api::NamespaceOf(*cached))) {
    return runtime::ReconcileResult{};  // another operator's
  }
  json request = *cached;
  std::string phase = api::StringAt(request, {"status", "phase"});
  {
    std::lock_guard lock(written_mu_);
    auto it = written_.find(api::UidOf(request));
    if (it != written_.end()) {
      if (IsFinalPhase(phase)) {
        written_.erase(it);
      } else if (PhaseRank(phase) < it->second.rank &&
                 std::chrono::steady_clock::now() - it->second.at < kTrustOwnWrite) {
        return runtime::ReconcileResult{kWaitForCache};
      }
    }
  }
  if (IsFinalPhase(phase)) return runtime::ReconcileResult{};
  // Steps an earlier leader recorded must be known before any is appended.
  EXECGOV_RETURN_IF_ERROR(deps_.index->EnsureLoaded());

  if (phase.empty() || phase == kPhasePending || phase == kPhaseAwaitingAuthorization) {
    EXECGOV_ASSIGN_OR_RETURN(Progress p, Authorize(request));
    if (!p.go_on) return p.result;
    phase = api::StringAt(request, {"status", "phase"});
  }
  if (phase == kPhaseAuthorized) {
    EXECGOV_ASSIGN_OR_RETURN(Progress p, StartJob(request));
    if (!p.go_on) return p.result;
    phase = api::StringAt(request, {"status", "phase"});
  }
  if (phase == kPhaseRunning) return FollowJob(request);
  return runtime::ReconcileResult{};
}

StatusOr<RequestController::Progress> RequestController::Authorize(json& request) {
  std::shared_ptr<const policy::PolicySet> policies = deps_.policies ? deps_.policies() : nullptr;
  if (!policies || !policies->ready) {
    return Wait(request, "WaitingForPolicies", "the ExecutionPolicies are not loaded yet", kWaitForPolicies);
  }
  const std::string ns = api::NamespaceOf(request), name = api::NameOf(request), uid = api::UidOf(request);
  std::map<std::string, std::string> ns_labels;
  if (runtime::ObjectPtr ns_obj = deps_.namespaces->Get(ns)) ns_labels = api::LabelsOf(*ns_obj);
  bool governed = ns_labels[std::string(api::kGovernedLabel)] == "true" &&
                  !api::IsNeverGovernedNamespace(ns, deps_.install_namespace);

  // The parent's latest step, when spec.parentRef names one.
  std::string parent_hash;
  json parent_ref;
  json spec = request.value("spec", json::object());
  if (auto ref = spec.find("parentRef"); ref != spec.end() && ref->is_object()) {
    std::string pns = ref->value("namespace", ns), pname = ref->value("name", "");
    runtime::ObjectPtr parent = deps_.requests->Get(pns + "/" + pname);
    if (!parent) {
      std::string message = "spec.parentRef names ExecutionRequest " + pns + "/" + pname + ", which does not exist";
      json entry = StepEntry(request, kPhaseDenied, "denied", policy::ReasonName(policy::Reason::kLineageDiscontinuity), message);
      EXECGOV_ASSIGN_OR_RETURN(auto step, RecordStep(request, kPhaseDenied, entry));
      EXECGOV_RETURN_IF_ERROR(WriteStatus(request, kPhaseDenied, step, [&](json& status) {
        SetCondition(status["conditions"], {"Authorized", "False", "LineageDiscontinuity", message, GenerationOf(request)},
                     deps_.clock->Now());
      }));
      Event(request, true, "LineageDiscontinuity", message);
      return Progress{};
    }
    parent_hash = api::StringAt(*parent, {"status", "lineage", "hash"});
    if (parent_hash.empty()) {
      return Wait(request, "WaitingForParent",
                  "parent ExecutionRequest " + pns + "/" + pname + " has recorded no step in the ledger yet",
                  kWaitForParent);
    }
    parent_ref = {{"namespace", pns}, {"name", pname}, {"uid", api::UidOf(*parent)}};
  }

  policy::Decision d;
  if (!governed) {
    d.reason = policy::Reason::kNoMatchingPolicy;
    d.message = "namespace " + ns + " is not labelled " + std::string(api::kGovernedLabel) +
                "=true; ExecutionRequests run only in governed namespaces";
  } else {
    auto facts = api::ArtifactOf(request) ? UnverifiedFacts(*api::ArtifactOf(request)) : std::nullopt;
    policy::AdmissionAttributes a;
    a.kind = "ExecutionRequest";
    a.operation = policy::Operation::kCreate;
    a.ns = ns;
    a.name = name;
    a.uid = uid;
    a.object = &request;
    a.user = facts ? facts->sub : "";
    a.namespace_labels = ns_labels;
    LedgerLineage lineage(deps_.ledger);
    // The webhook held spec.initiator to the requesting user when it
    // admitted a request without an artifact; that user is not known here.
    a.requester_unknown = true;
    policy::DecisionInputs in;
    in.policies = policies.get();
    auto created = ParseRfc3339(api::StringAt(request, {"metadata", "creationTimestamp"}));
    const int64_t now = deps_.clock->NowUnix();
    in.now = created ? std::chrono::duration_cast<std::chrono::seconds>(created->time_since_epoch()).count() : now;
    // Signed after the request was made: attached later (a request that
    // waited may have had it attached before this operator saw it wait).
    a.artifact_attached_later =
        facts && (api::StringAt(request, {"status", "phase"}) == kPhaseAwaitingAuthorization || facts->iat > in.now);
    if (a.artifact_attached_later) {
      in.now = std::clamp(std::max(facts->iat, facts->nbf), std::min(in.now, now), now);
    }
    in.replay = deps_.replay;
    in.lineage = &lineage;
    in.install_namespace = deps_.install_namespace;
    d = policy::Decide(a, in);
    if (!lineage.error().ok()) return lineage.error().WithContext("looking up the artifact's parent");
    if (!d.allowed && d.reason == policy::Reason::kInternalError) return Internal(d.message);
  }

  if (d.allowed && d.awaiting_authorization) return AwaitAuthorization(request, d);
  std::string phase = d.allowed ? kPhaseAuthorized : d.reason == policy::Reason::kRevoked ? kPhaseRevoked : kPhaseDenied;
  std::string message = d.allowed && d.reason == policy::Reason::kNone ? "re-verified: " + d.message : d.message;
  json entry = StepEntry(request, phase, d.allowed ? "allowed" : "denied", policy::ReasonName(d.reason), message);
  if (d.artifact) {
    entry["artifact"] = ArtifactRecord(*d.artifact);
    if (!d.artifact->intent.empty() && !entry.contains("intent")) entry["intent"] = d.artifact->intent;
  }
  if (!d.object_digest.empty()) entry["digest"] = d.object_digest;
  if (!parent_hash.empty()) {
    entry["parent"] = parent_hash;
    entry["parentRef"] = parent_ref;
  } else if (d.artifact && !d.artifact->parent.empty()) {
    entry["parent"] = d.artifact->parent;
  }
  if (!d.verdicts.empty()) {
    entry["policy"] = {{"name", d.verdicts.front().policy},
                       {"generation", d.verdicts.front().generation},
                       {"enforcement", policy::EnforcementName(d.verdicts.front().enforcement)}};
  }
  EXECGOV_ASSIGN_OR_RETURN(auto step, RecordStep(request, phase, entry));
  std::string reason = d.allowed ? "Verified" : policy::ReasonName(d.reason);
  EXECGOV_RETURN_IF_ERROR(WriteStatus(request, phase, step, [&](json& status) {
    SetCondition(status["conditions"], {"Authorized", d.allowed ? "True" : "False", reason, message, GenerationOf(request)},
                 deps_.clock->Now());
  }));
  Event(request, !d.allowed, d.allowed ? "Authorized" : reason, message);
  return Progress{d.allowed, {}};
}

StatusOr<RequestController::Progress> RequestController::AwaitAuthorization(json& request, const policy::Decision& d) {
  const bool first = api::StringAt(request, {"status", "phase"}) != kPhaseAwaitingAuthorization;
  json entry = StepEntry(request, kPhaseAwaitingAuthorization, "allowed", kPhaseAwaitingAuthorization, d.message);
  if (!d.object_digest.empty()) entry["digest"] = d.object_digest;
  if (!d.verdicts.empty()) {
    entry["policy"] = {{"name", d.verdicts.front().policy},
                       {"generation", d.verdicts.front().generation},
                       {"enforcement", policy::EnforcementName(d.verdicts.front().enforcement)}};
  }
  EXECGOV_ASSIGN_OR_RETURN(auto step, RecordStep(request, kPhaseAwaitingAuthorization, entry));
  EXECGOV_RETURN_IF_ERROR(WriteStatus(request, kPhaseAwaitingAuthorization, step, [&](json& status) {
    SetCondition(status["conditions"],
                 {"Authorized", "Unknown", kPhaseAwaitingAuthorization, d.message, GenerationOf(request)},
                 deps_.clock->Now());
  }));
  if (first) Event(request, false, kPhaseAwaitingAuthorization, d.message);
  // The UPDATE that attaches an artifact brings the request back.
  return Progress{};
}

StatusOr<RequestController::Progress> RequestController::StartJob(json& request) {
  const std::string ns = api::NamespaceOf(request), uid = api::UidOf(request);
  auto job = BuildJob(request);
  if (!job.ok()) {
    json entry = StepEntry(request, kPhaseFailed, "allowed", "InvalidTemplate", job.status().message());
    EXECGOV_ASSIGN_OR_RETURN(auto step, RecordStep(request, kPhaseFailed, entry));
    EXECGOV_RETURN_IF_ERROR(WriteStatus(request, kPhaseFailed, step, [&](json& status) {
      SetCondition(status["conditions"], {"Failed", "True", "InvalidTemplate", job.status().message(), GenerationOf(request)},
                   deps_.clock->Now());
    }));
    Event(request, true, "InvalidTemplate", job.status().message());
    return Progress{};
  }
  const std::string job_name = api::NameOf(*job);
  json actual;
  // The Job's own event often brings us here before the request's status
  // write reaches the cache: a Job we already made is adopted without a
  // second create (which the webhook would be asked to admit again).
  runtime::ObjectPtr existing = deps_.jobs->Get(ns + "/" + job_name);
  auto created = existing ? StatusOr<json>(AlreadyExists("cached")) : deps_.client->Create(JobsPath(ns), *job);
  if (created.ok()) {
    actual = *created;
    Event(request, false, "JobCreated", "created Job " + job_name);
  } else if (created.status().code() == StatusCode::kAlreadyExists) {
    // Ours from an earlier attempt (a restart, a retried POST), or someone
    // else's: adopt it only when this request controls it.
    if (existing) {
      actual = *existing;
    } else {
      EXECGOV_ASSIGN_OR_RETURN(actual, deps_.client->Get(JobsPath(ns, job_name)));
    }
    auto owner = api::ControllerOf(actual);
    if (!owner || owner->uid != uid) {
      std::string message = "Job " + job_name + " exists and is not controlled by this request; delete it or rename the request";
      Event(request, true, "JobNameTaken", message);
      return FailedPrecondition(message);
    }
  } else {
    Event(request, true, "JobCreateFailed", "cannot create Job " + job_name + ": " + created.status().message());
    return created.status();
  }

  json entry = StepEntry(request, kPhaseRunning, "allowed", "JobCreated", "Job " + job_name + " runs the request");
  entry["job"] = {{"name", job_name}, {"uid", api::UidOf(actual)}};
  EXECGOV_ASSIGN_OR_RETURN(auto step, RecordStep(request, kPhaseRunning, entry));
  EXECGOV_RETURN_IF_ERROR(WriteStatus(request, kPhaseRunning, step, [&](json& status) {
    status["jobRef"] = {{"name", job_name}, {"uid", api::UidOf(actual)}};
  }));
  // The Job's own events bring the request back; a Job finished already
  // (adopted after a restart) is followed now.
  return Progress{JobOutcome(actual).has_value(), {}};
}

StatusOr<runtime::ReconcileResult> RequestController::FollowJob(json& request) {
  const std::string ns = api::NamespaceOf(request), uid = api::UidOf(request);
  std::string job_name = api::StringAt(request, {"status", "jobRef", "name"});
  std::string job_uid = api::StringAt(request, {"status", "jobRef", "uid"});
  if (job_name.empty()) job_name = JobNameFor(api::NameOf(request), uid);

  json job;
  if (runtime::ObjectPtr cached = deps_.jobs->Get(ns + "/" + job_name)) {
    job = *cached;
  } else {
    // The cache may not have seen a Job made a moment ago: ask the API.
    auto got = deps_.client->Get(JobsPath(ns, job_name));
    if (got.ok()) {
      job = *got;
    } else if (got.status().code() != StatusCode::kNotFound) {
      return got.status();
    }
  }

  std::string outcome, reason, message;
  if (job.is_null() || (!job_uid.empty() && api::UidOf(job) != job_uid)) {
    outcome = kPhaseFailed;
    reason = "JobMissing";
    message = "Job " + job_name + " was deleted before it finished";
  } else if (auto o = JobOutcome(job)) {
    outcome = *o;
    reason = outcome == kPhaseSucceeded ? "JobComplete" : "JobFailed";
    message = "Job " + job_name + (outcome == kPhaseSucceeded ? " completed" : " failed");
    for (const auto& c : job.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == (outcome == kPhaseSucceeded ? "Complete" : "Failed") && !c.value("message", "").empty()) {
        message += ": " + c.value("message", "");
      }
    }
  } else {
    // Still running: keep observedGeneration current, nothing else to do.
    EXECGOV_RETURN_IF_ERROR(WriteStatus(request, kPhaseRunning, std::nullopt, [](json&) {}));
    return runtime::ReconcileResult{};
  }

  json entry = StepEntry(request, outcome, "allowed", reason, message);
  entry["job"] = {{"name", job_name}, {"uid", job.is_null() ? job_uid : api::UidOf(job)}};
  EXECGOV_ASSIGN_OR_RETURN(auto step, RecordStep(request, outcome, entry));
  EXECGOV_RETURN_IF_ERROR(WriteStatus(request, outcome, step, [&](json& status) {
    SetCondition(status["conditions"],
                 {outcome == kPhaseSucceeded ? "Complete" : "Failed", "True", reason, message, GenerationOf(request)},
                 deps_.clock->Now());
  }));
  Event(request, outcome != kPhaseSucceeded, reason, message);
  return runtime::ReconcileResult{};
}

StatusOr<RequestController::Progress> RequestController::Wait(json& request, const std::string& reason,
                                                               const std::string& message, milliseconds retry) {
  EXECGOV_RETURN_IF_ERROR(WriteStatus(request, kPhasePending, std::nullopt, [&](json& status) {
    SetCondition(status["conditions"], {"Authorized", "Unknown", reason, message, GenerationOf(request)},
                 deps_.clock->Now());
  }));
  return Progress{false, {retry}};
}

json RequestController::StepEntry(const json& request, const std::string& phase, const std::string& decision,
                                  const std::string& reason, const std::string& message) const {
  json spec = request.value("spec", json::object());
  json entry = {{"type", "execution"},
                {"phase", phase},
                {"decision", decision},
                {"reason", reason},
                {"message", message},
                {"object",
                 {{"kind", "ExecutionRequest"},
                  {"namespace", api::NamespaceOf(request)},
                  {"name", api::NameOf(request)},
                  {"uid", api::UidOf(request)},
                  {"generation", GenerationOf(request)}}},
                {"initiator", spec.value("initiator", "")}};
  if (!deps_.operator_identity.empty()) entry["operator"] = deps_.operator_identity;
  if (!deps_.operator_user.empty()) entry["user"] = deps_.operator_user;
  if (spec.contains("intent") && spec["intent"].is_string() && !spec["intent"].get<std::string>().empty()) {
    entry["intent"] = spec["intent"];
  }
  // Every step names the artifact it runs under (its claims, never the signature).
  if (auto token = api::ArtifactOf(request)) {
    if (auto facts = UnverifiedFacts(*token)) entry["artifact"] = ArtifactRecord(*facts);
  }
  std::string previous = api::StringAt(request, {"status", "lineage", "hash"});
  if (!previous.empty()) entry["previous"] = previous;
  return entry;
}

StatusOr<LedgerIndex::Step> RequestController::RecordStep(const json& request, const std::string& phase, json entry) {
  const std::string uid = api::UidOf(request);
  if (auto known = deps_.index->FindStep(uid, phase)) return *known;
  auto t0 = std::chrono::steady_clock::now();
  auto appended = deps_.ledger->Append(entry);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (deps_.metrics) deps_.metrics->RecordLedgerAppend(appended.ok(), secs, appended.ok() ? appended->seq : 0);
  if (!appended.ok()) return appended.status().WithContext("appending the " + phase + " step to the ledger");
  LedgerIndex::Step step{appended->seq, appended->hash};
  deps_.index->NoteStep(uid, phase, step);
  log::Info("execution step", {{"namespace", api::NamespaceOf(request)},
                               {"name", api::NameOf(request)},
                               {"uid", uid},
                               {"phase", phase},
                               {"ledgerSeq", step.seq}});
  return step;
}

Status RequestController::WriteStatus(json& request, const std::string& phase,
                                      const std::optional<LedgerIndex::Step>& step,
                                      const std::function<void(json& status)>& mutate) {
  json status = request.value("status", json::object());
  json before = status;
  status["phase"] = phase;
  status["observedGeneration"] = GenerationOf(request);
  if (step) status["lineage"] = {{"origin", deps_.ledger_origin}, {"seq", step->seq}, {"hash", step->hash}};
  mutate(status);
  if (status == before) return Status::Ok();
  json updated = request;
  updated["status"] = std::move(status);
  // Guarded by resourceVersion: a conflict means the cache was behind, and the
  // retry finds the step in the index instead of appending it again.
  EXECGOV_ASSIGN_OR_RETURN(request, deps_.client->UpdateStatus(RequestsPath(api::NamespaceOf(request), api::NameOf(request)), updated));
  std::lock_guard lock(written_mu_);
  const auto now = std::chrono::steady_clock::now();
  written_[api::UidOf(request)] = {PhaseRank(phase), now};
  // A request deleted before a final phase is never seen again: entries
  // past the trust window are dropped whenever the map has doubled.
  if (written_.size() >= sweep_at_) {
    std::erase_if(written_, [&](const auto& e) { return now - e.second.at >= kTrustOwnWrite; });
    sweep_at_ = std::max<size_t>(1024, 2 * written_.size());
  }
  return Status::Ok();
}

void RequestController::Event(const json& request, bool warning, const std::string& reason, const std::string& message) {
  if (deps_.events) deps_.events->Record(request, warning ? kube::EventType::kWarning : kube::EventType::kNormal, reason, message);
}

}  // namespace execgov::controllers
