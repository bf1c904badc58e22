// execgov serve: the admission webhook without a cluster. Policies come from
// files (reloaded on change), consumed artifacts are journaled beside them,
// decisions go to the ledger, and with no certificate given a private CA and
// a serving certificate for 127.0.0.1/localhost are created.
#include <signal.h>

#include <filesystem>
#include <iostream>

#include "cmd/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "tls/credentials.h"
#include "tls/self_signed.h"
#include "webhook/admission_handler.h"
#include "webhook/https_server.h"
#include "webhook/policy_source.h"
#include "webhook/replay_store.h"
#include "webhook/signature_cache.h"

namespace execgov::cmd {
namespace {

struct ServeOptions {
  std::string policy, ledger, ledger_key, listen = ":8443", metrics_listen = ":8080";
  std::string tls_cert, tls_key, client_ca, state_dir;
  size_t cache_entries = 65536;
};

int RunServe(const ServeOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(o.policy, ec)) return UsageError("--policy: " + o.policy + " does not exist");
  if (o.tls_cert.empty() != o.tls_key.empty()) return UsageError("--tls-cert and --tls-key go together");
  for (const auto& addr : {o.listen, o.metrics_listen}) {
    auto parsed = webhook::ParseListenAddress(addr);
    if (!parsed.ok()) return UsageError(parsed.status().message());
  }
  fs::path base = fs::is_directory(o.policy, ec) ? fs::path(o.policy) : fs::path(o.policy).parent_path();
  if (base.empty()) base = ".";
  std::string state_dir = o.state_dir.empty() ? (base / "execgov-state").string() : o.state_dir;
  fs::create_directories(state_dir, ec);
  if (ec) return UsageError("cannot create " + state_dir + ": " + ec.message());
  std::string ledger_url = o.ledger.empty() ? "file:" + (fs::path(state_dir) / "ledger.jsonl").string() : o.ledger;

  // Block the stop signals before any thread starts, then wait for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  metrics::Metrics metrics;
  tls::TlsOptions tls_options{o.tls_cert, o.tls_key, o.client_ca};
  if (o.tls_cert.empty()) {
    auto generated = tls::EnsureSelfSignedCertificates((fs::path(state_dir) / "tls").string(), {"127.0.0.1", "localhost", "::1"});
    if (!generated.ok()) return UsageError(generated.status().message());
    tls_options.cert_file = generated->cert;
    tls_options.key_file = generated->key;
    std::cerr << "execgov serve: no --tls-cert given; serving with a certificate from a private CA.\n"
              << "  CA certificate (use as the webhook caBundle): " << generated->ca_cert << "\n";
  }
  auto credentials = tls::CredentialStore::Open(tls_options);
  if (!credentials.ok()) return UsageError(credentials.status().message());

  ledger::LedgerOptions ledger_options;
  ledger_options.signing_key_path = o.ledger_key;
  auto ledger = ledger::OpenLedger(ledger_url, ledger_options);
  if (!ledger.ok()) return UsageError("--ledger " + ledger_url + ": " + ledger.status().message());
  auto replay = webhook::FileReplayStore::Open((fs::path(state_dir) / "replay.jsonl").string(), SystemClock::Get().NowUnix());
  if (!replay.ok()) return UsageError(replay.status().message());

  webhook::FilePolicySource policies(o.policy, &metrics);
  policies.Start();
  webhook::LruSignatureCache cache(o.cache_entries);
  webhook::HandlerDeps deps;
  deps.policies = [&policies] { return policies.Current(); };
  deps.replay = replay->get();
  deps.ledger = ledger->get();
  deps.signature_cache = &cache;
  deps.metrics = &metrics;
  webhook::AdmissionHandler handler(deps);

  auto ops = webhook::OpsServer::Start(o.metrics_listen, &metrics, [&policies] { return policies.ready(); });
  if (!ops.ok()) return UsageError(ops.status().message());
  auto server = webhook::WebhookServer::Start(o.listen, credentials->get(), &handler);
  if (!server.ok()) return UsageError(server.status().message());
  log::Info("execgov serve: ready",
            {{"listen", o.listen}, {"metricsListen", o.metrics_listen}, {"ledger", ledger_url}, {"policy", o.policy},
             {"policiesReady", policies.ready()}});

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::Info("execgov serve: stopping", {{"signal", sig}});
  server->reset();  // stop taking requests, finish those in flight
  ops->reset();
  Status st = (*ledger)->Close();  // final checkpoint
  if (!st.ok()) {
    log::Error("ledger close failed", {{"error", st.message()}});
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the admission webhook standalone, with policies from files");
  cmd->add_option("--policy", o->policy, "ExecutionPolicy file or directory (reloaded on change)")->required();
  cmd->add_option("--ledger", o->ledger, "ledger URL (default: file: in the state directory)");
  cmd->add_option("--ledger-key", o->ledger_key, "Ed25519 key that signs checkpoints (created beside a file ledger)");
  cmd->add_option("--listen", o->listen, "HTTPS admission address")->capture_default_str();
  cmd->add_option("--metrics-listen", o->metrics_listen, "plain HTTP address for /metrics, /healthz, /readyz")
      ->capture_default_str();
  cmd->add_option("--tls-cert", o->tls_cert, "serving certificate (PEM, reloaded on change)");
  cmd->add_option("--tls-key", o->tls_key, "serving key (PEM)");
  cmd->add_option("--client-ca", o->client_ca, "require client certificates signed by this CA (the API server's)");
  cmd->add_option("--state-dir", o->state_dir, "replay journal, default ledger and generated certificates "
                                               "(default: execgov-state beside the policies)");
  cmd->add_option("--signature-cache", o->cache_entries, "verified signatures kept in memory")->capture_default_str();
  cmd->callback([o, exit_code] { *exit_code = RunServe(*o); });
}

}  // namespace execgov::cmd
