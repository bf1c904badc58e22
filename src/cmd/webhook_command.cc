// execgov webhook: the admission webhook in a cluster (docs/design.md §4, §8).
// Policies and the keys they reference come from the API through informers
// (controllers::ClusterPolicies); Namespace labels feed namespaceSelector;
// decisions go to the ledger (the ConfigMap ledger of the install namespace
// by default), and a consumed artifact is recorded by its decision's record:
// every replica folds the records the others write (LedgerOptions::observe)
// into its own replay store, and a record whose jti another replica
// recorded first is refused as it is written (Ledger::Guard), so one write
// per batch of admissions carries both the decisions and the consumptions. The HTTPS and ops servers are those of `execgov serve`.
// /readyz fails, and admission answers PolicyNotReady, until every cache has
// synced. No leader election: every replica serves.
#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "api/object.h"
#include "cmd/admission_service.h"
#include "cmd/cli.h"
#include "controllers/cluster_policies.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "ledger/ledger.h"
#include "ledger/origin.h"
#include "metrics/metrics.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/thread.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "webhook/api_replay_store.h"
#include "webhook/ledger_forward.h"
#include "webhook/replay_store.h"

namespace execgov::cmd {
namespace {

struct WebhookOptions {
  std::string kubeconfig, ns = std::string(api::kInstallNamespace), ledger, ledger_key, state_dir, ledger_origin;
  std::string ledger_linger = "5ms";
  std::string forward_listen, forward_address, writer_lease = "execgov-ledger-writer";
  AdmissionServiceOptions service;
};

int RunWebhook(const WebhookOptions& o) {
  namespace fs = std::filesystem;
  std::string state_dir = o.state_dir.empty() ? (fs::temp_directory_path() / "execgov-webhook").string() : o.state_dir;
  AdmissionServiceOptions service = o.service;
  service.command = "execgov webhook";
  // Decisions wait for their record on the ledger's writer thread, not on
  // the port's; the handler blocks only for a Namespace the cache has not
  // seen yet, or for the ledger when an inheritance is not yet known here.
  service.io_threads = 8;
  service.generated_tls_dir = (fs::path(state_dir) / "tls").string();
  if (Status st = ValidateAdmissionServiceOptions(service); !st.ok()) return UsageError(st.message());
  if (o.ns.empty()) return UsageError("--namespace must not be empty");
  auto linger = ParseDuration(o.ledger_linger);
  if (!linger || *linger > std::chrono::milliseconds(100)) {
    return UsageError("--ledger-linger: a duration from 0ms to 100ms, not \"" + o.ledger_linger + "\"");
  }
  if (o.forward_listen.empty() != o.forward_address.empty()) {
    return UsageError("--ledger-forward-listen and --ledger-forward-address go together");
  }
  if (!o.forward_listen.empty()) {
    if (auto parsed = webhook::ParseListenAddress(o.forward_listen); !parsed.ok()) {
      return UsageError("--ledger-forward-listen: " + parsed.status().message());
    }
    auto parsed = webhook::ParseListenAddress(o.forward_address);
    if (!parsed.ok() || parsed->first.empty() || o.forward_address.find_first_of("/?#@ ") != std::string::npos) {
      return UsageError("--ledger-forward-address: HOST:PORT the other replicas reach this one at, not \"" +
                        o.forward_address + "\"");
    }
    if (o.ledger_key.empty()) return UsageError("--ledger-forward-listen needs --ledger-key (it signs what is forwarded)");
  }
  auto config = kube::DefaultRestConfig(o.kubeconfig);
  if (!config.ok()) return UsageError("--kubeconfig: " + config.status().message());

  StopSignals signals;  // before any thread starts
  auto client_or = kube::NewClient(*config);
  if (!client_or.ok()) return UsageError(client_or.status().message());
  std::unique_ptr<kube::Client> client = std::move(client_or).value();
  metrics::Metrics metrics;

  std::string ledger_url = ClusterLedgerUrl(o.ledger, o.ns, o.kubeconfig);
  std::unique_ptr<webhook::FileReplayStore> replay = webhook::FileReplayStore::ForSharedLedger();
  ledger::LedgerOptions ledger_options;
  ledger_options.signing_key_path = o.ledger_key;
  // A new ledger is named after this cluster; an existing one keeps its origin.
  ledger_options.origin = ledger::InClusterLedgerOrigin(o.ledger_origin, *client, ledger_url);
  // Merging ConfigMap batches deletes them; the operator does it, so the
  // webhook's service account never needs to delete a ledger object.
  ledger_options.backend.compact = false;
  // Most admissions that could share a batch are still on their way
  // through the API server when the writer takes one, so nothing has
  // announced them: with a linger, records that queued during the last
  // write (concurrent admissions) wait for more, one at a time never does.
  // On by default (5ms): each batch costs the cluster a ConfigMap create
  // and, once merged, a delete, ~4.6-4.8 ms of API server, etcd and controller
  // manager CPU between them, more than the Pod it records costs. On
  // bench/cluster, one replica and 8 clients, it took ConfigMap creates from
  // 0.36 to 0.26 per admission and the CPU a governed admission costs from
  // 1.8x an ungoverned one's to 1.7x. With two replicas one writes (the
  // others forward), so no lost race makes a record wait twice.
  ledger_options.linger = *linger;
  ledger_options.linger_while_backlogged = true;
  // A record's expiry already has the clock-skew grace (policy::ConsumptionExpiry).
  // And the Jobs admitted under break-glass, whose Pods are break-glass too.
  webhook::BreakGlassIndex break_glass;
  ledger_options.observe = [store = replay.get(), &break_glass](uint64_t, std::string_view record) {
    store->Observe(record, SystemClock::Get().NowUnix());
    break_glass.Observe(record);
  };
  auto ledger = ledger::OpenLedger(ledger_url, ledger_options);
  if (!ledger.ok()) return UsageError("--ledger " + ledger_url + ": " + ledger.status().message());
  // What signs the records forwarded between replicas: the ledger's own key,
  // read before any thread starts.
  std::optional<crypto::PrivateKey> forward_key;
  if (!o.forward_listen.empty()) {
    auto key = ledger::LoadOrCreateKey(ledger_url, o.ledger_key);
    if (!key.ok()) return UsageError("--ledger-key: " + key.status().message());
    forward_key = std::move(key).value();
  }
  // Every consumption recorded so far, before the first answer.
  if (Status st = (*ledger)->CatchUp(); !st.ok()) {
    return UsageError("--ledger " + ledger_url + ": cannot read the consumed artifacts: " + st.message());
  }
  replay->SetCatchUp([l = ledger->get()] { return l->CatchUp(); });
  // Consumptions an older version kept as one ConfigMap per jti: until they
  // are read (tried again until the API server answers), nothing is allowed
  // (PolicyNotReady), since one of them could be replayed.
  std::atomic<bool> legacy_loaded{false}, stopping{false};
  // Two seconds, or less once stopping: the background threads' period.
  auto pause = [&stopping] {
    for (int i = 0; i < 20 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  std::thread legacy_loader([&] {
    webhook::ApiReplayStore legacy(client.get(), o.ns);
    while (!stopping) {
      auto loaded = legacy.LoadInto(replay.get(), SystemClock::Get().NowUnix());
      if (loaded.ok()) {
        if (*loaded > 0) log::Info("read the consumptions an older version recorded", {{"count", *loaded}});
        legacy_loaded = true;
        return;
      }
      log::Warn("cannot read the consumptions an older version recorded; trying again",
                {{"error", loaded.status().message()}});
      pause();
    }
  });
  auto not_ready = std::make_shared<const policy::PolicySet>();

  runtime::InformerOptions key_sources;
  key_sources.selector.label_selector = controllers::kKeySourceLabelSelector;
  runtime::Informer policies(client.get(), kube::ResourcePath(std::string(api::kApiVersion), "executionpolicies"));
  runtime::Informer secrets(client.get(), kube::ResourcePath("v1", "secrets", o.ns), key_sources);
  runtime::Informer configmaps(client.get(), kube::ResourcePath("v1", "configmaps", o.ns), key_sources);
  runtime::Informer namespaces(client.get(), kube::ResourcePath("v1", "namespaces"));
  controllers::ClusterPolicies cluster_policies(&policies, &secrets, &configmaps, o.ns, &metrics);
  cluster_policies.Register();
  for (auto* informer : {&policies, &secrets, &configmaps, &namespaces}) informer->Start();

  // One writer for the ledger's tail (webhook/ledger_forward.h): the replica
  // holding the Lease writes; the others forward their decisions' records
  // to it, and append themselves whenever it cannot be reached.
  std::unique_ptr<runtime::LeaderElector> writer_election;
  std::thread follower;
  std::unique_ptr<ledger::Ledger> forwarding;
  ledger::Ledger* admission_ledger = ledger->get();
  if (forward_key) {
    runtime::LeaderElectionConfig election;
    election.lease_namespace = o.ns;
    election.lease_name = o.writer_lease;
    // The holder's identity is where to reach it (an IPv6 address in brackets).
    const size_t colon = o.forward_address.rfind(':');
    std::string host = o.forward_address.substr(0, colon);
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    election.identity = "https://" + host + o.forward_address.substr(colon) + "#" + runtime::DefaultIdentity();
    writer_election = std::make_unique<runtime::LeaderElector>(client.get(), election, nullptr, nullptr);
    webhook::ForwardOptions forward;
    forward.metrics = &metrics;
    forward.writer = [e = writer_election.get(), self = election.identity] {
      return webhook::WriterUrlOf(e->Holder(), self);
    };
    forwarding = webhook::NewForwardingLedger(ledger->get(), *forward_key, std::move(forward));
    admission_ledger = forwarding.get();
    service.peer_listen = o.forward_listen;
    service.peer_handler = webhook::NewForwardHandler(
        ledger->get(), replay.get(),
        [store = replay.get(), &break_glass](std::string_view record) {
          store->Observe(record, SystemClock::Get().NowUnix());
          break_glass.Observe(record);
        },
        *forward_key, nullptr, nullptr, &metrics);
    writer_election->Start();
    // A replica that forwards never reads the tail to write it, and reads
    // it only when an inheritance is not known here: after minutes of
    // forwarding, that one read had minutes of other writers' records to
    // fetch and fold (4 s in the cluster bench's burst, for the Jobs that
    // waited on it). So it catches up in the background every 2 s while
    // another replica writes: two GETs when nothing is new.
    follower = std::thread([&stopping, &pause, e = writer_election.get(), l = ledger->get()] {
      SetThreadName("ledger-follow");
      while (!stopping) {
        pause();
        if (stopping || e->IsLeader()) continue;
        if (Status st = l->CatchUp(); !st.ok()) {
          log::Warn("ledger: cannot follow the tail another replica writes", {{"error", st.message()}});
        }
      }
    });
  }

  webhook::HandlerDeps deps;
  deps.policies = [&]() -> std::shared_ptr<const policy::PolicySet> {
    return legacy_loaded ? cluster_policies.Current() : not_ready;
  };
  deps.replay = replay.get();
  deps.break_glass = &break_glass;
  deps.ledger = admission_ledger;
  deps.install_namespace = o.ns;
  // A Namespace newer than the cache (created a moment ago) is read from the
  // API rather than judged without its labels.
  deps.namespace_labels = [&namespaces, &client](const std::string& ns) -> StatusOr<std::map<std::string, std::string>> {
    if (runtime::ObjectPtr cached = namespaces.Get(ns)) return api::LabelsOf(*cached);
    EXECGOV_ASSIGN_OR_RETURN(nlohmann::json fetched, client->Get(kube::ResourcePath("v1", "namespaces", "", ns)));
    return api::LabelsOf(fetched);
  };
  // ExecutionApprovals are judged against the request and the AuthorityPolicies as they are now (issue 20).
  deps.approvals = webhook::ApprovalContextFromApi(client.get());
  auto ready = [&] { return legacy_loaded && namespaces.HasSynced() && cluster_policies.Current()->ready; };
  int code = RunAdmissionService(service, deps, &metrics, ready, signals,
                                 {{"ledger", ledger_url}, {"namespace", o.ns}, {"kubeconfig", o.kubeconfig}});

  stopping = true;
  legacy_loader.join();
  if (follower.joinable()) follower.join();
  if (writer_election) writer_election->Stop();  // releases the Lease: the next writer need not wait it out
  for (auto* informer : {&namespaces, &configmaps, &secrets, &policies}) informer->Stop();
  return CloseLedger(*admission_ledger, code);
}

}  // namespace

void RegisterWebhook(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<WebhookOptions>();
  auto* cmd = app.add_subcommand("webhook", "Run the admission webhook in a cluster, with policies from the API");
  cmd->add_option("--kubeconfig", o->kubeconfig,
                  "kubeconfig file (default: $KUBECONFIG, the in-cluster service account, ~/.kube/config)");
  cmd->add_option("--namespace", o->ns, "install namespace: key Secrets/ConfigMaps, default ledger")
      ->capture_default_str();
  cmd->add_option("--ledger", o->ledger, "ledger URL (default: configmap://<namespace>)");
  cmd->add_option("--ledger-key", o->ledger_key, "Ed25519 key (PKCS#8 PEM) that signs checkpoints");
  cmd->add_option("--ledger-origin", o->ledger_origin, "origin of a new ledger (default: named after the cluster)");
  cmd->add_option("--ledger-linger", o->ledger_linger,
                  "when admissions arrive faster than the ledger stores them, how long a batch waits for more (0ms: never)")
      ->capture_default_str();
  cmd->add_option("--ledger-forward-listen", o->forward_listen,
                  "HOST:PORT where the replica writing the ledger takes the other replicas' records (TLS; off when empty)");
  cmd->add_option("--ledger-forward-address", o->forward_address,
                  "HOST:PORT the other replicas reach this one's --ledger-forward-listen at (the Pod's IP)");
  cmd->add_option("--ledger-writer-lease", o->writer_lease,
                  "the Lease in --namespace that elects the replica writing the ledger")
      ->capture_default_str();
  AddAdmissionServiceFlags(cmd, &o->service);
  cmd->add_option("--state-dir", o->state_dir,
                  "where a private CA and serving certificate are made without --tls-cert "
                  "(default: execgov-webhook in the temporary directory)");
  cmd->callback([o, exit_code] { *exit_code = RunWebhook(*o); });
}

}  // namespace execgov::cmd
