// Real etcd members for tests: Debian's /usr/bin/etcd on 127.0.0.1 with free
// ports and a temporary data directory, killed and removed by the destructor
// (so a failing test still cleans up). Readiness is polled with a bounded
// timeout; nothing sleeps for time to pass.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace execgov::ledger::testing {

class EtcdCluster {
 public:
  // Starts `members` members forming one cluster. With tls, clients must
  // connect over TLS with a client certificate from the cluster's own CA
  // (files ca.crt, client.crt, client.key in dir()).
  explicit EtcdCluster(int members = 1, bool tls = false);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  bool ready() const { return ready_; }
  // "127.0.0.1:P1,127.0.0.1:P2,..." of the members still running.
  std::string Hosts() const;
  std::string Url(const std::string& prefix) const { return (tls_ ? "etcds://" : "etcd://") + Hosts() + prefix; }
  // SIGKILLs member i.
  void Kill(int i);
  const std::string& dir() const { return dir_; }
  std::string Log(int i) const;

 private:
  struct Member {
    std::string name, data, log;
    int client_port = 0, peer_port = 0;
    pid_t pid = -1;
  };
  bool Start(int members);
  int DistinctFreePort();
  bool WaitHealthy(Member& m);
  bool MakeCertificates() const;
  std::string dir_;
  bool tls_ = false;
  std::vector<Member> members_;
  std::set<int> used_ports_;  // never handed to two members, nor again after a failed start
  bool ready_ = false;
};

}  // namespace execgov::ledger::testing
