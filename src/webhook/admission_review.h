// AdmissionReview admission.k8s.io/v1, as the API server sends and expects it.
// Decoding is strict about what the decision needs (uid, kind, operation,
// object) and tolerant of everything else, so a newer API server's extra
// fields never break admission.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "crypto/json.h"
#include "policy/decision.h"

namespace execgov::webhook {

using Json = nlohmann::json;

struct AdmissionRequest {
  std::string uid;
  std::string group, version, kind;  // request.kind
  std::string sub_resource;
  std::string ns, name;
  policy::Operation operation = policy::Operation::kCreate;
  std::string user;
  std::vector<std::string> groups;
  bool dry_run = false;
  Json object;      // null when absent
  Json old_object;  // null when absent
};

// InvalidArgument, with a message fit for an HTTP 400 body, when the text is
// not JSON, not an AdmissionReview v1, or lacks request.uid.
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
