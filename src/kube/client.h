// A minimal Kubernetes REST client: JSON in, JSON out, errors as Status
// mapped from the API server's HTTP status and Status reason:
//   404 NotFound, 409 AlreadyExists (create of an existing name) or Aborted
//   (Conflict: a stale resourceVersion — re-read and retry), 401/403
//   PermissionDenied, 400/422 InvalidArgument, 429/5xx and transport
//   failures Unavailable.
// Paths are API paths ("/api/v1/namespaces/ns/configmaps/name"); the
// interface is small so unit tests of logic above it can fake it.
//
// Retries: transport failures, 429 and 5xx are retried with capped
// exponential back-off (honouring Retry-After) for idempotent requests
// (GET, LIST, PUT with a resourceVersion, PATCH, DELETE) up to
// ClientOptions::max_attempts; a POST is retried too, and a retried create
// that finds its own object is AlreadyExists, which callers treat as done; a
// DELETE whose earlier attempt was lost in transit and now finds nothing is
// OK. Other 4xx are returned at once. Watches are never retried here.
// 410 Gone (an expired resourceVersion) is OutOfRange, so watchers relist.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/kubeconfig.h"

namespace execgov::kube {

struct ListOptions {
  std::string label_selector;  // "a=b,c!=d"
  std::string field_selector;  // "metadata.name=x"
  // "" : the newest state from etcd (a consistent read).
  std::string resource_version;
  int64_t page_size = 500;  // List follows `continue` until the last page
};

struct ListResult {
  std::vector<nlohmann::json> items;  // each with apiVersion and kind filled in
  std::string resource_version;       // of the list: where a watch starts
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark };

struct WatchEvent {
  WatchEventType type;
  nlohmann::json object;  // for kBookmark only metadata.resourceVersion matters
};

struct WatchOptions {
  std::string label_selector, field_selector;
  std::string resource_version;  // required: events after this version
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // the server ends the watch after this
  // Polled between events (and at least every second while the stream is
  // idle): when it becomes true the watch ends with OK.
  const std::atomic<bool>* stop = nullptr;
};

// What the client returns from a watch callback.
enum class WatchControl { kContinue, kStop };

enum class PatchType { kMerge, kJson, kStrategicMerge };

class Client {
 public:
  virtual ~Client() = default;
  virtual StatusOr<nlohmann::json> Get(const std::string& path) = 0;
  // POST to a collection path; the object carries its name.
  virtual StatusOr<nlohmann::json> Create(const std::string& collection_path, const nlohmann::json& object) = 0;
  // PUT; with metadata.resourceVersion set, only if the object is unchanged.
  virtual StatusOr<nlohmann::json> Update(const std::string& path, const nlohmann::json& object) = 0;
  virtual Status Delete(const std::string& path) = 0;
  // One DELETE of a collection: every object under `collection_path`
  // matching `label_selector` (which must not be empty), deleted by the API
  // server in one request. Returns the names it deleted. A client without it
  // answers FailedPrecondition, and callers delete one by one.
  virtual StatusOr<std::vector<std::string>> DeleteCollection(const std::string& collection_path,
                                                              const std::string& label_selector) {
    (void)collection_path;
    (void)label_selector;
    return FailedPrecondition("this client cannot delete a collection");
  }

  // Every page of a collection ("/apis/batch/v1/jobs", or namespaced
  // "/apis/batch/v1/namespaces/ns/jobs").
  virtual StatusOr<ListResult> List(const std::string& collection_path, const ListOptions& options) = 0;
  // Streams events after options.resource_version to `on_event` until the
  // server ends the stream (OK), options.stop is set (OK), the callback says
  // kStop (OK), the version is too old (OutOfRange: relist), or the
  // connection fails (Unavailable). A watch "ERROR" event carrying a Status
  // object becomes the matching error. Never retried here: the watcher
  // above decides whether to resume or relist.
  virtual Status Watch(const std::string& collection_path, const WatchOptions& options,
                       const std::function<WatchControl(const WatchEvent&)>& on_event) = 0;
  virtual StatusOr<nlohmann::json> Patch(const std::string& path, const nlohmann::json& patch, PatchType type) = 0;
  // PUT <path>/status: the status subresource; metadata.resourceVersion
  // guards it like Update.
  virtual StatusOr<nlohmann::json> UpdateStatus(const std::string& path, const nlohmann::json& object) = 0;
};

struct ClientOptions {
  int max_attempts = 5;                              // 1: no retries
  std::chrono::milliseconds initial_backoff{100};    // doubled per attempt, with jitter
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds request_timeout{10000};  // not for watches
  std::string user_agent = "execgov";
};

// Reads the object at `path`, applies `mutate` and writes it back with its
// resourceVersion; on a 409 Conflict re-reads and tries again, up to
// `attempts` times. `mutate` returns false when nothing needs to change
// (no write is made). With `status` the write goes to the status
// subresource. Returns the object as written (or as read, unchanged).
StatusOr<nlohmann::json> UpdateWithRetry(Client& client, const std::string& path,
                                         const std::function<bool(nlohmann::json&)>& mutate,
                                         bool status = false, int attempts = 10);

StatusOr<std::unique_ptr<Client>> NewClient(const RestConfig& config, const ClientOptions& options = {});

class HttpClient;
// The REST client over a given transport (unit tests hand in a fake).
std::unique_ptr<Client> NewClientOver(std::unique_ptr<HttpClient> http, const ClientOptions& options = {});

// One line of a watch stream ({"type":"ADDED","object":{...}}). An "ERROR"
// event returns its Status object's error (410 Gone: OutOfRange); a line
// that is not a watch event is Internal.
StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

// "/api/v1/namespaces/<ns>/configmaps" and ".../configmaps/<name>".
std::string ConfigMapsPath(const std::string& ns);
std::string ConfigMapPath(const std::string& ns, const std::string& name);

// The API path of a resource: ResourcePath("batch/v1", "jobs", "ns") is
// "/apis/batch/v1/namespaces/ns/jobs"; "v1" maps to "/api/v1"; an empty
// namespace gives the cluster-wide (or cluster-scoped) collection; a
// non-empty `name` is appended.
std::string ResourcePath(const std::string& api_version, const std::string& resource, const std::string& ns = "",
                         const std::string& name = "");

}  // namespace execgov::kube
