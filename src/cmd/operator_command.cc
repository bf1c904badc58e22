// execgov operator: the reconcilers (docs/design.md §5-§7) under one manager with
// leader election on a Lease — ExecutionPolicy status, ExecutionRequests to
// Jobs with every step in the ledger, lineage completeness, and pruning of
// expired replay records. Every replica keeps its caches warm; only the
// leader acts. Losing the lease ends the process with status 1, so that its
// replacement starts clean (controller-runtime's habit); SIGTERM/SIGINT stop
// it cleanly with status 0 (the lease is released for a quick successor).
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "api/object.h"
#include "cmd/cli.h"
#include "cmd/leader_process.h"
#include "controllers/cluster_policies.h"
#include "controllers/ledger_index.h"
#include "controllers/lineage_controller.h"
#include "controllers/policy_controller.h"
#include "controllers/request_controller.h"
#include "controllers/runtime_facts.h"
#include "controllers/runtime_verifier.h"
#include "controllers/webhook_config_watch.h"
#include "controllers/webhook_certificates.h"
#include "core/clock.h"
#include "core/log.h"
#include "kube/client.h"
#include "kube/events.h"
#include "kube/kubeconfig.h"
#include "ledger/backend.h"
#include "ledger/configmap_backend.h"
#include "ledger/ledger.h"
#include "ledger/origin.h"
#include "ledger/retention.h"
#include "ledger/witness_submitter.h"
#include "metrics/metrics.h"
#include "runtime/leader_election.h"
#include "runtime/manager.h"
#include "webhook/api_replay_store.h"
#include "webhook/ledger_forward.h"
#include "webhook/replay_store.h"
#include "webhook/https_server.h"

