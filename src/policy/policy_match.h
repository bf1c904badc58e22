// Whether a compiled policy covers an object, outside the decision: the
// runtime verifier (which policy's spec.runtime applies) and the webhook's
// guards (who may unlabel a namespace, who may break glass) ask it. The same
// rule as the decision's own matching (decision.cc).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "policy/policy.h"

namespace execgov::policy {

// `kind` empty: any kind (a Namespace guard asks about the namespace only).
// Without `labels` a namespaceSelector is ignored, as in file mode.
bool PolicyCovers(const CompiledPolicy& p, const std::string& kind, const std::string& ns,
                  const std::optional<std::map<std::string, std::string>>& labels);

}  // namespace execgov::policy
