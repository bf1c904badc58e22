// `execgov authority` (issue 20): grants, refuses or lets expire the
// ExecutionRequests that wait for an artifact (phase AwaitingAuthorization,
// set by the operator once the webhook admitted them without one), by the
// rules of the cluster's AuthorityPolicies (authority_policy.h).
//
// A grant is an artifact signed with the authority's key: sub the request's
// spec.initiator, aud the cluster, scope the request's namespace, kind, name
// and execution-scope digest, intent carried from spec.intent and parent
// from the parentRef request's lineage, exp - iat the rule's ttl bounded by
// the maxTTL of the ExecutionPolicies that may match the request. It is
// attached to the request with an UPDATE, which the webhook verifies like a
// CREATE; the operator then makes the Job.
//
// Only what the webhook admitted: the authority grants a request only when
// the ledger holds the webhook's record of admitting it without an artifact
// for the same spec.initiator. A request that reached the API while the
// webhook was bypassed, or whose record it cannot find, waits and expires:
// its initiator was never held to the requesting user.
//
// Never two grants for one request: the grant's claims are appended to the
// ledger (record type "grant") before anything is signed, and a request
// whose grant is recorded gets that grant signed again (the same claims, the
// same jti) rather than a new one; an unattached grant past its exp expires
// the request. Refusals (AutoDeny, a rate limit) make the request Denied and
// a request no grant reached within the rule's timeout (or the default
// timeout, when no rule applies) Expired, each with a "denial" record naming
// the rule.
//
// Human approval (RequireApprovals): the approvals the webhook admitted and
// recorded in the ledger (authority/approval.h) are counted again at each
// reconcile against the rule as it is: distinct entitled approvers of the
// request's current digest; N of them grant (the grant record lists them),
// one valid Deny makes the request Denied naming who and why.
//
// Thread safety: Reconcile is called by a runtime::Controller, which never
// runs one key twice at once; GrantIndex is safe to share.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "authority/approval.h"
#include "authority/authority_policy.h"
#include "core/clock.h"
#include "crypto/keys.h"
#include "kube/client.h"
#include "kube/events.h"
#include "ledger/ledger.h"
#include "runtime/controller.h"
#include "runtime/informer.h"

namespace execgov::authority {

inline constexpr const char* kPhaseAwaiting = "AwaitingAuthorization";
inline constexpr const char* kPhaseDenied = "Denied";
inline constexpr const char* kPhaseExpired = "Expired";
inline constexpr std::chrono::milliseconds kAttachBackoffBase{1000};
inline constexpr std::chrono::milliseconds kAttachBackoffMax{60000};

// The grants and refusals in the ledger, by request uid, and the grants'
// times per (rule, initiator) for rate limits. Fed every ledger record
// (Observe: records of other types are skipped) and this process's own
// appends (Note*).
class GrantIndex {
 public:
  struct Grant {
    nlohmann::json claims;  // exactly what is signed
    std::string rule, initiator;
    int64_t iat = 0, exp = 0;
  };
  void Observe(std::string_view record);
  // The initiator the webhook admitted a request without an artifact for
  // (its admission record, authorization "awaiting"), by the request's uid.
  void NoteAdmitted(const std::string& uid, const std::string& initiator, const std::string& user = "");
  std::optional<std::string> AdmittedInitiator(const std::string& uid) const;
  // The user whose CREATE that was ("" when unknown): the request's creator,
  // who may not approve it.
  std::string AdmittedUser(const std::string& uid) const;
  // The approvals the webhook admitted and recorded, by request uid, in
  // ledger order; each approval (by its uid) once.
  void NoteApproval(const std::string& request_uid, RecordedApproval approval);
  std::vector<RecordedApproval> Approvals(const std::string& request_uid) const;
  bool HasApproval(const std::string& approval_uid) const;
  void NoteGrant(const std::string& uid, Grant grant);
  void NoteRefusal(const std::string& uid);
  std::optional<Grant> FindGrant(const std::string& uid) const;
  bool Refused(const std::string& uid) const;
  // Grants under `rule` for `initiator` issued at or after `since`.
  int CountGrants(const std::string& rule, const std::string& initiator, int64_t since) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, Grant> grants_;
  std::unordered_set<std::string> refused_;
  std::unordered_map<std::string, std::pair<std::string, std::string>> admitted_;  // initiator, user
  std::unordered_map<std::string, std::vector<RecordedApproval>> approvals_;
  std::unordered_set<std::string> approval_uids_;
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> issued_;
};

struct Signer {
  crypto::PrivateKey key;
  std::string kid, issuer, audience;
};

struct AuthorityControllerDeps {
  kube::Client* client = nullptr;
  runtime::Informer* requests = nullptr;            // ExecutionRequests
  runtime::Informer* authority_policies = nullptr;  // AuthorityPolicies
  runtime::Informer* execution_policies = nullptr;  // ExecutionPolicies, for maxTTL
  // ExecutionApprovals (optional): one the index has no record of yet makes
  // the reconcile read the ledger's tail first.
  runtime::Informer* approvals = nullptr;
  ledger::Ledger* ledger = nullptr;
  GrantIndex* index = nullptr;
  const Signer* signer = nullptr;
  std::set<std::string> watch_namespaces;  // empty: every namespace
  std::string identity;                    // recorded as `authority`
  int64_t default_timeout_seconds = 3600;  // when no rule applies
  kube::EventRecorder* events = nullptr;   // optional
  const Clock* clock = nullptr;            // null: the system clock
};

class AuthorityController {
 public:
  explicit AuthorityController(AuthorityControllerDeps deps);
  // The ExecutionRequest "namespace/name".
  StatusOr<runtime::ReconcileResult> Reconcile(const std::string& key);
  // The AuthorityPolicy "name": its status (Ready, rules, observedGeneration).
  StatusOr<runtime::ReconcileResult> ReconcilePolicy(const std::string& key);

