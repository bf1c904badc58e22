#include "runtime/manager.h"

#include <map>
#include <mutex>
#include <thread>

#include "core/log.h"

namespace execgov::runtime {

struct Manager::Impl {
  Manager* self;
  ManagerOptions options;
  std::vector<std::pair<std::string, std::unique_ptr<Informer>>> informers;
  std::vector<std::unique_ptr<Controller>> controllers;
  std::vector<Runnable> runnables;
  std::unique_ptr<LeaderElector> elector;

  std::mutex mu;        // the flags below
  std::mutex run_mu;    // serialises starting and stopping leader-only runnables
  bool started = false, stopping = false, lost = false, leader_running = false, others_running = false;
  std::thread lost_thread;

  void StartLeaderRunnables() {
    std::lock_guard<std::mutex> r(run_mu);
    {
      std::lock_guard<std::mutex> l(mu);
      if (stopping || lost || leader_running) return;
      leader_running = true;
    }
    for (auto& run : runnables) {
      if (run.needs_leader && run.start) {
        log::Info("manager: starting", {{"runnable", run.name}, {"leader_only", true}});
        run.start();
      }
    }
  }

  void StopLeaderRunnables() {
    std::lock_guard<std::mutex> r(run_mu);
    {
      std::lock_guard<std::mutex> l(mu);
      if (!leader_running) return;
      leader_running = false;
    }
    for (auto it = runnables.rbegin(); it != runnables.rend(); ++it) {
      if (it->needs_leader && it->stop) it->stop();
    }
  }

  // On the elector's thread. Leader-only work stops at once; the rest (the
  // elector itself, the owner's callback) happens on a thread of its own,
  // since the elector cannot join itself.
  void OnStoppedLeading() {
    StopLeaderRunnables();
    std::lock_guard<std::mutex> l(mu);
    if (stopping || lost) return;
    lost = true;
    log::Warn("manager: lost leadership; leader-only work stopped");
    lost_thread = std::thread([this] {
      // Stop competing: this process will not act again, and holding the
      // lease would only delay a replacement.
      elector->Stop();
      if (options.on_lost_leadership) options.on_lost_leadership();
    });
  }
};

Manager::Manager(kube::Client* client, ManagerOptions options) : impl_(std::make_unique<Impl>()), client_(client) {
  impl_->self = this;
  impl_->options = std::move(options);
}

Manager::~Manager() { Stop(); }

Informer* Manager::GetInformer(const std::string& collection_path, const InformerOptions& options) {
  std::string key = collection_path + "\n" + options.selector.label_selector + "\n" + options.selector.field_selector +
                    "\n" + std::to_string(options.resync.count()) + "\n" + std::to_string(options.initial_backoff.count()) +
                    "\n" + std::to_string(options.max_backoff.count());
  for (auto& [k, informer] : impl_->informers) {
    if (k == key) return informer.get();
  }
  impl_->informers.emplace_back(key, std::make_unique<Informer>(client_, collection_path, options));
  return impl_->informers.back().second.get();
}

void Manager::AddController(std::unique_ptr<Controller> controller, bool needs_leader) {
  Controller* c = controller.get();
  impl_->controllers.push_back(std::move(controller));
  AddRunnable(Runnable{c->name(), [c] { c->Start(); }, [c] { c->Stop(); }, needs_leader});
}

void Manager::AddRunnable(Runnable runnable) { impl_->runnables.push_back(std::move(runnable)); }

Status Manager::Start() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->started) return FailedPrecondition("manager already started");
    impl_->started = true;
  }
  for (auto& [k, informer] : impl_->informers) informer->Start();
  const auto deadline = std::chrono::steady_clock::now() + impl_->options.cache_sync_timeout;
  for (auto& [k, informer] : impl_->informers) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!informer->WaitForSync(std::max(left, std::chrono::milliseconds(0)))) {
      {
        std::lock_guard<std::mutex> l(impl_->mu);
        if (impl_->stopping) return Aborted("manager stopped while waiting for its caches");
      }
      return Status(StatusCode::kDeadlineExceeded, "the cache of " + informer->collection_path() + " did not sync within " +
                              FormatDuration(impl_->options.cache_sync_timeout));
    }
  }
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->stopping) return Status::Ok();
    impl_->others_running = true;
  }
  for (auto& run : impl_->runnables) {
    if (!run.needs_leader && run.start) {
      log::Info("manager: starting", {{"runnable", run.name}, {"leader_only", false}});
      run.start();
    }
  }
  if (!impl_->options.leader_election) {
    impl_->StartLeaderRunnables();
    return Status::Ok();
  }
  impl_->elector = std::make_unique<LeaderElector>(
      client_, *impl_->options.leader_election, [this] { impl_->StartLeaderRunnables(); },
      [this] { impl_->OnStoppedLeading(); });
  impl_->elector->Start();
  return Status::Ok();
}

void Manager::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  // Stop acting before the lease is released, so no successor overlaps us.
  impl_->StopLeaderRunnables();
  std::thread lost;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    lost.swap(impl_->lost_thread);
  }
  if (lost.joinable()) {
    if (lost.get_id() == std::this_thread::get_id()) {
      lost.detach();  // Stop() called from on_lost_leadership
    } else {
      lost.join();
    }
  }
  if (impl_->elector) impl_->elector->Stop();
  bool others;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    others = impl_->others_running;
    impl_->others_running = false;
  }
  if (others) {
    for (auto it = impl_->runnables.rbegin(); it != impl_->runnables.rend(); ++it) {
      if (!it->needs_leader && it->stop) it->stop();
    }
  }
  for (auto it = impl_->informers.rbegin(); it != impl_->informers.rend(); ++it) it->second->Stop();
}

bool Manager::CachesSynced() const {
  for (const auto& [k, informer] : impl_->informers) {
    if (!informer->HasSynced()) return false;
  }
  return true;
}

bool Manager::IsLeader() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->leader_running;
}

}  // namespace execgov::runtime
