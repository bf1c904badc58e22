#include "cmd/leader_process.h"

#include <algorithm>

#include "core/log.h"

namespace execgov::cmd {

runtime::LeaderElectionConfig LeaseConfig(const std::string& ns, const std::string& name, const std::string& identity,
                                          int lease_seconds) {
  runtime::LeaderElectionConfig le;
  le.lease_namespace = ns;
  le.lease_name = name;
  le.identity = identity;
  le.lease_duration = std::chrono::seconds(lease_seconds);
  le.renew_deadline = std::chrono::milliseconds(lease_seconds * 2000 / 3);
  le.retry_period = std::chrono::milliseconds(std::max(500, lease_seconds * 1000 / 7));
  return le;
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

bool WaitForStop(const sigset_t& signals, const std::string& command, const std::string& identity) {
  int sig = 0;
  sigwait(&signals, &sig);
  const bool lost = sig == SIGUSR1;
  if (lost) {
    log::Error("execgov " + command + ": lost the leader lease; exiting so a fresh process takes over",
               {{"identity", identity}});
  } else {
    log::Info("execgov " + command + ": stopping", {{"signal", sig}});
  }
  return lost;
}

}  // namespace execgov::cmd
