// Read-only accessors for the Kubernetes objects execgov governs, over their
// JSON form. Missing fields read as empty; nothing here throws.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/json.h"

namespace execgov::api {

using Json = nlohmann::json;

inline constexpr std::string_view kGroup = "execgov.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "execgov.io/v1alpha1";
inline constexpr std::string_view kArtifactAnnotation = "execgov.io/authorization";
inline constexpr std::string_view kGovernedLabel = "execgov.io/governed";
inline constexpr std::string_view kInstallNamespace = "execgov-system";

// Whether execgov leaves `ns` alone whatever its labels: kube-system,
// execgov-system and the namespace execgov itself runs in, the namespaces the
// chart's webhook namespaceSelector leaves out, so that execgov can never
// lock out the control plane or itself.
bool IsNeverGovernedNamespace(std::string_view ns, std::string_view install_namespace = kInstallNamespace);

// The kinds whose pod specs execgov governs.
enum class GovernedKind { kPod, kJob, kExecutionRequest };
std::optional<GovernedKind> ParseGovernedKind(std::string_view kind);
const char* GovernedKindName(GovernedKind kind);

// Returns the string at a JSON pointer-like path of member names, or "".
std::string StringAt(const Json& obj, std::initializer_list<const char*> path);
// metadata.labels with string values (others are skipped); empty when absent.
std::map<std::string, std::string> LabelsOf(const Json& obj);

// Whether `name` is a DNS-1123 subdomain, the rule the API server holds
// metadata.name of most kinds to (ExecutionPolicy's among them): at most 253
// characters, dot-separated labels of lowercase letters, digits and '-',
// each starting and ending with a letter or digit.
bool IsDns1123Subdomain(std::string_view name);

std::string KindOf(const Json& obj);
std::string NameOf(const Json& obj);
std::string NamespaceOf(const Json& obj);
std::string UidOf(const Json& obj);
// The value of the execgov.io/authorization annotation, if any.
std::optional<std::string> ArtifactOf(const Json& obj);

struct OwnerReference {
  std::string api_version, kind, name, uid;
};
// The ownerReference with controller: true, if any.
std::optional<OwnerReference> ControllerOf(const Json& obj);

// The pod spec that will run: Pod spec, Job spec.template.spec, or
// ExecutionRequest spec.template.spec.template.spec. Null if absent.
const Json* PodSpecOf(GovernedKind kind, const Json& obj);

}  // namespace execgov::api
