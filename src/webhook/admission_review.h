// AdmissionReview admission.k8s.io/v1, as the API server sends and expects it.
// Decoding is strict about what the decision needs (uid, resource, kind,
// operation, object) and tolerant of everything else, so a newer API
// server's extra fields never break admission.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/json.h"
#include "policy/decision.h"

namespace execgov::webhook {

using Json = nlohmann::json;

struct GroupVersionKind {
  std::string group, version, kind;
  bool operator==(const GroupVersionKind&) const = default;
};

struct GroupVersionResource {
  std::string group, version, resource;
  bool operator==(const GroupVersionResource&) const = default;
};

struct AdmissionRequest {
  std::string uid;
  // request.resource: what the request is for, and so the governed kind
  // (AdmissionHandler). Required.
  GroupVersionResource resource;
  std::string sub_resource;  // request.subResource: "" or e.g. "ephemeralcontainers"
  GroupVersionKind kind;     // request.kind: the object's kind. Required.
  // request.requestKind: the kind of the original request, when the API
  // server sent it (it does since 1.15; the version may differ from kind's
  // when it converted the object for the webhook).
  std::optional<GroupVersionKind> request_kind;
  std::string ns, name;
  policy::Operation operation = policy::Operation::kCreate;
  std::string user;
  std::vector<std::string> groups;
  bool dry_run = false;
  Json object;      // null when absent
  // Null when absent. Its status is at most {phase} (a string): the rest of
  // the status, and both objects' managedFields, are left out when decoding.
  Json old_object;
};

// InvalidArgument, with a message fit for an HTTP 400 body naming what is
// wrong, when the text is not JSON, not an AdmissionReview v1, or lacks
// request.uid, request.resource ({group, version, resource}, version and
// resource non-empty), request.kind or a valid request.operation.
StatusOr<AdmissionRequest> DecodeAdmissionReview(std::string_view body);

struct AdmissionResponse {
  std::string uid;
  bool allowed = false;
  int code = 200;           // 403 for a denial
  std::string message;      // status.message
  std::vector<std::string> warnings;
  std::map<std::string, std::string> audit_annotations;
};

std::string EncodeAdmissionReview(const AdmissionResponse& response);

}  // namespace execgov::webhook
