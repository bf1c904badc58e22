#include "webhook/policy_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/log.h"
#include "core/thread.h"

namespace execgov::webhook {

FilePolicySource::FilePolicySource(std::string path, metrics::Metrics* metrics, std::chrono::milliseconds poll)
    : path_(std::move(path)), metrics_(metrics), poll_(poll), current_(std::make_shared<const policy::PolicySet>()) {}

FilePolicySource::~FilePolicySource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

std::string FilePolicySource::Fingerprint() const {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> parts;
  auto add = [&](const fs::path& p) {
    struct stat st{};
    if (::stat(p.c_str(), &st) == 0) {
      parts.push_back(p.string() + "@" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
                      ":" + std::to_string(st.st_size));
    }
  };
  if (fs::is_directory(path_, ec)) {
    // Only what LoadPolicyPath reads: a ledger kept beside the policies must
    // not look like a policy change on every append.
    for (const auto& e : fs::directory_iterator(path_, ec)) {
      std::string ext = e.path().extension().string();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") add(e.path());
    }
  } else {
    add(path_);
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += p + ";";
  return out;
}

bool FilePolicySource::ReloadIfChanged() {
  std::string fp = Fingerprint();
  if (fp == fingerprint_ && current_.load()->ready) return false;
  fingerprint_ = fp;
  auto loaded = policy::LoadPolicyPath(path_);
  if (!loaded.ok()) {
    if (metrics_) metrics_->RecordPolicyReloadError();
    log::Error("policies: refused an invalid policy set; the last good set stays active",
               {{"path", path_}, {"error", loaded.status().message()}});
    return false;
  }
  loaded->version = ++version_;
  size_t n = loaded->policies.size();
  current_.store(std::make_shared<const policy::PolicySet>(std::move(loaded).value()));
  if (metrics_) metrics_->SetPoliciesLoaded(n);
  log::Info("policies: loaded", {{"path", path_}, {"policies", n}, {"version", version_}});
  return true;
}

void FilePolicySource::Start() {
  ReloadIfChanged();
  watcher_ = std::thread([this] {
    SetThreadName("policy-watch");
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, poll_, [this] { return stopping_; })) {
      lock.unlock();
      ReloadIfChanged();
      lock.lock();
    }
  });
}

}  // namespace execgov::webhook
