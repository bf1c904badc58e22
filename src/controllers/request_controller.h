// The ExecutionRequest reconciler (docs/design.md §6): re-verifies a request's
// artifact against the current policies, creates exactly one Job for it,
// follows the Job to its end, and records every step in the lineage ledger.
//
// Phases: Pending (waiting for policies or for the parent's lineage) ->
// [AwaitingAuthorization (admitted without an artifact; waits for one)] ->
// Authorized | Denied | Revoked -> Running (the Job exists) -> Succeeded |
// Failed. Denied, Revoked, Succeeded and Failed are final.
//
// An artifact attached after creation was signed after it: its time-bound
// claims are judged as of the first moment it could have been admitted
// (its nbf or iat, not before the request's creation nor after now), and its
// sub must be spec.initiator.
//
// Verification is policy::Decide, as in the webhook, with time split the
// way the decision was made: claims bound in time (nbf, exp, a key's
// notAfter) are judged as of the request's admission (its
// creationTimestamp), while revocations and the set of trusted keys are
// today's policies — a key or jti revoked after admission gives Revoked and
// no Job. The request's own consumption of its jti (same uid) is not a
// replay. The requesting user cannot be observed after admission; the
// webhook checked it then (bindRequester), so the artifact's subject stands
// in for it here.
//
// Exactly one Job per request, across restarts and conflicts: its name is
// derived from the request's name and uid, it is controlled by the request
// (ownerReference controller: true, blockOwnerDeletion), and an existing Job
// of that name is adopted only when the request's uid controls it. The Job
// and its pod template carry the artifact annotation, so the webhook admits
// them by inheritance (the operator is a trusted controller and the request
// consumed the jti).
//
// Each step is one ledger record of type "execution" (phase, decision,
// reason, the request, the artifact's claims, parent, policy, Job), appended
// once: a step already in the ledger for (request uid, phase) — found in the
// LedgerIndex, which the first reconcile after start loads from the ledger —
// is not appended again, so a crash between the append and the status write
// repeats only the status write. status.lineage then names the step's
// origin, seq and hash; `previous` in each record is the request's step
// before it, and `parent` in the first one is the lineage hash of the
// request named by spec.parentRef (which must have recorded a step first).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "controllers/ledger_index.h"
#include "core/clock.h"
#include "kube/client.h"
#include "kube/events.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "policy/decision.h"
#include "runtime/controller.h"
#include "runtime/informer.h"

