// Kubernetes manifests as users write them: YAML or JSON, several documents
// per file, "kind: List" expanded. YAML scalars resolve the way kubectl's
// decoder (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1 rules) resolves them, so
// that the JSON we hash is the JSON kubectl sends to the API server.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/json.h"

namespace execgov::api {

using Json = nlohmann::json;

// Parses every document in `text`. `source` names the input in errors
// ("job.yaml: document 2: ..."). Empty documents are skipped.
StatusOr<std::vector<Json>> ParseManifests(std::string_view text, const std::string& source);

// Writes documents back as YAML separated by "---", quoting every string that
// a YAML 1.1 reader would otherwise take for a number, bool or null.
std::string EmitYaml(const std::vector<Json>& docs);

// True when the text looks like JSON (first non-space byte is '{' or '[').
bool LooksLikeJson(std::string_view text);

}  // namespace execgov::api