namespace execgov::cmd {
namespace {

struct OperatorOptions {
  std::string kubeconfig, ns = std::string(api::kInstallNamespace), ledger, ledger_key, ledger_origin;
  std::string metrics_listen = ":8080", lease_name = "execgov-operator", identity;
  std::string writer_lease;  // the webhook replicas' --ledger-writer-lease; empty: append here
  std::string watch_namespaces;  // comma-separated
  bool leader_elect = true;
  int workers = 8;
  int lease_seconds = 15;
  int lineage_seconds = 10;
  // An allowed creation whose object has not appeared this long after its
  // admission record was read is marked not-created; "0s": never.
  std::string phantom_after = "2m";
  int prune_seconds = 60;
  // Ledger retention (ledger/retention.h): 0 keeps every segment in the cluster.
  uint64_t retain_segments = 0;
  std::string ledger_archive, retention_min_age = "10m";
  int retention_seconds = 300;
  // Governance after admission (controllers/runtime_verifier.h): seconds
  // between full passes (changes bring one sooner); 0: off.
  int runtime_seconds = 30;
  // The ValidatingWebhookConfiguration whose deletion or edit is recorded and
  // alerted on (default: --webhook-configuration); "" with it unset: none.
  std::string guard_webhook_configuration;
  // The webhook's serving certificates from the operator's CA (the chart's
  // certificates.mode=operator); off unless --webhook-configuration is set.
  std::string webhook_configuration, webhook_service = "execgov-webhook", webhook_ca_secret = "execgov-webhook-ca",
                                      webhook_tls_secret = "execgov-webhook-tls";
  std::vector<std::string> webhook_hosts, webhook_probes;
  // Witnesses each new checkpoint is sent to (ledger/witness_submitter.h):
  // --witness URL and --witness-key VKEY in pairs.
  std::vector<std::string> witnesses, witness_keys;
  std::string witness_interval = "15s";
};

// Who the API server takes this process for, from a SelfSubjectReview
// (any authenticated user may ask); "" when it cannot say.
std::string SelfUser(kube::Client& client) {
  auto review = client.Create(kube::ResourcePath("authentication.k8s.io/v1", "selfsubjectreviews"),
                              {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  if (!review.ok()) {
    log::Warn("cannot learn the operator's user name; execution records will not name it",
              {{"error", review.status().message()}});
    return "";
  }
  return api::StringAt(*review, {"status", "userInfo", "username"});
}

int RunOperator(const OperatorOptions& o) {
  if (o.ns.empty()) return UsageError("--namespace must not be empty");
  if (o.workers < 1 || o.workers > 256) return UsageError("--workers must be 1..256");
  if (o.lease_seconds < 3) return UsageError("--lease-duration must be at least 3 seconds");
  // Below the API server's longest webhook timeout (30 s) a slow but
  // successful creation could be marked as never made.
  auto phantom_after = ParseDuration(o.phantom_after);
  if (!phantom_after || (phantom_after->count() > 0 && *phantom_after < std::chrono::seconds(5))) {
    return UsageError("--phantom-after must be a duration of at least 5s (e.g. 2m), or 0s for never");
  }
  if (phantom_after->count() > 0 && *phantom_after < std::chrono::seconds(45)) {
    log::Warn("--phantom-after is shorter than a webhook may take (timeoutSeconds up to 30 s)",
              {{"phantomAfter", o.phantom_after}});
  }
  auto retention_min_age = ParseDuration(o.retention_min_age);
  if (!retention_min_age || *retention_min_age < 2 * ledger::kConfigMapViewRefresh) {
    // A writer re-reads where the ledger begins once its view is a minute old.
    return UsageError("--ledger-retention-min-age must be a duration of at least 2m");
  }
  if (o.retain_segments > 0 && o.ledger_archive.empty()) {
    return UsageError("--ledger-retain-segments needs --ledger-archive (where the moved records go)");
  }
  if (o.retention_seconds < 10) return UsageError("--ledger-retention-interval must be at least 10 seconds");
  if (o.runtime_seconds < 0 || o.runtime_seconds > 86400) {
    return UsageError("--runtime-interval must be 0 (off) to 86400 seconds");
  }
  if (auto addr = webhook::ParseListenAddress(o.metrics_listen); !addr.ok()) return UsageError(addr.status().message());
  if (o.witnesses.size() != o.witness_keys.size()) return UsageError("give each --witness URL its --witness-key, in the same order");
  if (o.witnesses.size() > 32) return UsageError("at most 32 --witness");
  std::vector<ledger::WitnessEndpoint> witness_endpoints;
  for (size_t i = 0; i < o.witnesses.size(); ++i) {
    auto key = ledger::ParseNoteVerifierKey(o.witness_keys[i]);
    if (!key.ok() || key->type != ledger::kNoteAlgCosignatureV1) {
      return UsageError("--witness-key " + o.witness_keys[i] + ": not a witness (cosignature/v1) verifier key");
    }
    if (o.witnesses[i].rfind("http://", 0) != 0 && o.witnesses[i].rfind("https://", 0) != 0) {
      return UsageError("--witness " + o.witnesses[i] + ": an http:// or https:// URL");
    }
    witness_endpoints.push_back({o.witnesses[i], *key});
  }
  auto witness_interval = ParseDuration(o.witness_interval);
  if (!witness_interval || *witness_interval < std::chrono::seconds(1)) {
    return UsageError("--witness-interval must be a duration of at least 1s");
  }
  auto config = kube::DefaultRestConfig(o.kubeconfig);
  if (!config.ok()) return UsageError("--kubeconfig: " + config.status().message());

  // Stop signals, and SIGUSR1 for a lost lease, are taken by WaitForStop
  // below; blocked before any thread starts so that no other thread receives them.
  const sigset_t signals = BlockStopSignals();

  auto client_or = kube::NewClient(*config);
  if (!client_or.ok()) return UsageError(client_or.status().message());
  std::unique_ptr<kube::Client> client = std::move(client_or).value();
  metrics::Metrics metrics;
  std::string identity = o.identity.empty() ? runtime::DefaultIdentity() : o.identity;

  std::string ledger_url = ClusterLedgerUrl(o.ledger, o.ns, o.kubeconfig);
  // The consumptions the webhook recorded, for re-verifying ExecutionRequests.
  std::unique_ptr<webhook::FileReplayStore> replay = webhook::FileReplayStore::ForSharedLedger();
  ledger::LedgerOptions ledger_options;
  ledger_options.signing_key_path = o.ledger_key;
  // A new ledger is named after this cluster; an existing one keeps its origin.
  ledger_options.origin = ledger::InClusterLedgerOrigin(o.ledger_origin, *client, ledger_url);
  ledger_options.observe = [store = replay.get()](uint64_t, std::string_view record) {
    store->Observe(record, SystemClock::Get().NowUnix());
  };
  auto ledger = ledger::OpenLedger(ledger_url, ledger_options);
  if (!ledger.ok()) return UsageError("--ledger " + ledger_url + ": " + ledger.status().message());
  std::optional<crypto::PrivateKey> retention_key;  // signs the retention cut, as the ledger's checkpoints
  if (o.retain_segments > 0) {
    if (ledger_url.rfind("configmap://", 0) != 0) {
      return UsageError("--ledger-retain-segments moves segments of a configmap:// ledger, not " + ledger_url);
    }
    auto key = ledger::LoadOrCreateKey(ledger_url, o.ledger_key);
    if (!key.ok()) return UsageError("--ledger-key: " + key.status().message());
    retention_key = std::move(key).value();
  }
  replay->SetCatchUp([l = ledger->get()] { return l->CatchUp(); }, /*on_every_miss=*/true);
  if (Status st = (*ledger)->CatchUp(); !st.ok()) {  // the whole ledger, now rather than in the first reconcile
    return UsageError("--ledger " + ledger_url + ": cannot read the consumed artifacts: " + st.message());
  }
  // The webhook replica writing the ledger's tail, when the replicas elect
  // one (webhook --ledger-writer-lease): the operator's records (steps,
  // derived admissions, enforcement) go to it and ride its group commit,
  // rather than racing it for the tail; in a burst of ExecutionRequests a
  // third of the webhook's batch creates lost that race (bench/cluster). The
  // operator never writes the tail for the replicas, so it only reads the
  // Lease; whenever the writer cannot be reached it appends here, as before.
  std::unique_ptr<runtime::LeaderElector> writer_watch;
  std::unique_ptr<ledger::Ledger> forwarding;
  ledger::Ledger* records = ledger->get();
  if (!o.writer_lease.empty()) {
    auto key = ledger::LoadOrCreateKey(ledger_url, o.ledger_key);
    if (!key.ok()) return UsageError("--ledger-writer-lease signs what it forwards with --ledger-key: " + key.status().message());
    runtime::LeaderElectionConfig watch;
    watch.lease_namespace = o.ns;
    watch.lease_name = o.writer_lease;
    watch.identity = identity;
    watch.observe_only = true;
    writer_watch = std::make_unique<runtime::LeaderElector>(client.get(), watch, nullptr, nullptr);
    webhook::ForwardOptions forward;
    forward.writer = [w = writer_watch.get()] { return webhook::WriterUrlOf(w->Holder()); };
    forward.forward_appends = true;
    forward.metrics = &metrics;
    forwarding = webhook::NewForwardingLedger(ledger->get(), std::move(key).value(), std::move(forward));
    records = forwarding.get();
    writer_watch->Start();
  }
  // A second, read-only view of the same ledger for the index.
  auto reader = ledger::OpenBackend(ledger_url, ledger::BackendOptions{.read_only = true});
  if (!reader.ok()) return UsageError("--ledger " + ledger_url + ": " + reader.status().message());
  controllers::LedgerIndex index(reader->get());
  // What the runtime verifier needs from the ledger, from the index's reads.
  controllers::RuntimeFacts runtime_facts;
  index.AddObserver([&runtime_facts](uint64_t seq, const nlohmann::json& record, std::string_view) {
    runtime_facts.Observe(seq, record);
  });

  runtime::ManagerOptions manager_options;
  if (o.leader_elect) manager_options.leader_election = LeaseConfig(o.ns, o.lease_name, identity, o.lease_seconds);
  manager_options.on_lost_leadership = [] { kill(getpid(), SIGUSR1); };
  runtime::Manager manager(client.get(), manager_options);

  const std::string api_version(api::kApiVersion);
  runtime::InformerOptions key_sources;
  key_sources.selector.label_selector = controllers::kKeySourceLabelSelector;
  runtime::Informer* policies = manager.GetInformer(kube::ResourcePath(api_version, "executionpolicies"));
  runtime::Informer* secrets = manager.GetInformer(kube::ResourcePath("v1", "secrets", o.ns), key_sources);
  runtime::Informer* configmaps = manager.GetInformer(kube::ResourcePath("v1", "configmaps", o.ns), key_sources);
  runtime::Informer* requests = manager.GetInformer(kube::ResourcePath(api_version, "executionrequests"));
  runtime::Informer* jobs = manager.GetInformer(kube::ResourcePath("batch/v1", "jobs"));
  runtime::Informer* pods = manager.GetInformer(kube::ResourcePath("v1", "pods"));
  runtime::Informer* namespaces = manager.GetInformer(kube::ResourcePath("v1", "namespaces"));

  controllers::ClusterPolicies compiled(policies, secrets, configmaps, o.ns, &metrics);
  compiled.Register();  // before the controllers' handlers: status follows a finished rebuild
  std::unique_ptr<kube::EventRecorder> events = kube::NewEventRecorder(client.get(), "execgov-operator");
  webhook::ApiReplayStore legacy_replay(client.get(), o.ns);

  controllers::PolicyController policy_controller({client.get(), policies, &compiled, events.get(), nullptr});
  controllers::RequestControllerDeps request_deps;
  request_deps.client = client.get();
  request_deps.requests = requests;
  request_deps.jobs = jobs;
  request_deps.namespaces = namespaces;
  request_deps.policies = [&compiled] { return compiled.Current(); };
  request_deps.replay = replay.get();
  request_deps.ledger = records;
  request_deps.index = &index;
  for (size_t start = 0; start < o.watch_namespaces.size();) {
    size_t comma = std::min(o.watch_namespaces.find(',', start), o.watch_namespaces.size());
    if (comma > start) request_deps.watch_namespaces.insert(o.watch_namespaces.substr(start, comma - start));
    start = comma + 1;
  }
  // The checkpoints' origin, which an auditor verifies the lineage under
  // (not the store's name: a new in-cluster ledger is named after the cluster).
  request_deps.ledger_origin = (*ledger)->Origin();
  request_deps.operator_identity = identity;
  request_deps.operator_user = SelfUser(*client);
  request_deps.events = events.get();
  request_deps.metrics = &metrics;
  request_deps.install_namespace = o.ns;
  controllers::RequestController request_controller(request_deps);
  controllers::LineageControllerDeps lineage_deps;
  lineage_deps.objects = {pods, jobs, requests};
  lineage_deps.namespaces = namespaces;
  lineage_deps.watch_namespaces = request_deps.watch_namespaces;
  lineage_deps.ledger = records;
  lineage_deps.index = &index;
  lineage_deps.metrics = &metrics;
  lineage_deps.install_namespace = o.ns;
  lineage_deps.phantom_after = *phantom_after;
  lineage_deps.operator_identity = identity;
  controllers::LineageController lineage(std::move(lineage_deps));
  controllers::RuntimeVerifierDeps runtime_deps;
  runtime_deps.client = client.get();
  runtime_deps.pods = controllers::SourceOf(pods);
  runtime_deps.jobs = controllers::SourceOf(jobs);
  runtime_deps.requests = controllers::SourceOf(requests);
  runtime_deps.namespaces = controllers::SourceOf(namespaces);
  runtime_deps.policies = [&compiled] { return compiled.Current(); };
  runtime_deps.index = &index;
  runtime_deps.facts = &runtime_facts;
  runtime_deps.ledger = records;
  runtime_deps.events = events.get();
  runtime_deps.metrics = &metrics;
  runtime_deps.watch_namespaces = request_deps.watch_namespaces;
  runtime_deps.install_namespace = o.ns;
  runtime_deps.operator_identity = identity;
  controllers::RuntimeVerifier runtime_verifier(std::move(runtime_deps));
  if (o.runtime_seconds > 0) runtime_verifier.WatchChanges({pods, jobs, requests, namespaces, policies});

  runtime::ControllerOptions controller_options;
  controller_options.workers = o.workers;
  controller_options.metrics = &metrics;
  auto policy_loop = std::make_unique<runtime::Controller>(
      "executionpolicy", [&](const std::string& key) { return policy_controller.Reconcile(key); }, controller_options);
  policy_loop->Watch(policies);
  auto request_loop = std::make_unique<runtime::Controller>(
      "executionrequest", [&](const std::string& key) { return request_controller.Reconcile(key); }, controller_options);
  request_loop->Watch(requests);
  request_loop->Watch(jobs, runtime::ControllerOwnerKey("ExecutionRequest"));
  manager.AddController(std::move(policy_loop), true);
  manager.AddController(std::move(request_loop), true);
  const std::string guarded_configuration =
      o.guard_webhook_configuration.empty() ? o.webhook_configuration : o.guard_webhook_configuration;
  std::unique_ptr<controllers::WebhookConfigurationWatch> configuration_watch;
  if (o.runtime_seconds > 0 && !guarded_configuration.empty()) {
    configuration_watch = std::make_unique<controllers::WebhookConfigurationWatch>(
        client.get(), guarded_configuration, records, events.get(), &metrics, identity);
    manager.AddRunnable(controllers::PeriodicRunnable(
        "webhook-configuration-watch", std::chrono::seconds(o.runtime_seconds), [&configuration_watch] {
          if (Status st = configuration_watch->Check(); !st.ok()) {
            log::Warn("cannot read the webhook configuration", {{"error", st.message()}});
          }
        }));
  }
  if (o.runtime_seconds > 0) {
    manager.AddRunnable(runtime_verifier.Runnable(std::chrono::seconds(o.runtime_seconds), std::chrono::seconds(2)));
  }
  manager.AddRunnable(controllers::PeriodicRunnable("lineage", std::chrono::seconds(o.lineage_seconds), [&] {
    auto derived = lineage.Pass();
    if (!derived.ok()) log::Warn("lineage pass failed", {{"error", derived.status().message()}});
  }));
  // The operator's in-memory copy of the consumptions, and the per-jti
  // ConfigMaps an older version made (their expiry has the skew grace
  // already: one grace, not two).
  // The webhook replicas append ConfigMap batches but never delete one: the
  // leader reads the ledger's tail every few seconds, and its ledger's
  // store merges each full run of batches into a segment and deletes them.
  manager.AddRunnable(controllers::PeriodicRunnable("ledger-merge", std::chrono::seconds(5), [&] {
    auto size = (*ledger)->Size();
    if (!size.ok()) log::Warn("cannot read the ledger's tail", {{"error", size.status().message()}});
  }));
  manager.AddRunnable(controllers::PeriodicRunnable("replay-prune", std::chrono::seconds(o.prune_seconds), [&] {
    replay->Prune(SystemClock::Get().NowUnix());
    auto pruned = legacy_replay.PruneExpired(SystemClock::Get().NowUnix());
    if (!pruned.ok()) {
      log::Warn("replay prune failed", {{"error", pruned.status().message()}});
    } else if (*pruned > 0) {
      log::Info("replay prune", {{"deleted", *pruned}});
    }
  }));

  if (retention_key) {
    manager.AddRunnable(controllers::PeriodicRunnable("ledger-retention", std::chrono::seconds(o.retention_seconds), [&] {
      ledger::RetentionOptions ro;
      ro.keep_segments = o.retain_segments;
      ro.archive_url = o.ledger_archive;
      ro.origin = (*ledger)->Origin();  // the base's note verifies as the checkpoints do
      ro.now = SystemClock::Get().Now();
      ro.min_age = std::chrono::duration_cast<std::chrono::seconds>(*retention_min_age);
      auto moved = ledger::RunRetention(ledger_url, **ledger, *retention_key, ro);
      metrics.RecordLedgerRetention(moved.ok(), moved.ok() ? moved->moved_segments : 0,
                                    moved.ok() ? moved->moved_records : 0, moved.ok() ? moved->first_seq : 0);
      if (!moved.ok()) {
        log::Warn("ledger retention failed; the next run continues it", {{"error", moved.status().message()}});
      } else if (moved->moved_segments > 0 || moved->completed_earlier) {
        log::Info("ledger retention", {{"movedSegments", moved->moved_segments},
                                       {"archivedRecords", moved->moved_records},
                                       {"firstSeq", moved->first_seq},
                                       {"firstSegment", moved->first_segment},
                                       {"completedEarlierRun", moved->completed_earlier},
                                       {"heldBy", moved->held_by},
                                       {"archive", o.ledger_archive}});
      }
    }));
  }

  // The checkpoints go to the witnesses from the leader, on a thread of
  // their own and through a read-only view of the ledger: a witness away or
  // slow delays nothing but its own cosignature.
  std::unique_ptr<ledger::CosignedStore> cosigned_store;
  std::unique_ptr<ledger::Backend> witness_reader;
  std::unique_ptr<ledger::WitnessSubmitter> submitter;
  if (!witness_endpoints.empty()) {
    auto store = ledger::OpenCosignedStore(ledger_url);
    if (!store.ok()) return UsageError("--witness: " + store.status().message());
    cosigned_store = std::move(store).value();
    auto view = ledger::OpenBackend(ledger_url, ledger::BackendOptions{.read_only = true});
    if (!view.ok()) return UsageError("--ledger " + ledger_url + ": " + view.status().message());
    witness_reader = std::move(view).value();
    if (!o.ledger_archive.empty()) {  // records moved out are still leaves of the tree the witnesses saw
      auto archive = ledger::OpenBackend(o.ledger_archive, ledger::BackendOptions{.read_only = true});
      if (!archive.ok()) return UsageError("--ledger-archive: " + archive.status().message());
      std::optional<crypto::PublicKey> base_key;
      if (retention_key) base_key = retention_key->Public();
      auto joined = ledger::JoinArchive(std::move(archive).value(), std::move(witness_reader), base_key);
      if (!joined.ok()) return UsageError("--ledger-archive: " + joined.status().message());
      witness_reader = std::move(joined).value();
    }
    ledger::WitnessSubmitterOptions wo;
    wo.witnesses = witness_endpoints;
    wo.registry = &metrics.registry();
    submitter = std::make_unique<ledger::WitnessSubmitter>(witness_reader.get(), cosigned_store.get(), wo);
    manager.AddRunnable(controllers::PeriodicRunnable(
        "ledger-witnesses", std::chrono::duration_cast<std::chrono::milliseconds>(*witness_interval), [&submitter, last = std::string()]() mutable {
          Status st = submitter->Pass();
          if (!st.ok() && st.message() != last) {  // once per cause
            log::Warn("cannot submit the ledger's checkpoint to its witnesses", {{"error", st.message()}});
          }
          last = st.ok() ? "" : st.message();
        }));
  }

  std::unique_ptr<controllers::WebhookCertificates> certificates;
  if (!o.webhook_configuration.empty()) {
    controllers::WebhookCertificatesOptions co;
    co.ns = o.ns;
    co.webhook_configuration = o.webhook_configuration;
    co.ca_secret = o.webhook_ca_secret;
    co.tls_secret = o.webhook_tls_secret;
    co.hosts = controllers::ServiceHosts(o.webhook_service, o.ns);
    co.hosts.insert(co.hosts.end(), o.webhook_hosts.begin(), o.webhook_hosts.end());
    std::string server_name = o.webhook_service + "." + o.ns + ".svc";
    auto probe = o.webhook_probes.empty()
                     ? controllers::ProbeServiceEndpoints(client.get(), o.ns, o.webhook_service, "https", server_name)
                     : controllers::ProbeAddresses(o.webhook_probes, server_name);
    certificates = std::make_unique<controllers::WebhookCertificates>(client.get(), &SystemClock::Get(), co, probe);
    manager.AddRunnable(controllers::WebhookCertificatesRunnable(certificates.get()));
  }

  auto ops = webhook::OpsServer::Start(o.metrics_listen, &metrics, [&manager] { return manager.CachesSynced(); });
  if (!ops.ok()) return UsageError(ops.status().message());
  if (Status st = manager.Start(); !st.ok()) {
    log::Error("execgov operator: cannot start", {{"error", st.message()}});
    manager.Stop();
    return kExitUsage;
  }
  log::Info("execgov operator: started", {{"identity", identity},
                                          {"user", request_deps.operator_user},
                                          {"namespace", o.ns},
                                          {"ledger", ledger_url},
                                          {"leaderElection", o.leader_elect},
                                          {"lease", o.lease_name},
                                          {"workers", o.workers},
                                          {"watchNamespaces", o.watch_namespaces},
                                          {"metricsListen", o.metrics_listen}});

  const bool lost = WaitForStop(signals, "operator", identity);
  manager.Stop();
  ops->reset();
  if (writer_watch) writer_watch->Stop();
  // Through the forwarding ledger, if any: what it still holds is sent or
  // appended here before the ledger closes.
  if (Status st = (forwarding ? forwarding : *ledger)->Close(); !st.ok()) {
    log::Warn("ledger close failed", {{"error", st.message()}});
  }
  return lost ? kExitDenied : kExitOk;
}

}  // namespace

void RegisterOperator(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<OperatorOptions>();
  auto* cmd = app.add_subcommand("operator", "Run the reconcilers: policy status, ExecutionRequests, lineage");
  // A flag given twice takes its last value, so wrappers can set defaults
  // that a caller's flags override.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--kubeconfig", o->kubeconfig, "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  cmd->add_option("--namespace", o->ns, "install namespace: lease, ledger, replay records, key Secrets")
      ->capture_default_str();
  cmd->add_option("--ledger", o->ledger, "ledger URL (default: configmap://<namespace>)");
  cmd->add_option("--ledger-key", o->ledger_key, "Ed25519 key that signs checkpoints");
  cmd->add_option("--ledger-origin", o->ledger_origin, "origin of a new ledger (default: named after the cluster)");
  cmd->add_option("--metrics-listen", o->metrics_listen, "plain HTTP address for /metrics, /healthz, /readyz")
      ->capture_default_str();
  cmd->add_flag("--leader-elect,!--no-leader-elect", o->leader_elect,
                "act only while holding the Lease (default; --leader-elect=false or --no-leader-elect: always act)");
  cmd->add_option("--lease-name", o->lease_name, "the Lease in the install namespace")->capture_default_str();
  cmd->add_option("--ledger-writer-lease", o->writer_lease,
                  "the webhook replicas' writer Lease (their --ledger-writer-lease): hand this operator's ledger "
                  "records to the replica holding it (empty: append them here)");
  cmd->add_option("--lease-duration", o->lease_seconds, "seconds a leader's lease lasts without renewal")
      ->capture_default_str();
  cmd->add_option("--identity", o->identity, "this replica's name in the Lease (default: <hostname>_<random>)");
  cmd->add_option("--watch-namespaces", o->watch_namespaces,
                  "handle ExecutionRequests and lineage only in these namespaces, comma-separated (default: all)");
  cmd->add_option("--workers", o->workers, "reconciles run at once per controller")->capture_default_str();
  cmd->add_option("--lineage-interval", o->lineage_seconds, "seconds between lineage completeness passes")
      ->capture_default_str();
  cmd->add_option("--runtime-interval", o->runtime_seconds,
                  "seconds between re-verifications of every running governed workload (changes bring one sooner; "
                  "0: off)")
      ->capture_default_str();
  cmd->add_option("--guard-webhook-configuration", o->guard_webhook_configuration,
                  "record and alert when this ValidatingWebhookConfiguration is deleted or stops sending what "
                  "execgov must judge (default: --webhook-configuration)");
  cmd->add_option("--phantom-after", o->phantom_after,
                  "mark an allowed creation not-created when its object has not appeared this long after its "
                  "admission record (0s: never)")
      ->capture_default_str();
  cmd->add_option("--ledger-retain-segments", o->retain_segments,
                  "move the configmap:// ledger's sealed segments beyond this many to --ledger-archive (0: keep all)")
      ->capture_default_str();
  cmd->add_option("--ledger-archive", o->ledger_archive,
                  "ledger URL the moved records are appended to (file:PATH on a volume, etcd://...)");
  cmd->add_option("--ledger-retention-interval", o->retention_seconds, "seconds between retention runs")
      ->capture_default_str();
  cmd->add_option("--ledger-retention-min-age", o->retention_min_age,
                  "move no segment younger than this (at least 2m)")
      ->capture_default_str();
  cmd->add_option("--webhook-configuration", o->webhook_configuration,
                  "manage the serving certificates of this ValidatingWebhookConfiguration's webhook (its caBundle)");
  cmd->add_option("--webhook-service", o->webhook_service, "the webhook's Service (certificate names, replicas to probe)")
      ->capture_default_str();
  cmd->add_option("--webhook-ca-secret", o->webhook_ca_secret, "Secret holding the webhook CA")->capture_default_str();
  cmd->add_option("--webhook-tls-secret", o->webhook_tls_secret, "Secret the webhook pods mount")->capture_default_str();
  // Repeatable: every value counts (not the last, as for the flags above).
  cmd->add_option("--webhook-host", o->webhook_hosts, "another DNS name or IP for the serving certificate (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--webhook-probe", o->webhook_probes,
                  "HOST:PORT of a webhook replica to probe instead of the Service's endpoints (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--witness", o->witnesses,
                  "a witness's URL (its C2SP tlog-witness add-checkpoint prefix) that each new checkpoint is sent to, "
                  "the cosigned checkpoint kept beside the ledger (repeatable, with --witness-key)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--witness-key", o->witness_keys, "that witness's verifier key (cosignature/v1), in the same order")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--witness-interval", o->witness_interval, "how often the newest checkpoint is offered to the witnesses")
      ->capture_default_str();
  cmd->callback([o, exit_code] { *exit_code = RunOperator(*o); });
}

}  // namespace execgov::cmd
