// The ExecutionPolicy reconciler (docs/design.md §5, issue 6): reports in each
// policy's status how it compiled at its current generation — the Ready
// condition (True/Valid, or False with InvalidKey / InvalidSpec and the
// compile error naming the field), observedGeneration and the number of keys
// loaded — and records an Event when that changes. It compiles nothing
// itself: ClusterPolicies compiled the same object, with the same key
// resolver, for the snapshot the webhook and the request reconciler decide
// with, so status always says what enforcement actually uses.
//
// Writes go through the status subresource and happen only when the status
// would change, so its own update events do not loop.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "controllers/cluster_policies.h"
#include "core/clock.h"
#include "kube/client.h"
#include "kube/events.h"
#include "runtime/controller.h"
#include "runtime/informer.h"

namespace execgov::controllers {

// The status reason for a compile error: InvalidKey for anything under an
// issuer's keys (the PEM, the algorithm, a publicKeyRef), InvalidSpec
// otherwise.
std::string PolicyFailureReason(const Status& compile_error);

// The status `result` calls for, given the current one (pure; kept apart
// for unit tests). Returns true in *changed when it differs from `current`.
nlohmann::json DesiredPolicyStatus(const nlohmann::json& current, const PolicyCompileResult& result,
                                   std::chrono::system_clock::time_point now, bool* changed);

struct PolicyControllerDeps {
  kube::Client* client = nullptr;
  runtime::Informer* policies = nullptr;  // the informer ClusterPolicies reads too
  const ClusterPolicies* compiled = nullptr;
  kube::EventRecorder* events = nullptr;  // optional
  const Clock* clock = nullptr;           // null: the system clock
};

class PolicyController {
 public:
  explicit PolicyController(PolicyControllerDeps deps);
  // Reconciles the ExecutionPolicy named `key` (cluster-scoped).
  StatusOr<runtime::ReconcileResult> Reconcile(const std::string& key);

 private:
  PolicyControllerDeps deps_;
};

}  // namespace execgov::controllers
