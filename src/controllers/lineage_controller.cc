#include "controllers/lineage_controller.h"

#include <atomic>
#include <memory>

#include "api/execution_scope.h"
#include "api/object.h"
#include "controllers/artifact_summary.h"
#include "core/log.h"

namespace execgov::controllers {

using nlohmann::json;

bool IsGovernedNamespace(const json& ns, std::string_view install_namespace) {
  if (api::IsNeverGovernedNamespace(api::NameOf(ns), install_namespace)) return false;
  return api::StringAt(ns, {"metadata", "labels", std::string(api::kGovernedLabel).c_str()}) == "true";
}

StatusOr<json> DerivedAdmissionRecord(const json& object) {
  auto kind = api::ParseGovernedKind(api::KindOf(object));
  if (!kind) return InvalidArgument("kind \"" + api::KindOf(object) + "\" is not governed");
  json entry = {{"type", "admission"},
                {"decision", "allowed"},
                {"reason", "Derived"},
                {"derived", true},
                {"message", "no admission record was found for this object; derived from the object as stored"},
                {"object",
                 {{"kind", api::GovernedKindName(*kind)},
                  {"namespace", api::NamespaceOf(object)},
                  {"name", api::NameOf(object)},
                  {"uid", api::UidOf(object)},
                  {"operation", "CREATE"}}}};
  std::string created = api::StringAt(object, {"metadata", "creationTimestamp"});
  if (!created.empty()) entry["objectCreated"] = created;
  if (auto digest = api::ExecutionScopeDigest(object); digest.ok()) entry["digest"] = *digest;
  if (auto token = api::ArtifactOf(object)) {
    if (auto facts = UnverifiedFacts(*token)) {
      entry["artifact"] = ArtifactRecord(*facts);
      if (!facts->parent.empty()) entry["parent"] = facts->parent;
      if (!facts->intent.empty()) entry["intent"] = facts->intent;
    }
  }
  if (auto owner = api::ControllerOf(object)) {
    entry["owner"] = {{"kind", owner->kind}, {"name", owner->name}, {"uid", owner->uid}};
  }
  return entry;
}

LineageController::LineageController(LineageControllerDeps deps) : deps_(std::move(deps)) {}

StatusOr<int> LineageController::Pass() {
  // Objects first, then the ledger: see the header for why this order.
  std::vector<runtime::ObjectPtr> candidates;
  for (runtime::Informer* informer : deps_.objects) {
    for (const auto& obj : informer->List()) {
      if (!api::ArtifactOf(*obj)) continue;
      if (!deps_.watch_namespaces.empty() && !deps_.watch_namespaces.count(api::NamespaceOf(*obj))) continue;
      runtime::ObjectPtr ns = deps_.namespaces->Get(api::NamespaceOf(*obj));
      if (!ns || !IsGovernedNamespace(*ns, deps_.install_namespace)) continue;
      candidates.push_back(obj);
    }
  }
  EXECGOV_RETURN_IF_ERROR(deps_.index->CatchUp());
  int derived = 0;
  for (const auto& obj : candidates) {
    std::string uid = api::UidOf(*obj);
    if (uid.empty() || deps_.index->HasAdmission(uid)) continue;
    auto entry = DerivedAdmissionRecord(*obj);
    if (!entry.ok()) continue;
    auto appended = deps_.ledger->Append(*entry);
    if (deps_.metrics) deps_.metrics->RecordLedgerAppend(appended.ok(), 0, appended.ok() ? appended->seq : 0);
    if (!appended.ok()) return appended.status().WithContext("appending a derived admission record");
    deps_.index->NoteAdmission(uid);
    ++derived;
    log::Warn("lineage: derived a missing admission record",
              {{"kind", api::KindOf(*obj)}, {"namespace", api::NamespaceOf(*obj)}, {"name", api::NameOf(*obj)},
               {"uid", uid}, {"ledgerSeq", appended->seq}});
  }
  return derived;
}

runtime::Runnable PeriodicRunnable(std::string name, std::chrono::milliseconds interval, std::function<void()> fn) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
    std::thread thread;
  };
  auto state = std::make_shared<State>();
  runtime::Runnable r;
  r.name = name;
  r.needs_leader = true;
  r.start = [state, interval, fn] {
    {
      std::lock_guard lock(state->mu);
      state->stop = false;
    }
    state->thread = std::thread([state, interval, fn] {
      std::unique_lock lock(state->mu);
      while (!state->stop) {
        lock.unlock();
        fn();
        lock.lock();
        state->cv.wait_for(lock, interval, [&] { return state->stop; });
      }
    });
  };
  r.stop = [state] {
    {
      std::lock_guard lock(state->mu);
      state->stop = true;
    }
    state->cv.notify_all();
    if (state->thread.joinable()) state->thread.join();
  };
  return r;
}

}  // namespace execgov::controllers
