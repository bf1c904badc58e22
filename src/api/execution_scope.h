// The execution-scope digest of docs/design.md §3.2: sha256 over the RFC 8785 form of a
// projection of the pod spec that will run, identical for an
// ExecutionRequest, the Job made from it and the Pods made from that Job, and
// for a manifest and the object the API server stores after defaulting it.
#pragma once

#include <string>
#include <vector>

#include "api/object.h"
#include "core/status.h"

namespace execgov::api {

// The version of the projection below. An artifact names the version its
// scope.digest was made with (scope.projection), so a change of projection
// can never make an old artifact mean something new: it is refused instead.
inline constexpr int kExecutionScopeProjection = 2;

// The projection itself, for `execgov digest --explain` and for tests. `kind`
// is the kind whose pod spec this is: what admission plugins inject differs
// by kind (only a Pod gets the service account token volume).
StatusOr<Json> ProjectExecutionScope(GovernedKind kind, const Json& pod_spec);

// "sha256:<hex>" of the projected pod spec of `object`, read as a `kind`: the
// webhook passes the kind of the request, never the object's own claim.
// Fails for objects with no pod spec.
StatusOr<std::string> ExecutionScopeDigest(GovernedKind kind, const Json& object);

// The same, with the kind read from the object's own `kind` (manifests on
// the command line). Fails for kinds execgov does not govern.
StatusOr<std::string> ExecutionScopeDigest(const Json& object);

// Every image reference in the pod spec (init, regular, ephemeral containers).
std::vector<std::string> ImagesOf(const Json& pod_spec);

}  // namespace execgov::api
