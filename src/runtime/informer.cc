#include "runtime/informer.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>

#include "api/object.h"
#include "core/log.h"

namespace execgov::runtime {
namespace {

using nlohmann::json;

std::string Meta(const json& object, const char* field) { return api::StringAt(object, {"metadata", field}); }

}  // namespace

std::string ObjectKey(const json& object) {
  std::string ns = api::NamespaceOf(object), name = api::NameOf(object);
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

struct Informer::Impl {
  Informer* self;
  kube::Client* client;
  InformerOptions options;
  std::vector<EventHandler> handlers;

  mutable std::shared_mutex store_mu;
  std::map<std::string, ObjectPtr> store;
  std::string resource_version;

  // Held while the store changes and its handlers run, so the watch thread
  // and the resync thread never deliver at once or out of order.
  std::mutex deliver_mu;

  std::atomic<bool> stop{false};
  mutable std::mutex wait_mu;
  mutable std::condition_variable wait_cv;  // stop, sync
  bool started = false;
  std::thread loop, resync;
  std::mt19937_64 rng{std::random_device{}()};

  void Deliver(const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
    for (const auto& h : handlers) {
      try {
        h(old_obj, new_obj);
      } catch (const std::exception& e) {
        log::Error("informer handler threw", {{"path", self->collection_path_}, {"error", e.what()}});
      }
    }
  }

  // Waits `d` or until Stop(); false when stopping.
  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(wait_mu);
    return !wait_cv.wait_for(l, d, [&] { return stop.load(); });
  }

  std::chrono::milliseconds Jitter(std::chrono::milliseconds d) {
    if (d.count() <= 1) return d;
    return d / 2 + std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, d.count() / 2)(rng));
  }

  // What the cache keeps of an object: all of it but metadata.managedFields,
  // the server-side-apply bookkeeping that is often larger than the object
  // and that no reader here uses (an update sent without it leaves the
  // server's copy as it was).
  static ObjectPtr Keep(json object) {
    auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) meta->erase("managedFields");
    return std::make_shared<const json>(std::move(object));
  }

  // Stores a full list and tells the handlers what differs from before:
  // new keys as adds, changed resourceVersions as updates, vanished keys as
  // deletes (with the last state seen).
  void Replace(kube::ListResult list) {
    std::map<std::string, ObjectPtr> fresh;
    for (auto& item : list.items) {
      std::string key = ObjectKey(item);
      fresh[key] = Keep(std::move(item));
    }
    std::lock_guard<std::mutex> d(deliver_mu);
    std::map<std::string, ObjectPtr> old;
    {
      std::unique_lock<std::shared_mutex> l(store_mu);
      old.swap(store);
      store = fresh;
      resource_version = list.resource_version;
    }
    for (const auto& [key, obj] : fresh) {
      auto it = old.find(key);
      if (it == old.end()) {
        Deliver(nullptr, obj);
      } else if (Meta(*it->second, "resourceVersion") != Meta(*obj, "resourceVersion")) {
        Deliver(it->second, obj);
      }
    }
    for (const auto& [key, obj] : old) {
      if (!fresh.count(key)) Deliver(obj, nullptr);
    }
  }

  void Apply(const kube::WatchEvent& e) {
    std::string rv = Meta(e.object, "resourceVersion");
    if (e.type == kube::WatchEventType::kBookmark) {
      std::unique_lock<std::shared_mutex> l(store_mu);
      if (!rv.empty()) resource_version = rv;
      return;
    }
    std::string key = ObjectKey(e.object);
    auto obj = Keep(e.object);
    std::lock_guard<std::mutex> d(deliver_mu);
    ObjectPtr old;
    {
      std::unique_lock<std::shared_mutex> l(store_mu);
      auto it = store.find(key);
      if (it != store.end()) old = it->second;
      if (e.type == kube::WatchEventType::kDeleted) {
        store.erase(key);
      } else {
        store[key] = obj;
      }
      if (!rv.empty()) resource_version = rv;
    }
    if (e.type == kube::WatchEventType::kDeleted) {
      Deliver(obj, nullptr);  // the object's final state, as the event carries it
    } else {
      Deliver(old, obj);
    }
  }

  void Run() {
    const std::string& path = self->collection_path_;
    auto backoff = options.initial_backoff;
    auto fail = [&](const char* what, const Status& st) {
      log::Warn(what, {{"path", path}, {"error", st.ToString()}, {"retry_ms", backoff.count()}});
      bool more = Sleep(Jitter(backoff));
      backoff = std::min(backoff * 2, options.max_backoff);
      return more;
    };
    bool need_list = true, listed_once = false;
    while (!stop.load()) {
      if (need_list) {
        kube::ListOptions lo = options.selector;
        lo.resource_version.clear();  // the newest state, not a cached one
        auto list = client->List(path, lo);
        if (stop.load()) break;
        if (!list.ok()) {
          if (!fail("informer list failed", list.status())) break;
          continue;
        }
        Replace(std::move(*list));
        if (listed_once) self->relists_++;
        listed_once = true;
        need_list = false;
        backoff = options.initial_backoff;
        if (!self->synced_.exchange(true)) {
          std::lock_guard<std::mutex> l(wait_mu);
          wait_cv.notify_all();
        }
      }
      kube::WatchOptions wo;
      wo.label_selector = options.selector.label_selector;
      wo.field_selector = options.selector.field_selector;
      wo.resource_version = self->LastResourceVersion();
      wo.allow_bookmarks = true;
      // Spread out the watches' ends, as client-go does (5-10 minutes).
      wo.timeout = std::chrono::seconds(std::uniform_int_distribution<int>(300, 600)(rng));
      wo.stop = &stop;
      self->watches_++;
      bool got_event = false;
      const auto began = std::chrono::steady_clock::now();
      Status st = client->Watch(path, wo, [&](const kube::WatchEvent& e) {
        Apply(e);
        got_event = true;
        return stop.load() ? kube::WatchControl::kStop : kube::WatchControl::kContinue;
      });
      if (stop.load()) break;
      if (st.code() == StatusCode::kOutOfRange) {
        // The version we hold is compacted away: only a new list can tell
        // what changed meanwhile.
        log::Info("informer relisting: watch version expired", {{"path", path}, {"error", st.message()}});
        need_list = true;
        continue;
      }
      if (!st.ok()) {
        if (!fail("informer watch failed", st)) break;
        continue;
      }
      if (got_event) {
        backoff = options.initial_backoff;
      } else if (std::chrono::steady_clock::now() - began < std::chrono::seconds(1)) {
        // A stream the server ends at once, with nothing in it: do not spin.
        if (!fail("informer watch ended at once", Unavailable("empty watch"))) break;
      }
    }
  }

  void RunResync() {
    while (Sleep(options.resync)) {
      if (!self->synced_.load()) continue;
      std::lock_guard<std::mutex> d(deliver_mu);
      std::vector<ObjectPtr> all = self->List();
      for (const auto& obj : all) Deliver(obj, obj);
    }
  }
};

