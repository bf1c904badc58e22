// Leader election on a coordination.k8s.io/v1 Lease (client-go's
// leaderelection): a candidate creates the Lease or, when the holder has not
// renewed it for lease_duration, takes it over with an update guarded by
// resourceVersion, so of several candidates exactly one wins. The leader
// renews every retry_period and steps down (on_stopped_leading) if it cannot
// renew within renew_deadline, before any other candidate may take over, or
// at once when it finds another holder in the Lease. After stepping down it
// is a candidate again. Expiry is judged by each candidate's own clock from
// when it last saw the Lease change (as client-go), so clock skew between
// processes does not matter. Both callbacks run on the elector's thread and
// must return promptly. Timestamps are MicroTime (six fractional digits).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "kube/client.h"

namespace execgov::runtime {

struct LeaderElectionConfig {
  std::string lease_namespace = "execgov-system";
  std::string lease_name = "execgov-operator";
  std::string identity;  // unique per process: "<hostname>_<random>"
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  // Release the lease on Stop() so a successor need not wait it out.
  bool release_on_cancel = true;
  // Never a candidate: only read the Lease every retry_period, so Holder()
  // names whoever holds it (a process that hands work to the holder, as the
  // operator hands its ledger records to the webhook replica writing the
  // tail). Needs only `get` on the Lease; the callbacks never run.
  bool observe_only = false;
  const Clock* clock = nullptr;  // nullptr: the system clock
};

class LeaderElector {
 public:
  LeaderElector(kube::Client* client, LeaderElectionConfig config, std::function<void()> on_started_leading,
                std::function<void()> on_stopped_leading);
  ~LeaderElector();  // Stop()s

  // Runs the acquire/renew loop on its own thread.
  void Start();
  // Ends the loop. If leading, on_stopped_leading runs first; then, if
  // configured and the Lease names this identity, it is released (no
  // holder, 1 s duration), so no successor overlaps this process and none
  // has to wait the lease out.
  void Stop();
  bool IsLeader() const { return leader_.load(); }
  // The identity holding the lease as this candidate last read it (its own
  // while leading); empty before the first read or when nobody holds it. A
  // candidate reads the lease every retry_period, so this lags a change of
  // holder by about that long; the holder it names may have stopped since.
  std::string Holder() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> leader_{false};
};

// "<hostname>_<16 hex random>".
std::string DefaultIdentity();

}  // namespace execgov::runtime
