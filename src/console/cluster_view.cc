#include "console/cluster_view.h"

#include <algorithm>
#include <cctype>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/approval.h"
#include "crypto/keys.h"

namespace execgov::console {
namespace {

using nlohmann::json;

std::string Str(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return "";
    cur = &(*cur)[k];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

bool DnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return std::isalnum(static_cast<unsigned char>(s.front())) && std::isalnum(static_cast<unsigned char>(s.back()));
}

bool Printable(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

json PolicyView(const policy::CompiledPolicy& p) {
  json issuers = json::array();
  for (const auto& i : p.issuers) {
    json keys = json::array();
    for (const auto& k : i.keys) {
      keys.push_back({{"kid", k.kid},
                      {"algorithm", crypto::KeyAlgorithmName(k.algorithm)},
                      {"notAfter", k.not_after ? json(*k.not_after) : json(nullptr)}});
    }
    issuers.push_back({{"name", i.name}, {"subjects", i.subjects}, {"keys", keys}});
  }
  return {{"name", p.name},
          {"generation", p.generation},
          {"enforcement", policy::EnforcementName(p.enforcement)},
          {"audience", p.audience},
          {"maxTTLSeconds", p.max_ttl_seconds},
          {"kinds", p.kinds},
          {"namespaces", p.namespaces},
          {"excludedNamespaces", p.excluded_namespaces},
          {"issuers", issuers},
          {"trustedControllers", p.trusted_controllers},
          {"revokedKids", p.revoked_kids},
          {"revokedJtis", p.revoked_jtis},
          {"summary", p.Summary()}};
}

StatusOr<json> ClusterPolicies(kube::Client& user) {
  EXECGOV_ASSIGN_OR_RETURN(kube::ListResult list, user.List(kPoliciesPath, {}));
  json out = json::array();
  for (const auto& item : list.items) {
    auto compiled = policy::CompilePolicy(item);
    if (compiled.ok()) {
      out.push_back(PolicyView(**compiled));
    } else {
      out.push_back({{"name", Str(item, {"metadata", "name"})}, {"error", compiled.status().message()}});
    }
  }
  return out;
}

StatusOr<json> PendingRequests(kube::Client& user) {
  EXECGOV_ASSIGN_OR_RETURN(kube::ListResult list, user.List(kRequestsPath, {}));
  std::vector<const json*> pending;
  for (const auto& item : list.items) {
    if (Str(item, {"status", "phase"}) == "AwaitingAuthorization") pending.push_back(&item);
  }
  // Oldest first: the request closest to its deadline leads.
  std::stable_sort(pending.begin(), pending.end(), [](const json* a, const json* b) {
    return Str(*a, {"metadata", "creationTimestamp"}) < Str(*b, {"metadata", "creationTimestamp"});
  });
  json requests = json::array();
  for (size_t i = 0; i < pending.size() && i < kMaxPendingShown; ++i) {
    const json& r = *pending[i];
    requests.push_back({{"namespace", Str(r, {"metadata", "namespace"})},
                        {"name", Str(r, {"metadata", "name"})},
                        {"uid", Str(r, {"metadata", "uid"})},
                        {"created", Str(r, {"metadata", "creationTimestamp"})},
                        {"initiator", Str(r, {"spec", "initiator"})},
                        {"intent", Str(r, {"spec", "intent"})},
                        {"rule", Str(r, {"status", "authorization", "rule"})},
                        {"waitingFor", Str(r, {"status", "authorization", "waitingFor"})},
                        {"deadline", Str(r, {"status", "authorization", "deadline"})}});
  }
  return json{{"requests", requests}, {"truncated", pending.size() > kMaxPendingShown}};
}

StatusOr<RevokeRequest> ParseRevokeRequest(const json& body) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  for (const auto& [k, v] : body.items()) {
    if (k != "policy" && k != "jti" && k != "kid") return InvalidArgument("unknown member \"" + k.substr(0, 40) + "\"");
    if (!v.is_string()) return InvalidArgument(k + " must be a string");
  }
  RevokeRequest r;
  r.policy = body.value("policy", "");
  if (!DnsSubdomain(r.policy)) return InvalidArgument("policy must name an ExecutionPolicy");
  const bool jti = body.contains("jti"), kid = body.contains("kid");
  if (jti == kid) return InvalidArgument("give exactly one of jti and kid");
  r.kind = jti ? RevokeKind::kJti : RevokeKind::kKid;
  r.value = body.value(jti ? "jti" : "kid", "");
  if (!Printable(r.value, jti ? 256 : 128)) {
    return InvalidArgument(std::string(jti ? "jti" : "kid") + " must be 1.." + (jti ? "256" : "128") +
                           " printable characters");
  }
  return r;
}

Status Revoke(kube::Client& user, const RevokeRequest& request) {
  const std::string field = request.kind == RevokeKind::kJti ? "jtis" : "kids";
  auto updated = kube::UpdateWithRetry(user, std::string(kPoliciesPath) + "/" + request.policy, [&](json& p) {
    if (!p.contains("spec") || !p["spec"].is_object()) p["spec"] = json::object();
    json& rev = p["spec"]["revocations"];
    if (!rev.is_object()) rev = json::object();
    json& list = rev[field];
    if (!list.is_array()) list = json::array();
    for (const auto& v : list) {
      if (v == request.value) return false;  // already revoked
    }
    list.push_back(request.value);
    return true;
  });
  return updated.status();
}

StatusOr<DecisionRequest> ParseDecisionRequest(const json& body, bool approve) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  for (const auto& [k, v] : body.items()) {
    if (k != "namespace" && k != "name" && k != "reason") {
      return InvalidArgument("unknown member \"" + k.substr(0, 40) + "\"");
    }
    if (!v.is_string()) return InvalidArgument(k + " must be a string");
  }
  DecisionRequest d;
  d.approve = approve;
  d.ns = body.value("namespace", "");
  d.name = body.value("name", "");
  d.reason = body.value("reason", "");
  if (!api::IsDns1123Subdomain(d.ns) || !api::IsDns1123Subdomain(d.name)) {
    return InvalidArgument("namespace and name must name an ExecutionRequest");
  }
  if (d.reason.size() > authority::kMaxApprovalReasonBytes) {
    return InvalidArgument("the reason is longer than " + std::to_string(authority::kMaxApprovalReasonBytes) + " bytes");
  }
  if (!approve && d.reason.empty()) return InvalidArgument("a denial needs a reason: the initiator is told why");
  return d;
}

StatusOr<json> CreateApproval(kube::Client& user, const DecisionRequest& d, const std::string& approver) {
  const std::string version(api::kApiVersion);
  EXECGOV_ASSIGN_OR_RETURN(json request, user.Get(kube::ResourcePath(version, "executionrequests", d.ns, d.name)));
  EXECGOV_ASSIGN_OR_RETURN(json approval, authority::NewApproval(request, d.approve, approver, d.reason));
  return user.Create(kube::ResourcePath(version, authority::kApprovalResource, d.ns), approval);
}

}  // namespace execgov::console
