// A kube::Client holding objects in memory, for tests and fixtures that run
// a controller without an API server (the authority's unit test, the
// console's browser-test fixture tests/console/approval_fixture.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "kube/client.h"

namespace execgov::testing {

// Objects by (resource, namespace, name). List serves a collection's
// objects; Watch sends nothing until stopped; writes replace the object
// (status writes only its status). `fail_updates` fails that many updates.
class MemoryClient : public kube::Client {
 public:
  void Put(const std::string& resource, nlohmann::json obj) {
    std::lock_guard lock(mu_);
    auto key = std::make_tuple(resource, api::NamespaceOf(obj), api::NameOf(obj));  // before obj is moved
    objects_[key] = std::move(obj);
  }
  nlohmann::json Object(const std::string& resource, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    return objects_.at({resource, ns, name});
  }
  int fail_updates = 0;

  StatusOr<nlohmann::json> Get(const std::string& path) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(Key(path));
    if (it == objects_.end()) return NotFound(path);
    return it->second;
  }
  StatusOr<nlohmann::json> Create(const std::string&, const nlohmann::json&) override { return Internal("not here"); }
  StatusOr<nlohmann::json> Update(const std::string& path, const nlohmann::json& obj) override {
    std::lock_guard lock(mu_);
    if (fail_updates > 0) {
      --fail_updates;
      return Unavailable("the API server went away");
    }
    auto it = objects_.find(Key(path));
    if (it == objects_.end()) return NotFound(path);
    nlohmann::json status = it->second.value("status", nlohmann::json::object());
    it->second = obj;
    it->second["status"] = status;
    return it->second;
  }
  StatusOr<nlohmann::json> UpdateStatus(const std::string& path, const nlohmann::json& obj) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(Key(path));
    if (it == objects_.end()) return NotFound(path);
    it->second["status"] = obj.value("status", nlohmann::json::object());
    return it->second;
  }
  Status Delete(const std::string&) override { return Internal("not here"); }
  StatusOr<nlohmann::json> Patch(const std::string&, const nlohmann::json&, kube::PatchType) override { return Internal("not here"); }
  StatusOr<kube::ListResult> List(const std::string& path, const kube::ListOptions&) override {
    std::lock_guard lock(mu_);
    kube::ListResult out;
    out.resource_version = "1";
    const std::string resource = path.substr(path.rfind('/') + 1);
    for (const auto& [key, obj] : objects_) {
      if (std::get<0>(key) == resource) out.items.push_back(obj);
    }
    return out;
  }
  Status Watch(const std::string&, const kube::WatchOptions& options,
               const std::function<kube::WatchControl(const kube::WatchEvent&)>&) override {
    for (int i = 0; i < 200 && !(options.stop && options.stop->load()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Status::Ok();
  }

 private:
  // .../<resource>/<name>, with namespaces/<ns>/ before it when namespaced.
  static std::tuple<std::string, std::string, std::string> Key(const std::string& path) {
    std::vector<std::string> parts;
    for (size_t start = 1; start <= path.size();) {
      size_t slash = std::min(path.find('/', start), path.size());
      parts.push_back(path.substr(start, slash - start));
      start = slash + 1;
    }
    const std::string name = parts.back(), resource = parts[parts.size() - 2];
    std::string ns;
    if (parts.size() >= 4 && parts[parts.size() - 4] == "namespaces") ns = parts[parts.size() - 3];
    return {resource, ns, name};
  }
  std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, nlohmann::json> objects_;
};

}  // namespace execgov::testing
