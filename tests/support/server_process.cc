#include "support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "support/tls_client.h"

namespace execgov::testing {

ServeProcess::ServeProcess(const std::string& policy_path, const std::string& state_dir,
                           const std::vector<std::string>& extra_args)
    : state_dir_(state_dir), port_(FreePort()), metrics_port_(FreePort()) {
  std::filesystem::create_directories(state_dir);
  std::vector<std::string> args = {EXECGOV_BINARY,
                                   "serve",
                                   "--policy",
                                   policy_path,
                                   "--state-dir",
                                   state_dir,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port_),
                                   "--metrics-listen",
                                   "127.0.0.1:" + std::to_string(metrics_port_)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::string log = log_file();
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // If the test process dies without running its destructors (a signal,
    // an abort), the server dies with it rather than being left running.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Ready when the ops port answers /healthz (bounded: 20 s).
  for (int i = 0; i < 400; ++i) {
    std::string body;
    if (OpsGet("/healthz", &body) == 200) {
      started_ = true;
      break;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

int ServeProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ServeProcess::OpsGet(const std::string& path, std::string* body) const {
  int fd = ConnectLoopback(metrics_port_);
  if (fd < 0) return -1;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  // Read until the Content-Length is satisfied: the server may keep the
  // connection open despite "Connection: close".
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    resp.append(buf, static_cast<size_t>(n));
    size_t split = resp.find("\r\n\r\n");
    if (split == std::string::npos) continue;
    std::string head = resp.substr(0, split);
    for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t cl = head.find("content-length:");
    if (cl != std::string::npos && resp.size() >= split + 4 + std::stoul(head.substr(cl + 15))) break;
  }
  ::close(fd);
  if (resp.size() < 12) return -1;
  size_t split = resp.find("\r\n\r\n");
  *body = split == std::string::npos ? "" : resp.substr(split + 4);
  return std::stoi(resp.substr(9, 3));
}

}  // namespace execgov::testing
