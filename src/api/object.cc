#include "api/object.h"

namespace execgov::api {

std::optional<GovernedKind> ParseGovernedKind(std::string_view kind) {
  if (kind == "Pod") return GovernedKind::kPod;
  if (kind == "Job") return GovernedKind::kJob;
  if (kind == "ExecutionRequest") return GovernedKind::kExecutionRequest;
  return std::nullopt;
}

const char* GovernedKindName(GovernedKind kind) {
  switch (kind) {
    case GovernedKind::kPod: return "Pod";
    case GovernedKind::kJob: return "Job";
    case GovernedKind::kExecutionRequest: return "ExecutionRequest";
  }
  return "";
}

std::string StringAt(const Json& obj, std::initializer_list<const char*> path) {
  const Json* cur = &obj;
  for (const char* key : path) {
    if (!cur->is_object()) return "";
    auto it = cur->find(key);
    if (it == cur->end()) return "";
    cur = &*it;
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

bool IsNeverGovernedNamespace(std::string_view ns, std::string_view install_namespace) {
  return ns == "kube-system" || ns == kInstallNamespace || ns == install_namespace;
}

bool IsDns1123Subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  size_t label_start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      if (!alnum(name[i]) && name[i] != '-') return false;
      continue;
    }
    // The end of a label: it must be non-empty and begin and end alphanumeric.
    if (i == label_start || !alnum(name[label_start]) || !alnum(name[i - 1])) return false;
    label_start = i + 1;
  }
  return true;
}

std::string KindOf(const Json& obj) { return StringAt(obj, {"kind"}); }
std::string NameOf(const Json& obj) { return StringAt(obj, {"metadata", "name"}); }
std::string NamespaceOf(const Json& obj) { return StringAt(obj, {"metadata", "namespace"}); }
std::string UidOf(const Json& obj) { return StringAt(obj, {"metadata", "uid"}); }

std::optional<std::string> ArtifactOf(const Json& obj) {
  if (!obj.is_object()) return std::nullopt;
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return std::nullopt;
  auto ann = md->find("annotations");
  if (ann == md->end() || !ann->is_object()) return std::nullopt;
  auto it = ann->find(std::string(kArtifactAnnotation));
  if (it == ann->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<OwnerReference> ControllerOf(const Json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return std::nullopt;
  const Json& md = obj["metadata"];
  auto refs = md.find("ownerReferences");
  if (refs == md.end() || !refs->is_array()) return std::nullopt;
  for (const auto& r : *refs) {
    if (r.is_object() && r.value("controller", false) == true) {
      return OwnerReference{StringAt(r, {"apiVersion"}), StringAt(r, {"kind"}), StringAt(r, {"name"}),
                            StringAt(r, {"uid"})};
    }
  }
  return std::nullopt;
}

const Json* PodSpecOf(GovernedKind kind, const Json& obj) {
  auto walk = [&](std::initializer_list<const char*> path) -> const Json* {
    const Json* cur = &obj;
    for (const char* key : path) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
    return cur->is_object() ? cur : nullptr;
  };
  switch (kind) {
    case GovernedKind::kPod: return walk({"spec"});
    case GovernedKind::kJob: return walk({"spec", "template", "spec"});
    case GovernedKind::kExecutionRequest: return walk({"spec", "template", "spec", "template", "spec"});
  }
  return nullptr;
}

std::map<std::string, std::string> LabelsOf(const Json& obj) {
  std::map<std::string, std::string> out;
  if (!obj.is_object()) return out;
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return out;
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return out;
  for (const auto& [k, v] : labels->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace execgov::api
