// Governance after admission (issue 21): the operator's leader re-verifies,
// on every change and on a period, each governed Pod, Job and
// ExecutionRequest that is still running against the lineage ledger (through
// RuntimeFacts, fed by the LedgerIndex's incremental reads) and the current
// ExecutionPolicies, and acts on what it finds as each policy's spec.runtime
// says (policy/runtime_spec.h).
//
// Findings (one object can have several):
//   Unadmitted            no admission record, and no valid artifact of its
//                         own: the webhook was bypassed (its configuration
//                         removed or edited, the namespace labelled later).
//                         An object with an artifact for its own kind is
//                         verified with policy::Decide as the webhook would
//                         have (time claims as of its creation, keys and
//                         revocations as of now, single use against the
//                         ledger's consumptions); one that inherits must lead
//                         through live owners to the consumer of its jti and
//                         have the digest that consumer's artifact signed.
//   Revoked               the kid or jti it was admitted with is revoked now
//                         by a policy that matches it (or admitted it).
//   Drift                 its execution-scope digest is not the one its
//                         admission recorded (changed while the webhook was
//                         not asked).
//   LineageDiscontinuity  it inherited its artifact, and its controller
//                         owner chain no longer leads, through live objects
//                         admitted with the same jti, to the jti's consumer.
//   Ungoverned            its namespace lost execgov.io/governed=true while
//                         it holds a workload the ledger admitted: reported,
//                         never terminated, even under Terminate (stopping
//                         every workload of a namespace someone unlabelled is
//                         too destructive to do unasked; the namespace guard
//                         refuses unlisted relabels at the door).
//   BreakGlass            admitted without an artifact by a break-glass
//                         group: reported (a warning) until it is gone,
//                         never terminated.
// Finished objects (Pods Succeeded/Failed, Jobs Complete/Failed,
// ExecutionRequests in a final phase) and objects being deleted are not
// checked; kube-system, execgov-system and the install namespace never are.
//
// Actions: every finding is a result in the namespace's PolicyReport
// (policy_report.h), a Warning Event on the object when first found, and
// counted in execgov_runtime_violations{reason}. Under spec.runtime.action
// Terminate, once a finding other than BreakGlass and Ungoverned (report
// only) has lasted gracePeriodSeconds, an `enforcement` record is appended to the ledger (action, reason, object, policy) and then
// the Pod is deleted, the Job suspended (spec.suspend), or the
// ExecutionRequest moved to phase Revoked. The record comes first and is
// written once per (uid, action): a leader that dies between the two acts
// without writing it again. dryRun: an Event says what would be stopped.
//
// Cost: a pass reads the informers' caches and the facts (hash lookups); the
// execution-scope digest and, for objects without a record, the decision are
// computed once per object resourceVersion (and policy version) and cached.
// API requests are made only to act: report writes when a namespace's
// results change, Events for new findings, terminations, and a GET of an
// owner the caches do not hold.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "controllers/ledger_index.h"
#include "controllers/policy_report.h"
#include "controllers/runtime_facts.h"
#include "core/clock.h"
#include "kube/client.h"
#include "kube/events.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "policy/decision.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

