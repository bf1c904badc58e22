// The governance console's server side (issue 22, docs/console.md): the
// built web app and a small read-only JSON API over one ledger, behind a
// bearer token. The API only reads and computes; every trust decision
// (inclusion, consistency, the checkpoint's signature) is made again in the
// browser against a key its user pinned, so a compromised console can hide
// records but cannot make a forged one verify.
//
// Fail-closed: nothing but the login page and the app's static code
// (/login, /assets/*, which carry no ledger data) is answered without a
// token the Authenticator accepts (console_auth.h: the standalone token, or
// in cluster a Kubernetes token reviewed by the API server), given as
// "Authorization: Bearer T" or in the cookie POST /api/login sets (HttpOnly,
// Secure, SameSite=Strict); anything else gets 401 (a page request the login
// page as its body).
//
// Writes (in cluster, with allow_writes only): POST /api/revoke is made
// through the API server with the logged-in user's own token, so RBAC and the
// webhook decide. A write must carry Content-Type: application/json, which
// no cross-site form can send and a cross-site fetch cannot without a CORS
// preflight this server never answers; with the SameSite=Strict cookie that
// is the CSRF defence.
#pragma once

#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "console/console_auth.h"
#include "console/health.h"
#include "console/ledger_index.h"
#include "core/status.h"
#include "kube/client.h"
#include "ledger/witness_submitter.h"
#include "tls/credentials.h"
#include "webhook/https_server.h"

namespace execgov::console {

// Bounds on what a request may carry, checked before any work.
inline constexpr size_t kMaxTargetBytes = 4096;
inline constexpr size_t kMaxParamBytes = 256;
inline constexpr size_t kMaxParams = 20;
// A login or write body (a Kubernetes token is up to kMaxKubeTokenBytes).
inline constexpr size_t kMaxLoginBodyBytes = 8192;
// The token: printable ASCII without spaces, 16..1024 bytes.
inline constexpr size_t kMinTokenBytes = 16;
inline constexpr size_t kMaxTokenBytes = 1024;
// The built assets: at most this many files and bytes are loaded.
inline constexpr size_t kMaxAssetFiles = 512;
inline constexpr size_t kMaxAssetBytes = 64u << 20;

inline constexpr char kSessionCookie[] = "__Host-execgov-console";

struct ConsoleOptions {
  LedgerIndex* index = nullptr;  // must outlive the console
  std::string token;             // standalone: the bearer token (CheckToken first)
  // The Vite build (console/dist): index.html, login.html, assets/.
  std::string assets_dir;
  // The health dashboard's targets (nullptr: none); must outlive the console.
  HealthScraper* health = nullptr;
  // The governance page's policies: an ExecutionPolicy file or directory,
  // read on each request (empty: none).
  std::string policy_path;
  // In cluster: who may log in (KubeReviewAuthenticator); `token` is then
  // unused. Must outlive the console.
  Authenticator* authenticator = nullptr;
  // In cluster: a client of the API server carrying the given user's token.
  // The governance page's policies and pending requests are read with it,
  // and every write is made with it.
  std::function<StatusOr<std::unique_ptr<kube::Client>>(const std::string& token)> user_client;
  // Writes (revoke) are served only with this set, and only in cluster.
  bool allow_writes = false;
  // Where the operator keeps the ledger's cosigned checkpoint (issue 23;
  // nullptr: nowhere). /api/head sends it as checkpoint.cosigned for the
  // browser to count cosignatures in; the browser verifies it against the
  // pinned keys, so it is passed on as read. Must outlive the console.
  ledger::CosignedStore* cosigned = nullptr;
  // The console's own serving certificate (nullptr: not known), whose
  // notAfter /api/health reports. Must outlive the console.
  const tls::CredentialStore* credentials = nullptr;
};

// InvalidArgument unless `token` is a usable bearer token.
Status CheckToken(const std::string& token);

// Reads a token file: the token is its first line. Refused when the file
// is readable by group or others (it is a credential), or the token unusable.
StatusOr<std::string> ReadTokenFile(const std::string& path);

class Console {
 public:
  // Loads the assets into memory (index.html and login.html must exist).
  static StatusOr<std::unique_ptr<Console>> Create(ConsoleOptions options);

  // Thread-safe: the HttpServer's handler.
  webhook::HttpResponse Handle(const webhook::HttpRequest& request) const;

 private:
  struct Asset {
    std::string content_type;
    std::string body;
  };
  // A request's credential and who it is.
  struct Session {
    std::string token;
    Identity identity;
  };
  explicit Console(ConsoleOptions options) : options_(std::move(options)) {}
  std::optional<Session> Authorized(const webhook::HttpRequest& request) const;
  webhook::HttpResponse Api(const std::string& path, const std::string& query, const Session& session) const;
  StatusOr<nlohmann::json> ApiBody(const std::string& path, const std::string& query, const Session& session) const;
  StatusOr<nlohmann::json> Governance(const Session& session) const;
  webhook::HttpResponse Write(const std::string& path, const webhook::HttpRequest& request,
                              const Session& session) const;
  webhook::HttpResponse Login(const webhook::HttpRequest& request) const;
  webhook::HttpResponse Page(const std::string& file, int status) const;

  ConsoleOptions options_;
  std::unique_ptr<Authenticator> own_authenticator_;  // standalone
  Authenticator* authenticator_ = nullptr;
  std::map<std::string, Asset> assets_;  // by path ("/assets/index-abc.js")
  // A CosignedStore is not thread-safe; Handle is called from many threads.
  mutable std::mutex cosigned_mu_;
};

}  // namespace execgov::console
