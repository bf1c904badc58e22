// execgov authority (issue 20): grants, refuses or expires the
// ExecutionRequests that wait for an artifact, by the cluster's
// AuthorityPolicies (authority/authority_controller.h), with a signing key
// from a file that only its owner may read. Leader-elected on a Lease like
// the operator: every replica keeps its caches warm, only the leader acts,
// and one that loses the lease exits with status 1.
#include <sys/stat.h>
#include <unistd.h>

#include "api/object.h"
#include "authority/authority_controller.h"
#include "authority/http_endpoint.h"
#include "cmd/cli.h"
#include "cmd/leader_process.h"
#include "controllers/lineage_controller.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "crypto/pkcs11.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/kubeconfig.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "runtime/manager.h"
#include "webhook/https_server.h"

namespace execgov::cmd {
namespace {

struct AuthorityOptions {
  std::string kubeconfig, ns = std::string(api::kInstallNamespace), ledger, ledger_key;
  std::string key_file, kid, issuer, audience;
  std::string metrics_listen = ":8080", lease_name = "execgov-authority", identity, watch_namespaces;
  std::string default_timeout = "1h";
  std::string authorize_listen, tls_cert, tls_key;  // the HTTPS endpoint (authority/http_endpoint.h)
  std::vector<std::string> authorize_audiences;     // its TokenReviews' spec.audiences
  bool leader_elect = true;
  int workers = 4;
  int lease_seconds = 15;
};

// The signing key, from a regular file that no one but its owner (and its
// group: Kubernetes mounts a Secret root-owned, readable by the pod's
// fsGroup) may read, and only its owner write: a key others can read is a
// key others may hold.
// Or, named by a pkcs11: URI (RFC 7512), a key on a PKCS#11 token that signs
// there and never leaves it (crypto/pkcs11.h).
StatusOr<crypto::PrivateKey> LoadSigningKey(const std::string& path) {
  if (crypto::IsPkcs11Uri(path)) return crypto::LoadPkcs11Key(path);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return InvalidArgument(path + ": cannot read the signing key");
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + ": the signing key is not a regular file");
  if ((st.st_mode & 0137) != 0) {
    return InvalidArgument(path + ": the signing key is readable by others (mode " +
                           std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                           std::to_string(st.st_mode & 7) + "); make it 0600 (or 0400, 0440, 0640)");
  }
  EXECGOV_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, 1 << 20));
  auto key = crypto::PrivateKey::FromPem(pem);
  if (!key.ok()) return InvalidArgument(path + ": " + key.status().message());
  return key;
}

