// The admission decision of docs/design.md §4 as a pure function: the same code runs
// in the webhook, in `execgov serve`, and offline in `execgov check`.
//
// Decide() performs no I/O. What it needs from the outside world it reads
// through small read-only views (which jti was consumed by whom, which ledger
// records exist); what it wants changed it returns as an intent (consume this
// jti, record this inheritor) that the caller must commit atomically before it
// answers "allowed".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/execution_scope.h"
#include "api/object.h"
#include "crypto/json.h"
#include "policy/policy.h"

namespace execgov::policy {

// The latest NumericDate an artifact's iat, nbf or exp may hold:
// 9999-12-31T23:59:59Z. Claims must be JSON integers from 0 to this; anything
// else is MalformedArtifact. With the policy's durations bounded too
// (policy.h), no sum or difference of times the decision or its caller makes
// can overflow.
inline constexpr int64_t kMaxNumericDate = 253402300799;

// The projection an artifact's scope.digest must be made with
// (api::kExecutionScopeProjection); any other is MalformedArtifact.
inline constexpr int kExecutionScopeProjection = api::kExecutionScopeProjection;

// The reason codes of docs/design.md §4.2, in the order in which they are checked.
enum class Reason {
  kNone = 0,  // allowed
  kPolicyNotReady,
  kNoMatchingPolicy,
  kMissingArtifact,
  kMalformedArtifact,
  kUnsupportedAlgorithm,
  kUnknownKey,
  kInvalidSignature,
  kIssuerNotTrusted,
  kRevoked,
  kArtifactNotYetValid,
  kArtifactExpired,
  kTTLExceedsPolicy,
  kAudienceMismatch,
  kSubjectNotAllowed,
  kIdentityMismatch,
  kScopeMismatch,
  kDigestMismatch,
  kImageNotAllowed,
  kReplayDetected,
  kLineageDiscontinuity,
  kInternalError,
};
const char* ReasonName(Reason r);
// Every reason code except kNone, in check order.
const std::vector<Reason>& AllReasons();

enum class Operation { kCreate, kUpdate, kDelete, kConnect };
std::optional<Operation> ParseOperation(const std::string& op);
const char* OperationName(Operation op);

// Who consumed a jti first.
struct Consumption {
  std::string kind, ns, name, uid;
  // Whether the object Find was asked about inherited the jti from the
  // consumer (a Job made from an ExecutionRequest).
  bool inherited = false;
};

class ReplayView {
 public:
  virtual ~ReplayView() = default;
  // The consumption of `jti`, if any, and whether the object with
  // `inheritor_uid` (empty: none) inherited it. One question, not a list of
  // inheritors: a store answers it with one lookup and copies nothing.
  virtual std::optional<Consumption> Find(const std::string& jti, const std::string& inheritor_uid) const = 0;
};

class LineageView {
 public:
  virtual ~LineageView() = default;
  // True when the ledger holds a record whose hash is `ref` ("sha256:<hex>").
  virtual bool HasRecord(const std::string& ref) const = 0;
};

// Memoizes signature checks. Keys are the exact artifact bytes plus the
// policy's name and generation; an implementation must never return true
// after `expires_at` (the artifact's exp). Revocation is re-checked on every
// request after a hit, so a hit never outlives a revocation.
class SignatureCache {
 public:
  virtual ~SignatureCache() = default;
  virtual bool Contains(const std::string& key, int64_t now) const = 0;
  virtual void Insert(const std::string& key, int64_t expires_at) = 0;
};

struct AdmissionAttributes {
  // The governed kind (Pod, Job, ExecutionRequest) the request is for, from
  // the request itself (request.resource), never from the object's own
  // claim: the object's apiVersion and kind must agree with it
  // (ScopeMismatch), and the digest, the scope check and the replay record
  // all use it. Anything else is not governed (NoMatchingPolicy).
  std::string kind;
  Operation operation = Operation::kCreate;
  // uid: the object's metadata.uid, which the API server sets before any
  // validating webhook runs. A CREATE (or an UPDATE that changes the scope)
  // without one is denied: it would consume a jti that no object holds.
  std::string ns, name, uid;
  const Json* object = nullptr;      // required for CREATE and UPDATE
  const Json* old_object = nullptr;  // UPDATE only
  std::string user;
  std::vector<std::string> groups;
  bool dry_run = false;
  // Labels of the object's Namespace when known (in cluster); without them a
  // policy's namespaceSelector is ignored, as in file mode.
  std::optional<std::map<std::string, std::string>> namespace_labels;
  // ExecutionRequests only (issue 20). The webhook sees who asks and leaves
  // both false. The operator, which decides after admission, sets
  // requester_unknown (the webhook held spec.initiator to the requesting user
  // at admission; `user` is only a stand-in) and artifact_attached_later when
  // the request waited for its artifact: its sub must then be spec.initiator,
  // as the webhook required of the UPDATE that attached it.
  bool requester_unknown = false;
  bool artifact_attached_later = false;
};

// The artifact's claims, as recorded in the ledger (never its signature).
struct ArtifactFacts {
  std::string iss, sub, kid, jti, digest, parent, intent, scope_kind;
  // Each in 0..kMaxNumericDate, iat < exp; nbf is iat when the claim is absent.
  int64_t iat = 0, nbf = 0, exp = 0;
};

// Until when a consumption of this artifact must be remembered: past its exp
// by the most skew any policy may allow. Cannot overflow (both bounded).
int64_t ConsumptionExpiry(const ArtifactFacts& facts);

struct PolicyVerdict {
  std::string policy;
  int64_t generation = 0;
  Enforcement enforcement = Enforcement::kEnforce;
  Reason reason = Reason::kNone;
  std::string message;
  // reason kNone with no artifact: the policy admits the request to wait for
  // one (spec.authorization.allowPendingRequests). Not a verification.
  bool awaiting = false;
};

enum class ReplayAction {
  kNone,     // nothing to record (update, ungoverned, or denied)
  kConsume,  // record: jti consumed by this object
  kInherit,  // record: this object inherited the jti through its owner
};

// One signature check made while deciding, for metrics.
struct SignatureCheck {
  crypto::KeyAlgorithm algorithm;
  const char* result;  // "valid", "invalid" or "cached"
};

struct Decision {
  bool allowed = false;
  Reason reason = Reason::kNone;  // the denying reason, or for an allow the
                                  // first reason a Warn/Audit policy found
  std::string message;            // a sentence a person can act on
  std::vector<std::string> warnings;  // for Warn-mode policies, "execgov: <Reason>: ..."
  bool governed = false;              // false: not subject to execgov at all
  bool verified = false;              // an artifact passed every check of some policy
  // Allowed without an artifact: an ExecutionRequest that waits for one
  // (phase AwaitingAuthorization). Nothing may run from it until an UPDATE
  // attaches an artifact that is verified like a CREATE's.
  bool awaiting_authorization = false;
  // The UPDATE attached an artifact to a request that waited for one.
  bool artifact_attached = false;
  // spec.initiator, when awaiting_authorization or artifact_attached.
  std::string initiator;
  std::vector<PolicyVerdict> verdicts;
  std::optional<ArtifactFacts> artifact;
  std::string object_digest;  // the object's execution-scope digest, when computed
  ReplayAction replay_action = ReplayAction::kNone;
  std::vector<SignatureCheck> signature_checks;

  // The AdmissionReview status.message: "execgov: <Reason>: <message>".
  std::string StatusMessage() const;
};

struct DecisionInputs {
  const PolicySet* policies = nullptr;
  int64_t now = 0;  // Unix seconds; outside 0..kMaxNumericDate denies (InternalError)
  const ReplayView* replay = nullptr;
  const LineageView* lineage = nullptr;  // null: no ledger to look parents up in
  SignatureCache* signature_cache = nullptr;
  // The namespace execgov runs in: never governed (api::IsNeverGovernedNamespace).
  std::string_view install_namespace = api::kInstallNamespace;
};

Decision Decide(const AdmissionAttributes& attrs, const DecisionInputs& in);

// "execgov: <Reason>: <message>"
std::string FormatReason(Reason reason, const std::string& message);

}  // namespace execgov::policy
