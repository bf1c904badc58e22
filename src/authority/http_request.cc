#include "authority/http_request.h"

#include <algorithm>
#include <cctype>

#include "api/execution_scope.h"
#include "crypto/json.h"

namespace execgov::authority {
namespace {

template <typename T = AuthorizeCall>
std::optional<T> Refuse(CallError* error, int status, std::string message) {
  error->status = status;
  error->message = std::move(message);
  return std::nullopt;
}

bool IsJson(std::string_view content_type) {
  std::string ct(content_type.substr(0, 64));
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return std::tolower(c); });
  return ct.rfind("application/json", 0) == 0 && (ct.size() == 16 || ct[16] == ';' || ct[16] == ' ');
}

// RFC 6750 §2.1: "Bearer" 1*SP b64token, b64token = 1*( ALPHA / DIGIT /
// "-" / "." / "_" / "~" / "+" / "/" ) *"=". A JWT is one.
std::optional<std::string> BearerToken(std::string_view field) {
  constexpr std::string_view kScheme = "bearer ";
  if (field.size() <= kScheme.size() || field.size() > kScheme.size() + kMaxBearerTokenBytes) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(field[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = field.substr(kScheme.size());
  size_t i = 0;
  while (i < token.size() && (std::isalnum(static_cast<unsigned char>(token[i])) ||
                              std::string_view("-._~+/").find(token[i]) != std::string_view::npos)) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  while (i < token.size() && token[i] == '=') ++i;
  if (i != token.size()) return std::nullopt;
  return std::string(token);
}

}  // namespace

bool IsPollTarget(std::string_view target) {
  return target.substr(0, target.find('?')).substr(0, kPollPrefix.size()) == kPollPrefix;
}

std::optional<PollCall> ParsePollCall(std::string_view method, std::string_view target, std::string_view authorization,
                                      CallError* error) {
  std::string_view path = target.substr(0, target.find('?'));
  if (!IsPollTarget(path)) return Refuse<PollCall>(error, 404, "no such path");
  path.remove_prefix(kPollPrefix.size());
  const size_t slash = path.find('/');
  const std::string_view ns = path.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  if (ns.empty() || ns.size() > 63 || !api::IsDns1123Subdomain(ns) || name.empty() || !api::IsDns1123Subdomain(name)) {
    return Refuse<PollCall>(error, 404, "poll " + std::string(kPollPrefix) + "<namespace>/<name>, as the 202 said");
  }
  if (method != "GET") return Refuse<PollCall>(error, 405, "use GET");
  auto token = BearerToken(authorization);
  if (!token) return Refuse<PollCall>(error, 401, "send a Kubernetes bearer token: Authorization: Bearer <token>");
  return PollCall{std::move(*token), std::string(ns), std::string(name)};
}

std::optional<AuthorizeCall> ParseAuthorizeCall(std::string_view method, std::string_view target,
                                                std::string_view content_type, std::string_view authorization,
                                                std::string_view body, CallError* error) {
  if (target.substr(0, target.find('?')) != kAuthorizePath) {
    return Refuse(error, 404, "no such path; the authorization endpoint is POST " + std::string(kAuthorizePath));
  }
  if (method != "POST") return Refuse(error, 405, "use POST");
  // Who asks comes first: nothing of an unauthenticated body is parsed.
  auto token = BearerToken(authorization);
  if (!token) return Refuse(error, 401, "send a Kubernetes bearer token: Authorization: Bearer <token>");
  if (!IsJson(content_type)) return Refuse(error, 415, "Content-Type must be application/json");
  auto parsed = crypto::ParseJsonStrict(body);
  if (!parsed.ok()) return Refuse(error, 400, "the body is not a JSON manifest: " + parsed.status().message());
  const nlohmann::json& manifest = *parsed;
  if (!manifest.is_object()) return Refuse(error, 400, "the body must be a Pod or Job manifest (a JSON object)");
  const std::string kind = api::KindOf(manifest), api_version = api::StringAt(manifest, {"apiVersion"});
  AuthorizeCall call;
  if (kind == "Pod" && api_version == "v1") {
    call.kind = api::GovernedKind::kPod;
  } else if (kind == "Job" && api_version == "batch/v1") {
    call.kind = api::GovernedKind::kJob;
  } else if (kind == "ExecutionRequest") {
    return Refuse(error, 400, "an ExecutionRequest is authorized in the cluster: create it there, without an artifact");
  } else {
    return Refuse(error, 400, "only a Pod (apiVersion v1) or a Job (apiVersion batch/v1) is authorized here");
  }
  call.ns = api::NamespaceOf(manifest);
  call.name = api::NameOf(manifest);
  if (call.ns.empty() || call.ns.size() > 63 || !api::IsDns1123Subdomain(call.ns)) {
    return Refuse(error, 400, "metadata.namespace must be set to a valid namespace: the artifact binds it");
  }
  if (call.name.empty() || !api::IsDns1123Subdomain(call.name)) {
    return Refuse(error, 400, "metadata.name must be set (generateName is not enough): the artifact binds it");
  }
  if (api::ArtifactOf(manifest)) {
    return Refuse(error, 400, "the manifest already carries an execgov.io/authorization annotation; send it without one");
  }
  auto digest = api::ExecutionScopeDigest(call.kind, manifest);
  if (!digest.ok()) return Refuse(error, 400, "cannot compute the manifest's execution scope: " + digest.status().message());
  call.digest = *digest;
  if (const nlohmann::json* spec = api::PodSpecOf(call.kind, manifest)) call.images = api::ImagesOf(*spec);
  call.token = std::move(*token);
  call.manifest = std::move(*parsed);
  return call;
}

}  // namespace execgov::authority
