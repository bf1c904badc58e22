#include "controllers/runtime_verifier.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <atomic>
#include <unordered_set>
#include <utility>

#include "api/execution_scope.h"
#include "controllers/artifact_summary.h"
#include "controllers/lineage_controller.h"
#include "controllers/request_controller.h"
#include "controllers/status_conditions.h"
#include "core/log.h"
#include "policy/policy_match.h"
#include "policy/runtime_spec.h"

namespace execgov::controllers {

using nlohmann::json;

// The metrics this controller adds to the process's registry.
struct PassGauges {
  prometheus::Family<prometheus::Gauge>& violations;
  prometheus::Family<prometheus::Counter>& enforcements;
};

namespace {

using Clock_ = std::chrono::system_clock;

// An object's Events, and the owner chain walk, name objects this way.
std::string Describe(const std::string& kind, const std::string& ns, const std::string& name) {
  return kind + " " + ns + "/" + name;
}

std::string Describe(const json& object) {
  return Describe(api::KindOf(object), api::NamespaceOf(object), api::NameOf(object));
}

bool Matches(const policy::CompiledPolicy& p, const std::string& kind, const std::string& ns,
             const std::map<std::string, std::string>& labels) {
  return policy::PolicyCovers(p, kind, ns, labels);
}

const policy::CompiledPolicy* ByName(const policy::PolicySet& set, const std::string& name) {
  if (name.empty()) return nullptr;
  for (const auto& p : set.policies) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

// The policy whose spec.runtime applies: the one that admitted the object
// when it is still loaded, else the first (by name) that matches it now.
const policy::CompiledPolicy* Responsible(const policy::PolicySet& set, const std::string& recorded,
                                          const std::string& kind, const std::string& ns,
                                          const std::map<std::string, std::string>& labels) {
  if (const auto* p = ByName(set, recorded)) return p;
  for (const auto& p : set.policies) {
    if (Matches(*p, kind, ns, labels)) return p.get();
  }
  return nullptr;
}

// Why the kid or jti is revoked now, by a policy that matches the object
// or admitted it; nullopt when neither is.
std::optional<Finding> RevokedFinding(const policy::PolicySet& set, const std::string& recorded, const std::string& kind,
                                      const std::string& ns, const std::map<std::string, std::string>& labels,
                                      const std::string& kid, const std::string& jti) {
  for (const auto& p : set.policies) {
    if (p->name != recorded && !Matches(*p, kind, ns, labels)) continue;
    if (!kid.empty() && p->revoked_kids.count(kid)) {
      return Finding{RuntimeFinding::kRevoked,
                     "key " + kid + " that signed its artifact is revoked by ExecutionPolicy " + p->name, p->name};
    }
    if (!jti.empty() && p->revoked_jtis.count(jti)) {
      return Finding{RuntimeFinding::kRevoked, "its artifact " + jti + " is revoked by ExecutionPolicy " + p->name,
                     p->name};
    }
  }
  return std::nullopt;
}

// Findings that are reported and never stopped, whatever spec.runtime says:
// BreakGlass was admitted on purpose; Ungoverned would stop every workload
// of a namespace someone unlabelled (too destructive to do unasked, and the
// namespace guard already refuses an unlisted relabel).
bool ReportOnly(RuntimeFinding f) {
  return f == RuntimeFinding::kBreakGlass || f == RuntimeFinding::kUngoverned;
}

// Walks the controller owners of `object` up to the consumer of `jti`:
// each owner must exist (the same uid) and, short of the consumer, have been
// admitted with the same jti. "" when it leads there, else why not.
std::string OwnerChainProblem(const json& object, const std::string& jti, const VerifyContext& ctx,
                              std::string* consumer_uid) {
  auto consumer = ctx.facts->ConsumerOf(jti);
  if (!consumer) return "its artifact " + jti + " has no consumption in the ledger";
  if (consumer_uid) *consumer_uid = *consumer;
  const json* current = &object;
  runtime::ObjectPtr hold;
  // ExecutionRequest -> Job -> Pod: at most two owners up.
  for (int depth = 0; depth < 2; ++depth) {
    auto owner = api::ControllerOf(*current);
    if (!owner || owner->uid.empty()) return Describe(*current) + " has no controller owner";
    if (owner->kind != "Job" && owner->kind != "ExecutionRequest") {
      return Describe(*current) + " is controlled by a " + owner->kind + ", which cannot pass an artifact on";
    }
    const std::string ns = api::NamespaceOf(object);
    hold = ctx.owner ? ctx.owner(owner->kind, ns, owner->name) : nullptr;
    if (!hold || api::UidOf(*hold) != owner->uid) {
      return "its owner " + Describe(owner->kind, ns, owner->name) + " (uid " + owner->uid + ") no longer exists";
    }
    if (owner->uid == *consumer) return "";
    auto admitted = ctx.facts->Find(owner->uid);
    if (!admitted || admitted->jti != jti) {
      return "its owner " + Describe(owner->kind, ns, owner->name) + " was not admitted with artifact " + jti;
    }
    current = hold.get();
  }
  return "its owner chain does not reach the object that consumed artifact " + jti;
}

bool ConditionTrue(const json& object, const char* type) {
  auto conditions = object.value("status", json::object()).value("conditions", json::array());
  for (const auto& c : conditions) {
    if (c.is_object() && c.value("type", "") == type && c.value("status", "") == "True") return true;
  }
  return false;
}

}  // namespace

const char* RuntimeFindingName(RuntimeFinding f) {
  switch (f) {
    case RuntimeFinding::kUnadmitted: return "Unadmitted";
    case RuntimeFinding::kRevoked: return "Revoked";
    case RuntimeFinding::kDrift: return "Drift";
    case RuntimeFinding::kLineageDiscontinuity: return "LineageDiscontinuity";
    case RuntimeFinding::kUngoverned: return "Ungoverned";
    case RuntimeFinding::kBreakGlass: return "BreakGlass";
  }
  return "Unknown";
}

const std::vector<RuntimeFinding>& AllRuntimeFindings() {
  static const std::vector<RuntimeFinding> all = {RuntimeFinding::kUnadmitted, RuntimeFinding::kRevoked,
                                                  RuntimeFinding::kDrift,      RuntimeFinding::kLineageDiscontinuity,
                                                  RuntimeFinding::kUngoverned, RuntimeFinding::kBreakGlass};
  return all;
}

const char* TerminationAction(api::GovernedKind kind) {
  switch (kind) {
    case api::GovernedKind::kPod: return "delete";
    case api::GovernedKind::kJob: return "suspend";
    case api::GovernedKind::kExecutionRequest: return "revoke";
  }
  return "delete";
}

bool IsActiveWorkload(api::GovernedKind kind, const json& object) {
  if (!api::StringAt(object, {"metadata", "deletionTimestamp"}).empty()) return false;
  switch (kind) {
    case api::GovernedKind::kPod: {
      const std::string phase = api::StringAt(object, {"status", "phase"});
      return phase != "Succeeded" && phase != "Failed";
    }
    case api::GovernedKind::kJob:
      return !ConditionTrue(object, "Complete") && !ConditionTrue(object, "Failed");
    case api::GovernedKind::kExecutionRequest:
      return !IsFinalPhase(api::StringAt(object, {"status", "phase"}));
  }
  return true;
}

std::vector<Finding> VerifyWorkload(api::GovernedKind kind, const json& object, const json& ns_object,
                                    const VerifyContext& ctx) {
  std::vector<Finding> out;
  const std::string kind_name = api::GovernedKindName(kind);
  const std::string ns = api::NamespaceOf(object), uid = api::UidOf(object);
  if (!ctx.policies || !ctx.facts || uid.empty()) return out;
  if (api::IsNeverGovernedNamespace(ns, ctx.install_namespace)) return out;
  const auto labels = api::LabelsOf(ns_object);
  const std::optional<RuntimeFacts::Admission> admitted = ctx.facts->Find(uid);
  const std::string recorded = admitted ? admitted->policy : "";
  const policy::CompiledPolicy* responsible = Responsible(*ctx.policies, recorded, kind_name, ns, labels);
  const std::string policy_name = responsible ? responsible->name : "";

  if (!IsGovernedNamespace(ns_object, ctx.install_namespace)) {
    // Not governed now: only what the ledger shows was governed before.
    if (admitted) {
      out.push_back({RuntimeFinding::kUngoverned,
                     "namespace " + ns + " no longer carries " + std::string(api::kGovernedLabel) +
                         "=true, and this " + kind_name + " was admitted under governance (ledger seq " +
                         std::to_string(admitted->seq) + "); nothing checks what it runs now",
                     policy_name});
    }
    return out;
  }

  auto digest = ctx.digest ? ctx.digest(kind, object) : api::ExecutionScopeDigest(kind, object);
  if (!admitted || admitted->derived) {
    // Admissions that retention moved out are not in the facts: an object
    // older than the first record kept is not judged on a missing record.
    if (ctx.trimmed_before) {
      auto created = ParseRfc3339(api::StringAt(object, {"metadata", "creationTimestamp"}));
      if (!created || *created - std::chrono::minutes(2) < *ctx.trimmed_before) return out;
    }
    const std::string none = admitted ? "only a record derived after the fact" : "no admission record";
    auto token = api::ArtifactOf(object);
    if (!token) {
      out.push_back({RuntimeFinding::kUnadmitted,
                     "the ledger holds " + none + " for this " + kind_name + " and it carries no " +
                         std::string(api::kArtifactAnnotation) +
                         " annotation: it was created while the webhook was not asked",
                     policy_name});
      return out;
    }
    auto facts = UnverifiedFacts(*token);
    if (!facts) {
      out.push_back({RuntimeFinding::kUnadmitted,
                     "the ledger holds " + none + " for this " + kind_name + " and its artifact is not a JWS",
                     policy_name});
      return out;
    }
    if (facts->scope_kind == kind_name) {
      // Its own artifact: verified as the webhook would have at its creation.
      policy::AdmissionAttributes a;
      a.kind = kind_name;
      a.operation = policy::Operation::kCreate;
      a.ns = ns;
      a.name = api::NameOf(object);
      a.uid = uid;
      a.object = &object;
      a.user = facts->sub;  // who asked cannot be observed now; the webhook would have held it to sub
      a.namespace_labels = labels;
      auto created = ParseRfc3339(api::StringAt(object, {"metadata", "creationTimestamp"}));
      int64_t at = created ? std::chrono::duration_cast<std::chrono::seconds>(created->time_since_epoch()).count()
                           : ctx.now;
      policy::Decision d = ctx.decide ? ctx.decide(a, at) : policy::Decision{};
      if (d.allowed && d.verified) return out;
      if (d.reason == policy::Reason::kRevoked) {
        const std::string by = d.verdicts.empty() ? policy_name : d.verdicts.front().policy;
        out.push_back({RuntimeFinding::kRevoked, d.message, by});
        return out;
      }
      out.push_back({RuntimeFinding::kUnadmitted,
                     "the ledger holds " + none + " for this " + kind_name + " and its artifact does not verify: " +
                         d.StatusMessage(),
                     policy_name});
      return out;
    }
    // An inherited artifact: its owners must lead to the consumer, and the
    // pod spec must be the one the consumer's artifact signed.
    std::string consumer_uid;
    std::string problem = OwnerChainProblem(object, facts->jti, ctx, &consumer_uid);
    if (problem.empty()) {
      auto consumer = ctx.facts->Find(consumer_uid);
      if (!digest.ok() || !consumer || consumer->signed_digest.empty() || *digest != consumer->signed_digest) {
        problem = "its pod spec is not the one artifact " + facts->jti + " authorized";
      }
    }
    if (!problem.empty()) {
      out.push_back({RuntimeFinding::kUnadmitted,
                     "the ledger holds " + none + " for this " + kind_name + ", and it cannot inherit one: " + problem,
                     policy_name});
      return out;
    }
    if (auto revoked = RevokedFinding(*ctx.policies, recorded, kind_name, ns, labels, facts->kid, facts->jti)) {
      out.push_back(std::move(*revoked));
    }
    return out;
  }

  if (admitted->break_glass) {
    out.push_back({RuntimeFinding::kBreakGlass,
                   "admitted without an artifact under break-glass (ledger seq " + std::to_string(admitted->seq) +
                       "); reported until it is gone",
                   policy_name});
  }
  if (auto revoked = RevokedFinding(*ctx.policies, recorded, kind_name, ns, labels, admitted->kid, admitted->jti)) {
    out.push_back(std::move(*revoked));
  }
  if (!admitted->digest.empty()) {
    if (!digest.ok()) {
      out.push_back({RuntimeFinding::kDrift, "its execution scope cannot be computed now: " + digest.status().message(),
                     policy_name});
    } else if (*digest != admitted->digest) {
      out.push_back({RuntimeFinding::kDrift,
                     "its execution scope is " + *digest + ", not the " + admitted->digest +
                         " its admission recorded (ledger seq " + std::to_string(admitted->seq) +
                         "): it changed without the webhook",
                     policy_name});
    }
  }
  if (!admitted->jti.empty() && !admitted->consumed) {
    std::string problem = OwnerChainProblem(object, admitted->jti, ctx, nullptr);
    if (!problem.empty()) {
      out.push_back({RuntimeFinding::kLineageDiscontinuity, "it inherited its artifact, but " + problem, policy_name});
    }
  }
  return out;
}

json EnforcementRecord(api::GovernedKind kind, const json& object, const Finding& finding,
                       const policy::CompiledPolicy* policy, const std::string& operator_identity) {
  json entry = {{"type", "enforcement"},
                {"action", TerminationAction(kind)},
                {"reason", RuntimeFindingName(finding.reason)},
                {"message", finding.message},
                {"object",
                 {{"kind", api::GovernedKindName(kind)},
                  {"namespace", api::NamespaceOf(object)},
                  {"name", api::NameOf(object)},
                  {"uid", api::UidOf(object)}}}};
  if (policy) {
    entry["policy"] = {{"name", policy->name}, {"generation", policy->generation}};
    entry["gracePeriodSeconds"] = policy->runtime.grace_period_seconds;
  }
  if (!operator_identity.empty()) entry["operator"] = operator_identity;
  return entry;
}

ObjectSource SourceOf(const runtime::Informer* informer) {
  return {[informer] { return informer->List(); },
          [informer](const std::string& key) { return informer->Get(key); }};
}

RuntimeVerifier::RuntimeVerifier(RuntimeVerifierDeps deps)
    : deps_(std::move(deps)), clock_(deps_.clock ? deps_.clock : &SystemClock::Get()) {
  if (deps_.metrics) {
    auto& registry = deps_.metrics->registry();
    gauges_ = std::make_unique<PassGauges>(PassGauges{
        prometheus::BuildGauge()
            .Name("execgov_runtime_violations")
            .Help("Running governed workloads that fail verification after admission, by finding")
            .Register(registry),
        prometheus::BuildCounter()
            .Name("execgov_runtime_enforcements_total")
            .Help("Workloads the runtime verifier stopped (delete, suspend, revoke), by result")
            .Register(registry)});
    for (RuntimeFinding f : AllRuntimeFindings()) gauges_->violations.Add({{"reason", RuntimeFindingName(f)}}).Set(0);
  }
}

RuntimeVerifier::~RuntimeVerifier() = default;

void RuntimeVerifier::Poke() {
  {
    std::lock_guard lock(poke_mu_);
    poked_ = true;
  }
  poke_cv_.notify_all();
}

void RuntimeVerifier::WatchChanges(const std::vector<runtime::Informer*>& informers) {
  for (runtime::Informer* informer : informers) {
    informer->AddHandler([this](const runtime::ObjectPtr& old_obj, const runtime::ObjectPtr& new_obj) {
      if (old_obj != new_obj) Poke();  // not resyncs: the period covers them
    });
  }
}

void RuntimeVerifier::Event(const json& object, bool warning, const std::string& reason, const std::string& message) {
  if (deps_.events) deps_.events->Record(object, warning ? kube::EventType::kWarning : kube::EventType::kNormal, reason, message);
}

VerifyContext RuntimeVerifier::Context(const policy::PolicySet& policies, PassResult& result) {
  VerifyContext ctx;
  ctx.policies = &policies;
  ctx.facts = deps_.facts;
  ctx.install_namespace = deps_.install_namespace;
  ctx.trimmed_before = deps_.index ? deps_.index->trimmed_before() : std::nullopt;
  ctx.now = clock_->NowUnix();
  ctx.owner = [this, &result](const std::string& kind, const std::string& ns, const std::string& name) {
    const ObjectSource& source = kind == "Job" ? deps_.jobs : deps_.requests;
    if (runtime::ObjectPtr cached = source.get ? source.get(ns + "/" + name) : nullptr) return cached;
    // Not in the cache: gone, or not delivered yet. Ask once.
    if (!deps_.client) return runtime::ObjectPtr();
    ++result.api_requests;
    auto got = kind == "Job" ? deps_.client->Get(kube::ResourcePath("batch/v1", "jobs", ns, name))
                             : deps_.client->Get(kube::ResourcePath(std::string(api::kApiVersion), "executionrequests", ns, name));
    return got.ok() ? std::make_shared<const json>(std::move(got).value()) : runtime::ObjectPtr();
  };
  ctx.digest = [this, &result](api::GovernedKind kind, const json& object) -> StatusOr<std::string> {
    const std::string uid = api::UidOf(object), rv = api::StringAt(object, {"metadata", "resourceVersion"});
    auto it = digests_.find(uid);
    if (it != digests_.end() && !rv.empty() && it->second.resource_version == rv) return it->second.digest;
    ++result.digests_computed;
    auto d = api::ExecutionScopeDigest(kind, object);
    digests_.insert_or_assign(uid, CachedDigest{rv, d});
    return d;
  };
  ctx.decide = [this, &result, &policies](const policy::AdmissionAttributes& a, int64_t at) {
    const std::string rv = api::StringAt(*a.object, {"metadata", "resourceVersion"});
    // Keyed on the facts too: a consumption recorded since changes the answer.
    const uint64_t version = policies.version * 1000003u + deps_.facts->generation();
    auto it = decisions_.find(a.uid);
    if (it != decisions_.end() && !rv.empty() && it->second.resource_version == rv && it->second.policies == version) {
      return it->second.decision;
    }
    ++result.decisions_made;
    class Parents : public policy::LineageView {
     public:
      explicit Parents(ledger::Ledger* l) : l_(l) {}
      bool HasRecord(const std::string& ref) const override {
        if (!l_) return false;
        auto r = l_->Contains(ref);
        return r.ok() && *r;
      }
      ledger::Ledger* l_;
    } parents(deps_.ledger);
    policy::DecisionInputs in;
    in.policies = &policies;
    in.now = at;
    in.replay = deps_.facts;
    in.lineage = &parents;
    in.install_namespace = deps_.install_namespace;
    policy::Decision d = policy::Decide(a, in);
    decisions_.insert_or_assign(a.uid, CachedDecision{rv, version, d});
    return d;
  };
  return ctx;
}

StatusOr<RuntimeVerifier::PassResult> RuntimeVerifier::Pass() {
  PassResult result;
  std::shared_ptr<const policy::PolicySet> policies = deps_.policies ? deps_.policies() : nullptr;
  if (!policies || !policies->ready) return result;  // nothing to judge against yet
  // Objects first, then the ledger: the webhook records an admission before
  // the object exists, so every object in the snapshot has its record read.
  struct Item {
    api::GovernedKind kind;
    runtime::ObjectPtr object;
  };
  std::vector<Item> items;
  auto take = [&](const ObjectSource& source, api::GovernedKind kind) {
    if (!source.list) return;
    for (auto& obj : source.list()) items.push_back({kind, std::move(obj)});
  };
  take(deps_.requests, api::GovernedKind::kExecutionRequest);
  take(deps_.jobs, api::GovernedKind::kJob);
  take(deps_.pods, api::GovernedKind::kPod);
  if (deps_.index) EXECGOV_RETURN_IF_ERROR(deps_.index->CatchUp());

  const auto now = clock_->Now();
  next_due_ = Clock_::time_point::max();
  VerifyContext ctx = Context(*policies, result);
  std::unordered_map<std::string, Tracked> next;
  std::unordered_set<std::string> alive;
  alive.reserve(items.size());
  std::map<std::string, runtime::ObjectPtr> namespaces;  // per pass
  for (const Item& item : items) {
    const json& obj = *item.object;
    const std::string uid = api::UidOf(obj), ns = api::NamespaceOf(obj);
    alive.insert(uid);
    if (api::IsNeverGovernedNamespace(ns, deps_.install_namespace)) continue;
    if (!deps_.watch_namespaces.empty() && !deps_.watch_namespaces.count(ns)) continue;
    if (!IsActiveWorkload(item.kind, obj)) continue;
    auto ns_it = namespaces.find(ns);
    if (ns_it == namespaces.end()) {
      ns_it = namespaces.emplace(ns, deps_.namespaces.get ? deps_.namespaces.get(ns) : nullptr).first;
    }
    if (!ns_it->second) continue;  // the namespace is going (or not delivered yet)
    ++result.checked;
    std::vector<Finding> findings = VerifyWorkload(item.kind, obj, *ns_it->second, ctx);
    if (findings.empty()) continue;
    Tracked t;
    auto prev = tracked_.find(uid);
    if (prev != tracked_.end()) {
      t.first_seen = prev->second.first_seen;
      t.dry_run_announced = prev->second.dry_run_announced;
    }
    t.kind = item.kind;
    t.object = item.object;
    std::map<RuntimeFinding, Clock_::time_point> seen;
    for (const Finding& f : findings) {
      auto s = t.first_seen.find(f.reason);
      if (s == t.first_seen.end()) {
        seen[f.reason] = now;
        Event(obj, true, RuntimeFindingName(f.reason), f.message);
        log::Warn("runtime verification: finding",
                  {{"finding", RuntimeFindingName(f.reason)}, {"kind", api::KindOf(obj)}, {"namespace", ns},
                   {"name", api::NameOf(obj)}, {"uid", uid}, {"policy", f.policy}, {"message", f.message}});
      } else {
        seen[f.reason] = s->second;
      }
    }
    t.first_seen = std::move(seen);  // a finding that went away starts its grace anew if it returns
    t.findings = std::move(findings);
    result.findings += t.findings.size();
    next.emplace(uid, std::move(t));
  }
  tracked_ = std::move(next);
  // The caches keep only what this pass used.
  std::erase_if(digests_, [&](const auto& kv) { return !alive.count(kv.first); });
  std::erase_if(decisions_, [&](const auto& kv) { return !tracked_.count(kv.first) && !alive.count(kv.first); });

  stopping_jobs_.clear();
  for (const auto& [uid, t] : tracked_) {
    if (t.kind != api::GovernedKind::kJob) continue;
    for (const Finding& f : t.findings) {
      const policy::CompiledPolicy* p = ByName(*policies, f.policy);
      if (!ReportOnly(f.reason) && p && p->runtime.action == policy::RuntimeAction::kTerminate && !p->runtime.dry_run) {
        stopping_jobs_.insert(uid);
      }
    }
  }
  std::map<std::string, std::vector<ReportEntry>> by_ns;
  std::map<RuntimeFinding, double> counts;
  for (auto& [uid, t] : tracked_) {
    Act(t, *policies, result);
    const json& obj = *t.object;
    for (const Finding& f : t.findings) {
      counts[f.reason] += 1;
      const policy::CompiledPolicy* p = ByName(*policies, f.policy);
      policy::RuntimeSpec spec = p ? p->runtime : policy::RuntimeSpec{};
      std::string action = ReportOnly(f.reason) ? "Report" : policy::RuntimeActionName(spec.action);
      if (!ReportOnly(f.reason) && spec.action == policy::RuntimeAction::kTerminate && spec.dry_run) {
        action += " (dry run)";
      }
      by_ns[api::NamespaceOf(obj)].push_back({f.policy, RuntimeFindingName(f.reason), f.message,
                                              api::StringAt(obj, {"apiVersion"}), api::KindOf(obj),
                                              api::NamespaceOf(obj), api::NameOf(obj), uid, action,
                                              f.reason == RuntimeFinding::kBreakGlass, t.first_seen[f.reason]});
    }
  }
  if (gauges_) {
    for (RuntimeFinding f : AllRuntimeFindings()) {
      gauges_->violations.Add({{"reason", RuntimeFindingName(f)}}).Set(counts[f]);
    }
  }
  WriteReports(by_ns, result);

  if (now >= next_prune_) {
    next_prune_ = now + std::chrono::minutes(1);
    deps_.facts->Prune(now - deps_.forget_after, [&](const std::string& uid) { return alive.count(uid) > 0; });
  }
  return result;
}

void RuntimeVerifier::Act(Tracked& t, const policy::PolicySet& policies, PassResult& result) {
  const json& obj = *t.object;
  const auto now = clock_->Now();
  if (t.kind == api::GovernedKind::kPod) {
    auto owner = api::ControllerOf(obj);
    if (owner && owner->kind == "Job" && stopping_jobs_.count(owner->uid)) return;  // its Job's suspension stops it
  }
  for (const Finding& f : t.findings) {
    if (ReportOnly(f.reason)) continue;
    const policy::CompiledPolicy* p = ByName(policies, f.policy);
    if (!p || p->runtime.action != policy::RuntimeAction::kTerminate) continue;
    if (p->runtime.dry_run) {
      if (!t.dry_run_announced) {
        t.dry_run_announced = true;
        Event(obj, false, "WouldTerminate",
              std::string("spec.runtime.dryRun of ExecutionPolicy ") + p->name + ": would " +
                  TerminationAction(t.kind) + " this " + api::KindOf(obj) + " (" + RuntimeFindingName(f.reason) +
                  ": " + f.message + ")");
      }
      continue;
    }
    // A suspended Job is stopped already (by us or anyone).
    if (t.kind == api::GovernedKind::kJob && obj.value("spec", json::object()).value("suspend", false) == true) continue;
    const auto due = t.first_seen[f.reason] + std::chrono::seconds(p->runtime.grace_period_seconds);
    if (now < due) {
      next_due_ = std::min(next_due_, due);
      continue;
    }
    Status st = Terminate(t, f, p, result);
    if (gauges_) {
      gauges_->enforcements.Add({{"action", TerminationAction(t.kind)}, {"result", st.ok() ? "success" : "error"}})
          .Increment();
    }
    if (!st.ok()) {
      log::Warn("runtime verification: cannot terminate; the next pass tries again",
                {{"kind", api::KindOf(obj)}, {"namespace", api::NamespaceOf(obj)}, {"name", api::NameOf(obj)},
                 {"error", st.message()}});
    }
    return;  // one action per object and pass
  }
}

Status RuntimeVerifier::Terminate(Tracked& t, const Finding& f, const policy::CompiledPolicy* p, PassResult& result) {
  const json& obj = *t.object;
  const std::string ns = api::NamespaceOf(obj), name = api::NameOf(obj), uid = api::UidOf(obj);
  // Never, whatever else went wrong to get here.
  if (ns.empty() || api::IsNeverGovernedNamespace(ns, deps_.install_namespace)) return Status::Ok();
  const std::string action = TerminationAction(t.kind);
  if (!deps_.facts->Enforced(uid, action)) {
    if (!deps_.ledger) return FailedPrecondition("no ledger to record the enforcement in");
    auto appended = deps_.ledger->Append(EnforcementRecord(t.kind, obj, f, p, deps_.operator_identity));
    if (deps_.metrics) deps_.metrics->RecordLedgerAppend(appended.ok(), 0, appended.ok() ? appended->seq : 0);
    if (!appended.ok()) return appended.status().WithContext("appending the enforcement record");
    deps_.facts->NoteEnforced(uid, action);
  }
  const std::string why = std::string(RuntimeFindingName(f.reason)) + ": " + f.message + " (ExecutionPolicy " + p->name +
                          ", spec.runtime.action Terminate)";
  switch (t.kind) {
    case api::GovernedKind::kPod: {
      ++result.api_requests;
      Status st = deps_.client->Delete(kube::ResourcePath("v1", "pods", ns, name));
      if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
      Event(obj, true, "Terminated", "deleted: " + why);
      break;
    }
    case api::GovernedKind::kJob: {
      if (obj.value("spec", json::object()).value("suspend", false) == true) return Status::Ok();
      ++result.api_requests;
      auto patched = deps_.client->Patch(kube::ResourcePath("batch/v1", "jobs", ns, name),
                                         {{"spec", {{"suspend", true}}}}, kube::PatchType::kMerge);
      if (!patched.ok() && patched.status().code() != StatusCode::kNotFound) return patched.status();
      Event(obj, true, "Suspended", "suspended: " + why);
      break;
    }
    case api::GovernedKind::kExecutionRequest: {
      ++result.api_requests;
      const std::string message = "revoked after admission: " + why;
      auto updated = kube::UpdateWithRetry(
          *deps_.client, kube::ResourcePath(std::string(api::kApiVersion), "executionrequests", ns, name),
          [&](json& request) {
            if (api::UidOf(request) != uid || IsFinalPhase(api::StringAt(request, {"status", "phase"}))) return false;
            json& status = request["status"];
            if (!status.is_object()) status = json::object();
            status["phase"] = kPhaseRevoked;
            int64_t generation = request.value("metadata", json::object()).value("generation", int64_t{0});
            SetCondition(status["conditions"],
                         {"Authorized", "False", RuntimeFindingName(f.reason), message, generation}, clock_->Now());
            return true;
          },
          /*status=*/true);
      if (!updated.ok() && updated.status().code() != StatusCode::kNotFound) return updated.status();
      Event(obj, true, "Revoked", message);
      break;
    }
  }
  ++result.terminated;
  log::Warn("runtime verification: terminated",
            {{"action", action}, {"finding", RuntimeFindingName(f.reason)}, {"kind", api::KindOf(obj)},
             {"namespace", ns}, {"name", name}, {"uid", uid}, {"policy", p->name}});
  return Status::Ok();
}

void RuntimeVerifier::WriteReports(const std::map<std::string, std::vector<ReportEntry>>& by_ns, PassResult& result) {
  if (!deps_.client) return;
  const auto now = clock_->Now();
  if (now < reports_retry_at_) return;
  auto unavailable = [&](const Status& st) {
    // No PolicyReport CRD (404 on its collection): Events and metrics still
    // tell; look again in a minute.
    reports_retry_at_ = now + std::chrono::minutes(1);
    log::Warn("runtime verification: cannot write PolicyReports (is the wgpolicyk8s.io/v1alpha2 CRD installed?)",
              {{"error", st.message()}});
  };
  if (!reports_listed_) {
    // Once per leadership: the reports an earlier leader left, so stale ones go.
    ++result.api_requests;
    kube::ListOptions lo;
    lo.label_selector = std::string(kManagedByLabel) + "=execgov";
    auto listed = deps_.client->List(kube::ResourcePath(kPolicyReportApiVersion, "policyreports"), lo);
    if (!listed.ok()) return unavailable(listed.status());
    for (const auto& item : listed->items) {
      if (api::NameOf(item) != kPolicyReportName) continue;
      written_reports_[api::NamespaceOf(item)] = item.value("results", json::array());
    }
    reports_listed_ = true;
  }
  for (const auto& [ns, entries] : by_ns) {
    json report = BuildPolicyReport(ns, entries);
    auto known = written_reports_.find(ns);
    if (known != written_reports_.end() && known->second == report["results"]) continue;
    ++result.api_requests;
    auto created = deps_.client->Create(PolicyReportsPath(ns), report);
    if (created.status().code() == StatusCode::kAlreadyExists) {
      ++result.api_requests;
      created = kube::UpdateWithRetry(*deps_.client, PolicyReportsPath(ns, kPolicyReportName), [&](json& current) {
        current["scope"] = report["scope"];
        current["summary"] = report["summary"];
        current["results"] = report["results"];
        current["metadata"]["labels"][kManagedByLabel] = "execgov";
        return true;
      });
    }
    if (!created.ok()) {
      if (created.status().code() == StatusCode::kNotFound) return unavailable(created.status());
      log::Warn("runtime verification: cannot write a PolicyReport", {{"namespace", ns}, {"error", created.status().message()}});
      continue;
    }
    written_reports_[ns] = report["results"];
    ++result.reports_written;
  }
  for (auto it = written_reports_.begin(); it != written_reports_.end();) {
    const std::string& ns = it->first;
    bool watched = deps_.watch_namespaces.empty() || deps_.watch_namespaces.count(ns);
    if (by_ns.count(ns) || !watched) {
      ++it;
      continue;
    }
    ++result.api_requests;
    Status st = deps_.client->Delete(PolicyReportsPath(ns, kPolicyReportName));
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      log::Warn("runtime verification: cannot delete a PolicyReport", {{"namespace", ns}, {"error", st.message()}});
      ++it;
      continue;
    }
    it = written_reports_.erase(it);
  }
}

runtime::Runnable RuntimeVerifier::Runnable(std::chrono::milliseconds interval, std::chrono::milliseconds min_gap) {
  struct State {
    std::atomic<bool> stop{false};
    std::thread thread;
  };
  auto state = std::make_shared<State>();
  runtime::Runnable r;
  r.name = "runtime-verification";
  r.needs_leader = true;
  r.start = [this, state, interval, min_gap] {
    state->stop = false;
    state->thread = std::thread([this, state, interval, min_gap] {
      // A new leader learns the reports anew.
      reports_listed_ = false;
      while (!state->stop) {
        {
          std::lock_guard lock(poke_mu_);
          poked_ = false;
        }
        auto t0 = std::chrono::steady_clock::now();
        auto r = Pass();
        if (!r.ok()) {
          log::Warn("runtime verification pass failed", {{"error", r.status().message()}});
        }
        std::unique_lock lock(poke_mu_);
        // A change brings the next pass early, but never sooner than min_gap;
        // the period (and grace periods coming due) bring it anyway.
        poke_cv_.wait_until(lock, t0 + min_gap, [&] { return state->stop.load(); });
        auto until = t0 + interval;
        const auto due_in = next_due_ - clock_->Now();  // a grace period ending before the period does
        if (next_due_ != Clock_::time_point::max()) {
          until = std::min(until, std::chrono::steady_clock::now() +
                                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(due_in));
        }
        poke_cv_.wait_until(lock, until, [&] { return state->stop.load() || poked_; });
      }
    });
  };
  r.stop = [this, state] {
    {
      std::lock_guard lock(poke_mu_);  // not between the loop's check and its wait
      state->stop = true;
    }
    poke_cv_.notify_all();
    if (state->thread.joinable()) state->thread.join();
  };
  return r;
}

}  // namespace execgov::controllers
