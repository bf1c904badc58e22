// Owns the long-running pieces of a process (controller-runtime's manager):
// informers, controllers and other runnables. Start() starts the informers,
// waits for their sync, then starts every runnable that does not need
// leadership and, when leader election is configured, starts the others only
// once this process leads. Losing leadership stops the leader-only runnables,
// stops the elector (this manager never leads again) and calls
// on_lost_leadership (the operator exits so its replacement starts clean, as
// controller-runtime does). Stop() stops everything in reverse
// order and returns when all threads are joined.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "kube/client.h"
#include "runtime/controller.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"

namespace execgov::runtime {

struct Runnable {
  std::string name;
  std::function<void()> start;  // returns promptly (spawns its own thread if needed)
  std::function<void()> stop;   // returns when stopped
  bool needs_leader = true;
};

struct ManagerOptions {
  std::optional<LeaderElectionConfig> leader_election;  // none: always act
  std::chrono::milliseconds cache_sync_timeout{60000};
  std::function<void()> on_lost_leadership;  // called once, on a manager thread
};

class Manager {
 public:
  Manager(kube::Client* client, ManagerOptions options);
  ~Manager();  // Stop()s

  // Before Start(). The manager owns what it returns; the same collection
  // path and options give the same informer.
  Informer* GetInformer(const std::string& collection_path, const InformerOptions& options = {});
  void AddController(std::unique_ptr<Controller> controller, bool needs_leader = true);
  void AddRunnable(Runnable runnable);

  // Starts the informers and waits for their first sync (DeadlineExceeded
  // after cache_sync_timeout; Aborted if Stop() is called meanwhile, from
  // another thread), then the runnables as described above.
  Status Start();
  void Stop();

  bool CachesSynced() const;
  bool IsLeader() const;  // true without leader election once started
  kube::Client* client() const { return client_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  kube::Client* client_;
};

}  // namespace execgov::runtime
