#include "policy/decision.h"

#include <algorithm>
#include <array>
#include <memory>

#include "api/execution_scope.h"
#include "api/object.h"
#include "core/json_string.h"
#include "crypto/jws.h"
#include "crypto/sha256.h"
#include "policy/glob.h"

namespace execgov::policy {

const char* ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "Allowed";
    case Reason::kPolicyNotReady: return "PolicyNotReady";
    case Reason::kNoMatchingPolicy: return "NoMatchingPolicy";
    case Reason::kMissingArtifact: return "MissingArtifact";
    case Reason::kMalformedArtifact: return "MalformedArtifact";
    case Reason::kUnsupportedAlgorithm: return "UnsupportedAlgorithm";
    case Reason::kUnknownKey: return "UnknownKey";
    case Reason::kInvalidSignature: return "InvalidSignature";
    case Reason::kIssuerNotTrusted: return "IssuerNotTrusted";
    case Reason::kRevoked: return "Revoked";
    case Reason::kArtifactNotYetValid: return "ArtifactNotYetValid";
    case Reason::kArtifactExpired: return "ArtifactExpired";
    case Reason::kTTLExceedsPolicy: return "TTLExceedsPolicy";
    case Reason::kAudienceMismatch: return "AudienceMismatch";
    case Reason::kSubjectNotAllowed: return "SubjectNotAllowed";
    case Reason::kIdentityMismatch: return "IdentityMismatch";
    case Reason::kScopeMismatch: return "ScopeMismatch";
    case Reason::kDigestMismatch: return "DigestMismatch";
    case Reason::kImageNotAllowed: return "ImageNotAllowed";
    case Reason::kReplayDetected: return "ReplayDetected";
    case Reason::kLineageDiscontinuity: return "LineageDiscontinuity";
    case Reason::kInternalError: return "InternalError";
  }
  return "InternalError";
}

const std::vector<Reason>& AllReasons() {
  static const std::vector<Reason> all = [] {
    std::vector<Reason> v;
    for (int r = static_cast<int>(Reason::kPolicyNotReady); r <= static_cast<int>(Reason::kInternalError); ++r) {
      v.push_back(static_cast<Reason>(r));
    }
    return v;
  }();
  return all;
}

std::optional<Operation> ParseOperation(const std::string& op) {
  if (op == "CREATE") return Operation::kCreate;
  if (op == "UPDATE") return Operation::kUpdate;
  if (op == "DELETE") return Operation::kDelete;
  if (op == "CONNECT") return Operation::kConnect;
  return std::nullopt;
}

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kCreate: return "CREATE";
    case Operation::kUpdate: return "UPDATE";
    case Operation::kDelete: return "DELETE";
    case Operation::kConnect: return "CONNECT";
  }
  return "";
}

std::string FormatReason(Reason reason, const std::string& message) {
  return std::string("execgov: ") + ReasonName(reason) + ": " + message;
}

std::string Decision::StatusMessage() const { return FormatReason(reason, message); }

int64_t ConsumptionExpiry(const ArtifactFacts& facts) { return facts.exp + kMaxClockSkewSeconds; }

namespace {

using api::Json;

struct Failure {
  Reason reason = Reason::kNone;
  std::string message;
  bool failed() const { return reason != Reason::kNone; }
};

Failure Fail(Reason r, std::string m) { return {r, std::move(m)}; }

std::string Describe(const AdmissionAttributes& a) {
  return a.kind + " " + (a.ns.empty() ? "" : a.ns + "/") + (a.name.empty() ? "<generated name>" : a.name);
}

// A claim's value for a message: as JSON, cut short (a claim may be long).
std::string Shown(const Json& v) {
  std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

// A NumericDate claim as execgov accepts it: a JSON integer from 0 to
// kMaxNumericDate. RFC 7519 allows fractions too; no signer needs them, and
// a float (1e19, 1.5) or an integer past int64 is exactly what once made the
// time arithmetic wrap.
std::optional<int64_t> BoundedNumericDate(const Json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(kMaxNumericDate)) return static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    if (i >= 0 && i <= kMaxNumericDate) return i;
  }
  return std::nullopt;
}