Informer::Informer(kube::Client* client, std::string collection_path, InformerOptions options)
    : impl_(std::make_unique<Impl>()), collection_path_(std::move(collection_path)) {
  impl_->self = this;
  impl_->client = client;
  impl_->options = std::move(options);
}

Informer::~Informer() { Stop(); }

void Informer::AddHandler(EventHandler handler) { impl_->handlers.push_back(std::move(handler)); }

void Informer::Start() {
  std::lock_guard<std::mutex> l(impl_->wait_mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->loop = std::thread([this] { impl_->Run(); });
  if (impl_->options.resync.count() > 0) impl_->resync = std::thread([this] { impl_->RunResync(); });
}

void Informer::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->wait_mu);
    impl_->stop = true;
  }
  impl_->wait_cv.notify_all();
  if (impl_->loop.joinable()) impl_->loop.join();
  if (impl_->resync.joinable()) impl_->resync.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(impl_->wait_mu);
  // A Stop() meanwhile ends the wait too: it will never sync then.
  impl_->wait_cv.wait_for(l, timeout, [&] { return synced_.load() || impl_->stop.load(); });
  return synced_.load();
}

ObjectPtr Informer::Get(const std::string& key) const {
  std::shared_lock<std::shared_mutex> l(impl_->store_mu);
  auto it = impl_->store.find(key);
  return it == impl_->store.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::List() const {
  std::shared_lock<std::shared_mutex> l(impl_->store_mu);
  std::vector<ObjectPtr> out;
  out.reserve(impl_->store.size());
  for (const auto& [key, obj] : impl_->store) out.push_back(obj);
  return out;
}

std::string Informer::LastResourceVersion() const {
  std::shared_lock<std::shared_mutex> l(impl_->store_mu);
  return impl_->resource_version;
}

}  // namespace execgov::runtime
