// ExecutionApproval (issue 20): one person's decision on one ExecutionRequest
// that an AuthorityPolicy rule holds for human approval (RequireApprovals).
// Namespaced next to the request; immutable once created.
//
// Three parties judge it, each with what only it knows:
//   - the webhook, on CREATE (webhook/approval_guard.h): the approver named
//     is the requesting user, is not the request's initiator, and is in one
//     of the approver groups of the rule that holds the request (the groups
//     the API server authenticated); the request is still waiting, is the
//     one named (uid) and has not changed (digest). It records the approval
//     in the ledger (type "approval") with the groups that qualified it,
//     before the object exists; an approval whose record cannot be written
//     is refused. UPDATE is refused: approvals are immutable.
//   - the authority, when it counts (TallyApprovals): only approvals the
//     ledger holds, judged again against the rule as it is now (a group
//     dropped from the rule no longer counts, nor an approval of a request
//     whose digest changed, nor one by the user who created the request);
//     distinct approvers, a valid Deny ends the request.
//
// Everything here is pure: no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "authority/authority_policy.h"
#include "core/status.h"

namespace execgov::authority {

inline constexpr const char* kApprovalKind = "ExecutionApproval";
inline constexpr const char* kApprovalResource = "executionapprovals";
inline constexpr const char* kApprove = "Approve";
inline constexpr const char* kDeny = "Deny";
// The most of a reason an approval may give (bytes).
inline constexpr size_t kMaxApprovalReasonBytes = 1024;

struct Approval {
  std::string ns, name, uid;
  std::string request_name, request_uid, request_digest;
  bool approve = false;  // decision Approve; false: Deny
  std::string approver, reason;
};

// The ExecutionApproval `object`, strictly: kind and apiVersion ours, a
// namespace, spec with only the known fields, each present where required,
// of the right type and within bounds (names 1..253 bytes, the digest
// "sha256:" and 64 lowercase hex digits, decision Approve or Deny, reason at
// most kMaxApprovalReasonBytes). InvalidArgument naming the field otherwise.
StatusOr<Approval> ParseApproval(const nlohmann::json& object);

// The ExecutionApproval `approver` makes of their decision on `request` (an
// ExecutionRequest as just read from the API server, by `execgov approve`
// and the console alike): FailedPrecondition unless it is
// AwaitingAuthorization; it names the request by name and uid and pins its
// execution-scope digest now (an approval of a request changed since is
// void). generateName: every decision is its own object, named by the API
// server. `reason` is copied when not empty (the caller bounds it).
StatusOr<nlohmann::json> NewApproval(const nlohmann::json& request, bool approve, const std::string& approver,
                                     const std::string& reason);

// The webhook's judgement of a CREATE.
struct ApprovalJudgement {
  bool allowed = false;
  std::string message;   // why not, or what was approved
  std::string rule;      // "<policy>/<rule>" holding the request, when found
  std::string initiator;
  // The requesting user's groups that the rule names as approver groups.
  std::vector<std::string> groups;
};

// `request` is the ExecutionRequest named (null: none), `policies` the
// compiled AuthorityPolicies sorted by name, `now` Unix seconds.
ApprovalJudgement JudgeApproval(const Approval& approval, const std::string& user,
                                const std::vector<std::string>& user_groups, const nlohmann::json* request,
                                const std::vector<std::shared_ptr<const CompiledAuthorityPolicy>>& policies,
                                int64_t now);

// The webhook's ledger record of a judged CREATE: type "approval", decision
// "allowed" or "denied" (the webhook's), verdict Approve or Deny (the
// approver's), approver, user, groups, reason, rule, digest, message, object
// {kind ExecutionRequest, namespace, name, uid} (the request: `ledger show
// --object` finds it with the request's other records) and approval {kind,
// name, uid}.
nlohmann::json ApprovalRecord(const Approval& approval, const ApprovalJudgement& judgement, const std::string& user);

// An approval as the ledger holds it (the webhook's "approval" record,
// decision "allowed").
struct RecordedApproval {
  std::string approval_name, approval_uid;
  std::string approver, reason, digest;
  bool approve = false;
  std::vector<std::string> groups;  // the approver's groups the rule named then
};

// The record's members, or nullopt when it is not an admitted approval of
// the request `request_uid` names (a malformed one is never counted).
std::optional<std::pair<std::string, RecordedApproval>> ReadApprovalRecord(const nlohmann::json& record);

struct ApprovalTally {
  std::vector<std::string> approvers;      // distinct, valid, Approve
  std::vector<RecordedApproval> counted;   // the first valid Approve of each of them
  std::optional<RecordedApproval> denial;  // the first valid Deny
  int voided = 0;                          // approvals of another digest
  int ineligible = 0;                      // approver not (any more) entitled
};

// Counts `recorded` for a request held by `rule`, whose initiator and creator
// (the user the webhook admitted it for) may not approve it, and whose
// execution-scope digest is `digest` now.
ApprovalTally TallyApprovals(const std::vector<RecordedApproval>& recorded, const AuthorityRule& rule,
                             const std::string& initiator, const std::string& creator, const std::string& digest);

// "2 approvals from ops-approvers (1 given)": what `kubectl get ereq` shows.
std::string WaitingForApprovals(const AuthorityRule& rule, size_t given);

}  // namespace execgov::authority
