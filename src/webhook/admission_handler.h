// Handle(request) -> response: the admission decision with its side effects.
// Decides with policy::Decide on the current policy snapshot, commits the
// decision's replay intent atomically, writes the ledger record, and answers.
// Every error path, expected or not, is a denial (fail-closed).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include "core/clock.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "policy/decision.h"
#include "webhook/admission_review.h"
#include "webhook/replay_store.h"

namespace execgov::webhook {

using PolicyProvider = std::function<std::shared_ptr<const policy::PolicySet>()>;
// The labels of a Namespace (in cluster), for policies' namespaceSelector.
using NamespaceLabelsProvider = std::function<StatusOr<std::map<std::string, std::string>>(const std::string& ns)>;

struct HandlerDeps {
  PolicyProvider policies;                            // required
  ReplayStore* replay = nullptr;                      // required
  ledger::Ledger* ledger = nullptr;                   // optional: decisions unrecorded without it
  policy::SignatureCache* signature_cache = nullptr;  // optional
  metrics::Metrics* metrics = nullptr;                // optional
  const Clock* clock = nullptr;                       // null: system clock
  // Optional (in cluster): without it a namespaceSelector is ignored, as in
  // file mode. Asked for every CREATE and UPDATE outside the never-governed
  // namespaces; an error denies (InternalError), since a selector that cannot
  // be evaluated must not decide which policies apply.
  NamespaceLabelsProvider namespace_labels;
};

class AdmissionHandler {
 public:
  explicit AdmissionHandler(HandlerDeps deps);
  AdmissionResponse Handle(const AdmissionRequest& request);

 private:
  AdmissionResponse HandleImpl(const AdmissionRequest& request);
  HandlerDeps deps_;
  std::atomic<uint64_t> consumed_{0};  // prunes the replay store every 1024 consumptions
};

// The kind execgov governs for an API group and kind, or "" (Pod in the core
// group, Job in batch, ExecutionRequest in execgov.io).
std::string GovernedKindOf(const std::string& group, const std::string& kind);

}  // namespace execgov::webhook
