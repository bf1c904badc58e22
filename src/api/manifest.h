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

// The deepest nesting of mappings and sequences (or JSON objects and arrays)
// a manifest may have; the document's own mapping is level 1. A pod spec is
// about a dozen levels deep. Deeper input is refused before anything recurses
// in proportion to its depth, so a hostile manifest cannot exhaust the stack.
inline constexpr int kMaxManifestDepth = 128;

// Parses every document in `text`. `source` names the input in errors
// ("job.yaml: document 2: ..."). Empty documents are skipped.
//
// Plain (unquoted) YAML scalars resolve as kubectl resolves them: the YAML 1.1
// booleans (y, yes, on, true, n, no, off, false in three cases), null (~, null,
// empty), integers in Go syntax (0644 and 0o644 octal, 0x1F, 0b101, signs,
// underscores), floats (1e3, .5, 1.); everything else, including dates and
// 12:30, is a string. A float with an integral value below 2^63 becomes an
// integer, as it does in the JSON kubectl sends. A plain mapping key that
// resolves to a boolean or integer is spelled as kubectl spells it ("true",
// "420"); a key that resolves to null or a float, a merge key (<<), .inf/.nan,
// a duplicate key, text that is not UTF-8 or holds a character YAML forbids,
// or nesting deeper than kMaxManifestDepth is an error, as are aliases that
// expand to far more values than the text holds.
StatusOr<std::vector<Json>> ParseManifests(std::string_view text, const std::string& source);

// Writes documents back as YAML separated by "---", in block style, ASCII
// only. A string is written unquoted only when it matches a conservative safe
// pattern (a letter or '/' first, optionally after "-" or "--"; then letters,
// digits and "_./=-"; not a YAML 1.1 boolean or null word in any case), so no
// YAML 1.1 or 1.2 reader (PyYAML, go-yaml, yaml-cpp, kubectl) can take it for
// anything but that string; every other string, mapping keys included, is
// double-quoted with escapes. Numbers, booleans and nulls are written so that
// those readers resolve them to the same type and value (a float always has a
// '.' and a signed exponent, as YAML 1.1 requires).
// Strings must be valid UTF-8 (ParseManifests guarantees it); documents must
// not be nested deeper than kMaxManifestDepth.
std::string EmitYaml(const std::vector<Json>& docs);

// True when the text looks like JSON (first non-space byte is '{' or '[').
bool LooksLikeJson(std::string_view text);

}  // namespace execgov::api
