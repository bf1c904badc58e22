#include "cmd/admission_service.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "cmd/cli.h"
#include "core/log.h"
#include "tls/self_signed.h"
#include "webhook/https_server.h"
#include "webhook/signature_cache.h"

namespace execgov::cmd {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int StopSignals::Wait() {
  int sig = 0;
  sigwait(&set_, &sig);
  return sig;
}

void AddAdmissionServiceFlags(CLI::App* cmd, AdmissionServiceOptions* o) {
  cmd->add_option("--listen", o->listen, "HTTPS admission address")->capture_default_str();
  cmd->add_option("--metrics-listen", o->metrics_listen, "plain HTTP address for /metrics, /healthz, /readyz")
      ->capture_default_str();
  cmd->add_option("--tls-cert", o->tls_cert, "serving certificate (PEM, reloaded on change)");
  cmd->add_option("--tls-key", o->tls_key, "serving key (PEM)");
  cmd->add_option("--client-ca", o->client_ca, "require client certificates signed by this CA (the API server's)");
  cmd->add_option("--signature-cache", o->signature_cache_entries, "verified signatures kept in memory")
      ->capture_default_str();
  cmd->add_option("--max-connections", o->max_connections,
                  "concurrent connections on the admission port; more wait in the backlog (at most the "
                  "descriptor limit less " + std::to_string(webhook::kReservedDescriptors) + ")")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

Status ValidateAdmissionServiceOptions(const AdmissionServiceOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty()) return InvalidArgument("--tls-cert and --tls-key go together");
  for (const auto& addr : {o.listen, o.metrics_listen}) {
    auto parsed = webhook::ParseListenAddress(addr);
    if (!parsed.ok()) return parsed.status();
  }
  return Status::Ok();
}

int RunAdmissionService(const AdmissionServiceOptions& o, webhook::HandlerDeps deps, metrics::Metrics* metrics,
                        std::function<bool()> ready, StopSignals& signals, const nlohmann::json& log_fields) {
  tls::TlsOptions tls_options{o.tls_cert, o.tls_key, o.client_ca};
  if (o.tls_cert.empty()) {
    auto generated = tls::EnsureSelfSignedCertificates(o.generated_tls_dir, {"127.0.0.1", "localhost", "::1"});
    if (!generated.ok()) return UsageError(generated.status().message());
    tls_options.cert_file = generated->cert;
    tls_options.key_file = generated->key;
    std::cerr << o.command << ": no --tls-cert given; serving with a certificate from a private CA.\n"
              << "  CA certificate (use as the webhook caBundle): " << generated->ca_cert << "\n";
  }
  // The gauge follows the certificate through every reload, so an alert (or
  // the console's health page) sees a rotation that did not happen.
  auto credentials = tls::CredentialStore::Open(tls_options, [metrics](int64_t not_after) {
    if (metrics) metrics->SetCertificateNotAfter("webhook", not_after);
  });
  if (!credentials.ok()) return UsageError(credentials.status().message());

  webhook::LruSignatureCache cache(o.signature_cache_entries);
  deps.signature_cache = &cache;
  deps.metrics = metrics;
  webhook::AdmissionHandler handler(deps);

  // The admission port first: whoever sees /healthz or /readyz answer (a
  // kubelet probe, a test harness) may connect to it at once.
  int io_threads = o.io_threads > 0 ? o.io_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto server = webhook::WebhookServer::Start(o.listen, credentials->get(), &handler, io_threads, o.max_connections);
  if (!server.ok()) return UsageError(server.status().message());
  std::unique_ptr<tls::CredentialStore> peer_credentials;  // outlives the server
  std::unique_ptr<webhook::HttpServer> peers;
  if (!o.peer_listen.empty() && o.peer_handler) {
    // The serving certificate, without --client-ca: peers are not the API
    // server, and prove who they are otherwise (ledger_forward.h).
    auto peer_tls = tls::CredentialStore::Open({tls_options.cert_file, tls_options.key_file, ""});
    if (!peer_tls.ok()) return UsageError(peer_tls.status().message());
    peer_credentials = std::move(peer_tls).value();
    auto started = webhook::HttpServer::Start(o.peer_listen, peer_credentials.get(), o.peer_handler, 4,
                                              webhook::kMaxBodyBytes);
    if (!started.ok()) return UsageError(started.status().message());
    peers = std::move(started).value();
  }
  auto ops = webhook::OpsServer::Start(o.metrics_listen, metrics, std::move(ready));
  if (!ops.ok()) return UsageError(ops.status().message());
  nlohmann::json fields = log_fields;
  fields["listen"] = o.listen;
  fields["metricsListen"] = o.metrics_listen;
  fields["maxConnections"] = webhook::EffectiveMaxConnections(o.max_connections);
  if (peers) fields["peerListen"] = o.peer_listen;
  log::Info(o.command + ": ready", fields);

  int sig = signals.Wait();
  log::Info(o.command + ": stopping", {{"signal", sig}});
  server->reset();  // stop taking requests, finish those in flight
  peers.reset();
  ops->reset();
  return kExitOk;
}

int CloseLedger(ledger::Ledger& ledger, int code) {
  Status st = ledger.Close();
  if (!st.ok()) {
    log::Error("ledger close failed", {{"error", st.message()}});
    return kExitUsage;
  }
  return code;
}

}  // namespace execgov::cmd