  // The compiled AuthorityPolicies in the cache, by name; those that do not
  // compile are left out (their status says why).
  std::vector<std::shared_ptr<const CompiledAuthorityPolicy>> Policies() const;
  // The least maxTTL (seconds) of the ExecutionPolicies that may match an
  // ExecutionRequest in `ns` (namespaceSelector ignored: a superset, so the
  // bound is never looser); nullopt when none may.
  std::optional<int64_t> MaxTTLFor(const std::string& ns) const;
  // Whether requests in `ns` are handled (--watch-namespaces).
  bool Watches(const std::string& ns) const;
  // The relayed requests (relay.h) in the cache naming `initiator` that
  // still wait: the HTTPS endpoint bounds how many one caller may hold.
  size_t PendingRelays(const std::string& initiator) const;

 private:
  StatusOr<runtime::ReconcileResult> Attach(const nlohmann::json& request, const GrantIndex::Grant& grant);
  // A relayed request's grant (relay.h) is not attached: the request goes to
  // phase Granted and its caller collects the artifact over HTTPS.
  StatusOr<runtime::ReconcileResult> MarkGranted(const nlohmann::json& request, const GrantIndex::Grant& grant);
  // `extra` members go into the denial record (who denied, and why).
  StatusOr<runtime::ReconcileResult> Refuse(const nlohmann::json& request, const std::string& phase,
                                            const std::string& rule, const std::string& message,
                                            const nlohmann::json& extra = nlohmann::json::object());
  // status.authorization {rule, waitingFor, deadline}: `kubectl get ereq`
  // shows who is waiting for whom. Written only when it changes.
  Status ShowWaiting(const nlohmann::json& request, const std::string& rule, const std::string& waiting_for,
                     int64_t deadline);
  nlohmann::json ObjectRecord(const nlohmann::json& request) const;
  // Attach retries back off per request (kAttachBackoffBase doubling to
  // kAttachBackoffMax): an attach the webhook allowed but a later webhook or
  // the API server refused leaves an "attach" admission record each time,
  // for an object that was never stored. How long `uid` must still wait
  // (zero: attach now); a failure lengthens it, a success forgets it.
  std::chrono::milliseconds AttachWait(const std::string& uid) const;
  void AttachFailed(const std::string& uid);
  void AttachDone(const std::string& uid);
  struct AttachBackoff {
    int failures = 0;
    std::chrono::system_clock::time_point next;
  };
  mutable std::mutex backoff_mu_;
  std::unordered_map<std::string, AttachBackoff> attach_backoff_;
  AuthorityControllerDeps deps_;
};

}  // namespace execgov::authority
