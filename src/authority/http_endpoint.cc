#include "authority/http_endpoint.h"

#include <chrono>

#include "api/execution_scope.h"
#include "authority/relay.h"
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

StatusOr<Caller> ReviewToken(kube::Client* client, const std::string& token, const std::vector<std::string>& audiences) {
  json review = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenReview"}, {"spec", {{"token", token}}}};
  if (!audiences.empty()) review["spec"]["audiences"] = audiences;
  auto answered = client->Create("/apis/authentication.k8s.io/v1/tokenreviews", review);
  if (!answered.ok()) return Unavailable("the API server did not review the token: " + answered.status().message());
  const json status = answered->value("status", json::object());
  if (!status.is_object() || !status.value("authenticated", false)) {
    return PermissionDenied("the API server did not authenticate the token");
  }
  // An audience-aware API server names in status.audiences the requested
  // audiences the token is for; one that names none (or is not audience
  // aware) did not check the token was meant for this authority.
  if (!audiences.empty()) {
    const json granted = status.value("audiences", json::array());
    bool meant = false;
    if (granted.is_array()) {
      for (const auto& a : granted) {
        meant = meant || (a.is_string() && std::find(audiences.begin(), audiences.end(), a.get<std::string>()) !=
                                               audiences.end());
      }
    }
    if (!meant) return PermissionDenied("the token is not for this authority's audiences");
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
  // Who asks, once the request parsed: the caller, or how to answer.
  auto authenticate = [&](const std::string& token, webhook::HttpResponse* refused) -> std::optional<Caller> {
    if (deps_.ready && !deps_.ready()) {
      *refused = Error(503, "the authority is starting: its caches are not synced yet");
      return std::nullopt;
    }
    auto caller = ReviewToken(deps_.client, token, deps_.audiences);
    if (caller.ok()) return std::move(caller).value();
    if (caller.status().code() == StatusCode::kPermissionDenied) {
      *refused = Error(401, caller.status().message());
    } else {
      log::Warn("authority: cannot review a token", {{"error", caller.status().message()}});
      *refused = Error(503, "cannot check the token now; try again");
    }
    return std::nullopt;
  };
  // A request the parser refused; `allow` is the method the path takes.
  auto malformed = [&](const char* allow) {
    webhook::HttpResponse r = Error(error.status, error.message);
    if (error.status == 405) r.headers.push_back({"Allow", allow});
    return r;
  };
  webhook::HttpResponse refused;
  if (IsPollTarget(request.target)) {
    auto poll = ParsePollCall(request.method, request.target, request.authorization, &error);
    if (!poll) return malformed("GET");
    auto caller = authenticate(poll->token, &refused);
    return caller ? Poll(*poll, *caller) : refused;
  }
  auto call = ParseAuthorizeCall(request.method, request.target, request.content_type, request.authorization,
                                 request.body, &error);
  if (!call) return malformed("POST");
  auto caller = authenticate(call->token, &refused);
  return caller ? Decide(*call, *caller) : refused;
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
  if (rule.action == Action::kRequireApprovals) return Relay(call, caller, rule_name, rule);
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

webhook::HttpResponse AuthorizeEndpoint::Relay(const AuthorizeCall& call, const Caller& caller,
                                              const std::string& rule_name, const AuthorityRule& rule) const {
  const std::string what = std::string(api::GovernedKindName(call.kind)) + " " + call.ns + "/" + call.name;
  if (!deps_.controller->Watches(call.ns)) {
    return Error(403, "AuthorityPolicy rule " + rule_name + " needs approvals, but this authority does not handle namespace " +
                          call.ns + ", so nothing could grant " + what,
                 rule_name);
  }
  if (deps_.controller->PendingRelays(caller.username) >= kMaxPendingRelays) {
    return Error(403, caller.username + " already has " + std::to_string(kMaxPendingRelays) +
                          " requests waiting for approvals; poll them, or wait until they are decided",
                 rule_name);
  }
  auto relayed = NewRelayedRequest(call.kind, call.manifest, caller.username);
  if (!relayed.ok()) return Error(400, relayed.status().message());
  auto created = deps_.client->Create(kube::ResourcePath(std::string(api::kApiVersion), "executionrequests", call.ns),
                                      *relayed);
  if (!created.ok()) {
    const StatusCode code = created.status().code();
    if (code == StatusCode::kPermissionDenied || code == StatusCode::kInvalidArgument) {
      // The webhook (its ExecutionPolicy must allow pending requests and name
      // the authority in relayUsers) or the schema refused it.
      return Error(403, "AuthorityPolicy rule " + rule_name + " needs approvals, and the cluster refused to hold " + what +
                            " for them: " + created.status().message(),
                   rule_name);
    }
    log::Warn("authority: cannot create a relayed request", {{"error", created.status().message()}});
    return Error(503, "cannot create the request the approvers would approve; try again");
  }
  const std::string name = api::NameOf(*created), uid = api::UidOf(*created);
  const std::string location = std::string(kPollPrefix) + call.ns + "/" + name;
  log::Info("authority: relayed over https for approvals", {{"kind", api::GovernedKindName(call.kind)},
                                                           {"namespace", call.ns},
                                                           {"name", call.name},
                                                           {"request", name},
                                                           {"uid", uid},
                                                           {"rule", rule_name},
                                                           {"user", caller.username}});
  webhook::HttpResponse r = Answer(
      202, {{"request", {{"namespace", call.ns}, {"name", name}, {"uid", uid}}},
            {"location", location},
            {"rule", rule_name},
            {"waitingFor", WaitingForApprovals(rule, 0)},
            {"message", "AuthorityPolicy rule " + rule_name + " needs approvals: approvers approve ExecutionRequest " +
                            call.ns + "/" + name + " (execgov approve " + call.ns + "/" + name + "); poll GET " +
                            location + " with the same token"}});
  r.headers.push_back({"Location", location});
  r.headers.push_back({"Retry-After", "5"});
  return r;
}

webhook::HttpResponse AuthorizeEndpoint::Poll(const PollCall& call, const Caller& caller) const {
  const std::string what = call.ns + "/" + call.name;
  // Another caller's request, or one that is not relayed, is answered as
  // one that does not exist: a poll tells nothing of others' requests.
  const std::string none = "no relayed request " + what + " of " + caller.username;
  auto got = deps_.client->Get(kube::ResourcePath(std::string(api::kApiVersion), "executionrequests", call.ns, call.name));
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) return Error(404, none);
    log::Warn("authority: cannot read a polled request", {{"error", got.status().message()}});
    return Error(503, "cannot read the request now; try again");
  }
  const json& request = *got;
  auto relay = RelayOf(request);
  if (!relay.ok() || !*relay || api::StringAt(request, {"spec", "initiator"}) != caller.username) {
    return Error(404, none);
  }
  const std::string uid = api::UidOf(request), phase = api::StringAt(request, {"status", "phase"});
  const std::string rule = api::StringAt(request, {"status", "authorization", "rule"});
  if (phase == kPhaseDenied || phase == kPhaseExpired) {
    std::string message;
    const json conditions = request.value("status", json::object()).value("conditions", json::array());
    if (conditions.is_array()) {
      for (const auto& c : conditions) {
        if (c.is_object() && c.value("type", json()) == "Authorized" && c.value("message", json()).is_string()) {
          message = c["message"].get<std::string>();
        }
      }
    }
    return Error(403, "request " + what + " is " + phase + (message.empty() ? "" : ": " + message), rule);
  }
  auto grant = deps_.index->FindGrant(uid);
  if (!grant && phase == kPhaseGranted) {
    if (Status st = deps_.ledger->CatchUp(); !st.ok()) log::Warn("cannot read the ledger's tail", {{"error", st.message()}});
    grant = deps_.index->FindGrant(uid);
  }
  if (!grant) {
    if (phase == kPhaseGranted) return Error(503, "the grant is not readable yet; try again");
    webhook::HttpResponse r =
        Answer(202, {{"request", {{"namespace", call.ns}, {"name", call.name}, {"uid", uid}}},
                     {"location", std::string(kPollPrefix) + what},
                     {"rule", rule},
                     {"waitingFor", api::StringAt(request, {"status", "authorization", "waitingFor"})},
                     {"deadline", api::StringAt(request, {"status", "authorization", "deadline"})},
                     {"message", "request " + what + " is waiting" + (phase.empty() ? "" : " (" + phase + ")")}});
    r.headers.push_back({"Retry-After", "5"});
    return r;
  }
  const int64_t now = deps_.clock->NowUnix();
  const std::string expires = FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(grant->exp)));
  if (now >= grant->exp) {
    return Error(403, "the grant of request " + what + " expired at " + expires + " before it was collected; POST the manifest again",
                 grant->rule);
  }
  auto manifest = RelayedManifest(request);
  if (!manifest.ok()) return Error(503, "cannot rebuild the manifest: " + manifest.status().message());
  auto token = crypto::SignJws(grant->claims, deps_.signer->kid, deps_.signer->key);
  if (!token.ok()) {
    log::Error("authority: cannot sign a recorded grant", {{"uid", uid}, {"error", token.status().message()}});
    return Error(503, "cannot sign the grant now; try again");
  }
  Annotate(&*manifest, (*relay)->kind, *token);
  return Answer(201, {{"artifact", *token},
                      {"manifest", std::move(*manifest)},
                      {"jti", grant->claims.value("jti", "")},
                      {"rule", grant->rule},
                      {"expiresAt", expires},
                      {"request", {{"namespace", call.ns}, {"name", call.name}, {"uid", uid}}}});
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
