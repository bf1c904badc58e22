// What the governance page reads from, and writes to, the API server in
// cluster mode (docs/console.md "In cluster"). Every call here is made with
// the client of the logged-in user (their own bearer token), never the
// console's ServiceAccount: the API server's RBAC decides what each user
// sees, and RBAC and the admission webhooks decide every write.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/client.h"
#include "policy/policy.h"

namespace execgov::console {

inline constexpr char kPoliciesPath[] = "/apis/execgov.io/v1alpha1/executionpolicies";
inline constexpr char kRequestsPath[] = "/apis/execgov.io/v1alpha1/executionrequests";
// At most this many pending requests are sent to the browser.
inline constexpr size_t kMaxPendingShown = 500;

// What the governance page shows of a policy: who is trusted with which
// keys until when, and what is revoked. Never a key's bytes beyond its id.
nlohmann::json PolicyView(const policy::CompiledPolicy& p);

// Every ExecutionPolicy the user may list, as PolicyView; one that does not
// compile is {name, error} (a publicKeyRef is not resolved: the console does
// not read Secrets).
StatusOr<nlohmann::json> ClusterPolicies(kube::Client& user);

// The ExecutionRequests in phase AwaitingAuthorization the user may list,
// oldest first, each {namespace, name, uid, initiator, intent, created,
// rule, waitingFor, deadline}; `truncated` when more than kMaxPendingShown.
StatusOr<nlohmann::json> PendingRequests(kube::Client& user);

// What may be revoked: a jti (an artifact) or a kid (a key).
enum class RevokeKind { kJti, kKid };

// Checks a revoke request's body ({"policy", "jti"} or {"policy", "kid"}):
// the names bounded as the CRD bounds them (policy a DNS-1123 subdomain,
// jti at most 256 and kid at most 128 printable characters).
struct RevokeRequest {
  std::string policy;
  RevokeKind kind = RevokeKind::kJti;
  std::string value;
};
StatusOr<RevokeRequest> ParseRevokeRequest(const nlohmann::json& body);

// Adds the jti or kid to the policy's spec.revocations (a read and an
// update guarded by resourceVersion, retried on a conflict). OK when it was
// already revoked. The user's 403 comes back as PermissionDenied.
Status Revoke(kube::Client& user, const RevokeRequest& request);

// An approve or deny from the governance page: {"namespace", "name"} of
// the ExecutionRequest and an optional "reason" (required to deny; at most
// authority::kMaxApprovalReasonBytes).
struct DecisionRequest {
  std::string ns, name, reason;
  bool approve = true;
};
StatusOr<DecisionRequest> ParseDecisionRequest(const nlohmann::json& body, bool approve);

// Creates the ExecutionApproval (authority/approval.h) for the request as
// `execgov approve`/`deny` does: the request read as the user, refused
// (FailedPrecondition) unless it is AwaitingAuthorization, named by uid and
// its execution-scope digest now; `approver` is the user the API server
// authenticated the token as (the name the webhook checks the approval
// against). Returns the created object. The webhook and the authority judge
// it; the user's RBAC decides whether it may be created at all.
StatusOr<nlohmann::json> CreateApproval(kube::Client& user, const DecisionRequest& decision,
                                        const std::string& approver);

}  // namespace execgov::console
