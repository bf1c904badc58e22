// What `execgov serve` (standalone) and `execgov webhook` (in cluster) share:
// the HTTPS admission server and the ops server, their TLS (given or
// self-signed), and a clean stop on SIGINT/SIGTERM. The commands differ only
// in where policies, replay state and namespace labels come from, which they
// hand over as HandlerDeps and a readiness check.
#pragma once

#include <signal.h>

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "ledger/ledger.h"
#include "tls/credentials.h"
#include "webhook/admission_handler.h"
#include "webhook/https_server.h"

namespace execgov::cmd {

// Blocks SIGINT and SIGTERM in the calling thread, and so in every thread
// started after it: create it before anything starts a thread, then Wait().
class StopSignals {
 public:
  StopSignals();
  // Returns the signal that arrived.
  int Wait();

 private:
  sigset_t set_;
};

struct AdmissionServiceOptions {
  std::string command;  // "execgov serve", for log lines and messages
  std::string listen = ":8443", metrics_listen = ":8080";
  std::string tls_cert, tls_key, client_ca;
  // Where a serving certificate from a private CA is kept when no
  // --tls-cert is given.
  std::string generated_tls_dir;
  size_t signature_cache_entries = 65536;
  // Threads for the admission port (WebhookServer::Start): 0 means one per
  // core, enough when nothing in the handler blocks (`serve`: its replay
  // store and ledger answer from memory and the writer's group commit). The
  // in-cluster webhook asks the API server for every consumption, which
  // blocks, so it runs more.
  int io_threads = 0;
  // Concurrent connections on the admission port (--max-connections); more
  // wait in the listen backlog. Lowered to what RLIMIT_NOFILE allows.
  int max_connections = webhook::kDefaultMaxConnections;
  // A third port, for the other replicas (the in-cluster webhook's ledger
  // forwarding, webhook/ledger_forward.h): served over the admission port's
  // TLS credentials while the admission port is, when both are set.
  std::string peer_listen;
  webhook::HttpServer::Handler peer_handler;
};

// Adds --listen, --metrics-listen, --tls-cert, --tls-key, --client-ca,
// --signature-cache and --max-connections, the flags both commands take,
// bound to `o`.
void AddAdmissionServiceFlags(CLI::App* cmd, AdmissionServiceOptions* o);

// Checks what can be checked before anything starts: the listen addresses
// and the certificate flags. A message for UsageError, or OK.
Status ValidateAdmissionServiceOptions(const AdmissionServiceOptions& o);

// Serves admission with `deps` (its signature_cache is filled in) until a
// stop signal arrives, then stops taking requests and finishes those in
// flight before returning. `ready` answers /readyz. `log_fields` are added
// to the "ready" log line. Returns an exit code (kExitUsage when a server
// cannot start). The caller closes the ledger afterwards.
int RunAdmissionService(const AdmissionServiceOptions& o, webhook::HandlerDeps deps, metrics::Metrics* metrics,
                        std::function<bool()> ready, StopSignals& signals,
                        const nlohmann::json& log_fields = nlohmann::json::object());

// Closes the ledger (its final checkpoint) after serving: `code`, or
// kExitUsage when the close fails.
int CloseLedger(ledger::Ledger& ledger, int code);

}  // namespace execgov::cmd
