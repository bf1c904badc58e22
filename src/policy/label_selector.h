// Kubernetes label selectors (metav1.LabelSelector): matchLabels and
// matchExpressions with In, NotIn, Exists and DoesNotExist. An empty
// selector matches everything, as in Kubernetes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/json.h"

namespace execgov::policy {

class LabelSelector {
 public:
  static StatusOr<LabelSelector> FromJson(const nlohmann::json& selector, const std::string& field);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return requirements_.empty(); }

 private:
  struct Requirement {
    std::string key;
    enum class Op { kIn, kNotIn, kExists, kDoesNotExist } op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace execgov::policy
