// Guards on the door itself (issue 21): admission checks that keep the
// governance in place rather than decide one execution.
//
// The namespace guard: an UPDATE of a Namespace that removes or changes
// execgov.io/governed=true is allowed only to a user, or a member of a group,
// that spec.runtime.namespaceGuardians of a policy covering the namespace
// names (the webhook configuration sends Namespace UPDATEs whose old or new
// object carries the label: objectSelector, since a namespaceSelector is
// judged on the new labels and would let the removal through). Every
// attempt, allowed or not, is recorded in the ledger (type `guard`). Other
// Namespace updates pass untouched and unrecorded.
//
// Break-glass: a CREATE the decision refused only for want of an artifact
// (MissingArtifact) is admitted when the requesting user is in a group that
// spec.runtime.breakGlass.groups of a policy matching the object names. The
// admission record says so (`breakGlass` {policy, group}); the operator's
// runtime verifier reports the object (BreakGlass, an Event and
// execgov_runtime_violations{reason="BreakGlass"}) until it is gone. The
// Pods of a break-glass Job are admitted the same way (break_glass_index.h):
// their record says breakGlass {policy, group, job}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "policy/decision.h"
#include "policy/policy.h"
#include "webhook/admission_review.h"
#include "webhook/break_glass_index.h"

namespace execgov::webhook {

// request.resource is core/v1 namespaces (no subresource).
bool IsNamespaceRequest(const AdmissionRequest& req);

struct NamespaceGuardDecision {
  bool guarded = false;  // the request removes or changes the label: judged and recorded
  bool allowed = true;
  std::string message;
  std::string policy;    // the policy naming the guardian, when allowed
};

// Pure. A guarded request is denied while the policies are not loaded.
NamespaceGuardDecision JudgeNamespaceUpdate(const AdmissionRequest& req, const policy::PolicySet* policies,
                                            std::string_view install_namespace);

// The `guard` record of a guarded attempt: guard "namespace-governed-label",
// decision, reason (Allowed | GuardRefused), message, object {kind Namespace,
// name, uid, operation}, user, policy {name} when allowed.
StatusOr<ledger::Entry> NamespaceGuardRecord(const AdmissionRequest& req, const NamespaceGuardDecision& d);

// Judges a Namespace request, records a guarded one (an attempt whose record
// cannot be written is denied) and returns the answer. `ledger` may be null
// (nothing recorded). Synchronous: unlabelling a namespace is rare.
AdmissionResponse GuardNamespace(const AdmissionRequest& req, const policy::PolicySet* policies, ledger::Ledger* ledger,
                                 std::string_view install_namespace, metrics::Metrics* metrics);

struct BreakGlass {
  std::string policy, group;
  std::string job;  // the break-glass Job's uid, for a Pod admitted through it ("" otherwise)
};
// The first policy (by name) matching the object whose breakGlass.groups
// holds one of the requesting user's groups.
std::optional<BreakGlass> FindBreakGlass(const policy::PolicySet& policies, const policy::AdmissionAttributes& a);

// A Pod that a Job admitted under break-glass makes (issue 21): `a` is a
// CREATE of a Pod whose controller owner is a Job `index` holds, made by a
// trusted controller of the policy that admitted that Job, which must still
// cover the Pod and still name the group in spec.runtime.breakGlass.groups
// (taking the group out of a policy stops new Pods too). nullopt otherwise.
std::optional<BreakGlass> FindInheritedBreakGlass(const policy::PolicySet& policies,
                                                  const policy::AdmissionAttributes& a, const BreakGlassIndex& index);

}  // namespace execgov::webhook
