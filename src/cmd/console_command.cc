// execgov console: the governance console (docs/console.md) over one ledger,
// over TLS (given, or from a private CA created in --state-dir like execgov
// serve's). Standalone behind a bearer token from a file; with --kube-auth
// behind Kubernetes tokens the API server reviews (TokenReview and a
// SubjectAccessReview for reading the ledger), and then, with
// --allow-writes, revoking as the logged-in user.
//
// The web app is read from a directory rather than embedded in the binary:
// the C++ build does not then depend on Node.js, the image carries the built
// files beside the binary (/usr/share/execgov/console), and the assets can be
// rebuilt without relinking. The directory is read once at start.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cmd/admission_service.h"
#include "cmd/cli.h"
#include "console/console_server.h"
#include "console/ledger_index.h"
#include "core/log.h"
#include "kube/kubeconfig.h"
#include "ledger/witness_submitter.h"
#include "tls/credentials.h"
#include "tls/self_signed.h"
#include "webhook/https_server.h"

namespace execgov::cmd {
namespace {

struct ConsoleFlags {
  std::string ledger, listen = "127.0.0.1:8444", token_file, tls_cert, tls_key, state_dir = "execgov-console",
                      assets;
  std::vector<std::string> metrics;
  std::string policy;
  bool kube_auth = false, allow_writes = false;
  std::string kubeconfig, ns, ledger_name;
  int auth_cache_seconds = 10;
};

// Where the built web app is when --assets is not given: installed beside
// the binary, or the source tree's build output for a binary in build/.
std::string DefaultAssets() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "console/dist";
  for (fs::path candidate : {exe.parent_path() / "../share/execgov/console", exe.parent_path() / "../../../console/dist"}) {
    if (fs::exists(candidate / "index.html", ec)) return candidate.lexically_normal().string();
  }
  return "console/dist";
}

int RunConsole(const ConsoleFlags& o) {
  if (o.kube_auth == !o.token_file.empty()) return UsageError("give exactly one of --token-file and --kube-auth");
  if (o.allow_writes && !o.kube_auth) {
    return UsageError("--allow-writes needs --kube-auth: writes are made as the logged-in Kubernetes user");
  }
  if (o.auth_cache_seconds < 0 || o.auth_cache_seconds > 300) return UsageError("--auth-cache-ttl must be 0..300 seconds");
  std::string token;
  if (!o.kube_auth) {
    auto t = console::ReadTokenFile(o.token_file);
    if (!t.ok()) return UsageError("--token-file: " + t.status().message());
    token = *t;
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) return UsageError("--tls-cert and --tls-key go together");

  // In cluster: the console's own identity makes the reviews; each user's
  // reads of cluster objects and writes go with a client of their own token
  // against the same API server and CA (no client certificate).
  std::unique_ptr<kube::Client> reviewer;
  std::unique_ptr<console::KubeReviewAuthenticator> kube_auth;
  kube::RestConfig rest;
  if (o.kube_auth) {
    auto config = kube::DefaultRestConfig(o.kubeconfig);
    if (!config.ok()) return UsageError("--kube-auth: " + config.status().message());
    rest = *config;
    auto client = kube::NewClient(rest);
    if (!client.ok()) return UsageError("--kube-auth: " + client.status().message());
    reviewer = std::move(*client);
    console::KubeReviewOptions ko;
    ko.access.ns = !o.ns.empty() ? o.ns : !rest.ns.empty() ? rest.ns : "execgov-system";
    ko.access.name = o.ledger_name;
    ko.ttl = std::chrono::seconds(o.auth_cache_seconds);
    log::Info("console: in-cluster authorization",
              {{"verb", ko.access.verb}, {"resource", ko.access.resource + "." + ko.access.group},
               {"namespace", ko.access.ns}, {"name", ko.access.name}, {"writes", o.allow_writes}});
    kube_auth = std::make_unique<console::KubeReviewAuthenticator>(reviewer.get(), ko);
  }

  StopSignals signals;  // before any thread starts
  auto index = console::LedgerIndex::Open(o.ledger);
  if (!index.ok()) return UsageError("--ledger " + o.ledger + ": " + index.status().message());
  console::ConsoleOptions options;
  options.index = index->get();
  options.token = token;
  options.authenticator = kube_auth.get();
  options.allow_writes = o.allow_writes;
  if (o.kube_auth) {
    options.user_client = [rest](const std::string& user_token) -> StatusOr<std::unique_ptr<kube::Client>> {
      kube::RestConfig as_user;
      as_user.server = rest.server;
      as_user.ca_pem = rest.ca_pem;
      as_user.insecure_skip_verify = rest.insecure_skip_verify;
      as_user.token = user_token;
      kube::ClientOptions co;
      co.max_attempts = 2;  // a person waits on it
      co.user_agent = "execgov-console";
      return kube::NewClient(as_user, co);
    };
  }
  options.assets_dir = o.assets.empty() ? DefaultAssets() : o.assets;
  std::vector<console::HealthTarget> targets;
  for (const auto& m : o.metrics) {
    auto t = console::ParseHealthTarget(m);
    if (!t.ok()) return UsageError(t.status().message());
    targets.push_back(*t);
  }
  auto health = console::HealthScraper::Create(std::move(targets));
  if (!health.ok()) return UsageError(health.status().message());
  options.health = health->get();
  options.policy_path = o.policy;
  // The cosigned checkpoint the operator keeps beside a file: or configmap://
  // ledger (issue 23); other ledgers have none, and are shown uncosigned.
  std::unique_ptr<ledger::CosignedStore> cosigned;
  if (o.ledger.rfind("file:", 0) == 0 || o.ledger.rfind("configmap://", 0) == 0) {
    auto store = ledger::OpenCosignedStore(o.ledger);
    if (!store.ok()) return UsageError("--ledger " + o.ledger + ": " + store.status().message());
    cosigned = std::move(*store);
    options.cosigned = cosigned.get();
  }
  tls::TlsOptions tls_options{o.tls_cert, o.tls_key, ""};
  if (o.tls_cert.empty()) {
    auto generated = tls::EnsureSelfSignedCertificates((std::filesystem::path(o.state_dir) / "tls").string(),
                                                       {"127.0.0.1", "localhost", "::1"});
    if (!generated.ok()) return UsageError(generated.status().message());
    tls_options.cert_file = generated->cert;
    tls_options.key_file = generated->key;
    std::cerr << "execgov console: no --tls-cert given; serving with a certificate from a private CA: "
              << generated->ca_cert << "\n";
  }
  auto credentials = tls::CredentialStore::Open(tls_options);
  if (!credentials.ok()) return UsageError(credentials.status().message());
  options.credentials = credentials->get();
  auto app = console::Console::Create(options);
  if (!app.ok()) return UsageError(app.status().message());
  const console::Console* handler = app->get();
  auto server = webhook::HttpServer::Start(
      o.listen, credentials->get(), [handler](const webhook::HttpRequest& r) { return handler->Handle(r); },
      /*io_threads=*/2, console::kMaxLoginBodyBytes);
  if (!server.ok()) return UsageError("--listen " + o.listen + ": " + server.status().message());
  // HttpServer::Start accepted --listen, so it is HOST:PORT.
  std::string host = o.listen.substr(0, o.listen.rfind(':'));
  if (host.empty()) host = "127.0.0.1";
  const std::string url = "https://" + host + ":" + std::to_string((*server)->port()) + "/";
  log::Info("console: listening",
            {{"url", url}, {"port", (*server)->port()}, {"ledger", o.ledger}, {"records", (*index)->size()},
             {"assets", options.assets_dir}});
  signals.Wait();
  server->reset();
  log::Info("console: stopped");
  return kExitOk;
}

}  // namespace