// Reads the NumericDate claim `name` into *out; a failure names the claim.
Failure ReadNumericDate(const Json& c, const char* name, bool required, int64_t* out) {
  static const std::string kRange = "an integer NumericDate from 0 to " + std::to_string(kMaxNumericDate) +
                                    " (9999-12-31T23:59:59Z)";
  auto it = c.find(name);
  if (it == c.end()) {
    if (!required) return {};
    return Fail(Reason::kMalformedArtifact, std::string("the artifact has no \"") + name + "\" claim (" + kRange + ")");
  }
  auto v = BoundedNumericDate(*it);
  if (!v) {
    return Fail(Reason::kMalformedArtifact,
                std::string("the artifact's \"") + name + "\" claim is " + Shown(*it) + ", not " + kRange);
  }
  *out = *v;
  return {};
}

// Checks the claims every artifact must carry and fills `facts`.
Failure ValidateClaims(const Json& c, ArtifactFacts* facts) {
  auto str = [&](const char* name, std::string* out) -> bool {
    auto it = c.find(name);
    if (it == c.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return false;
    *out = it->get<std::string>();
    return true;
  };
  for (const char* name : {"iss", "sub", "jti"}) {
    std::string v;
    if (!str(name, &v)) return Fail(Reason::kMalformedArtifact, std::string("the artifact has no \"") + name + "\" claim (a non-empty string)");
  }
  str("iss", &facts->iss);
  str("sub", &facts->sub);
  str("jti", &facts->jti);
  if (facts->jti.size() < 22) {
    return Fail(Reason::kMalformedArtifact, "the artifact's jti is too short to carry 128 bits of randomness (at least 22 characters)");
  }
  auto aud = c.find("aud");
  bool aud_ok = aud != c.end() && (aud->is_string() || (aud->is_array() && !aud->empty() &&
                                                         std::all_of(aud->begin(), aud->end(), [](const Json& a) { return a.is_string(); })));
  if (!aud_ok) return Fail(Reason::kMalformedArtifact, "the artifact has no \"aud\" claim naming the cluster");
  if (Failure f = ReadNumericDate(c, "iat", /*required=*/true, &facts->iat); f.failed()) return f;
  if (Failure f = ReadNumericDate(c, "exp", /*required=*/true, &facts->exp); f.failed()) return f;
  if (facts->exp <= facts->iat) return Fail(Reason::kMalformedArtifact, "the artifact's exp is not after its iat");
  facts->nbf = facts->iat;
  if (Failure f = ReadNumericDate(c, "nbf", /*required=*/false, &facts->nbf); f.failed()) return f;
  auto scope = c.find("scope");
  if (scope == c.end() || !scope->is_object()) {
    return Fail(Reason::kMalformedArtifact,
                "the artifact has no \"scope\" claim ({namespace, kind, name?, digest, projection})");
  }
  for (const char* name : {"namespace", "kind", "digest"}) {
    auto it = scope->find(name);
    if (it == scope->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return Fail(Reason::kMalformedArtifact, std::string("the artifact's scope has no \"") + name + "\"");
    }
  }
  // The digest means what the projection it was made with hashes: an
  // artifact made for another one is refused, never compared.
  auto projection = scope->find("projection");
  if (projection == scope->end()) {
    return Fail(Reason::kMalformedArtifact,
                "the artifact's scope has no \"projection\": it was made for execution-scope projection 1, which is "
                "no longer accepted; sign it again");
  }
  if (!projection->is_number_integer() || *projection != kExecutionScopeProjection) {
    return Fail(Reason::kMalformedArtifact, "scope.projection " + Shown(*projection) +
                                                " is not supported (this execgov verifies projection " +
                                                std::to_string(kExecutionScopeProjection) + ")");
  }
  if (scope->contains("name") && !(*scope)["name"].is_string()) {
    return Fail(Reason::kMalformedArtifact, "the artifact's scope.name is not a string");
  }
  facts->digest = (*scope)["digest"].get<std::string>();
  facts->scope_kind = (*scope)["kind"].get<std::string>();
  crypto::Hash unused;
  if (!crypto::ParseSha256Ref(facts->digest, &unused)) {
    return Fail(Reason::kMalformedArtifact, "the artifact's scope.digest is not sha256:<64 lower-case hex digits>");
  }
  if (c.contains("parent")) {
    if (!c["parent"].is_string() || !crypto::ParseSha256Ref(c["parent"].get<std::string>(), &unused)) {
      return Fail(Reason::kMalformedArtifact, "the artifact's parent is not a ledger record hash (sha256:<hex>)");
    }
    facts->parent = c["parent"].get<std::string>();
  }
  if (c.contains("intent")) {
    if (!c["intent"].is_string()) return Fail(Reason::kMalformedArtifact, "the artifact's intent is not a string");
    facts->intent = c["intent"].get<std::string>();
    if (facts->intent.size() > 1024) return Fail(Reason::kMalformedArtifact, "the artifact's intent is longer than 1 KiB");
  }
  return {};
}

// Whether `object` (the request's object or old object, `which`) is of the
// governed kind the request is for, by its apiVersion and kind.
Failure CheckObjectKind(api::GovernedKind kind, const Json& object, const char* which) {
  const std::string api_version = kind == api::GovernedKind::kPod   ? "v1"
                                  : kind == api::GovernedKind::kJob ? "batch/v1"
                                                                    : std::string(api::kApiVersion);
  const std::string has_version = api::StringAt(object, {"apiVersion"});
  const std::string has_kind = api::KindOf(object);
  if (has_version == api_version && has_kind == api::GovernedKindName(kind)) return {};
  std::string shown_version, shown_kind;
  AppendJsonStringReplacingInvalid(has_version, &shown_version);
  AppendJsonStringReplacingInvalid(has_kind, &shown_kind);
  const char* article = kind == api::GovernedKind::kExecutionRequest ? "an " : "a ";
  return Fail(Reason::kScopeMismatch, std::string("the request is for ") + article + api::GovernedKindName(kind) + " (" +
                                          api_version + ") but its " + which + " is apiVersion " + shown_version +
                                          " kind " + shown_kind + "; the object must be what the request is for");
}

bool PolicyMatches(const CompiledPolicy& p, const AdmissionAttributes& a) {
  if (!p.kinds.count(a.kind)) return false;
  if (!p.namespaces.empty() && !p.namespaces.count(a.ns)) return false;
  if (p.excluded_namespaces.count(a.ns)) return false;
  if (p.namespace_selector && a.namespace_labels && !p.namespace_selector->Matches(*a.namespace_labels)) return false;
  return true;
}

// Whether an object of `kind` may carry an artifact scoped to `scope_kind`
// by inheritance: ExecutionRequest -> Job -> Pod.
bool MayInherit(const std::string& scope_kind, const std::string& kind) {
  if (scope_kind == "ExecutionRequest") return kind == "Job" || kind == "Pod";
  if (scope_kind == "Job") return kind == "Pod";
  return false;
}

// Checks one policy's rules, from the key lookup through the image rules.
Failure EvaluatePolicy(const CompiledPolicy& p, const AdmissionAttributes& a, const crypto::ParsedJws& jws,
                       const ArtifactFacts& facts, const std::string& token, const std::string& object_digest,
                       const std::string& bound_user, const DecisionInputs& in, std::vector<SignatureCheck>* checks) {
  const Json& claims = jws.claims;
  auto idx = p.key_index.find(jws.kid);
  if (idx == p.key_index.end()) {
    return Fail(Reason::kUnknownKey, "key \"" + jws.kid + "\" is not trusted by ExecutionPolicy " + p.name +
                                         "; sign with one of its issuers' keys");
  }
  const Issuer& issuer = p.issuers[idx->second.first];
  const TrustedKey& key = issuer.keys[idx->second.second];
  if (key.algorithm != jws.key_algorithm) {
    return Fail(Reason::kUnsupportedAlgorithm, "key \"" + key.kid + "\" is pinned to " +
                                                   crypto::KeyAlgorithmName(key.algorithm) + " but the artifact uses alg " + jws.alg);
  }
  if (key.not_after && in.now > *key.not_after) {
    return Fail(Reason::kUnknownKey, "key \"" + key.kid + "\" is past its notAfter in ExecutionPolicy " + p.name +
                                         "; sign with a current key");
  }
  std::string cache_key;
  bool verified = false;
  if (in.signature_cache) {
    cache_key = p.name + '\n' + std::to_string(p.generation) + '\n' + token;
    verified = in.signature_cache->Contains(cache_key, in.now);
    if (verified) checks->push_back({key.algorithm, "cached"});
  }
  if (!verified) {
    verified = crypto::VerifyJwsSignature(jws, key.public_key);
    checks->push_back({key.algorithm, verified ? "valid" : "invalid"});
    if (!verified) {
      return Fail(Reason::kInvalidSignature, "the artifact's signature does not verify with key \"" + key.kid +
                                                 "\"; it was altered or signed by another key");
    }
    if (in.signature_cache) in.signature_cache->Insert(cache_key, facts.exp + p.clock_skew_seconds);
  }
  if (facts.iss != issuer.name) {
    return Fail(Reason::kIssuerNotTrusted, "issuer \"" + facts.iss + "\" does not own key \"" + key.kid +
                                               "\" (it belongs to issuer \"" + issuer.name + "\")");
  }
  if (p.revoked_kids.count(key.kid)) {
    return Fail(Reason::kRevoked, "key \"" + key.kid + "\" is revoked by ExecutionPolicy " + p.name);
  }
  if (p.revoked_jtis.count(facts.jti)) {
    return Fail(Reason::kRevoked, "artifact " + facts.jti + " is revoked by ExecutionPolicy " + p.name);
  }
  // No overflow below: now and every claim lie in 0..kMaxNumericDate
  // (checked by DecideImpl and ValidateClaims), the skew and the TTL are
  // bounded by CompilePolicy.
  const int64_t skew = p.clock_skew_seconds;
  const int64_t valid_from = std::max(facts.nbf, facts.iat);
  if (in.now + skew < valid_from) {
    return Fail(Reason::kArtifactNotYetValid, "the artifact is not valid before " + std::to_string(valid_from) +
                                                  " (now " + std::to_string(in.now) + "); check the signer's clock");
  }
  if (in.now - skew >= facts.exp) {
    return Fail(Reason::kArtifactExpired, "the artifact expired at " + std::to_string(facts.exp) + " (now " +
                                              std::to_string(in.now) + "); ask the authority for a new one");
  }
  if (facts.exp - facts.iat > p.max_ttl_seconds) {
    return Fail(Reason::kTTLExceedsPolicy, "the artifact is valid for " + std::to_string(facts.exp - facts.iat) +
                                               "s, more than maxTTL " + std::to_string(p.max_ttl_seconds) +
                                               "s of ExecutionPolicy " + p.name);
  }
  const Json& aud = claims["aud"];
  bool aud_ok = aud.is_string() ? aud.get<std::string>() == p.audience
                                : std::any_of(aud.begin(), aud.end(), [&](const Json& x) { return x == p.audience; });
  if (!aud_ok) {
    return Fail(Reason::kAudienceMismatch, "the artifact is for audience " + aud.dump() + ", not this cluster (\"" +
                                               p.audience + "\")");
  }
  if (!std::any_of(issuer.subjects.begin(), issuer.subjects.end(), [&](const std::string& g) { return GlobMatch(g, facts.sub); })) {
    return Fail(Reason::kSubjectNotAllowed, "subject \"" + facts.sub + "\" is not among the subjects issuer \"" +
                                                issuer.name + "\" may authorize");
  }
  const Json& scope = claims["scope"];
  bool direct = facts.scope_kind == a.kind;
  if (direct && p.bind_requester && bound_user != facts.sub) {
    return Fail(Reason::kIdentityMismatch, "ExecutionPolicy " + p.name + " binds the requester: user \"" + bound_user +
                                               "\" is not the artifact's subject \"" + facts.sub + "\"");
  }
  if (scope["namespace"] != a.ns) {
    return Fail(Reason::kScopeMismatch, "the artifact is for namespace \"" + scope["namespace"].get<std::string>() +
                                            "\", not \"" + a.ns + "\"");
  }
  if (!direct) {
    if (!MayInherit(facts.scope_kind, a.kind)) {
      return Fail(Reason::kScopeMismatch, "the artifact is for a " + facts.scope_kind + ", not a " + a.kind);
    }
    if (std::find(p.trusted_controllers.begin(), p.trusted_controllers.end(), a.user) == p.trusted_controllers.end()) {
      return Fail(Reason::kScopeMismatch, "the artifact is for a " + facts.scope_kind + "; a " + a.kind +
                                              " may carry it only when made by a trusted controller, and \"" + a.user +
                                              "\" is not one");
    }
  } else if (scope.contains("name") && !scope["name"].get<std::string>().empty() && scope["name"] != a.name) {
    return Fail(Reason::kScopeMismatch, "the artifact is for " + a.kind + " \"" + scope["name"].get<std::string>() +
                                            "\", not \"" + a.name + "\"");
  }
  if (facts.digest != object_digest) {
    return Fail(Reason::kDigestMismatch, "the object's execution scope " + object_digest +
                                             " differs from the signed one " + facts.digest +
                                             "; what runs, as whom, or with which privileges, volumes or host "
                                             "access changed after signing (`execgov digest --explain` shows "
                                             "what is hashed)");
  }
  // Not `spec ? *spec : Json()`: that conditional is a copy of the whole pod
  // spec, which had been 3.6% of a cache-hit admission's server CPU.
  const Json* spec = api::PodSpecOf(*api::ParseGovernedKind(a.kind), *a.object);
  std::vector<std::string> images = spec ? api::ImagesOf(*spec) : std::vector<std::string>{};
  for (const auto& image : images) {
    if (!p.allowed_registries.empty() &&
        !std::any_of(p.allowed_registries.begin(), p.allowed_registries.end(),
                     [&](const std::string& g) { return GlobMatch(g, image); })) {
      return Fail(Reason::kImageNotAllowed, "image " + image + " is not from a registry ExecutionPolicy " + p.name + " allows");
    }
    if (p.require_digest) {
      auto at = image.find("@sha256:");
      crypto::Hash unused;
      if (at == std::string::npos || !crypto::ParseSha256Ref(image.substr(at + 1), &unused)) {
        return Fail(Reason::kImageNotAllowed, "image " + image + " is not pinned by digest (@sha256:...), which ExecutionPolicy " +
                                                  p.name + " requires");
      }
    }
  }
  return {};
}

// What ParseJws and ValidateClaims make of one artifact: a function of its
// bytes alone (no clock, no policy), so it is kept per thread for the next
// request that carries the same bytes, as the Pods of one Job all do. Only
// parsing is kept: signatures, time, revocation and replay are judged anew.
struct ParsedArtifact {
  std::string token;       // jws.signing_input points into it
  crypto::ParsedJws jws;
  Failure common;          // malformed, unsupported algorithm, or bad claims
  ArtifactFacts facts;
};

std::shared_ptr<const ParsedArtifact> ParseArtifact(std::string token) {
  // Direct-mapped by the token's hash: 16 artifacts (~3 KB each) per thread.
  constexpr size_t kSlots = 16;
  thread_local std::array<std::shared_ptr<const ParsedArtifact>, kSlots> recent;
  auto& slot = recent[std::hash<std::string>()(token) % kSlots];
  if (slot && slot->token == token) return slot;
  auto p = std::make_shared<ParsedArtifact>();
  p->token = std::move(token);
  auto parsed = crypto::ParseJws(p->token, &p->jws);
  if (parsed.failure == crypto::JwsFailure::kMalformed) {
    p->common = Fail(Reason::kMalformedArtifact, parsed.message);
  } else if (parsed.failure == crypto::JwsFailure::kUnsupportedAlgorithm) {
    p->common = Fail(Reason::kUnsupportedAlgorithm, parsed.message);
  } else {
    p->common = ValidateClaims(p->jws.claims, &p->facts);
    if (!p->common.failed()) p->facts.kid = p->jws.kid;
  }
  slot = p;
  return p;
}

// The checks that do not depend on the policy: single use and lineage.
Failure CheckReplayAndLineage(const AdmissionAttributes& a, const ArtifactFacts& facts, const DecisionInputs& in,
                              ReplayAction* action) {
  const bool direct = facts.scope_kind == a.kind;
  auto owner = direct ? std::nullopt : api::ControllerOf(*a.object);
  std::optional<Consumption> consumed =
      in.replay ? in.replay->Find(facts.jti, owner ? owner->uid : std::string()) : std::nullopt;
  if (direct) {
    if (consumed && consumed->uid != a.uid) {
      return Fail(Reason::kReplayDetected, "artifact " + facts.jti + " was already used by " + consumed->kind + " " +
                                               consumed->ns + "/" + consumed->name +
                                               "; every execution needs a freshly signed artifact");
    }
    if (!facts.parent.empty() && !(in.lineage && in.lineage->HasRecord(facts.parent))) {
      return Fail(Reason::kLineageDiscontinuity, "parent " + facts.parent + " is not a record in the lineage ledger" +
                                                     (in.lineage ? "" : " (no ledger is available to this check)"));
    }
    *action = ReplayAction::kConsume;
    return {};
  }
  if (!owner || owner->uid.empty()) {
    return Fail(Reason::kLineageDiscontinuity, Describe(a) + " carries an inherited artifact but has no controller owner");
  }
  if (!consumed) {
    return Fail(Reason::kLineageDiscontinuity, "artifact " + facts.jti + " was never consumed by a " + facts.scope_kind +
                                                   ", so " + owner->kind + " " + owner->name + " cannot pass it on");
  }
  if (owner->uid != consumed->uid && !consumed->inherited) {
    return Fail(Reason::kLineageDiscontinuity, "owner " + owner->kind + " " + owner->name + " did not consume artifact " +
                                                   facts.jti + " (" + consumed->kind + " " + consumed->ns + "/" +
                                                   consumed->name + " did)");
  }
  // Only what may own a governed object is recorded as an inheritor: a Job,
  // whose Pods ask for it. A Pod passes the artifact on to nothing, and
  // recording each would grow the store by one uid per Pod for no check.
  *action = a.kind == "Pod" ? ReplayAction::kNone : ReplayAction::kInherit;
  return {};
}

// A policy's verdict on an ExecutionRequest created without an artifact
// (issue 20): admitted to wait for one only where the policy opts in, and
// only when spec.initiator is who asks, so the initiator an authority later
// signs for is the identity the API server authenticated.
// A relayed request (spec.relay, authority/relay.h) may name another
// initiator when a user the policy lists in relayUsers creates it: the
// authority, for the caller its HTTPS endpoint authenticated. It never runs
// here (DecideImpl refuses any artifact on it), so that is all a relay user
// can do in another's name.
Failure JudgePendingRequest(const CompiledPolicy& p, const AdmissionAttributes& a, const std::string& initiator,
                            bool relayed, bool* awaiting) {
  if (!p.allow_pending_requests) {
    return Fail(Reason::kMissingArtifact, Describe(a) + " has no " + std::string(api::kArtifactAnnotation) +
                                              " annotation; sign it with `execgov sign` and submit it again");
  }
  if (!a.requester_unknown && initiator != a.user) {
    auto mapped = p.initiator_mappings.find(a.user);
    const bool relay_user = relayed && p.relay_users.count(a.user) > 0;
    if (!relay_user && (mapped == p.initiator_mappings.end() || !mapped->second.count(initiator))) {
      std::string shown_initiator, shown_user;
      AppendJsonStringReplacingInvalid(initiator, &shown_initiator);
      AppendJsonStringReplacingInvalid(a.user, &shown_user);
      return Fail(Reason::kIdentityMismatch,
                  "spec.initiator " + shown_initiator + " is not the requesting user " + shown_user +
                      " (nor an initiator ExecutionPolicy " + p.name +
                      " maps that user to in spec.authorization.initiatorMappings, nor a relay user of a relayed "
                      "request); a request without an artifact must name who asks");
    }
  }
  *awaiting = true;
  return {};
}

Decision Deny(Decision d, Reason r, std::string message) {
  d.allowed = false;
  d.reason = r;
  d.message = std::move(message);
  return d;
}

Decision DecideImpl(const AdmissionAttributes& a, const DecisionInputs& in) {
  Decision d;
  d.governed = true;
  if (a.operation == Operation::kDelete || a.operation == Operation::kConnect) {
    d.governed = false;
    d.allowed = true;
    d.message = std::string(OperationName(a.operation)) + " is not governed";
    return d;
  }
  if (api::IsNeverGovernedNamespace(a.ns, in.install_namespace)) {
    d.governed = false;
    d.allowed = true;
    d.message = "namespace " + a.ns + " is never governed";
    return d;
  }
  if (!in.policies || !in.policies->ready) {
    return Deny(d, Reason::kPolicyNotReady, "execgov has not loaded its ExecutionPolicies yet; retry shortly");
  }
  if (in.now < 0 || in.now > kMaxNumericDate) {
    // Every time comparison below adds to or subtracts from now.
    return Deny(d, Reason::kInternalError, "the clock reads " + std::to_string(in.now) +
                                               ", outside 0.." + std::to_string(kMaxNumericDate) + "; fix the clock");
  }
  const std::optional<api::GovernedKind> kind = api::ParseGovernedKind(a.kind);
  if (!kind) {
    return Deny(d, Reason::kNoMatchingPolicy, a.kind + " is not governed by execgov (only Pod, Job and "
                                              "ExecutionRequest); fix the webhook configuration's rules");
  }
  if (!a.object || !a.object->is_object()) return Deny(d, Reason::kInternalError, "the request carries no object");
  // ScopeMismatch: the object is not what the request is for. The kind is
  // the request's; an object claiming another would be hashed, matched and
  // recorded as something it is not.
  if (Failure f = CheckObjectKind(*kind, *a.object, "object"); f.failed()) return Deny(d, f.reason, f.message);
  if (a.operation == Operation::kUpdate && a.old_object) {
    if (Failure f = CheckObjectKind(*kind, *a.old_object, "old object"); f.failed()) return Deny(d, f.reason, f.message);
  }
  auto digest = api::ExecutionScopeDigest(*kind, *a.object);
  if (!digest.ok()) return Deny(d, Reason::kInternalError, "cannot compute the execution scope: " + digest.status().message());
  d.object_digest = *digest;
  // An ExecutionRequest's artifact only ever goes from absent to present
  // (issue 20). A request waiting for one keeps its spec as admitted (the
  // initiator and intent are not in the digest, and are what an authority
  // judges), and the UPDATE that attaches the artifact is verified as a
  // CREATE would be, consuming its jti. Checked before the unchanged-digest
  // allow below, which an annotation alone never changes.
  const bool is_request = *kind == api::GovernedKind::kExecutionRequest;
  const std::string initiator = is_request ? api::StringAt(*a.object, {"spec", "initiator"}) : std::string();
  // A relayed request stands for a Job or Pod whose artifact goes to the
  // authority's HTTPS caller: nothing runs from it here, whoever signs.
  const auto spec_it = is_request ? a.object->find("spec") : a.object->end();
  const bool relayed = spec_it != a.object->end() && spec_it->is_object() && spec_it->contains("relay") &&
                       !(*spec_it)["relay"].is_null();
  if (relayed && api::ArtifactOf(*a.object)) {
    return Deny(d, Reason::kScopeMismatch, Describe(a) + " relays a Job or Pod for the authority's HTTPS endpoint "
                                               "(spec.relay): it never runs in the cluster, so it carries no artifact");
  }
  bool attaching = false;
  if (is_request && a.operation == Operation::kUpdate && a.old_object) {
    const auto old_token = api::ArtifactOf(*a.old_object);
    const auto new_token = api::ArtifactOf(*a.object);
    if (old_token) {
      if (!new_token || *new_token != *old_token) {
        return Deny(d, Reason::kScopeMismatch, Describe(a) + ": an ExecutionRequest's " +
                                                   std::string(api::kArtifactAnnotation) +
                                                   " annotation cannot be changed or removed once set; create a new "
                                                   "request for another authorization");
      }
    } else {
      const auto old_spec = a.old_object->find("spec");
      const auto new_spec = a.object->find("spec");
      const bool same_spec = (old_spec == a.old_object->end()) == (new_spec == a.object->end()) &&
                             (old_spec == a.old_object->end() || *old_spec == *new_spec);
      if (!same_spec) {
        return Deny(d, Reason::kScopeMismatch, Describe(a) + " has no artifact yet, and the spec of a request awaiting "
                                                   "authorization cannot change; delete it and create a new one");
      }
      if (!new_token) {
        d.allowed = true;
        d.message = "the update leaves a request without an artifact unchanged";
        return d;
      }
      // An ended request runs nothing, so its artifact's jti must not be
      // spent on it. The old status phase is all the webhook keeps of the
      // status (webhook/admission_review.h).
      const std::string old_phase = api::StringAt(*a.old_object, {"status", "phase"});
      if (old_phase == "Denied" || old_phase == "Expired") {
        return Deny(d, Reason::kScopeMismatch, Describe(a) + " is " + old_phase +
                                                   ": it will never run, so no artifact is attached to it; create a "
                                                   "new request");
      }
      attaching = true;
    }
  }
  const bool attached_later = is_request && (attaching || a.artifact_attached_later);
  if (a.operation == Operation::kUpdate && a.old_object && !attaching) {
    auto old_digest = api::ExecutionScopeDigest(*kind, *a.old_object);
    if (old_digest.ok() && *old_digest == d.object_digest) {
      d.allowed = true;
      d.message = "the update leaves the execution scope unchanged";
      return d;
    }
  }
  // A jti is consumed by an object's uid, and two objects without one would
  // share it. The API server sets metadata.uid before any validating webhook
  // runs, so a review without it did not come from one: whatever any policy's
  // mode, this is never allowed. InternalError, as for a request without an
  // object: the request lacks what the API server always supplies.
  if (a.uid.empty()) {
    return Deny(d, Reason::kInternalError, Describe(a) + " has no metadata.uid: the single use of its artifact cannot " +
                                               "be recorded without one");
  }
  std::vector<const CompiledPolicy*> matching;
  for (const auto& p : in.policies->policies) {
    if (PolicyMatches(*p, a)) matching.push_back(p.get());
  }
  if (matching.empty()) {
    return Deny(d, Reason::kNoMatchingPolicy, "no ExecutionPolicy matches " + a.kind + " in namespace \"" + a.ns +
                                                  "\"; ask a cluster admin to apply one");
  }

  // Policy-independent checks first: presence, structure, claims.
  auto token = api::ArtifactOf(*a.object);
  std::shared_ptr<const ParsedArtifact> parsed =
      token ? ParseArtifact(std::move(*token)) : std::make_shared<const ParsedArtifact>();
  const crypto::ParsedJws& jws = parsed->jws;
  const ArtifactFacts& facts = parsed->facts;
  Failure common = parsed->common;
  if (!token) {
    common = Fail(Reason::kMissingArtifact, Describe(a) + " has no " + std::string(api::kArtifactAnnotation) +
                                                " annotation; sign it with `execgov sign` and submit it again");
  } else if (!common.failed()) {
    d.artifact = facts;
  }

  // An artifact attached to a waiting request answers for its initiator,
  // whom admission bound to the requesting user: the user who attaches it
  // (an authority) is not the one bindRequester means.
  const std::string& bound_user = attached_later ? initiator : a.user;
  const bool may_wait = is_request && !token && a.operation == Operation::kCreate;
  std::optional<Failure> global;  // replay and lineage, computed at most once
  ReplayAction action = ReplayAction::kNone;
  for (const CompiledPolicy* p : matching) {
    Failure f = common;
    bool awaiting = false;
    if (may_wait) {
      f = JudgePendingRequest(*p, a, initiator, relayed, &awaiting);
      d.verdicts.push_back({p->name, p->generation, p->enforcement, f.reason, f.message, awaiting});
      continue;
    }
    if (!f.failed()) {
      f = EvaluatePolicy(*p, a, jws, facts, parsed->token, d.object_digest, bound_user, in, &d.signature_checks);
    }
    if (!f.failed() && attached_later && facts.sub != initiator) {
      std::string shown_sub, shown_initiator;
      AppendJsonStringReplacingInvalid(facts.sub, &shown_sub);
      AppendJsonStringReplacingInvalid(initiator, &shown_initiator);
      f = Fail(Reason::kIdentityMismatch, "the artifact attached to " + Describe(a) + " is for subject " + shown_sub +
                                              ", not the request's initiator " + shown_initiator);
    }
    if (!f.failed()) {
      if (!global) global = CheckReplayAndLineage(a, facts, in, &action);
      f = *global;
    }
    d.verdicts.push_back({p->name, p->generation, p->enforcement, f.reason, f.message});
  }

  d.allowed = true;
  bool any_awaiting = false;
  for (const auto& v : d.verdicts) {
    if (v.reason == Reason::kNone) {
      if (v.awaiting) {
        any_awaiting = true;
      } else {
        d.verified = true;
      }
      continue;
    }
    if (v.enforcement == Enforcement::kEnforce && d.allowed) {
      d.allowed = false;
      d.reason = v.reason;
      d.message = v.message + " (ExecutionPolicy " + v.policy + ")";
    }
  }
  if (d.allowed) {
    for (const auto& v : d.verdicts) {
      if (v.reason == Reason::kNone) continue;
      if (d.reason == Reason::kNone) {
        d.reason = v.reason;
        d.message = v.message + " (ExecutionPolicy " + v.policy + ", " + EnforcementName(v.enforcement) + ")";
      }
      if (v.enforcement == Enforcement::kWarn) d.warnings.push_back(FormatReason(v.reason, v.message));
    }
    if (any_awaiting) {
      d.awaiting_authorization = true;
      if (d.reason == Reason::kNone) {
        d.message = "admitted without an artifact, awaiting authorization for initiator " + initiator +
                    "; nothing runs until an authorization is attached";
      }
    } else if (d.reason == Reason::kNone) {
      d.message = "authorized by " + facts.iss + " for " + facts.sub + " (artifact " + facts.jti + ")";
    }
  }
  if (d.awaiting_authorization || attaching) {
    d.artifact_attached = attaching;
    d.initiator = initiator;
  }
  // Single use is recorded only for artifacts that passed a policy outright.
  if (d.allowed && d.verified) d.replay_action = action;
  return d;
}

}  // namespace

Decision Decide(const AdmissionAttributes& attrs, const DecisionInputs& in) {
  // Fail closed: nothing unexpected may turn into an allow.
  try {
    return DecideImpl(attrs, in);
  } catch (const std::exception& e) {
    Decision d;
    d.governed = true;
    return Deny(d, Reason::kInternalError, std::string("unexpected error while deciding: ") + e.what());
  } catch (...) {
    Decision d;
    d.governed = true;
    return Deny(d, Reason::kInternalError, "unexpected error while deciding");
  }
}

}  // namespace execgov::policy
