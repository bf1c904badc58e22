// An ExecutionPolicy compiled into an immutable form for the hot path: keys
// parsed, durations in seconds, globs checked, lookups indexed. The webhook
// and `execgov check` read the same CompiledPolicy; compiling does all the
// validation and I/O-free parsing once (sigstore policy-controller's habit).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/json.h"
#include "crypto/keys.h"
#include "policy/label_selector.h"
#include "policy/runtime_spec.h"

namespace execgov::policy {

using Json = nlohmann::json;

enum class Enforcement { kEnforce, kWarn, kAudit };

// The widest spec.clockSkew and spec.maxTTL a policy may set; CompilePolicy
// refuses more. Bounded so that every sum the decision makes of a claim (at
// most kMaxNumericDate, decision.h) and a policy duration stays far inside
// int64, and because a skew past minutes is a broken clock, not skew. The
// replay store keeps a consumption kMaxClockSkewSeconds past its artifact's
// exp, so that no policy's skew can accept an artifact it has forgotten.
inline constexpr int64_t kMaxClockSkewSeconds = 600;     // 10m
inline constexpr int64_t kMaxTTLSeconds = 7 * 24 * 3600;  // 168h
const char* EnforcementName(Enforcement e);

struct TrustedKey {
  std::string kid;
  crypto::KeyAlgorithm algorithm;
  crypto::PublicKey public_key;
  std::optional<int64_t> not_after;  // Unix seconds
};

struct Issuer {
  std::string name;
  std::vector<std::string> subjects;  // globs over sub; empty = none allowed
  std::vector<TrustedKey> keys;
};

struct CompiledPolicy {
  std::string name;
  int64_t generation = 0;
  Enforcement enforcement = Enforcement::kEnforce;
  std::string audience;
  int64_t max_ttl_seconds = 0;     // 1..kMaxTTLSeconds
  int64_t clock_skew_seconds = 0;  // 0..kMaxClockSkewSeconds

  std::set<std::string> kinds;  // of Pod, Job, ExecutionRequest
  std::optional<LabelSelector> namespace_selector;
  std::set<std::string> namespaces;  // empty: all
  std::set<std::string> excluded_namespaces;

  std::vector<Issuer> issuers;
  std::vector<std::string> trusted_controllers;
  bool bind_requester = false;
  std::vector<std::string> allowed_registries;
  bool require_digest = false;
  std::set<std::string> revoked_kids;
  std::set<std::string> revoked_jtis;
  RuntimeSpec runtime;  // spec.runtime: what the operator does after admission

  // spec.authorization (issue 20). allow_pending_requests: an
  // ExecutionRequest may be created without an artifact and waits, admitted
  // but not run, until one is attached (an UPDATE verified like a CREATE).
  // Its spec.initiator must then be the requesting user, or one of the
  // initiators initiator_mappings lists for that user (exact names, no globs:
  // a mapping says who may speak for whom).
  bool allow_pending_requests = false;
  std::map<std::string, std::set<std::string>> initiator_mappings;
  // Users (the authority's service account) that may create a relayed
  // request (spec.relay, authority/relay.h) naming another initiator: the
  // caller the authority's HTTPS endpoint authenticated. Only on such a
  // request, which never runs in the cluster (no artifact is ever admitted
  // on it).
  std::set<std::string> relay_users;

  // kid -> (issuer index, key index). Key ids are unique within a policy.
  std::map<std::string, std::pair<size_t, size_t>> key_index;

  size_t KeyCount() const;
  // A one-line summary for status conditions: "1 issuer, 2 keys".
  std::string Summary() const;
};

// Resolves a publicKeyRef ({kind: Secret|ConfigMap, namespace, name, key}) to
// PEM text. Only the in-cluster webhook has one; in file mode it is null and a
// publicKeyRef is an error naming the field.
using KeyRefResolver = std::function<StatusOr<std::string>(const Json& ref)>;

// Compiles one ExecutionPolicy object. Errors name the field and why, e.g.
// "ExecutionPolicy default: spec.issuers[0].keys[1].algorithm: \"RS256\" is not Ed25519 or ES256".
StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const Json& object, const KeyRefResolver& resolver = nullptr);

// An immutable set of compiled policies, swapped atomically as a whole.
struct PolicySet {
  bool ready = false;  // false until the first successful load/sync
  uint64_t version = 0;
  std::vector<std::shared_ptr<const CompiledPolicy>> policies;  // sorted by name
};

// Reads a policy file or every *.yaml/*.yml/*.json file in a directory and
// compiles each ExecutionPolicy in them. Any invalid document fails the whole
// load, with the file and field named, so a bad edit never half-applies.
StatusOr<PolicySet> LoadPolicyPath(const std::string& path);

}  // namespace execgov::policy
