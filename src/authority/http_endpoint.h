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
//   409 when the rule needs human approvals: there is no request object to
//        poll over HTTPS yet (the 202 of the issue is not built): create an
//        ExecutionRequest in the cluster instead;
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
  const Clock* clock = nullptr;         // null: the system clock
};

// The authenticated caller, from a TokenReview.
struct Caller {
  std::string username;
  std::vector<std::string> groups;
};

// Checks `token` with a TokenReview: the caller, PermissionDenied when the API
// server does not authenticate it, another error when it cannot tell.
StatusOr<Caller> ReviewToken(kube::Client* client, const std::string& token);

class AuthorizeEndpoint {
 public:
  explicit AuthorizeEndpoint(AuthorizeEndpointDeps deps);
  webhook::HttpResponse Handle(const webhook::HttpRequest& request) const;

 private:
  webhook::HttpResponse Decide(const AuthorizeCall& call, const Caller& caller) const;
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
