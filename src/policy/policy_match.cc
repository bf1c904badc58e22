#include "policy/policy_match.h"

namespace execgov::policy {

bool PolicyCovers(const CompiledPolicy& p, const std::string& kind, const std::string& ns,
                  const std::optional<std::map<std::string, std::string>>& labels) {
  if (!kind.empty() && !p.kinds.count(kind)) return false;
  if (!p.namespaces.empty() && !p.namespaces.count(ns)) return false;
  if (p.excluded_namespaces.count(ns)) return false;
  return !p.namespace_selector || !labels || p.namespace_selector->Matches(*labels);
}

}  // namespace execgov::policy
