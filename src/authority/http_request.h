// The request of execgov authority's HTTPS endpoint (http_endpoint.h), parsed
// and bounded before anything else is done with it: pure, no I/O, so that the
// fuzzer (tests/fuzz/authority_request_fuzz.cc) reaches all of it.
//
//   POST /v1/authorize
//   Authorization: Bearer <a Kubernetes token>
//   Content-Type: application/json
//   <a Pod (v1) or Job (batch/v1) manifest, metadata.namespace and
//    metadata.name set>
//
// The body's size is bounded by the HTTP server (webhook::kMaxBodyBytes, as
// the webhook's); its JSON by crypto::ParseJsonStrict (kMaxJsonDepth, no NUL,
// no duplicate keys), as the webhook's AdmissionReviews are.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/object.h"

namespace execgov::authority {

inline constexpr std::string_view kAuthorizePath = "/v1/authorize";
// GET kPollPrefix + "<namespace>/<name>": a relayed request (relay.h) its
// caller polls while approvals are pending.
inline constexpr std::string_view kPollPrefix = "/v1/authorize/requests/";
// A bound on the bearer token (a projected ServiceAccount token is ~1 KiB).
inline constexpr size_t kMaxBearerTokenBytes = 8192;

struct AuthorizeCall {
  std::string token;  // the bearer token, to be checked by TokenReview
  api::GovernedKind kind = api::GovernedKind::kJob;
  nlohmann::json manifest;  // the object as sent
  std::string ns, name;
  std::string digest;  // its execution scope digest (api/execution_scope.h)
  std::vector<std::string> images;
};

// Why a request is refused before any work: the HTTP status and a message
// safe to show the caller (it never repeats the token).
struct CallError {
  int status = 400;
  std::string message;
};

// Parses the request; on failure `error` says how to answer. The target may
// carry a query, which is ignored.
std::optional<AuthorizeCall> ParseAuthorizeCall(std::string_view method, std::string_view target,
                                                std::string_view content_type, std::string_view authorization,
                                                std::string_view body, CallError* error);

// A poll of a relayed request: GET /v1/authorize/requests/<namespace>/<name>
// with the bearer token of the caller who POSTed it.
struct PollCall {
  std::string token;
  std::string ns, name;  // the ExecutionRequest
};

// Whether `target` (its query ignored) is under kPollPrefix.
bool IsPollTarget(std::string_view target);

// Parses a poll; on failure `error` says how to answer (405 for another
// method, 404 for a path that names no request, 401 without a token).
std::optional<PollCall> ParsePollCall(std::string_view method, std::string_view target, std::string_view authorization,
                                      CallError* error);

}  // namespace execgov::authority
