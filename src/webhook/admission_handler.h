// Handle(request) -> response: the admission decision with its side effects.
// Decides with policy::Decide on the current policy snapshot, commits the
// decision's replay intent atomically, writes the ledger record, and answers.
// Every error path, expected or not, is a denial (fail-closed).
//
// The answer to a governed request waits for its ledger record to be durable.
// The callback form waits without a thread: the record is queued and the
// answer comes from the ledger's writer once the batch carrying it is synced,
// so a server needs threads for its CPU work only, not one per fsync wait.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "api/object.h"
#include "core/clock.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "policy/decision.h"
#include "webhook/admission_review.h"
#include "webhook/approval_guard.h"
#include "webhook/break_glass_index.h"
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
  // Optional: the Jobs admitted under break-glass, whose Pods are then
  // break-glass too (break_glass_index.h); the handler notes its own such
  // Jobs in it. Without it the Pods of a break-glass Job are refused.
  BreakGlassIndex* break_glass = nullptr;
  // Optional (in cluster): without it a namespaceSelector is ignored, as in
  // file mode. Asked for every CREATE and UPDATE outside the never-governed
  // namespaces; an error denies (InternalError), since a selector that cannot
  // be evaluated must not decide which policies apply.
  NamespaceLabelsProvider namespace_labels;
  // The namespace execgov runs in (--namespace): never governed, like
  // kube-system and execgov-system.
  std::string install_namespace = std::string(api::kInstallNamespace);
  // Optional (in cluster): what judging an ExecutionApproval reads
  // (approval_guard.h). Without it every approval is refused.
  ApprovalContextProvider approvals;
};

using ResponseCallback = std::function<void(AdmissionResponse)>;

class AdmissionHandler {
 public:
  explicit AdmissionHandler(HandlerDeps deps);
  // Waits for the answers still waiting on the ledger: they use this handler.
  ~AdmissionHandler();
  // Answers through `done`, exactly once, also when something throws: in the
  // calling thread when nothing is written, else on the ledger's writer thread
  // (keep `done` quick; post real work elsewhere).
  void Handle(const AdmissionRequest& request, ResponseCallback done);
  // Waits for the answer.
  AdmissionResponse Handle(const AdmissionRequest& request);

 private:
  struct InFlight;
  void HandleImpl(const AdmissionRequest& request, const std::shared_ptr<InFlight>& state);
  void Finish(InFlight& state, const StatusOr<ledger::Appended>* appended);
  // Finish after the ledger answered, and count the answer as given.
  void Answer(const std::shared_ptr<InFlight>& state, const StatusOr<ledger::Appended>& appended);
  // Turns an allowed decision whose consumption lost to another writer's into
  // a ReplayDetected denial and appends its record; false if it could not.
  bool RecordReplay(const std::shared_ptr<InFlight>& state, const Status& refused);
  static StatusOr<ledger::Entry> DecisionRecord(const InFlight& state);
  HandlerDeps deps_;
  std::mutex waiting_mu_;
  std::condition_variable waiting_cv_;
  int waiting_ = 0;  // answers queued behind their ledger record
  std::atomic<int64_t> next_prune_ms_{0};  // when the replay store's next prune step is due (Unix ms)
};

// The kind execgov governs that a request is for, from its resource and
// subresource alone: ("", v1, pods) and its "ephemeralcontainers"
// subresource -> Pod, (batch, v1, jobs) -> Job, (execgov.io, v1alpha1,
// executionrequests) -> ExecutionRequest; nullopt for anything else, which
// is not governed (NoMatchingPolicy).
std::optional<api::GovernedKind> GovernedKindOf(const GroupVersionResource& resource, const std::string& sub_resource);

// Why a request for the governed `kind` cannot be decided as one: its
// request.kind or requestKind names another group or kind. Empty when they
// agree. The API server never sends such a review; the handler denies it
// (ScopeMismatch) rather than pick one of the kinds.
std::string KindConflict(api::GovernedKind kind, const AdmissionRequest& request);

}  // namespace execgov::webhook
