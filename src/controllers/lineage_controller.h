// Lineage completeness (docs/design.md §7.4): every admitted governed
// object — a Pod, Job or ExecutionRequest carrying the artifact annotation
// in a governed namespace — has an admission record in the ledger, even
// when the webhook replica that admitted it died before its record was
// durable, or the object was made while the webhook was not called.
//
// A pass (as the leader, periodically) snapshots the objects from the
// informers first and then catches the LedgerIndex up: the webhook appends
// before it answers, so any object already in the snapshot has its record
// in the ledger by then unless it is really missing. Missing ones get an
// admission record derived from the object itself (marked "derived": true,
// decision "allowed" because the API server holds the object, the
// artifact's claims unverified), appended once by uid: the index remembers
// the uid at once, and the next leader finds the record in the ledger.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "controllers/ledger_index.h"
#include "core/status.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

namespace execgov::controllers {

// The admission record for an object found without one (pure).
// InvalidArgument for an object that is not a governed kind.
StatusOr<nlohmann::json> DerivedAdmissionRecord(const nlohmann::json& object);

// Whether the Namespace object is governed: labelled execgov.io/governed=true
// and not one api::IsNeverGovernedNamespace names.
bool IsGovernedNamespace(const nlohmann::json& ns, std::string_view install_namespace = api::kInstallNamespace);

struct LineageControllerDeps {
  std::vector<runtime::Informer*> objects;  // Pods, Jobs, ExecutionRequests (all namespaces)
  runtime::Informer* namespaces = nullptr;
  std::set<std::string> watch_namespaces;  // empty: every namespace
  ledger::Ledger* ledger = nullptr;
  LedgerIndex* index = nullptr;
  metrics::Metrics* metrics = nullptr;  // optional
  // The namespace the operator runs in (--namespace): never governed.
  std::string install_namespace = std::string(api::kInstallNamespace);
};

class LineageController {
 public:
  explicit LineageController(LineageControllerDeps deps);
  // One pass; returns how many records it derived.
  StatusOr<int> Pass();

 private:
  LineageControllerDeps deps_;
};

// A runnable calling `fn` at start and then every `interval` on its own
// thread until stopped (the leader's periodic chores: lineage passes,
// pruning expired replay records).
runtime::Runnable PeriodicRunnable(std::string name, std::chrono::milliseconds interval, std::function<void()> fn);

}  // namespace execgov::controllers
