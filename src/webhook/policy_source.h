// Policies from files (standalone mode), reloaded when they change. A valid
// new set replaces the old one atomically; an invalid one is logged, counted
// in execgov_policy_reload_errors_total, and the last good set stays active.
// Until the first valid load the set is not ready (PolicyNotReady).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/metrics.h"
#include "policy/policy.h"

namespace execgov::webhook {

class FilePolicySource {
 public:
  FilePolicySource(std::string path, metrics::Metrics* metrics, std::chrono::milliseconds poll = std::chrono::seconds(1));
  ~FilePolicySource();

  // Loads once now, then watches in the background until destruction.
  void Start();
  std::shared_ptr<const policy::PolicySet> Current() const { return current_.load(); }
  bool ready() const { return current_.load()->ready; }
  // Loads now if the files changed; true when a new set was installed.
  bool ReloadIfChanged();

 private:
  std::string Fingerprint() const;

  std::string path_;
  metrics::Metrics* metrics_;
  std::chrono::milliseconds poll_;
  std::atomic<std::shared_ptr<const policy::PolicySet>> current_;
  std::string fingerprint_;
  uint64_t version_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace execgov::webhook
