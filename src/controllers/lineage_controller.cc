#include "controllers/lineage_controller.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

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

json NotCreatedRecord(const LedgerIndex::UnmatchedCreate& create, std::chrono::milliseconds after,
                      const std::string& operator_identity) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(after).count();
  json entry = {{"type", "outcome"},
                {"outcome", "not-created"},
                {"admission", create.hash},
                {"admissionSeq", create.seq},
                {"object",
                 {{"kind", create.kind}, {"namespace", create.ns}, {"name", create.name}, {"uid", create.uid}}},
                {"message", "the admission was allowed, but no " + create.kind +
                                " with this uid reached the operator's watch in the " + std::to_string(seconds) +
                                " s after its record was read: the API server did not store it (it stopped waiting "
                                "for the webhook, another admission step refused it, or the write failed)"}};
  if (!operator_identity.empty()) entry["operator"] = operator_identity;
  return entry;
}

void LineageController::Sightings::Enable() {
  std::lock_guard lock(mu_);
  enabled_ = true;
}

void LineageController::Sightings::Saw(const std::string& uid, std::chrono::system_clock::time_point at) {
  if (uid.empty()) return;
  std::lock_guard lock(mu_);
  if (!enabled_) return;
  if (last_.size() >= max_ && !last_.count(uid)) {
    // Evidence lost: the next pass restarts tracking instead of judging
    // what these could have matched.
    overflowed_ = true;
    last_.clear();
    order_.clear();
  }
  last_[uid] = at;
  order_.emplace_back(at, uid);
}

bool LineageController::Sightings::Contains(const std::string& uid) const {
  std::lock_guard lock(mu_);
  return last_.count(uid) > 0;
}

void LineageController::Sightings::ForgetBefore(std::chrono::system_clock::time_point t) {
  std::lock_guard lock(mu_);
  while (!order_.empty() && order_.front().first < t) {
    auto it = last_.find(order_.front().second);
    if (it != last_.end() && it->second == order_.front().first) last_.erase(it);
    order_.pop_front();
  }
}

bool LineageController::Sightings::TakeOverflowed() {
  std::lock_guard lock(mu_);
  return std::exchange(overflowed_, false);
}

LineageController::LineageController(LineageControllerDeps deps)
    : deps_(std::move(deps)),
      clock_(deps_.clock ? deps_.clock : &SystemClock::Get()),
      sightings_(std::make_shared<Sightings>(std::max<size_t>(1, deps_.max_sightings))) {
  if (deps_.phantom_after.count() <= 0) return;
  for (runtime::Informer* informer : deps_.objects) {
    // Adds only: an object that was added at all appeared; one that comes
    // and goes between two passes is still seen here, not in the cache.
    informer->AddHandler([sightings = sightings_, clock = clock_](const runtime::ObjectPtr& old_obj,
                                                                 const runtime::ObjectPtr& new_obj) {
      if (!old_obj && new_obj) sightings->Saw(api::UidOf(*new_obj), clock->Now());
    });
  }
}

void LineageController::ObjectSeen(const std::string& uid) { sightings_->Saw(uid, clock_->Now()); }

bool LineageController::Watched(const std::string& ns) const {
  return deps_.watch_namespaces.empty() || deps_.watch_namespaces.count(ns) > 0;
}

