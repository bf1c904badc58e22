#include "api/execution_scope.h"

#include "crypto/json.h"
#include "crypto/sha256.h"

namespace execgov::api {
namespace {

// Drops null, "", [], {} and false, recursively, so that a defaulted object
// and the manifest that made it project to the same bytes.
bool Prune(Json* v) {
  switch (v->type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return v->get<bool>();
    case Json::value_t::string: return !v->get_ref<const std::string&>().empty();
    case Json::value_t::array: {
      Json kept = Json::array();
      for (auto& e : *v) {
        if (Prune(&e)) kept.push_back(std::move(e));
      }
      *v = std::move(kept);
      return !v->empty();
    }
    case Json::value_t::object: {
      for (auto it = v->begin(); it != v->end();) {
        if (!Prune(&it.value())) it = v->erase(it);
        else ++it;
      }
      return !v->empty();
    }
    default: return true;
  }
}

// Applies the API server's defaults inside projected fields (the values it
// writes into env[].valueFrom when a manifest leaves them out).
void ApplyEnvDefaults(Json* env) {
  if (!env->is_array()) return;
  for (auto& var : *env) {
    if (!var.is_object() || !var.contains("valueFrom") || !var["valueFrom"].is_object()) continue;
    Json& from = var["valueFrom"];
    if (from.contains("fieldRef") && from["fieldRef"].is_object()) {
      Json& ref = from["fieldRef"];
      if (!ref.contains("apiVersion") || ref["apiVersion"].is_null() || ref["apiVersion"] == "") ref["apiVersion"] = "v1";
    }
    if (from.contains("resourceFieldRef") && from["resourceFieldRef"].is_object()) {
      Json& ref = from["resourceFieldRef"];
      // A zero Quantity is how the API server writes an unset divisor.
      if (ref.contains("divisor") && (ref["divisor"] == "0" || ref["divisor"] == 0)) ref.erase("divisor");
    }
  }
}

Json ProjectContainer(const Json& c) {
  Json out = Json::object();
  if (!c.is_object()) return out;
  for (const char* field : {"name", "image", "command", "args", "env", "envFrom", "securityContext"}) {
    auto it = c.find(field);
    if (it != c.end()) out[field] = *it;
  }
  if (out.contains("env")) ApplyEnvDefaults(&out["env"]);
  return out;
}

}  // namespace

StatusOr<Json> ProjectExecutionScope(GovernedKind kind, const Json& spec) {
  (void)kind;
  if (!spec.is_object()) return InvalidArgument("the pod spec is not an object");
  Json out = Json::object();
  std::string sa = StringAt(spec, {"serviceAccountName"});
  out["serviceAccountName"] = sa.empty() ? "default" : sa;
  for (const char* field : {"hostNetwork", "hostPID", "hostIPC", "securityContext"}) {
    auto it = spec.find(field);
    if (it != spec.end()) out[field] = *it;
  }
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || it->is_null()) continue;
    if (!it->is_array()) return InvalidArgument(std::string("the pod spec's ") + list + " is not a list");
    Json projected = Json::array();
    for (const auto& c : *it) projected.push_back(ProjectContainer(c));
    out[list] = std::move(projected);
  }
  Prune(&out);
  return out;
}

StatusOr<std::string> ExecutionScopeDigest(const Json& object) {
  std::string kind = KindOf(object);
  auto governed = ParseGovernedKind(kind);
  if (!governed) {
    return InvalidArgument("kind \"" + kind + "\" is not governed (only Pod, Job and ExecutionRequest)");
  }
  return ExecutionScopeDigest(*governed, object);
}

StatusOr<std::string> ExecutionScopeDigest(GovernedKind kind, const Json& object) {
  const Json* spec = PodSpecOf(kind, object);
  if (!spec) return InvalidArgument(std::string(GovernedKindName(kind)) + " " + NameOf(object) + " has no pod spec");
  EXECGOV_ASSIGN_OR_RETURN(Json projection, ProjectExecutionScope(kind, *spec));
  EXECGOV_ASSIGN_OR_RETURN(std::string canonical, crypto::Canonicalize(projection));
  return crypto::HashToSha256Ref(crypto::Sha256(canonical));
}

std::vector<std::string> ImagesOf(const Json& spec) {
  std::vector<std::string> images;
  if (!spec.is_object()) return images;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || !it->is_array()) continue;
    for (const auto& c : *it) {
      if (c.is_object() && c.contains("image") && c["image"].is_string()) images.push_back(c["image"].get<std::string>());
    }
  }
  return images;
}

}  // namespace execgov::api