namespace execgov::controllers {

enum class RuntimeFinding { kUnadmitted, kRevoked, kDrift, kLineageDiscontinuity, kUngoverned, kBreakGlass };
const char* RuntimeFindingName(RuntimeFinding f);
const std::vector<RuntimeFinding>& AllRuntimeFindings();

struct Finding {
  RuntimeFinding reason;
  std::string message;
  std::string policy;  // the ExecutionPolicy whose spec.runtime applies; "" when none matches
};

// What VerifyWorkload reads besides the object. Pure callbacks, so that unit
// tests give plain maps and the controller gives caches.
struct VerifyContext {
  const policy::PolicySet* policies = nullptr;
  const RuntimeFacts* facts = nullptr;
  // An owner by kind ("Job", "ExecutionRequest"), namespace and name; null
  // when it does not exist.
  std::function<runtime::ObjectPtr(const std::string& kind, const std::string& ns, const std::string& name)> owner;
  // The object's execution-scope digest (the controller caches it).
  std::function<StatusOr<std::string>(api::GovernedKind kind, const nlohmann::json& object)> digest;
  // The webhook's decision on a CREATE of the object (the controller caches it).
  std::function<policy::Decision(const policy::AdmissionAttributes& attrs, int64_t now)> decide;
  std::string install_namespace = std::string(api::kInstallNamespace);
  // Admissions recorded before this instant may have moved to an archive
  // (LedgerIndex::trimmed_before): objects made before it (plus two minutes)
  // are not judged for a missing record or lineage.
  std::optional<std::chrono::system_clock::time_point> trimmed_before;
  int64_t now = 0;  // Unix seconds, for the decision when the object has no creationTimestamp
};

// Whether the object still runs or may: not finished, not being deleted.
bool IsActiveWorkload(api::GovernedKind kind, const nlohmann::json& object);

// The findings for one object in namespace `ns_object` (pure). Empty for an
// object execgov does not govern (never-governed namespace, an unlabelled
// namespace whose objects the ledger never admitted).
std::vector<Finding> VerifyWorkload(api::GovernedKind kind, const nlohmann::json& object,
                                    const nlohmann::json& ns_object, const VerifyContext& ctx);

// The `enforcement` ledger record (pure): type, action ("delete", "suspend",
// "revoke"), reason, message, object {kind, namespace, name, uid}, policy
// {name, generation}, gracePeriodSeconds, operator.
nlohmann::json EnforcementRecord(api::GovernedKind kind, const nlohmann::json& object, const Finding& finding,
                                 const policy::CompiledPolicy* policy, const std::string& operator_identity);

// What a Terminate does to an object of `kind`: "delete", "suspend" or "revoke".
const char* TerminationAction(api::GovernedKind kind);

// A cache of objects, as the controller reads one: List() a snapshot, Get(key).
struct ObjectSource {
  std::function<std::vector<runtime::ObjectPtr>()> list;
  std::function<runtime::ObjectPtr(const std::string& key)> get;
};
ObjectSource SourceOf(const runtime::Informer* informer);

struct RuntimeVerifierDeps {
  kube::Client* client = nullptr;
  ObjectSource pods, jobs, requests, namespaces;
  std::function<std::shared_ptr<const policy::PolicySet>()> policies;
  LedgerIndex* index = nullptr;  // caught up at each pass; feeds `facts`
  RuntimeFacts* facts = nullptr;
  ledger::Ledger* ledger = nullptr;       // enforcement records; parents for Decide
  kube::EventRecorder* events = nullptr;  // optional
  metrics::Metrics* metrics = nullptr;    // optional
  std::set<std::string> watch_namespaces;  // empty: every namespace
  std::string install_namespace = std::string(api::kInstallNamespace);
  std::string operator_identity;
  const Clock* clock = nullptr;  // null: the system clock
  // Facts about objects gone from the caches are forgotten this long after
  // their record was read (an object appears seconds after its admission).
  std::chrono::milliseconds forget_after{std::chrono::minutes(10)};
};

class RuntimeVerifier {
 public:
  struct PassResult {
    size_t checked = 0;     // active governed objects verified
    size_t findings = 0;    // findings now
    size_t terminated = 0;  // actions taken in this pass
    size_t reports_written = 0;
    size_t api_requests = 0;  // every request this pass made (writes, Events excluded: they are queued)
    size_t digests_computed = 0;
    size_t decisions_made = 0;
  };

  explicit RuntimeVerifier(RuntimeVerifierDeps deps);
  ~RuntimeVerifier();

  // One pass (as the leader).
  StatusOr<PassResult> Pass();

  // Asks for a pass soon (an informer saw a change).
  void Poke();
  // Adds a handler to each informer that pokes the verifier: before they start.
  void WatchChanges(const std::vector<runtime::Informer*>& informers);
  // A leader-only runnable: a pass at start, after a change (at most one per
  // `min_gap`), and every `interval`.
  runtime::Runnable Runnable(std::chrono::milliseconds interval, std::chrono::milliseconds min_gap);

 private:
  struct Tracked {
    api::GovernedKind kind;
    runtime::ObjectPtr object;
    std::vector<Finding> findings;
    std::map<RuntimeFinding, std::chrono::system_clock::time_point> first_seen;
    bool dry_run_announced = false;
  };
  struct CachedDigest {
    std::string resource_version;
    StatusOr<std::string> digest;
  };
  struct CachedDecision {
    std::string resource_version;
    uint64_t policies = 0;
    policy::Decision decision;
  };

  VerifyContext Context(const policy::PolicySet& policies, PassResult& result);
  // Acts on one object's findings under the policies' spec.runtime.
  void Act(Tracked& t, const policy::PolicySet& policies, PassResult& result);
  Status Terminate(Tracked& t, const Finding& f, const policy::CompiledPolicy* policy, PassResult& result);
  void WriteReports(const std::map<std::string, std::vector<ReportEntry>>& by_ns, PassResult& result);
  void Event(const nlohmann::json& object, bool warning, const std::string& reason, const std::string& message);

  RuntimeVerifierDeps deps_;
  const Clock* clock_;
  std::unordered_map<std::string, Tracked> tracked_;  // by uid; only the leader's pass thread
  std::unordered_map<std::string, CachedDigest> digests_;
  std::unordered_map<std::string, CachedDecision> decisions_;
  // Jobs this pass suspends (or would, once their grace ends): their Pods
  // are left to the Job controller, which removes them on suspension.
  // Deleting them too counted each as a failure, and a Job out of
  // backoffLimit ended Failed instead of suspended.
  std::unordered_set<std::string> stopping_jobs_;
  std::map<std::string, nlohmann::json> written_reports_;  // namespace -> results as last written
  bool reports_listed_ = false;
  std::chrono::system_clock::time_point reports_retry_at_{};
  std::chrono::system_clock::time_point next_prune_{};
  // The earliest moment a Terminate's grace period ends (max: none pending).
  std::chrono::system_clock::time_point next_due_ = std::chrono::system_clock::time_point::max();
  std::unique_ptr<struct PassGauges> gauges_;

  // Pokes: a pass waits for at most one of these to come due.
  std::mutex poke_mu_;
  std::condition_variable poke_cv_;
  bool poked_ = false;
};

}  // namespace execgov::controllers
