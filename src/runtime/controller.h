// The reconcile loop (controller-runtime's controller, kube-rs's
// Controller): informers feed keys into a WorkQueue, N workers take keys and
// call the reconciler. An error requeues the key with back-off; a result with
// requeue_after requeues it later; success Forget()s its back-off. The
// reconciler sees only the key and reads the desired state from the cache
// (level-based).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "metrics/metrics.h"
#include "runtime/informer.h"
#include "runtime/workqueue.h"

namespace execgov::runtime {

struct ReconcileResult {
  std::chrono::milliseconds requeue_after{0};  // zero: not unless something changes
};

// Returns an error to retry with back-off. A terminal problem (bad input
// that retrying cannot fix) should be recorded in status and return OK.
using Reconciler = std::function<StatusOr<ReconcileResult>(const std::string& key)>;

// Maps an event's object to the keys to reconcile: the object's own key, or
// its owner's (a Job event reconciles its ExecutionRequest).
using KeyMapper = std::function<std::vector<std::string>(const nlohmann::json& object)>;
KeyMapper OwnKey();
// The key of the object's controller owner of `owner_kind`, in its namespace.
KeyMapper ControllerOwnerKey(const std::string& owner_kind);

struct ControllerOptions {
  int workers = 2;
  WorkQueueOptions queue;
  metrics::Metrics* metrics = nullptr;  // execgov_reconcile_total{controller,result}
};

class Controller {
 public:
  Controller(std::string name, Reconciler reconciler, ControllerOptions options = {});
  ~Controller();  // Stop()s

  // Before Start(): enqueue keys from the informer's events (adds, updates,
  // deletes, resyncs) through `mapper`.
  void Watch(Informer* informer, KeyMapper mapper = OwnKey());

  // Starts the workers. The informers must be started by their owner (the
  // manager) and synced before Start is called.
  void Start();
  // Shuts the queue down and joins the workers after their current key.
  void Stop();

  WorkQueue& queue() { return *queue_; }
  const std::string& name() const { return name_; }

 private:
  void Work();
  std::string name_;
  Reconciler reconciler_;
  ControllerOptions options_;
  std::unique_ptr<WorkQueue> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace execgov::runtime
