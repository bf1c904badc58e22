// execgov console: the governance console (docs/console.md) over one ledger,
// read-only, behind a bearer token from a file, over TLS (given, or from a
// private CA created in --state-dir like execgov serve's).
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
  auto token = console::ReadTokenFile(o.token_file);
  if (!token.ok()) return UsageError("--token-file: " + token.status().message());
  if (o.tls_cert.empty() != o.tls_key.empty()) return UsageError("--tls-cert and --tls-key go together");

  StopSignals signals;  // before any thread starts
  auto index = console::LedgerIndex::Open(o.ledger);
  if (!index.ok()) return UsageError("--ledger " + o.ledger + ": " + index.status().message());
  console::ConsoleOptions options;
  options.index = index->get();
  options.token = *token;
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
  auto app = console::Console::Create(options);
  if (!app.ok()) return UsageError(app.status().message());

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
  auto* cmd = app.add_subcommand("console", "Serve the governance console (read-only) over a ledger");
  cmd->add_option("--ledger", o->ledger, "ledger URL (file:, etcd://, configmap://)")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to serve HTTPS on (port 0: a free port, logged)");
  cmd->add_option("--token-file", o->token_file, "the bearer token, first line of a mode-0600 file")->required();
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