void RegisterConsole(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ConsoleFlags>();
  auto* cmd = app.add_subcommand("console", "Serve the governance console over a ledger (read-only unless --allow-writes)");
  cmd->add_option("--ledger", o->ledger, "ledger URL (file:, etcd://, configmap://)")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to serve HTTPS on (port 0: a free port, logged)");
  cmd->add_option("--token-file", o->token_file, "standalone: the bearer token, first line of a mode-0600 file");
  cmd->add_flag("--kube-auth", o->kube_auth,
                "in cluster: accept Kubernetes bearer tokens the API server authenticates (TokenReview) whose user "
                "may get ledgers.execgov.io in --namespace (SubjectAccessReview)");
  cmd->add_option("--kubeconfig", o->kubeconfig, "with --kube-auth: the console's own credentials (default: in-cluster)");
  cmd->add_option("--namespace", o->ns,
                  "with --kube-auth: the namespace of the ledgers.execgov.io access check (default: the "
                  "kubeconfig's or service account's, else execgov-system)");
  cmd->add_option("--ledger-name", o->ledger_name,
                  "with --kube-auth: the ledgers.execgov.io name checked (default: none, any ledger of the namespace)");
  cmd->add_option("--auth-cache-ttl", o->auth_cache_seconds,
                  "with --kube-auth: seconds a review's answer is reused (default 10, at most 300)");
  cmd->add_flag("--allow-writes", o->allow_writes,
                "with --kube-auth: serve revoke, made through the API server as the logged-in user (default: read-only)");
  cmd->add_option("--tls-cert", o->tls_cert, "serving certificate (PEM; default: one from a private CA)");
  cmd->add_option("--tls-key", o->tls_key, "its private key");
  cmd->add_option("--state-dir", o->state_dir, "where a generated certificate is kept (default: execgov-console)");
  cmd->add_option("--assets", o->assets,
                  "the built web app (default: ../share/execgov/console beside the binary, or console/dist)");
  cmd->add_option("--metrics", o->metrics,
                  "NAME=URL of an ops port to show on the health dashboard (webhook=http://127.0.0.1:8080); repeatable");
  cmd->add_option("--policy", o->policy, "ExecutionPolicy file or directory for the governance page");
  cmd->callback([o, exit_code] { *exit_code = RunConsole(*o); });
}

}  // namespace execgov::cmd
