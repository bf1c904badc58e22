// The webhook's judgement of ExecutionApprovals (issue 20; the approval
// itself: authority/approval.h). A CREATE is allowed only when the approver
// named is the requesting user, is not the request's initiator, and is in an
// approver group of the AuthorityPolicy rule holding the request, which must
// be waiting, be the one named and not have changed. Every judged CREATE is
// recorded in the ledger (type "approval"), allowed or not; an allowed one
// whose record cannot be written is refused, so the authority, which counts
// only recorded approvals, never counts one the webhook did not see. UPDATE
// is refused (approvals are immutable), and so is anything unexpected.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authority/authority_policy.h"
#include "kube/client.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "webhook/admission_review.h"

namespace execgov::webhook {

// What judging an approval needs from the cluster.
struct ApprovalContext {
  std::optional<Json> request;  // the ExecutionRequest named; nullopt: none
  std::vector<std::shared_ptr<const authority::CompiledAuthorityPolicy>> policies;  // sorted by name
};
// (namespace, request name) -> the context; an error refuses the approval.
using ApprovalContextProvider = std::function<StatusOr<ApprovalContext>(const std::string& ns, const std::string& name)>;

// The context read from the API at each call: the request (GET) and the
// AuthorityPolicies (LIST; those that do not compile are left out, as the
// authority leaves them out). Approvals are rare; nothing is cached, so a
// judgement never rests on a stale rule. `client` must outlive the provider.
ApprovalContextProvider ApprovalContextFromApi(kube::Client* client);

// request.resource is execgov.io/v1alpha1 executionapprovals (any subresource).
bool IsApprovalRequest(const AdmissionRequest& req);

// Judges, records and answers. `context` null (a webhook with no cluster to
// read, `execgov serve`) refuses every approval; `ledger` null records
// nothing. Synchronous: approvals are rare.
AdmissionResponse GuardApproval(const AdmissionRequest& req, const ApprovalContextProvider& context,
                                ledger::Ledger* ledger, const Clock& clock, metrics::Metrics* metrics);

}  // namespace execgov::webhook
