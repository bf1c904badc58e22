#include "etcd_server.h"

#include "support/tls_client.h"  // FreePort

#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace execgov::ledger::testing {
namespace fs = std::filesystem;

EtcdCluster::EtcdCluster(int members, bool tls) : tls_(tls) {
  char tmpl[] = "/tmp/execgov-etcd-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  if (tls_ && !MakeCertificates()) return;
  // A free port can be taken between FreePort() and etcd's bind, by another
  // test or by a member dialling its peers from an ephemeral port: a member
  // that cannot bind exits, and the cluster starts again on new ports.
  for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
    for (size_t i = 0; i < members_.size(); ++i) Kill(static_cast<int>(i));
    for (const auto& m : members_) {
      std::error_code ec;
      fs::remove_all(m.data, ec);
    }
    members_.clear();
    ready_ = Start(members);
  }
}

bool EtcdCluster::Start(int members) {
  const std::string client_scheme = tls_ ? "https" : "http";
  std::string initial;
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.data = dir_ + "/" + m.name;
    m.log = dir_ + "/" + m.name + ".log";
    m.client_port = DistinctFreePort();
    m.peer_port = DistinctFreePort();
    if (!initial.empty()) initial += ",";
    initial += m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
    members_.push_back(m);
  }
  for (auto& m : members_) {
    std::vector<std::string> args = {
        "/usr/bin/etcd",
        "--name", m.name,
        "--data-dir", m.data,
        "--listen-client-urls", client_scheme + "://127.0.0.1:" + std::to_string(m.client_port),
        "--advertise-client-urls", client_scheme + "://127.0.0.1:" + std::to_string(m.client_port),
        "--listen-peer-urls", "http://127.0.0.1:" + std::to_string(m.peer_port),
        "--initial-advertise-peer-urls", "http://127.0.0.1:" + std::to_string(m.peer_port),
        "--initial-cluster", initial,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", "execgov-test",
    };
    if (tls_) {
      for (const char* a : {"--cert-file", "server.crt", "--key-file", "server.key", "--trusted-ca-file", "ca.crt"}) {
        args.push_back(a[0] == '-' ? std::string(a) : dir_ + "/" + a);
      }
      args.push_back("--client-cert-auth");
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      // Dies with the test process, even one that never runs its destructors.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      FILE* log = std::fopen(m.log.c_str(), "w");
      if (log) {
        ::dup2(fileno(log), 1);
        ::dup2(fileno(log), 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    m.pid = pid;
  }
  for (auto& m : members_) {
    if (!WaitHealthy(m)) return false;
  }
  return true;
}

int EtcdCluster::DistinctFreePort() {
  for (;;) {
    int port = ::execgov::testing::FreePort();
    if (used_ports_.insert(port).second) return port;
  }
}

bool EtcdCluster::WaitHealthy(Member& m) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string tls_args = tls_ ? "--cacert " + dir_ + "/ca.crt --cert " + dir_ + "/client.crt --key " + dir_ +
                                     "/client.key https" : "http";
  std::string cmd = "curl -sf -m 2 " + tls_args + "://127.0.0.1:" + std::to_string(m.client_port) + "/health 2>/dev/null";
  while (std::chrono::steady_clock::now() < deadline) {
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[256];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    if (p) ::pclose(p);
    if (out.find("\"health\":\"true\"") != std::string::npos) return true;
    // A member that exited (its port was taken) never becomes healthy.
    if (::waitpid(m.pid, nullptr, WNOHANG) == m.pid) {
      m.pid = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling for readiness, bounded
  }
  return false;
}

bool EtcdCluster::MakeCertificates() const {
  // A CA, a serving certificate for 127.0.0.1 and a client certificate (P-256).
  std::ofstream(dir_ + "/mkcerts.sh") << R"SH(set -e
cd "$(dirname "$0")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 1 \
  -subj /CN=etcd-test-ca 2>/dev/null
for who in server client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > $who.ext
  openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt -days 1 -extfile $who.ext 2>/dev/null
done
chmod 600 *.key
)SH";
  return std::system(("bash " + dir_ + "/mkcerts.sh").c_str()) == 0;
}

std::string EtcdCluster::Hosts() const {
  std::string out;
  for (const auto& m : members_) {
    if (m.pid < 0) continue;
    if (!out.empty()) out += ",";
    out += "127.0.0.1:" + std::to_string(m.client_port);
  }
  return out;
}

void EtcdCluster::Kill(int i) {
  auto& m = members_[static_cast<size_t>(i)];
  if (m.pid < 0) return;
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

std::string EtcdCluster::Log(int i) const {
  std::ifstream in(members_[static_cast<size_t>(i)].log);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

EtcdCluster::~EtcdCluster() {
  for (size_t i = 0; i < members_.size(); ++i) Kill(static_cast<int>(i));
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace execgov::ledger::testing
