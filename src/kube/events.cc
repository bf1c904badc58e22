#include "kube/events.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "api/object.h"
#include "core/clock.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/keys.h"

namespace execgov::kube {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

// Repeats inside this window bump the count of the Event already written
// (client-go's EventCorrelator uses the same ten minutes).
constexpr auto kDedupWindow = std::chrono::minutes(10);
constexpr size_t kMaxCached = 4096;
constexpr size_t kMaxQueued = 1000;

std::string Str(const json& j, const char* key) { return api::StringAt(j, {key}); }

struct Pending {
  json involved;  // involvedObject
  std::string ns, type, reason, message, key;
};

struct Written {
  std::string ns, name;
  int64_t count = 0;
  Clock::time_point last;
};

// Writes Events on its own thread, so a slow or unreachable API server
// delays no reconcile; a full queue drops (and logs) the newest Event.
class ApiEventRecorder final : public EventRecorder {
 public:
  ApiEventRecorder(Client* client, std::string component)
      : client_(client), component_(std::move(component)), thread_([this] { Run(); }) {}

  ~ApiEventRecorder() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();  // after writing what was already recorded
  }

  void Record(const json& object, EventType type, const std::string& reason, const std::string& message) override {
    const json meta = object.is_object() && object.contains("metadata") ? object["metadata"] : json::object();
    Pending p;
    p.involved = {{"apiVersion", Str(object, "apiVersion")}, {"kind", Str(object, "kind")},
                  {"name", Str(meta, "name")}, {"uid", Str(meta, "uid")},
                  {"resourceVersion", Str(meta, "resourceVersion")}};
    std::string obj_ns = Str(meta, "namespace");
    if (!obj_ns.empty()) p.involved["namespace"] = obj_ns;
    p.ns = obj_ns.empty() ? "default" : obj_ns;
    p.type = type == EventType::kWarning ? "Warning" : "Normal";
    p.reason = reason;
    p.message = message;
    // The identity of "the same Event": the object (by uid, so a recreated
    // object starts afresh), what happened, and who says so.
    p.key = json::array({p.ns, Str(p.involved, "kind"), Str(p.involved, "name"), Str(p.involved, "uid"), p.type,
                         reason, message})
                .dump();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (queue_.size() >= kMaxQueued) {
        log::Warn("event dropped: the recorder's queue is full", {{"reason", reason}, {"object", p.involved["name"]}});
        return;
      }
      queue_.push_back(std::move(p));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything written
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      l.unlock();
      Write(p);
      l.lock();
    }
  }

  void Write(const Pending& p) {
    const auto now = Clock::now();
    const std::string ts = FormatRfc3339(now);
    auto it = written_.find(p.key);
    if (it != written_.end() && now - it->second.last < kDedupWindow) {
      json patch = {{"count", it->second.count + 1}, {"lastTimestamp", ts}};
      auto r = client_->Patch(ResourcePath("v1", "events", it->second.ns, it->second.name), patch, PatchType::kMerge);
      if (r.ok()) {
        it->second.count += 1;
        it->second.last = now;
        return;
      }
      if (r.status().code() != StatusCode::kNotFound) {
        log::Warn("event not recorded", {{"reason", p.reason}, {"error", r.status().ToString()}});
        return;
      }
      written_.erase(it);  // expired on the server (events have a TTL): write a new one
    }
    const std::string name = Str(p.involved, "name") + "." + crypto::HexEncode(crypto::RandomBytes(8));
    json event = {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", name}, {"namespace", p.ns}}},
                  {"involvedObject", p.involved},
                  {"reason", p.reason},
                  {"message", p.message},
                  {"type", p.type},
                  {"source", {{"component", component_}}},
                  {"reportingComponent", component_},
                  {"firstTimestamp", ts},
                  {"lastTimestamp", ts},
                  {"count", 1}};
    auto r = client_->Create(ResourcePath("v1", "events", p.ns), event);
    if (!r.ok()) {
      log::Warn("event not recorded", {{"reason", p.reason}, {"error", r.status().ToString()}});
      return;
    }
    if (written_.size() >= kMaxCached) Evict(now);
    written_[p.key] = Written{p.ns, name, 1, now};
  }

  // Drops entries past the window, or the oldest half when all are fresh.
  void Evict(Clock::time_point now) {
    for (auto it = written_.begin(); it != written_.end();) {
      it = now - it->second.last >= kDedupWindow ? written_.erase(it) : std::next(it);
    }
    if (written_.size() < kMaxCached) return;
    std::vector<Clock::time_point> times;
    for (const auto& [k, w] : written_) times.push_back(w.last);
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    const auto median = times[times.size() / 2];
    for (auto it = written_.begin(); it != written_.end();) {
      it = it->second.last <= median ? written_.erase(it) : std::next(it);
    }
  }

  Client* client_;
  const std::string component_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::map<std::string, Written> written_;  // only the writer thread touches it
  std::thread thread_;                      // last: started once the rest exists
};

}  // namespace

std::unique_ptr<EventRecorder> NewEventRecorder(Client* client, std::string component) {
  return std::make_unique<ApiEventRecorder>(client, std::move(component));
}

}  // namespace execgov::kube
