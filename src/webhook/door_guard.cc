#include "webhook/door_guard.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "api/object.h"
#include "core/log.h"
#include "policy/policy_match.h"

namespace execgov::webhook {
namespace {

constexpr const char* kGuardName = "namespace-governed-label";

bool Governed(const Json& ns) {
  return api::StringAt(ns, {"metadata", "labels", std::string(api::kGovernedLabel).c_str()}) == "true";
}

}  // namespace

bool IsNamespaceRequest(const AdmissionRequest& req) {
  return req.resource == GroupVersionResource{"", "v1", "namespaces"} && req.sub_resource.empty();
}

NamespaceGuardDecision JudgeNamespaceUpdate(const AdmissionRequest& req, const policy::PolicySet* policies,
                                            std::string_view install_namespace) {
  NamespaceGuardDecision d;
  if (req.operation != policy::Operation::kUpdate || !req.old_object.is_object() || !req.object.is_object()) return d;
  const std::string name = api::NameOf(req.old_object);
  if (api::IsNeverGovernedNamespace(name, install_namespace)) return d;
  if (!Governed(req.old_object) || Governed(req.object)) return d;
  d.guarded = true;
  d.allowed = false;
  if (!policies || !policies->ready) {
    d.message = "execgov has not loaded its ExecutionPolicies, so it cannot tell who may remove " +
                std::string(api::kGovernedLabel) + " from namespace " + name + "; retry shortly";
    return d;
  }
  const auto labels = api::LabelsOf(req.old_object);
  for (const auto& p : policies->policies) {
    if (!policy::PolicyCovers(*p, "", name, labels)) continue;
    const auto& rt = p->runtime;
    bool ok = rt.guardian_users.count(req.user) > 0;
    for (const auto& g : req.groups) ok = ok || rt.guardian_groups.count(g) > 0;
    if (ok) {
      d.allowed = true;
      d.policy = p->name;
      d.message = "user " + req.user + " is a namespace guardian of ExecutionPolicy " + p->name;
      return d;
    }
  }
  d.message = "removing " + std::string(api::kGovernedLabel) + " from namespace " + name +
              " would stop execution governance there; only the users and groups an ExecutionPolicy names in "
              "spec.runtime.namespaceGuardians may, and " + req.user + " is not one of them";
  return d;
}

StatusOr<ledger::Entry> NamespaceGuardRecord(const AdmissionRequest& req, const NamespaceGuardDecision& d) {
  const Json& obj = req.old_object.is_object() ? req.old_object : req.object;
  ledger::EntryBuilder entry;
  entry.Str("type", "guard")
      .Str("guard", kGuardName)
      .Str("decision", d.allowed ? "allowed" : "denied")
      .Str("reason", d.allowed ? "Allowed" : "GuardRefused")
      .Str("message", d.message)
      .Obj("object", std::move(ledger::EntryBuilder()
                                   .Str("kind", "Namespace")
                                   .Str("name", api::NameOf(obj), ledger::kMaxNameBytes)
                                   .Str("uid", api::UidOf(obj), ledger::kMaxUidBytes)
                                   .Str("operation", policy::OperationName(req.operation))))
      .Str("user", req.user);
  if (!d.policy.empty()) entry.Obj("policy", std::move(ledger::EntryBuilder().Str("name", d.policy, ledger::kMaxNameBytes)));
  return std::move(entry).Build();
}

AdmissionResponse GuardNamespace(const AdmissionRequest& req, const policy::PolicySet* policies, ledger::Ledger* ledger,
                                 std::string_view install_namespace, metrics::Metrics* metrics) {
  const auto start = std::chrono::steady_clock::now();
  NamespaceGuardDecision d = JudgeNamespaceUpdate(req, policies, install_namespace);
  AdmissionResponse resp;
  resp.uid = req.uid;
  resp.allowed = true;
  if (!d.guarded) return resp;
  std::optional<uint64_t> seq;
  if (ledger && !req.dry_run) {
    auto entry = NamespaceGuardRecord(req, d);
    StatusOr<ledger::Appended> appended = entry.status();
    if (entry.ok()) {
      std::promise<StatusOr<ledger::Appended>> done;
      auto result = done.get_future();
      ledger->AppendEntryAsync(std::move(entry).value(),
                               [&done](StatusOr<ledger::Appended> r) { done.set_value(std::move(r)); });
      appended = result.get();
    }
    if (appended.ok()) {
      seq = appended->seq;
    } else if (d.allowed) {  // an unrecorded removal is not allowed to happen
      d.allowed = false;
      d.message = "cannot record the removal of " + std::string(api::kGovernedLabel) + " in the lineage ledger: " +
                  appended.status().message();
    }
    if (metrics) metrics->RecordLedgerAppend(appended.ok(), 0, appended.ok() ? appended->seq : 0);
  }
  resp.allowed = d.allowed;
  if (!d.allowed) {
    resp.code = 403;
    resp.message = "execgov: GuardRefused: " + d.message;
  }
  resp.audit_annotations["decision"] = d.allowed ? "allowed" : "denied";
  resp.audit_annotations["reason"] = d.allowed ? "Allowed" : "GuardRefused";
  if (seq) resp.audit_annotations["ledger-seq"] = std::to_string(*seq);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (metrics) metrics->RecordAdmission("Namespace", d.allowed ? "allowed" : "denied", d.allowed ? "Allowed" : "GuardRefused", secs);
  log::Info("namespace guard", nlohmann::json{{"uid", req.uid}, {"namespace", api::NameOf(req.old_object)}, {"user", req.user},
                                {"decision", d.allowed ? "allowed" : "denied"}, {"message", d.message},
                                {"dryRun", req.dry_run}});
  return resp;
}

std::optional<BreakGlass> FindBreakGlass(const policy::PolicySet& policies, const policy::AdmissionAttributes& a) {
  for (const auto& p : policies.policies) {
    if (p->runtime.break_glass_groups.empty() || !policy::PolicyCovers(*p, a.kind, a.ns, a.namespace_labels)) continue;
    for (const auto& g : a.groups) {
      if (p->runtime.break_glass_groups.count(g)) return BreakGlass{p->name, g, ""};
    }
  }
  return std::nullopt;
}

std::optional<BreakGlass> FindInheritedBreakGlass(const policy::PolicySet& policies,
                                                  const policy::AdmissionAttributes& a, const BreakGlassIndex& index) {
  if (a.kind != "Pod" || a.operation != policy::Operation::kCreate || !a.object) return std::nullopt;
  auto owner = api::ControllerOf(*a.object);
  if (!owner || owner->kind != "Job" || owner->uid.empty()) return std::nullopt;
  auto admitted = index.Find(owner->uid);
  if (!admitted) return std::nullopt;
  for (const auto& p : policies.policies) {
    if (p->name != admitted->policy) continue;
    if (!p->runtime.break_glass_groups.count(admitted->group)) return std::nullopt;
    if (!policy::PolicyCovers(*p, a.kind, a.ns, a.namespace_labels)) return std::nullopt;
    if (std::find(p->trusted_controllers.begin(), p->trusted_controllers.end(), a.user) == p->trusted_controllers.end()) {
      return std::nullopt;
    }
    return BreakGlass{p->name, admitted->group, owner->uid};
  }
  return std::nullopt;
}

}  // namespace execgov::webhook
