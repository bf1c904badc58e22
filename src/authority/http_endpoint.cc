#include "authority/http_endpoint.h"

#include <chrono>

#include "api/execution_scope.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"

namespace execgov::authority {
namespace {

using json = nlohmann::json;

webhook::HttpResponse Answer(int status, json body) {
  webhook::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

webhook::HttpResponse Error(int status, const std::string& message, const std::string& rule = "") {
  json body = {{"message", message}};
  if (!rule.empty()) body["rule"] = rule;
  webhook::HttpResponse r = Answer(status, std::move(body));
  if (status == 401) r.headers.push_back({"WWW-Authenticate", "Bearer"});
  return r;
}

// As `execgov sign` writes it: on the object, and on a Job's Pod template
// (the Pods the Job controller makes carry it).
void Annotate(json* manifest, api::GovernedKind kind, const std::string& artifact) {
  (*manifest)["metadata"]["annotations"][std::string(api::kArtifactAnnotation)] = artifact;
  if (kind == api::GovernedKind::kJob && (*manifest)["spec"].is_object() && (*manifest)["spec"]["template"].is_object()) {
    (*manifest)["spec"]["template"]["metadata"]["annotations"][std::string(api::kArtifactAnnotation)] = artifact;
  }
}

}  // namespace

StatusOr<Caller> ReviewToken(kube::Client* client, const std::string& token) {
  const json review = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenReview"}, {"spec", {{"token", token}}}};
  auto answered = client->Create("/apis/authentication.k8s.io/v1/tokenreviews", review);
  if (!answered.ok()) return Unavailable("the API server did not review the token: " + answered.status().message());
  const json status = answered->value("status", json::object());
  if (!status.is_object() || !status.value("authenticated", false)) {
    return PermissionDenied("the API server did not authenticate the token");
  }
  const json user = status.value("user", json::object());
  Caller caller;
  if (user.is_object()) {
    caller.username = user.value("username", "");
    if (auto g = user.find("groups"); g != user.end() && g->is_array()) {
      for (const auto& group : *g) {
        if (group.is_string()) caller.groups.push_back(group.get<std::string>());
      }
    }
  }
  if (caller.username.empty()) return PermissionDenied("the token's review names no user");
  return caller;
}

AuthorizeEndpoint::AuthorizeEndpoint(AuthorizeEndpointDeps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = &SystemClock::Get();
}

webhook::HttpResponse AuthorizeEndpoint::Handle(const webhook::HttpRequest& request) const {
  CallError error;
  auto call = ParseAuthorizeCall(request.method, request.target, request.content_type, request.authorization,
                                 request.body, &error);
  if (!call) {
    webhook::HttpResponse r = Error(error.status, error.message);
    if (error.status == 405) r.headers.push_back({"Allow", "POST"});
    return r;
  }
  if (deps_.ready && !deps_.ready()) return Error(503, "the authority is starting: its caches are not synced yet");
  auto caller = ReviewToken(deps_.client, call->token);
  if (!caller.ok()) {
    if (caller.status().code() == StatusCode::kPermissionDenied) return Error(401, caller.status().message());
    log::Warn("authority: cannot review a token", {{"error", caller.status().message()}});
    return Error(503, "cannot check the token now; try again");
  }
  return Decide(*call, *caller);
}

webhook::HttpResponse AuthorizeEndpoint::Decide(const AuthorizeCall& call, const Caller& caller) const {
  const int64_t now = deps_.clock->NowUnix();
  const std::string kind = api::GovernedKindName(call.kind);
  AuthorityRequest facts;
  facts.ns = call.ns;
  facts.kind = kind;
  facts.initiator = caller.username;
  facts.images = call.images;
  const auto policies = deps_.controller->Policies();
  const std::optional<RuleMatch> match = MatchRule(policies, facts, now);
  const std::string what = kind + " " + call.ns + "/" + call.name;
  if (!match) {
    return Error(403, "no AuthorityPolicy rule applies to " + what + " for " + caller.username +
                          " (a rule covers Pods and Jobs only when its match.kinds names them)");
  }
  const AuthorityRule& rule = *match->rule;
  const std::string rule_name = match->Name();
  const json requester = {{"username", caller.username}, {"groups", caller.groups}};
  // A refusal by a rule is recorded, as the controller's are.
  auto refuse = [&](const std::string& message) {
    const std::string id = "https:" + crypto::Base64UrlEncode(crypto::RandomBytes(12));
    json record = {{"type", "denial"},
                   {"reason", "Denied"},
                   {"authority", deps_.identity},
                   {"via", "https"},
                   {"initiator", caller.username},
                   {"requester", requester},
                   {"object", {{"kind", kind}, {"namespace", call.ns}, {"name", call.name}, {"uid", id}}},
                   {"digest", call.digest},
                   {"rule", rule_name},
                   {"message", message}};
    auto appended = deps_.ledger->Append(record);
    if (!appended.ok()) {
      log::Warn("authority: cannot record a refusal", {{"error", appended.status().message()}});
      return Error(503, "cannot record the decision in the ledger; try again");
    }
    log::Info("authority: refused over https",
              {{"kind", kind}, {"namespace", call.ns}, {"name", call.name}, {"rule", rule_name}, {"user", caller.username}});
    return Error(403, message, rule_name);
  };
  if (rule.action == Action::kAutoDeny) return refuse("denied by AuthorityPolicy rule " + rule_name);
  if (rule.action == Action::kRequireApprovals) {
    return Error(409,
                 "AuthorityPolicy rule " + rule_name + " needs " + std::to_string(rule.approvals) +
                     " human approvals, which this endpoint cannot wait for yet; create an ExecutionRequest in the "
                     "cluster for " + what + " instead",
                 rule_name);
  }
  if (rule.rate_count > 0 &&
      deps_.index->CountGrants(rule_name, caller.username, now - rule.rate_per_seconds) >= rule.rate_count) {
    return refuse("initiator " + caller.username + " reached the rate limit of AuthorityPolicy rule " + rule_name + " (" +
                  std::to_string(rule.rate_count) + " grants per " + std::to_string(rule.rate_per_seconds) + "s)");
  }
  int64_t ttl = rule.ttl_seconds;
  if (auto bound = deps_.controller->MaxTTLFor(call.ns); bound && *bound < ttl) ttl = *bound;
  GrantIndex::Grant grant;
  grant.rule = rule_name;
  grant.initiator = caller.username;
  grant.iat = now;
  grant.exp = now + ttl;
  const std::string jti = crypto::Base64UrlEncode(crypto::RandomBytes(16));
  grant.claims = {{"iss", deps_.signer->issuer},
                  {"sub", caller.username},
                  {"aud", deps_.signer->audience},
                  {"iat", now},
                  {"nbf", now},
                  {"exp", now + ttl},
                  {"jti", jti},
                  {"scope",
                   {{"projection", api::kExecutionScopeProjection},
                    {"namespace", call.ns},
                    {"kind", kind},
                    {"name", call.name},
                    {"digest", call.digest}}}};
  // Recorded before it is signed, as every grant is. The object has no uid
  // (nothing exists in the cluster yet): "https:<jti>" names the grant.
  const std::string uid = "https:" + jti;
  json record = {{"type", "grant"},
                 {"authority", deps_.identity},
                 {"via", "https"},
                 {"kid", deps_.signer->kid},
                 {"rule", {{"policy", match->policy->name}, {"name", rule.name}, {"generation", match->policy->generation}}},
                 {"jti", jti},
                 {"initiator", caller.username},
                 {"requester", requester},
                 {"object", {{"kind", kind}, {"namespace", call.ns}, {"name", call.name}, {"uid", uid}}},
                 {"digest", call.digest},
                 {"claims", grant.claims}};
  auto appended = deps_.ledger->Append(record);
  if (!appended.ok()) {
    log::Warn("authority: cannot record a grant", {{"error", appended.status().message()}});
    return Error(503, "cannot record the grant in the ledger; nothing was signed; try again");
  }
  deps_.index->NoteGrant(uid, grant);
  auto token = crypto::SignJws(grant.claims, deps_.signer->kid, deps_.signer->key);
  if (!token.ok()) {
    log::Error("authority: cannot sign a recorded grant", {{"jti", jti}, {"error", token.status().message()}});
    return Error(503, "cannot sign the grant now; try again");
  }
  log::Info("authority: granted over https", {{"kind", kind},
                                              {"namespace", call.ns},
                                              {"name", call.name},
                                              {"rule", rule_name},
                                              {"user", caller.username},
                                              {"jti", jti},
                                              {"ledgerSeq", appended->seq}});
  json manifest = call.manifest;
  Annotate(&manifest, call.kind, *token);
  return Answer(201, {{"artifact", *token},
                      {"manifest", std::move(manifest)},
                      {"jti", jti},
                      {"rule", rule_name},
                      {"expiresAt", FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(now + ttl)))},
                      {"ledgerSeq", appended->seq}});
}

StatusOr<std::unique_ptr<AuthorizeServer>> AuthorizeServer::Start(const std::string& listen, const std::string& cert_file,
                                                                 const std::string& key_file, AuthorizeEndpointDeps deps) {
  std::unique_ptr<AuthorizeServer> s(new AuthorizeServer());
  tls::TlsOptions options;
  options.cert_file = cert_file;
  options.key_file = key_file;
  EXECGOV_ASSIGN_OR_RETURN(s->credentials_, tls::CredentialStore::Open(options));
  s->endpoint_ = std::make_unique<AuthorizeEndpoint>(std::move(deps));
  const AuthorizeEndpoint* endpoint = s->endpoint_.get();
  EXECGOV_ASSIGN_OR_RETURN(
      s->server_, webhook::HttpServer::Start(
                      listen, s->credentials_.get(),
                      [endpoint](const webhook::HttpRequest& r) { return endpoint->Handle(r); }, /*io_threads=*/2,
                      webhook::kMaxBodyBytes, webhook::kOpsMaxConnections));
  return s;
}

// The server first: no request may run while the endpoint goes away.
AuthorizeServer::~AuthorizeServer() { server_.reset(); }

}  // namespace execgov::authority
