// Runs `execgov serve` as a child process for integration tests, on free
// loopback ports, and stops it (SIGTERM, then SIGKILL) when destroyed, so
// that a failing test never leaves a server behind.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace execgov::testing {

class ServeProcess {
 public:
  // Starts the server and waits (bounded) until its ops port answers.
  // `extra_args` are appended to the command line.
  ServeProcess(const std::string& policy_path, const std::string& state_dir,
               const std::vector<std::string>& extra_args = {});
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  bool started() const { return started_; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::string ca_file() const { return state_dir_ + "/tls/ca.crt"; }
  std::string log_file() const { return state_dir_ + "/serve.log"; }
  // GET on the plain ops port; returns the status code and fills body.
  int OpsGet(const std::string& path, std::string* body) const;
  // Sends SIGTERM and waits for a clean exit; returns the exit status.
  int Stop();

 private:
  std::string state_dir_;
  pid_t pid_ = -1;
  int port_ = 0, metrics_port_ = 0;
  bool started_ = false;
};

}  // namespace execgov::testing
