// Who may use the governance console (issue 22, docs/console.md):
//
//  - standalone, one bearer token from a file (StaticTokenAuthenticator);
//  - in cluster, any Kubernetes bearer token the API server authenticates
//    (TokenReview, authentication.k8s.io/v1) whose user may read the ledger
//    (SubjectAccessReview, authorization.k8s.io/v1, for LedgerReadAccess:
//    by default `get` on the virtual resource ledgers.execgov.io in the
//    console's namespace, which RBAC grants like any other resource).
//
// Fail-closed: a token the API server does not authenticate, a user it does
// not allow, a review that cannot be made (the API server away, the
// console's own account without the right to create reviews) and an answer
// that does not parse all refuse. Only definite answers are cached, briefly
// (KubeReviewOptions::ttl), keyed by the token's SHA-256 (no token is kept),
// in a bounded cache; concurrent requests with one token share one review,
// so a page load that fires a dozen API calls costs one review pair.
#pragma once

#include <chrono>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "kube/client.h"

namespace execgov::console {

struct Identity {
  std::string user;  // the username the API server authenticated
  std::vector<std::string> groups;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The identity behind `token` when it may read the ledger. Refusals are
  // PermissionDenied (Unauthenticated is not a code here: the console
  // answers 401 for every refusal); a review that could not be made is
  // Unavailable, and refuses too.
  virtual StatusOr<Identity> Authenticate(const std::string& token) = 0;
  // "token" (standalone) or "kubernetes".
  virtual const char* mode() const = 0;
  // The longest token worth presenting (longer ones are refused unread).
  virtual size_t max_token_bytes() const = 0;
};

// The standalone token: compared as SHA-256 digests in constant time, so
// neither its bytes nor its length leak through timing. Identity "console".
class StaticTokenAuthenticator : public Authenticator {
 public:
  // `token` must pass CheckToken (console_server.h).
  explicit StaticTokenAuthenticator(const std::string& token);
  StatusOr<Identity> Authenticate(const std::string& token) override;
  const char* mode() const override { return "token"; }
  size_t max_token_bytes() const override;

 private:
  std::string digest_;
};

// What "read the ledger" means to the SubjectAccessReview.
struct LedgerReadAccess {
  std::string group = "execgov.io";
  std::string resource = "ledgers";
  std::string verb = "get";
  std::string ns;    // the console's namespace (required)
  std::string name;  // empty: any ledger in the namespace
};

// A Kubernetes token: bound service-account tokens are ~1 KB, OIDC tokens
// a few; it must fit the session cookie (4096 bytes with its name).
inline constexpr size_t kMaxKubeTokenBytes = 3800;

struct KubeReviewOptions {
  LedgerReadAccess access;
  // How long a definite answer (allowed or refused) is reused. A revoked
  // RoleBinding or a deleted ServiceAccount takes effect within it.
  std::chrono::seconds ttl{10};
  size_t max_entries = 1024;
  const Clock* clock = nullptr;  // nullptr: the system clock
};

class KubeReviewAuthenticator : public Authenticator {
 public:
  // `reviewer` is the console's own client (its ServiceAccount: create
  // tokenreviews and subjectaccessreviews, e.g. system:auth-delegator); it
  // must outlive this object and be thread-safe.
  KubeReviewAuthenticator(kube::Client* reviewer, KubeReviewOptions options);
  StatusOr<Identity> Authenticate(const std::string& token) override;
  const char* mode() const override { return "kubernetes"; }
  size_t max_token_bytes() const override { return kMaxKubeTokenBytes; }

  // The reviews made so far (TokenReview + SubjectAccessReview pairs count
  // once): for tests and the cache's proof.
  uint64_t reviews() const;

 private:
  struct Entry {
    StatusOr<Identity> result = Unavailable("pending");
    std::chrono::system_clock::time_point expires;
    bool done = false;
    std::list<std::string>::iterator order;
  };
  StatusOr<Identity> Review(const std::string& token);

  kube::Client* reviewer_;
  KubeReviewOptions options_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> cache_;  // by SHA-256 of the token
  std::list<std::string> order_;        // insertion order, oldest first
  uint64_t reviews_ = 0;
};

// The TokenReview and SubjectAccessReview bodies and the reading of their
// answers, apart so they are unit-tested on the JSON the API server sends.
nlohmann::json TokenReviewRequest(const std::string& token);
StatusOr<nlohmann::json> ReviewedUser(const nlohmann::json& token_review);  // status.user
nlohmann::json AccessReviewRequest(const nlohmann::json& user, const LedgerReadAccess& access);
Status AccessAllowed(const nlohmann::json& access_review);

}  // namespace execgov::console
