#include "authority/relay.h"

#include "api/execution_scope.h"

namespace execgov::authority {
namespace {

using json = nlohmann::json;

// generateName leaves room for the API server's 5 random characters.
constexpr size_t kGenerateNamePrefix = 40;

// The labels and annotations of `metadata` that are maps of strings, as the
// request's template keeps them (its schema takes nothing else).
json KeptMetadata(const json& metadata) {
  json kept = json::object();
  if (!metadata.is_object()) return kept;
  for (const char* key : {"labels", "annotations"}) {
    auto it = metadata.find(key);
    if (it == metadata.end() || !it->is_object() || it->empty()) continue;
    json map = json::object();
    for (auto m = it->begin(); m != it->end(); ++m) {
      if (m.value().is_string() && m.key() != api::kArtifactAnnotation) map[m.key()] = m.value();
    }
    if (!map.empty()) kept[key] = std::move(map);
  }
  return kept;
}

}  // namespace

StatusOr<std::optional<Relay>> RelayOf(const json& request) {
  if (!request.is_object()) return std::optional<Relay>();
  auto spec = request.find("spec");
  if (spec == request.end() || !spec->is_object()) return std::optional<Relay>();
  auto relay = spec->find("relay");
  if (relay == spec->end() || relay->is_null()) return std::optional<Relay>();
  if (!relay->is_object() || relay->size() != 2 || !relay->contains("kind") || !relay->contains("name")) {
    return InvalidArgument("spec.relay must be {kind, name} and nothing else");
  }
  const json& kind = (*relay)["kind"];
  const json& name = (*relay)["name"];
  Relay r;
  if (kind == "Job") {
    r.kind = api::GovernedKind::kJob;
  } else if (kind == "Pod") {
    r.kind = api::GovernedKind::kPod;
  } else {
    return InvalidArgument("spec.relay.kind must be Job or Pod");
  }
  if (!name.is_string() || !api::IsDns1123Subdomain(name.get<std::string>())) {
    return InvalidArgument("spec.relay.name must be a DNS-1123 subdomain");
  }
  r.name = name.get<std::string>();
  return std::optional<Relay>(std::move(r));
}

AuthorityRequest RequestFacts(const json& request) {
  AuthorityRequest facts;
  facts.ns = api::NamespaceOf(request);
  facts.kind = "ExecutionRequest";
  facts.initiator = api::StringAt(request, {"spec", "initiator"});
  if (auto relay = RelayOf(request); relay.ok() && relay->has_value()) facts.kind = api::GovernedKindName((*relay)->kind);
  if (const json* spec = api::PodSpecOf(api::GovernedKind::kExecutionRequest, request)) facts.images = api::ImagesOf(*spec);
  return facts;
}

StatusOr<json> NewRelayedRequest(api::GovernedKind kind, const json& manifest, const std::string& initiator) {
  if (kind == api::GovernedKind::kExecutionRequest) return InvalidArgument("only a Job or a Pod is relayed");
  const std::string name = api::NameOf(manifest), ns = api::NamespaceOf(manifest);
  const json kept = KeptMetadata(manifest.value("metadata", json::object()));
  const json* pod_spec = api::PodSpecOf(kind, manifest);
  if (!pod_spec) return InvalidArgument("the manifest has no pod spec");
  json job_spec;
  json template_metadata = json::object();
  if (kind == api::GovernedKind::kJob) {
    job_spec = manifest["spec"];
    template_metadata = kept;
  } else {
    json pod_template = {{"spec", *pod_spec}};
    if (!kept.empty()) pod_template["metadata"] = kept;
    // The request's schema wants a restartPolicy; a Pod's default is Always,
    // and the field is outside the execution scope.
    if (!pod_template["spec"].contains("restartPolicy")) pod_template["spec"]["restartPolicy"] = "Always";
    job_spec = {{"template", std::move(pod_template)}};
  }
  std::string prefix = name.substr(0, kGenerateNamePrefix);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  json request = {{"apiVersion", std::string(api::kApiVersion)},
                  {"kind", "ExecutionRequest"},
                  {"metadata", {{"generateName", prefix + "-"}, {"namespace", ns}}},
                  {"spec",
                   {{"initiator", initiator},
                    {"intent", "relayed from the authority's HTTPS endpoint: " +
                                   std::string(api::GovernedKindName(kind)) + " " + name},
                    {"relay", {{"kind", api::GovernedKindName(kind)}, {"name", name}}},
                    {"template", {{"spec", std::move(job_spec)}}}}}};
  if (!template_metadata.empty()) request["spec"]["template"]["metadata"] = std::move(template_metadata);
  // What the approvers see must be what the artifact is for.
  auto rebuilt = RelayedManifest(request);
  if (!rebuilt.ok()) return rebuilt.status();
  auto want = api::ExecutionScopeDigest(kind, manifest);
  auto got = api::ExecutionScopeDigest(kind, *rebuilt);
  if (!want.ok() || !got.ok() || *want != *got) {
    return InvalidArgument("the manifest's pod spec cannot be carried unchanged by an ExecutionRequest");
  }
  return request;
}

StatusOr<json> RelayedManifest(const json& request) {
  EXECGOV_ASSIGN_OR_RETURN(std::optional<Relay> relay, RelayOf(request));
  if (!relay) return InvalidArgument("the request relays nothing (no spec.relay)");
  const json* pod_spec = api::PodSpecOf(api::GovernedKind::kExecutionRequest, request);
  if (!pod_spec) return InvalidArgument("the request has no pod spec");
  const json tmpl = request.value("spec", json::object()).value("template", json::object());
  json metadata = {{"name", relay->name}, {"namespace", api::NamespaceOf(request)}};
  if (relay->kind == api::GovernedKind::kJob) {
    const json kept = KeptMetadata(tmpl.value("metadata", json::object()));
    for (auto it = kept.begin(); it != kept.end(); ++it) metadata[it.key()] = it.value();
    return json{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", std::move(metadata)}, {"spec", tmpl.value("spec", json::object())}};
  }
  const json pod_template = tmpl.value("spec", json::object()).value("template", json::object());
  const json kept = KeptMetadata(pod_template.value("metadata", json::object()));
  for (auto it = kept.begin(); it != kept.end(); ++it) metadata[it.key()] = it.value();
  return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(metadata)}, {"spec", *pod_spec}};
}

}  // namespace execgov::authority
