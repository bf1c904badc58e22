// A minimal Kubernetes REST client: JSON in, JSON out, errors as Status
// mapped from the API server's HTTP status and Status reason:
//   404 NotFound, 409 AlreadyExists (create of an existing name) or Aborted
//   (Conflict: a stale resourceVersion — re-read and retry), 401/403
//   PermissionDenied, 400/422 InvalidArgument, 429/5xx and transport
//   failures Unavailable.
// Paths are API paths ("/api/v1/namespaces/ns/configmaps/name"). List and
// watch come with the runtime; the interface is small so tests can fake it.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/kubeconfig.h"

namespace execgov::kube {

class Client {
 public:
  virtual ~Client() = default;
  virtual StatusOr<nlohmann::json> Get(const std::string& path) = 0;
  // POST to a collection path; the object carries its name.
  virtual StatusOr<nlohmann::json> Create(const std::string& collection_path, const nlohmann::json& object) = 0;
  // PUT; with metadata.resourceVersion set, only if the object is unchanged.
  virtual StatusOr<nlohmann::json> Update(const std::string& path, const nlohmann::json& object) = 0;
  virtual Status Delete(const std::string& path) = 0;
};

StatusOr<std::unique_ptr<Client>> NewClient(const RestConfig& config);

// "/api/v1/namespaces/<ns>/configmaps" and ".../configmaps/<name>".
std::string ConfigMapsPath(const std::string& ns);
std::string ConfigMapPath(const std::string& ns, const std::string& name);

}  // namespace execgov::kube
