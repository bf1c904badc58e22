#include "writers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace execgov::ledger::testing {

pid_t StartWriter(const std::string& url, const std::string& key, const std::string& id, long count,
                  const std::string& ack_file, int threads) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(ack_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    std::string n = std::to_string(count), t = std::to_string(threads);
    ::execl(LEDGER_WRITER, LEDGER_WRITER, url.c_str(), key.c_str(), id.c_str(), n.c_str(), t.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

int WaitWriter(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

int KillOnExit::KillNow() {
  if (pid_ < 0) return 0;
  ::kill(pid_, SIGKILL);
  return Wait();
}

int KillOnExit::Wait() {
  if (pid_ < 0) return 0;
  int status = WaitWriter(pid_);
  pid_ = -1;
  return status;
}

std::map<uint64_t, std::string> ReadAcks(const std::string& ack_file) {
  std::map<uint64_t, std::string> acks;
  std::ifstream in(ack_file);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::string word, hash;
    uint64_t seq;
    if (ss >> word >> seq >> hash && word == "ack") acks[seq] = hash;
  }
  return acks;
}

}  // namespace execgov::ledger::testing
