// A watch-fed cache of one resource (client-go's reflector + store +
// informer, kube-rs's watcher + reflector): List, then Watch from the list's
// resourceVersion with bookmarks; resume from the last seen version when a
// watch ends; relist on 410 Gone (OutOfRange), replacing the store and
// emitting the differences; back off (capped, jittered) on errors. The store
// is readable from any thread while the informer runs.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/client.h"

namespace execgov::runtime {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// "namespace/name" for a namespaced object, "name" for a cluster-scoped one
// (client-go's MetaNamespaceKeyFunc).
std::string ObjectKey(const nlohmann::json& object);
// Splits a key back: {"", name} for a cluster-scoped key.
std::pair<std::string, std::string> SplitKey(const std::string& key);

// Called on the informer's thread, in event order (resyncs come from its
// resync thread, but never while another delivery runs). `old_obj` is null
// for an add, `new_obj` is null for a delete (it then carries the object's
// final state); both set for an update, the same pointer for a resync.
// After a relist the differences come as adds, updates and deletes. Handlers
// must be quick (enqueue a key, swap a snapshot); they must not block on the
// API.
using EventHandler = std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)>;

struct InformerOptions {
  kube::ListOptions selector;  // label/field selectors; resource_version is ignored
  // Every this often all cached objects are delivered again as updates
  // (old == new), so level-based controllers retry what they gave up on.
  // Zero: never.
  std::chrono::milliseconds resync{0};
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
};

class Informer {
 public:
  // `client` must outlive the informer. `collection_path` is a collection
  // ("/apis/execgov.io/v1alpha1/executionpolicies").
  Informer(kube::Client* client, std::string collection_path, InformerOptions options = {});
  ~Informer();  // Stop()s
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Only before Start().
  void AddHandler(EventHandler handler);

  // Starts the list/watch loop on its own thread. Idempotent.
  void Start();
  // Ends the loop and joins the thread; pending watches end within a second.
  void Stop();

  // True once the first list has been stored and delivered to handlers.
  bool HasSynced() const { return synced_.load(); }
  // Waits until synced, stopped or `timeout`; true when synced.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  ObjectPtr Get(const std::string& key) const;
  std::vector<ObjectPtr> List() const;
  // The resourceVersion of the last event or list stored ("" before sync).
  std::string LastResourceVersion() const;
  const std::string& collection_path() const { return collection_path_; }

  // Counters for tests and metrics.
  uint64_t relists() const { return relists_.load(); }
  uint64_t watches_started() const { return watches_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string collection_path_;
  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> relists_{0}, watches_{0};
};

}  // namespace execgov::runtime
