#include "runtime/controller.h"

#include "api/object.h"
#include "core/log.h"

namespace execgov::runtime {

using nlohmann::json;

KeyMapper OwnKey() {
  return [](const json& object) { return std::vector<std::string>{ObjectKey(object)}; };
}

KeyMapper ControllerOwnerKey(const std::string& owner_kind) {
  return [owner_kind](const json& object) {
    std::vector<std::string> keys;
    auto owner = api::ControllerOf(object);
    if (!owner || owner->kind != owner_kind || owner->name.empty()) return keys;
    // Owners are in their dependent's namespace (or cluster-scoped).
    std::string ns = api::NamespaceOf(object);
    keys.push_back(ns.empty() ? owner->name : ns + "/" + owner->name);
    return keys;
  };
}

Controller::Controller(std::string name, Reconciler reconciler, ControllerOptions options)
    : name_(std::move(name)),
      reconciler_(std::move(reconciler)),
      options_(std::move(options)),
      queue_(std::make_unique<WorkQueue>(options_.queue)) {}

Controller::~Controller() { Stop(); }

void Controller::Watch(Informer* informer, KeyMapper mapper) {
  informer->AddHandler([q = queue_.get(), mapper = std::move(mapper)](const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
    // Both sides of an update: an object that changed owner (or label)
    // concerns the old key as much as the new one.
    if (old_obj && old_obj != new_obj) {
      for (const auto& key : mapper(*old_obj)) q->Add(key);
    }
    if (new_obj) {
      for (const auto& key : mapper(*new_obj)) q->Add(key);
    }
  });
}

void Controller::Start() {
  if (!workers_.empty()) return;
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { Work(); });
}

void Controller::Stop() {
  queue_->ShutDown();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void Controller::Work() {
  while (auto key = queue_->Get()) {
    StatusOr<ReconcileResult> result = Internal("reconciler threw");
    try {
      result = reconciler_(*key);
    } catch (const std::exception& e) {
      result = Internal(std::string("reconciler threw: ") + e.what());
    }
    std::string outcome;
    if (!result.ok()) {
      outcome = "error";
      log::Warn("reconcile failed", {{"controller", name_},
                                     {"key", *key},
                                     {"error", result.status().ToString()},
                                     {"requeues", queue_->NumRequeues(*key)}});
      queue_->AddRateLimited(*key);
    } else {
      queue_->Forget(*key);
      if (result->requeue_after.count() > 0) {
        outcome = "requeue";
        queue_->AddAfter(*key, result->requeue_after);
      } else {
        outcome = "success";
      }
    }
    if (options_.metrics) options_.metrics->RecordReconcile(name_, outcome);
    queue_->Done(*key);
  }
}

}  // namespace execgov::runtime
