// execgov authority's HTTPS endpoint (issue 20): the authority's decision for
// callers that submit Pods or Jobs directly, or live outside the cluster.
//
//   POST /v1/authorize, a Kubernetes bearer token, a Pod or Job manifest
//   (http_request.h). The token is checked with a TokenReview
//   (authentication.k8s.io/v1) by the authority's own identity; the
//   authenticated username is the initiator the AuthorityPolicy rules match
//   (a rule covers these only when its match.kinds names Pod or Job) and the
//   grant's sub.
//
// Answers (JSON):
//   201 {"artifact", "manifest" (the manifest with the artifact annotated, as
//        `execgov sign` writes it), "jti", "rule", "expiresAt", "ledgerSeq"}
//        when an AutoApprove rule applies: the grant is recorded in the
//        ledger (record type "grant", "via": "https") before it is signed,
//        as the controller's grants are;
//   403 {"message", "rule"} when an AutoDeny rule or a rule's rate limit
//        refuses (recorded as a "denial"), or when no rule applies;
//   202 {"request" {namespace, name, uid}, "location", "rule", "message",
//        "waitingFor"} with a Location header when the rule needs human
//        approvals: the authority created a relayed ExecutionRequest for the
//        caller (relay.h) that approvers approve with `execgov approve`;
//   403 also when the cluster refuses to hold such a request, the caller
//        already has kMaxPendingRelays waiting, or the authority does not
//        handle the namespace.
//
//   GET /v1/authorize/requests/<namespace>/<name>, the same caller's bearer
//   token: 202 while the relayed request waits; 201 {"artifact", "manifest"
//   (rebuilt from the request, annotated), "jti", "rule", "expiresAt",
//   "request"} once the authority granted it (the same artifact on every
//   poll until it expires); 403 {"message", "rule"} when it was denied or
//   expired, or its grant expired uncollected; 404 for a request that is not
//   a relayed request of this caller (another's is never shown).
//   401 without a token or with one the API server does not authenticate;
//   400/404/405/413/415 for malformed requests; 503 while the authority's
//        caches are not synced or the API server or the ledger cannot answer.
// The message never repeats the token.
//
// Thread-safe: Handle runs on every I/O thread of the server.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "authority/authority_controller.h"
#include "authority/http_request.h"
#include "core/clock.h"
#include "kube/client.h"
#include "ledger/ledger.h"
#include "tls/credentials.h"
#include "webhook/https_server.h"

namespace execgov::authority {

struct AuthorizeEndpointDeps {
  kube::Client* client = nullptr;                  // TokenReviews, as the authority
  const AuthorityController* controller = nullptr;  // the rules and maxTTL bounds
  ledger::Ledger* ledger = nullptr;
  GrantIndex* index = nullptr;  // rate limits count these grants too
  const Signer* signer = nullptr;
  std::string identity;                 // recorded as `authority`
  std::function<bool()> ready;          // the caches are synced
  // TokenReview spec.audiences (--authorize-audience); empty: the API
  // server's own. When set, the review's status.audiences must name one.
  std::vector<std::string> audiences;
  const Clock* clock = nullptr;         // null: the system clock
};

// The authenticated caller, from a TokenReview.
struct Caller {
  std::string username;
  std::vector<std::string> groups;
};

// The most relayed requests one caller may have waiting at once.
inline constexpr size_t kMaxPendingRelays = 16;

// Checks `token` with a TokenReview: the caller, PermissionDenied when the API
// server does not authenticate it (or, with `audiences`, does not say the
// token is for one of them), another error when it cannot tell.
StatusOr<Caller> ReviewToken(kube::Client* client, const std::string& token,
                             const std::vector<std::string>& audiences = {});

class AuthorizeEndpoint {
 public:
  explicit AuthorizeEndpoint(AuthorizeEndpointDeps deps);
  webhook::HttpResponse Handle(const webhook::HttpRequest& request) const;

 private:
  webhook::HttpResponse Decide(const AuthorizeCall& call, const Caller& caller) const;
  // A rule needs approvals: the relayed request made, 202.
  webhook::HttpResponse Relay(const AuthorizeCall& call, const Caller& caller, const std::string& rule_name,
                              const AuthorityRule& rule) const;
  webhook::HttpResponse Poll(const PollCall& call, const Caller& caller) const;
  AuthorizeEndpointDeps deps_;
};

// The endpoint on its own TLS listener (TLS 1.2 or newer; the certificate
// and key reload when their files change, as the webhook's do), with the
// webhook's limits on bodies, headers and connections. Destroying it stops it.
class AuthorizeServer {
 public:
  static StatusOr<std::unique_ptr<AuthorizeServer>> Start(const std::string& listen, const std::string& cert_file,
                                                          const std::string& key_file, AuthorizeEndpointDeps deps);
  int port() const { return server_->port(); }
  ~AuthorizeServer();

 private:
  AuthorizeServer() = default;
  std::unique_ptr<tls::CredentialStore> credentials_;
  std::unique_ptr<AuthorizeEndpoint> endpoint_;
  std::unique_ptr<webhook::HttpServer> server_;
};

}  // namespace execgov::authority
