// What a leader-elected in-cluster command (`execgov operator`, `execgov
// authority`) does around its manager: the Lease
// timings from one --lease-duration, stop signals blocked before any thread
// starts, and the wait for a stop or a lost lease. Only cmd/ includes this.
#pragma once

#include <signal.h>

#include <string>

#include "runtime/leader_election.h"

namespace execgov::cmd {

// The Lease `name` in `ns` held as `identity`: renewed within two thirds of
// `lease_seconds`, retried about seven times per lease.
runtime::LeaderElectionConfig LeaseConfig(const std::string& ns, const std::string& name, const std::string& identity,
                                          int lease_seconds);

// Blocks SIGINT, SIGTERM and SIGUSR1 (a lost lease, raised by the manager's
// on_lost_leadership) in this thread and every thread it starts later; call
// before starting any.
sigset_t BlockStopSignals();

// Waits for one of them and logs it. True when the lease was lost (the
// process should exit 1 so a fresh one takes over).
bool WaitForStop(const sigset_t& signals, const std::string& command, const std::string& identity);

}  // namespace execgov::cmd
