#include "kube/client.h"

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include <cpprest/base_uri.h>

#include "core/log.h"
#include "kube/http.h"

namespace execgov::kube {
namespace {

using nlohmann::json;

Status FromStatusCode(int code, const std::string& reason, const std::string& message) {
  switch (code) {
    case 404: return NotFound(message);
    case 409: return reason == "AlreadyExists" ? AlreadyExists(message) : Aborted(message);
    case 410: return OutOfRange(message);
    case 401:
    case 403: return PermissionDenied(message);
    case 400:
    case 422: return InvalidArgument(message);
    default: break;
  }
  if (code == 429 || code >= 500) return Unavailable(message);
  return Internal(message);
}

Status FromResponse(const std::string& what, const HttpResponse& r) {
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  std::string reason, text = r.body;
  if (body.is_object()) {
    if (body.contains("reason") && body["reason"].is_string()) reason = body["reason"].get<std::string>();
    if (body.contains("message") && body["message"].is_string()) text = body["message"].get<std::string>();
  }
  return FromStatusCode(r.status, reason, what + ": HTTP " + std::to_string(r.status) + ": " + text);
}

bool Retryable(const HttpResponse& r) { return r.status == 429 || r.status >= 500; }

std::string Encode(const std::string& s) { return web::uri::encode_data_string(s); }

// "?a=b&c=d" from the non-empty pairs.
std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + k + "=" + Encode(v);
  }
  return q;
}

const char* PatchContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

class RestClient final : public Client {
 public:
  RestClient(std::unique_ptr<HttpClient> http, ClientOptions options)
      : http_(std::move(http)), options_(std::move(options)), rng_(std::random_device{}()) {}

