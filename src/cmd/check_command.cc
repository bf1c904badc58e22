// execgov check: the webhook's decision, offline. Calls the same
// policy::Decide the webhook calls, with the manifest as the object of a
// CREATE. Artifacts consumed by one document count as consumed for the next.
#include <iostream>
#include <map>

#include "api/object.h"
#include "cmd/cli.h"
#include "core/clock.h"
#include "policy/decision.h"
#include "policy/policy.h"

namespace execgov::cmd {
namespace {

struct CheckOptions {
  std::string file, policy, user, now;
};

class MemoryReplay : public policy::ReplayView {
 public:
  std::optional<policy::Consumption> Find(const std::string& jti, const std::string&) const override {
    auto it = consumed_.find(jti);
    if (it == consumed_.end()) return std::nullopt;
    return it->second;
  }
  void Consume(const std::string& jti, policy::Consumption c) { consumed_.emplace(jti, std::move(c)); }

 private:
  std::map<std::string, policy::Consumption> consumed_;
};

int RunCheck(const CheckOptions& o) {
  int64_t now = SystemClock::Get().NowUnix();
  if (!o.now.empty()) {
    auto t = ParseRfc3339(o.now);
    if (!t) return UsageError("--now: \"" + o.now + "\" is not an RFC 3339 time");
    now = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  }
  auto policies = policy::LoadPolicyPath(o.policy);
  if (!policies.ok()) return UsageError(policies.status().message());
  auto manifests = ReadManifests(o.file);
  if (!manifests.ok()) return UsageError(manifests.status().message());

  MemoryReplay replay;
  int rc = kExitOk;
  for (size_t i = 0; i < manifests->docs.size(); ++i) {
    const auto& doc = manifests->docs[i];
    policy::AdmissionAttributes a;
    a.kind = api::KindOf(doc);
    a.operation = policy::Operation::kCreate;
    a.ns = api::NamespaceOf(doc);
    a.name = api::NameOf(doc);
    a.uid = api::UidOf(doc).empty() ? "check-" + std::to_string(i + 1) : api::UidOf(doc);
    a.object = &doc;
    a.user = o.user;
    policy::DecisionInputs in;
    in.policies = &*policies;
    in.now = now;
    in.replay = &replay;
    policy::Decision d = policy::Decide(a, in);
    for (const auto& w : d.warnings) std::cerr << "warning: " << w << "\n";
    if (d.allowed) {
      std::cout << "allowed\n";
      if (d.replay_action == policy::ReplayAction::kConsume && d.artifact) {
        replay.Consume(d.artifact->jti, {a.kind, a.ns, a.name, a.uid});
      }
    } else {
      std::cout << "denied: " << policy::ReasonName(d.reason) << ": " << d.message << "\n";
      rc = kExitDenied;
    }
  }
  return rc;
}

}  // namespace

void RegisterCheck(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand("check", "Decide offline whether the webhook would admit a manifest");
  cmd->add_option("-f,--filename", o->file, "manifest file, or - for standard input")->required();
  cmd->add_option("--policy", o->policy, "ExecutionPolicy file or directory")->required();
  cmd->add_option("--user", o->user, "the requesting user, for bindRequester");
  cmd->add_option("--now", o->now, "evaluate at this time (RFC 3339) instead of now");
  cmd->callback([o, exit_code] { *exit_code = RunCheck(*o); });
}

}  // namespace execgov::cmd
