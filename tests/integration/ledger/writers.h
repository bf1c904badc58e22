// Running ledger_writer processes from tests, and reading what they acknowledged.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace execgov::ledger::testing {

// Starts ledger_writer with stdout to `ack_file`; returns its pid.
pid_t StartWriter(const std::string& url, const std::string& key, const std::string& id, long count,
                  const std::string& ack_file, int threads = 4);
// Waits for pid; returns its exit status (or -signal).
int WaitWriter(pid_t pid);
// SIGKILLs and reaps a writer unless it was already reaped, so a failing
// test never leaves writers running.
class KillOnExit {
 public:
  explicit KillOnExit(pid_t pid) : pid_(pid) {}
  ~KillOnExit() { KillNow(); }
  KillOnExit(const KillOnExit&) = delete;
  KillOnExit& operator=(const KillOnExit&) = delete;
  int KillNow();  // the exit status, as WaitWriter
  int Wait();

 private:
  pid_t pid_;
};

// seq -> hash of every "ack" line in the file.
std::map<uint64_t, std::string> ReadAcks(const std::string& ack_file);

}  // namespace execgov::ledger::testing