  StatusOr<json> Get(const std::string& path) override { return Do("GET", path, ""); }
  StatusOr<json> Create(const std::string& path, const json& object) override { return Do("POST", path, object.dump()); }
  StatusOr<json> Update(const std::string& path, const json& object) override { return Do("PUT", path, object.dump()); }
  Status Delete(const std::string& path) override { return Do("DELETE", path, "").status(); }
  StatusOr<std::vector<std::string>> DeleteCollection(const std::string& collection_path,
                                                      const std::string& label_selector) override {
    // An empty selector would delete the whole collection.
    if (label_selector.empty()) return InvalidArgument("DELETE " + collection_path + ": no label selector");
    std::string path = collection_path + Query({{"labelSelector", label_selector}});
    EXECGOV_ASSIGN_OR_RETURN(json list, Do("DELETE", path, ""));
    if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
      return Internal("DELETE " + path + ": the response is not a list");
    }
    std::vector<std::string> names;
    for (const auto& item : list["items"]) {
      const json* meta = item.is_object() && item.contains("metadata") ? &item["metadata"] : nullptr;
      if (meta && meta->is_object() && meta->contains("name") && (*meta)["name"].is_string()) {
        names.push_back((*meta)["name"].get<std::string>());
      }
    }
    return names;
  }
  StatusOr<json> UpdateStatus(const std::string& path, const json& object) override {
    return Do("PUT", path + "/status", object.dump());
  }
  StatusOr<json> Patch(const std::string& path, const json& patch, PatchType type) override {
    return Do("PATCH", path, patch.dump(), PatchContentType(type));
  }

  StatusOr<ListResult> List(const std::string& collection_path, const ListOptions& options) override {
    ListResult out;
    std::string cont;
    do {
      std::string path = collection_path + Query({{"labelSelector", options.label_selector},
                                                  {"fieldSelector", options.field_selector},
                                                  {"resourceVersion", cont.empty() ? options.resource_version : ""},
                                                  {"limit", options.page_size > 0 ? std::to_string(options.page_size) : ""},
                                                  {"continue", cont}});
      EXECGOV_ASSIGN_OR_RETURN(json page, Do("GET", path, ""));
      if (!page.is_object() || !page.contains("items") || !page["items"].is_array()) {
        return Internal("GET " + path + ": the response is not a list");
      }
      // Items of a list carry neither apiVersion nor kind; callers (and the
      // informer's handlers) want whole objects.
      std::string api_version = page.value("apiVersion", "");
      std::string kind = page.value("kind", "");
      if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
      for (auto& item : page["items"]) {
        if (!item.is_object()) continue;
        if (!item.contains("apiVersion") && !api_version.empty()) item["apiVersion"] = api_version;
        if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
        out.items.push_back(std::move(item));
      }
      const json& meta = page.contains("metadata") && page["metadata"].is_object() ? page["metadata"] : json::object();
      out.resource_version = meta.value("resourceVersion", "");
      cont = meta.value("continue", "");
    } while (!cont.empty());
    return out;
  }

  Status Watch(const std::string& collection_path, const WatchOptions& options,
               const std::function<WatchControl(const WatchEvent&)>& on_event) override {
    std::string path = collection_path + Query({{"watch", "true"},
                                                {"labelSelector", options.label_selector},
                                                {"fieldSelector", options.field_selector},
                                                {"resourceVersion", options.resource_version},
                                                {"allowWatchBookmarks", options.allow_bookmarks ? "true" : ""},
                                                {"timeoutSeconds", std::to_string(options.timeout.count())}});
    std::string pending;
    Status failure;
    bool stopped_by_callback = false;
    auto on_data = [&](std::string_view data) {
      pending.append(data);
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending.data() + start, nl - start);
        if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
        auto event = ParseWatchEvent(line);
        if (!event.ok()) {
          failure = event.status().WithContext("watch " + collection_path);
          return false;
        }
        if (on_event(*event) == WatchControl::kStop) {
          stopped_by_callback = true;
          return false;
        }
      }
      pending.erase(0, start);
      return true;
    };
    // The server closes the stream after timeoutSeconds; the transport's own
    // limit only catches a peer that vanished without closing.
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout) + std::chrono::seconds(30);
    EXECGOV_ASSIGN_OR_RETURN(HttpResponse r, http_->Stream(path, timeout, options.stop, on_data));
    if (!failure.ok()) return failure;
    if (stopped_by_callback || (options.stop && options.stop->load())) return Status::Ok();
    if (r.status < 200 || r.status > 299) return FromResponse("watch " + collection_path, r);
    return Status::Ok();
  }

 private:
  std::chrono::milliseconds Backoff(int attempt, int retry_after_seconds) {
    auto d = options_.initial_backoff * (1LL << std::min(attempt - 1, 20));
    d = std::min<std::chrono::milliseconds>(d, options_.max_backoff);
    std::chrono::milliseconds jittered{0};
    if (d.count() > 0) {
      std::lock_guard<std::mutex> l(rng_mu_);
      jittered = d / 2 + std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, d.count() / 2)(rng_));
    }
    if (retry_after_seconds >= 0) {
      jittered = std::max<std::chrono::milliseconds>(jittered, std::chrono::seconds(std::min(retry_after_seconds, 60)));
    }
    return jittered;
  }

  StatusOr<json> Do(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& content_type = "application/json") {
    const std::string what = method + " " + path;
    Status last;
    bool unknown_outcome = false;  // an earlier attempt may have been applied
    const int attempts = std::max(1, options_.max_attempts);
    for (int attempt = 1;; ++attempt) {
      int retry_after = -1;
      auto r = http_->Request(method, path, body, content_type);
      if (!r.ok()) {
        last = r.status();
        unknown_outcome = true;
      } else if (r->status >= 200 && r->status <= 299) {
        json out = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
        if (out.is_discarded()) return Internal(what + ": the response is not JSON");
        return out;
      } else if (Retryable(*r)) {
        last = FromResponse(what, *r);
        retry_after = r->retry_after_seconds;
        unknown_outcome = unknown_outcome || r->status >= 500;
      } else {
        // A delete whose earlier attempt was lost in transit may have
        // happened: the object being gone is what the caller asked for.
        if (method == "DELETE" && r->status == 404 && unknown_outcome) return json::object();
        return FromResponse(what, *r);
      }
      if (attempt >= attempts) break;
      auto delay = Backoff(attempt, retry_after);
      log::Debug("kube request retried", {{"request", what}, {"error", last.ToString()}, {"attempt", attempt},
                                          {"delay_ms", delay.count()}});
      std::this_thread::sleep_for(delay);
    }
    return last;
  }

  std::unique_ptr<HttpClient> http_;
  ClientOptions options_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

}  // namespace

StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string() || !j.contains("object") ||
      !j["object"].is_object()) {
    return Internal("not a watch event: " + std::string(line.substr(0, 200)));
  }
  const std::string type = j["type"].get<std::string>();
  WatchEvent e;
  if (type == "ADDED") e.type = WatchEventType::kAdded;
  else if (type == "MODIFIED") e.type = WatchEventType::kModified;
  else if (type == "DELETED") e.type = WatchEventType::kDeleted;
  else if (type == "BOOKMARK") e.type = WatchEventType::kBookmark;
  else if (type == "ERROR") {
    const json& s = j["object"];
    int code = s.contains("code") && s["code"].is_number_integer() ? s["code"].get<int>() : 500;
    std::string reason = s.contains("reason") && s["reason"].is_string() ? s["reason"].get<std::string>() : "";
    std::string message = s.contains("message") && s["message"].is_string() ? s["message"].get<std::string>() : "";
    return FromStatusCode(code, reason, "watch error " + std::to_string(code) + ": " + message);
  } else {
    return Internal("unknown watch event type \"" + type + "\"");
  }
  e.object = std::move(j["object"]);
  return e;
}

StatusOr<json> UpdateWithRetry(Client& client, const std::string& path, const std::function<bool(json&)>& mutate,
                               bool status, int attempts) {
  Status last;
  for (int i = 0; i < std::max(1, attempts); ++i) {
    EXECGOV_ASSIGN_OR_RETURN(json current, client.Get(path));
    json next = current;
    if (!mutate(next)) return current;
    // The write must be guarded by the version that was read, whatever
    // `mutate` did to metadata.
    next["metadata"]["resourceVersion"] = current["metadata"].value("resourceVersion", "");
    auto written = status ? client.UpdateStatus(path, next) : client.Update(path, next);
    if (written.ok() || written.status().code() != StatusCode::kAborted) return written;
    last = written.status();
  }
  return Aborted("update " + path + ": still conflicting after " + std::to_string(attempts) +
                 " attempts: " + last.message());
}

std::unique_ptr<Client> NewClientOver(std::unique_ptr<HttpClient> http, const ClientOptions& options) {
  return std::unique_ptr<Client>(new RestClient(std::move(http), options));
}

StatusOr<std::unique_ptr<Client>> NewClient(const RestConfig& c, const ClientOptions& options) {
  HttpConfig h;
  h.base_url = c.server;
  h.ca_pem = c.ca_pem;
  h.cert_pem = c.cert_pem;
  h.key_pem = c.key_pem;
  h.bearer_token = c.token;
  if (c.token_file) h.bearer_token_source = [file = c.token_file] { return file->Token(); };
  h.insecure_skip_verify = c.insecure_skip_verify;
  h.timeout = options.request_timeout;
  h.user_agent = options.user_agent;
  EXECGOV_ASSIGN_OR_RETURN(auto http, NewHttpClient(h));
  return NewClientOver(std::move(http), options);
}

std::string ConfigMapsPath(const std::string& ns) { return "/api/v1/namespaces/" + ns + "/configmaps"; }
std::string ConfigMapPath(const std::string& ns, const std::string& name) { return ConfigMapsPath(ns) + "/" + name; }

std::string ResourcePath(const std::string& api_version, const std::string& resource, const std::string& ns,
                         const std::string& name) {
  std::string path = api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
  if (!ns.empty()) path += "/namespaces/" + ns;
  path += "/" + resource;
  if (!name.empty()) path += "/" + name;
  return path;
}

}  // namespace execgov::kube
