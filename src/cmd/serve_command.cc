// execgov serve: the admission webhook without a cluster. Policies come from
// files (reloaded on change), decisions go to the ledger, which also carries
// the consumed artifacts (replayed from it on start), and with no certificate given a private CA and
// a serving certificate for 127.0.0.1/localhost are created.
#include <filesystem>

#include "cmd/admission_service.h"
#include "cmd/cli.h"
#include "core/clock.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "webhook/admission_handler.h"
#include "webhook/policy_source.h"
#include "webhook/replay_store.h"

namespace execgov::cmd {
namespace {

struct ServeOptions {
  std::string policy, ledger, ledger_key, state_dir;
  AdmissionServiceOptions service;
};

int RunServe(const ServeOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(o.policy, ec)) return UsageError("--policy: " + o.policy + " does not exist");
  fs::path base = fs::is_directory(o.policy, ec) ? fs::path(o.policy) : fs::path(o.policy).parent_path();
  if (base.empty()) base = ".";
  std::string state_dir = o.state_dir.empty() ? (base / "execgov-state").string() : o.state_dir;
  AdmissionServiceOptions service = o.service;
  service.command = "execgov serve";
  service.generated_tls_dir = (fs::path(state_dir) / "tls").string();
  if (Status st = ValidateAdmissionServiceOptions(service); !st.ok()) return UsageError(st.message());
  fs::create_directories(state_dir, ec);
  if (ec) return UsageError("cannot create " + state_dir + ": " + ec.message());
  std::string ledger_url = o.ledger.empty() ? "file:" + (fs::path(state_dir) / "ledger.jsonl").string() : o.ledger;

  StopSignals signals;  // before any thread starts
  metrics::Metrics metrics;
  ledger::LedgerOptions ledger_options;
  ledger_options.signing_key_path = o.ledger_key;
  // Under load, wait up to 0.5 ms for more records before each fsync: at
  // ~9k admissions/s that took fresh admissions from ~200 to ~165 us of CPU
  // each (bench/webhook/run.sh, docs/webhook.md).
  ledger_options.linger = std::chrono::microseconds(500);
  auto ledger = ledger::OpenLedger(ledger_url, ledger_options);
  if (!ledger.ok()) return UsageError("--ledger " + ledger_url + ": " + ledger.status().message());
  // Consumptions are made durable by the decisions' ledger records (one
  // durable write per admission); replay.jsonl holds an older version's.
  auto replay = webhook::FileReplayStore::OpenWithLedger((fs::path(state_dir) / "replay.jsonl").string(), ledger_url,
                                                         SystemClock::Get().NowUnix());
  if (!replay.ok()) return UsageError(replay.status().message());

  webhook::FilePolicySource policies(o.policy, &metrics);
  policies.Start();
  webhook::HandlerDeps deps;
  deps.policies = [&policies] { return policies.Current(); };
  deps.replay = replay->get();
  deps.ledger = ledger->get();
  int code = RunAdmissionService(service, deps, &metrics, [&policies] { return policies.ready(); }, signals,
                                 {{"ledger", ledger_url}, {"policy", o.policy}, {"policiesReady", policies.ready()}});
  return CloseLedger(**ledger, code);
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the admission webhook standalone, with policies from files");
  cmd->add_option("--policy", o->policy, "ExecutionPolicy file or directory (reloaded on change)")->required();
  cmd->add_option("--ledger", o->ledger, "ledger URL (default: file: in the state directory)");
  cmd->add_option("--ledger-key", o->ledger_key, "Ed25519 key that signs checkpoints (created beside a file ledger)");
  AddAdmissionServiceFlags(cmd, &o->service);
  cmd->add_option("--state-dir", o->state_dir, "replay journal, default ledger and generated certificates "
                                               "(default: execgov-state beside the policies)");
  cmd->callback([o, exit_code] { *exit_code = RunServe(*o); });
}

}  // namespace execgov::cmd