StatusOr<LineageController::PassResult> LineageController::Pass() {
  PassResult result;
  const auto began = clock_->Now();
  if (deps_.phantom_after.count() > 0) {
    // Read before the CatchUp below, so that the CatchUp began after any
    // relist or loss counted here. Sightings from before the first pass
    // match nothing: only records the CatchUp has not read yet are judged,
    // and their objects can only be made after it began.
    sightings_->Enable();
    uint64_t relists = 0;
    for (runtime::Informer* informer : deps_.objects) relists += informer->relists();
    if (sightings_->TakeOverflowed() || relists != relists_) restart_tracking_ = true;
    relists_ = relists;
  }
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
  for (const auto& obj : candidates) {
    std::string uid = api::UidOf(*obj);
    if (uid.empty() || deps_.index->HasAdmission(uid)) continue;
    if (auto before = deps_.index->trimmed_before()) {
      // Ledger retention moved the oldest records out before the index read
      // it: an object made before the first record it read (plus the
      // webhook timeout and clock skew) may have its admission there. Passes
      // while that record was still in the cluster (10+ minutes of them,
      // retention's minimum age) judged it already.
      auto created = ParseRfc3339(api::StringAt(*obj, {"metadata", "creationTimestamp"}));
      if (!created || *created - std::chrono::minutes(2) < *before) continue;
    }
    auto entry = DerivedAdmissionRecord(*obj);
    if (!entry.ok()) continue;
    auto appended = deps_.ledger->Append(*entry);
    if (deps_.metrics) deps_.metrics->RecordLedgerAppend(appended.ok(), 0, appended.ok() ? appended->seq : 0);
    if (!appended.ok()) return appended.status().WithContext("appending a derived admission record");
    deps_.index->NoteAdmission(uid);
    ++result.derived;
    log::Warn("lineage: derived a missing admission record",
              {{"kind", api::KindOf(*obj)}, {"namespace", api::NamespaceOf(*obj)}, {"name", api::NameOf(*obj)},
               {"uid", uid}, {"ledgerSeq", appended->seq}});
  }
  if (deps_.phantom_after.count() > 0) EXECGOV_RETURN_IF_ERROR(MarkPhantoms(began, result));
  return result;
}

Status LineageController::MarkPhantoms(std::chrono::system_clock::time_point pass_began, PassResult& result) {
  if (!tracking_ || restart_tracking_) {
    uint64_t from = deps_.index->TrackCreatesFromHere();
    log::Info("lineage: judging allowed creations recorded from here on",
              {{"fromSeq", from},
               {"restart", tracking_},
               {"phantomAfterSeconds", deps_.phantom_after.count() / 1000}});
    tracking_ = true;
    restart_tracking_ = false;
  }
  // Seen: added since tracking began (a sighting is kept at least until a
  // CatchUp that began after it has read the record, which was durable before
  // the object could exist), or in a cache now under that uid.
  deps_.index->MatchCreates([this](const LedgerIndex::UnmatchedCreate& c) {
    if (sightings_->Contains(c.uid)) return true;
    for (runtime::Informer* informer : deps_.objects) {
      runtime::ObjectPtr obj = informer->Get(c.ns + "/" + c.name);
      if (obj && api::UidOf(*obj) == c.uid) return true;
    }
    return false;
  });
  const auto now = clock_->Now();
  for (const auto& c : deps_.index->UnmatchedReadBy(now - deps_.phantom_after)) {
    if (!Watched(c.ns)) {  // another operator's to judge
      deps_.index->DropUnmatched(c.uid);
      continue;
    }
    auto appended = deps_.ledger->Append(NotCreatedRecord(c, deps_.phantom_after, deps_.operator_identity));
    if (deps_.metrics) deps_.metrics->RecordLedgerAppend(appended.ok(), 0, appended.ok() ? appended->seq : 0);
    if (!appended.ok()) return appended.status().WithContext("appending a not-created outcome record");
    deps_.index->DropUnmatched(c.uid);
    ++result.not_created;
    if (deps_.metrics) deps_.metrics->RecordPhantomAdmission(c.kind);
    log::Warn("lineage: an allowed creation never appeared; marked not-created",
              {{"kind", c.kind}, {"namespace", c.ns}, {"name", c.name}, {"uid", c.uid},
               {"admissionSeq", c.seq}, {"ledgerSeq", appended->seq}});
  }
  // Kept past this pass's CatchUp, and for phantom_after besides (a record
  // read late, e.g. under a webhook whose failurePolicy lets the API server go
  // on without it, still finds its sighting).
  sightings_->ForgetBefore(std::min(pass_began, now - deps_.phantom_after));
  return Status::Ok();
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