int RunAuthority(const AuthorityOptions& o) {
  if (o.ns.empty()) return UsageError("--namespace must not be empty");
  if (o.key_file.empty() || o.kid.empty() || o.issuer.empty() || o.audience.empty()) {
    return UsageError("--key, --kid, --issuer and --audience are required (what the grants are signed with and for)");
  }
  if (o.workers < 1 || o.workers > 64) return UsageError("--workers must be 1..64");
  if (o.lease_seconds < 3) return UsageError("--lease-duration must be at least 3 seconds");
  auto timeout = ParseDuration(o.default_timeout);
  if (!timeout || *timeout < std::chrono::seconds(1) || *timeout > std::chrono::hours(24 * 7)) {
    return UsageError("--default-timeout must be a duration from 1s to 168h");
  }
  if (auto addr = webhook::ParseListenAddress(o.metrics_listen); !addr.ok()) return UsageError(addr.status().message());
  if (!o.authorize_listen.empty() && (o.tls_cert.empty() || o.tls_key.empty())) {
    return UsageError("--authorize-listen needs --tls-cert and --tls-key");
  }
  if (o.authorize_audiences.size() > 16) return UsageError("--authorize-audience: at most 16");
  for (const auto& a : o.authorize_audiences) {
    if (a.empty() || a.size() > 253) return UsageError("--authorize-audience must be 1 to 253 characters");
  }
  auto key = LoadSigningKey(o.key_file);
  if (!key.ok()) return UsageError("--key: " + key.status().message());
  authority::Signer signer{std::move(key).value(), o.kid, o.issuer, o.audience};
  auto config = kube::DefaultRestConfig(o.kubeconfig);
  if (!config.ok()) return UsageError("--kubeconfig: " + config.status().message());

  const sigset_t signals = BlockStopSignals();

  auto client_or = kube::NewClient(*config);
  if (!client_or.ok()) return UsageError(client_or.status().message());
  std::unique_ptr<kube::Client> client = std::move(client_or).value();
  metrics::Metrics metrics;
  const std::string identity = o.identity.empty() ? runtime::DefaultIdentity() : o.identity;

  // The grants and refusals recorded so far, by any replica, before any is
  // made: a grant found here is signed again, never made anew.
  authority::GrantIndex index;
  const std::string ledger_url = ClusterLedgerUrl(o.ledger, o.ns, o.kubeconfig);
  ledger::LedgerOptions ledger_options;
  ledger_options.signing_key_path = o.ledger_key;
  ledger_options.observe = [&index](uint64_t, std::string_view record) { index.Observe(record); };
  auto ledger = ledger::OpenLedger(ledger_url, ledger_options);
  if (!ledger.ok()) return UsageError("--ledger " + ledger_url + ": " + ledger.status().message());
  if (Status st = (*ledger)->CatchUp(); !st.ok()) {
    return UsageError("--ledger " + ledger_url + ": cannot read the grants recorded so far: " + st.message());
  }

  runtime::ManagerOptions manager_options;
  if (o.leader_elect) manager_options.leader_election = LeaseConfig(o.ns, o.lease_name, identity, o.lease_seconds);
  manager_options.on_lost_leadership = [] { kill(getpid(), SIGUSR1); };
  runtime::Manager manager(client.get(), manager_options);
  const std::string api_version(api::kApiVersion);
  runtime::Informer* requests = manager.GetInformer(kube::ResourcePath(api_version, "executionrequests"));
  runtime::Informer* authority_policies = manager.GetInformer(kube::ResourcePath(api_version, "authoritypolicies"));
  runtime::Informer* execution_policies = manager.GetInformer(kube::ResourcePath(api_version, "executionpolicies"));
  runtime::Informer* approvals = manager.GetInformer(kube::ResourcePath(api_version, authority::kApprovalResource));
  std::unique_ptr<kube::EventRecorder> events = kube::NewEventRecorder(client.get(), "execgov-authority");

  authority::AuthorityControllerDeps deps;
  deps.client = client.get();
  deps.requests = requests;
  deps.authority_policies = authority_policies;
  deps.execution_policies = execution_policies;
  deps.approvals = approvals;
  deps.ledger = ledger->get();
  deps.index = &index;
  deps.signer = &signer;
  for (size_t start = 0; start < o.watch_namespaces.size();) {
    size_t comma = std::min(o.watch_namespaces.find(',', start), o.watch_namespaces.size());
    if (comma > start) deps.watch_namespaces.insert(o.watch_namespaces.substr(start, comma - start));
    start = comma + 1;
  }
  deps.identity = identity;
  deps.default_timeout_seconds = std::chrono::duration_cast<std::chrono::seconds>(*timeout).count();
  deps.events = events.get();
  authority::AuthorityController controller(std::move(deps));

  runtime::ControllerOptions controller_options;
  controller_options.workers = o.workers;
  controller_options.metrics = &metrics;
  auto request_loop = std::make_unique<runtime::Controller>(
      "authority", [&](const std::string& key) { return controller.Reconcile(key); }, controller_options);
  request_loop->Watch(requests);
  // An approval wakes the request it names.
  request_loop->Watch(approvals, [](const nlohmann::json& approval) -> std::vector<std::string> {
    const std::string name = api::StringAt(approval, {"spec", "requestName"});
    if (name.empty()) return {};
    return {api::NamespaceOf(approval) + "/" + name};
  });
  auto policy_loop = std::make_unique<runtime::Controller>(
      "authoritypolicy", [&](const std::string& key) { return controller.ReconcilePolicy(key); }, controller_options);
  policy_loop->Watch(authority_policies);
  manager.AddController(std::move(request_loop), true);
  manager.AddController(std::move(policy_loop), true);
  // Other writers' grants (another replica before a failover) reach the index.
  manager.AddRunnable(controllers::PeriodicRunnable("ledger-follow", std::chrono::seconds(5), [&] {
    if (Status st = (*ledger)->CatchUp(); !st.ok()) log::Warn("cannot read the ledger's tail", {{"error", st.message()}});
  }));

  auto ops = webhook::OpsServer::Start(o.metrics_listen, &metrics, [&manager] { return manager.CachesSynced(); });
  if (!ops.ok()) return UsageError(ops.status().message());
  if (Status st = manager.Start(); !st.ok()) {
    log::Error("execgov authority: cannot start", {{"error", st.message()}});
    manager.Stop();
    return kExitUsage;
  }
  std::unique_ptr<authority::AuthorizeServer> https;
  if (!o.authorize_listen.empty()) {
    authority::AuthorizeEndpointDeps endpoint;
    endpoint.client = client.get();
    endpoint.controller = &controller;
    endpoint.ledger = ledger->get();
    endpoint.index = &index;
    endpoint.signer = &signer;
    endpoint.identity = identity;
    endpoint.ready = [&manager] { return manager.CachesSynced(); };
    endpoint.audiences = o.authorize_audiences;
    auto started = authority::AuthorizeServer::Start(o.authorize_listen, o.tls_cert, o.tls_key, std::move(endpoint));
    if (!started.ok()) {
      log::Error("execgov authority: cannot serve --authorize-listen", {{"error", started.status().message()}});
      manager.Stop();
      return kExitUsage;
    }
    https = std::move(started).value();
  }
  log::Info("execgov authority: started", {{"identity", identity},
                                           {"namespace", o.ns},
                                           {"ledger", ledger_url},
                                           {"kid", o.kid},
                                           {"issuer", o.issuer},
                                           {"audience", o.audience},
                                           {"watchNamespaces", o.watch_namespaces}});
  const bool lost = WaitForStop(signals, "authority", identity);
  https.reset();
  manager.Stop();
  ops->reset();
  if (Status st = (*ledger)->Close(); !st.ok()) log::Warn("ledger close failed", {{"error", st.message()}});
  return lost ? kExitDenied : kExitOk;
}

}  // namespace