namespace execgov::controllers {

inline constexpr const char* kPhasePending = "Pending";
// Admitted without an artifact where a policy allows it (issue 20): no Job
// until an artifact is attached, verified by the webhook, and verified again.
inline constexpr const char* kPhaseAwaitingAuthorization = "AwaitingAuthorization";
inline constexpr const char* kPhaseAuthorized = "Authorized";
inline constexpr const char* kPhaseRunning = "Running";
inline constexpr const char* kPhaseSucceeded = "Succeeded";
inline constexpr const char* kPhaseFailed = "Failed";
inline constexpr const char* kPhaseDenied = "Denied";
inline constexpr const char* kPhaseRevoked = "Revoked";
// Set by `execgov authority`: no authorization came within the rule's timeout.
inline constexpr const char* kPhaseExpired = "Expired";
// Set by `execgov authority` on a relayed request (spec.relay): its artifact
// went to the caller of the authority's HTTPS endpoint; nothing runs here.
inline constexpr const char* kPhaseGranted = "Granted";

// Labels the operator puts on the Jobs it makes.
inline constexpr const char* kRequestUidLabel = "execgov.io/request-uid";

bool IsFinalPhase(const std::string& phase);

// The Job's name: the request's name (cut to 52 characters) and 10 hex
// digits of SHA-256(uid) — at most 63, the limit of the job-name label the
// Job controller puts on its Pods; the uid keeps a re-created request of the
// same name from meeting the old request's Job.
std::string JobNameFor(const std::string& request_name, const std::string& request_uid);

// The Job for `request`: spec from spec.template.spec, labels and
// annotations from spec.template.metadata, the artifact annotation on the
// Job and its pod template, controlled by the request. InvalidArgument when
// the request has no template.
StatusOr<nlohmann::json> BuildJob(const nlohmann::json& request);

// Succeeded or Failed once the Job has a Complete or Failed condition that
// is True; nullopt while it runs.
std::optional<std::string> JobOutcome(const nlohmann::json& job);

struct RequestControllerDeps {
  kube::Client* client = nullptr;
  runtime::Informer* requests = nullptr;    // ExecutionRequests, all namespaces
  runtime::Informer* jobs = nullptr;        // Jobs, all namespaces
  runtime::Informer* namespaces = nullptr;  // for the governed label and namespaceSelector
  std::function<std::shared_ptr<const policy::PolicySet>()> policies;
  const policy::ReplayView* replay = nullptr;
  ledger::Ledger* ledger = nullptr;
  LedgerIndex* index = nullptr;
  // Namespaces whose requests this operator handles; empty: every namespace.
  std::set<std::string> watch_namespaces;
  std::string ledger_origin;           // status.lineage.origin
  std::string operator_identity;       // recorded as `operator` in each step
  // The operator's user name in the API ("system:serviceaccount:..."): the
  // user who makes the Job, recorded as `user` in each step when known.
  std::string operator_user;
  // The namespace the operator runs in (--namespace): never governed.
  std::string install_namespace = std::string(api::kInstallNamespace);
  kube::EventRecorder* events = nullptr;  // optional
  metrics::Metrics* metrics = nullptr;    // optional
  const Clock* clock = nullptr;           // null: the system clock
};

class RequestController {
 public:
  explicit RequestController(RequestControllerDeps deps);
  // Reconciles the ExecutionRequest "namespace/name".
  StatusOr<runtime::ReconcileResult> Reconcile(const std::string& key);

 private:
  struct Progress {
    bool go_on = false;  // the next phase may be worked on in this reconcile
    runtime::ReconcileResult result;
  };
  StatusOr<Progress> Authorize(nlohmann::json& request);
  // Records and shows that the request waits for an artifact; no Job.
  StatusOr<Progress> AwaitAuthorization(nlohmann::json& request, const policy::Decision& d);
  StatusOr<Progress> StartJob(nlohmann::json& request);
  StatusOr<runtime::ReconcileResult> FollowJob(nlohmann::json& request);

  // Leaves the request Pending with a reason, and looks again after `retry`.
  StatusOr<Progress> Wait(nlohmann::json& request, const std::string& reason, const std::string& message,
                          std::chrono::milliseconds retry);
  // Appends the step unless the ledger already holds it for this request.
  StatusOr<LedgerIndex::Step> RecordStep(const nlohmann::json& request, const std::string& phase,
                                         nlohmann::json entry);
  // The record of a step, with what every step carries.
  nlohmann::json StepEntry(const nlohmann::json& request, const std::string& phase, const std::string& decision,
                           const std::string& reason, const std::string& message) const;
  // Writes status (with phase, lineage and observedGeneration) when it
  // differs; `request` becomes the object as written.
  Status WriteStatus(nlohmann::json& request, const std::string& phase, const std::optional<LedgerIndex::Step>& step,
                     const std::function<void(nlohmann::json& status)>& mutate);
  void Event(const nlohmann::json& request, bool warning, const std::string& reason, const std::string& message);

  RequestControllerDeps deps_;
  // The phase this process last wrote per request uid, and when: a reconcile
  // that finds the cache behind its own write (the Job's event often comes
  // first) waits for the cache instead of redoing the step and losing the
  // write to a conflict. Forgotten at a final phase, or once past the trust
  // window when the map is swept.
  struct Written {
    int rank = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex written_mu_;
  std::unordered_map<std::string, Written> written_;
  size_t sweep_at_ = 1024;
};

}  // namespace execgov::controllers