void RegisterAuthority(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<AuthorityOptions>();
  auto* cmd = app.add_subcommand("authority", "Grant, refuse or expire ExecutionRequests awaiting authorization");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--kubeconfig", o->kubeconfig, "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  cmd->add_option("--namespace", o->ns, "install namespace: lease, ledger")->capture_default_str();
  cmd->add_option("--ledger", o->ledger, "ledger URL (default: configmap://<namespace>)");
  cmd->add_option("--ledger-key", o->ledger_key, "Ed25519 key that signs the ledger's checkpoints");
  cmd->add_option("--key", o->key_file, "the authority's signing key: a PKCS#8 PEM file (mode 0600, nothing for others) or a pkcs11: URI");
  cmd->add_option("--kid", o->kid, "the key's id in the ExecutionPolicies that trust it");
  cmd->add_option("--issuer", o->issuer, "the iss of every grant: the ExecutionPolicy issuer owning --kid");
  cmd->add_option("--audience", o->audience, "the aud of every grant: this cluster's ExecutionPolicy audience");
  cmd->add_option("--default-timeout", o->default_timeout, "how long a request no rule applies to may wait")
      ->capture_default_str();
  cmd->add_option("--metrics-listen", o->metrics_listen, "plain HTTP address for /metrics, /healthz, /readyz")
      ->capture_default_str();
  cmd->add_flag("--leader-elect,!--no-leader-elect", o->leader_elect, "act only while holding the Lease (default)");
  cmd->add_option("--lease-name", o->lease_name, "the Lease in the install namespace")->capture_default_str();
  cmd->add_option("--lease-duration", o->lease_seconds, "seconds a leader's lease lasts without renewal")
      ->capture_default_str();
  cmd->add_option("--identity", o->identity, "this replica's name in the Lease and the ledger");
  cmd->add_option("--watch-namespaces", o->watch_namespaces, "handle requests only in these namespaces, comma-separated");
  cmd->add_option("--authorize-listen", o->authorize_listen,
                  "HOST:PORT for POST /v1/authorize over HTTPS (callers outside the cluster); off when empty");
  cmd->add_option("--tls-cert", o->tls_cert, "--authorize-listen's serving certificate (PEM, reloaded on change)");
  cmd->add_option("--tls-key", o->tls_key, "--authorize-listen's private key (PEM)");
  cmd->add_option("--authorize-audience", o->authorize_audiences,
                  "an audience the callers' tokens must be for (TokenReview spec.audiences; repeatable; default: the "
                  "API server's)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--workers", o->workers, "reconciles run at once")->capture_default_str();
  cmd->callback([o, exit_code] { *exit_code = RunAuthority(*o); });
}

}  // namespace execgov::cmd
