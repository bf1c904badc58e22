// Where the API server is and how to authenticate to it: a kubeconfig file
// (client certificates or a bearer token, inline data or file paths,
// resolved relative to the kubeconfig's folder), or the in-cluster service
// account. Only what a REST client needs; exec/auth-provider plugins are
// refused with a clear error rather than ignored.
#pragma once

#include <string>

#include "core/status.h"

namespace execgov::kube {

struct RestConfig {
  std::string server;  // https://host:port
  std::string ca_pem;
  std::string cert_pem, key_pem;
  std::string token;
  bool insecure_skip_verify = false;
  std::string ns;  // the context's namespace, or the service account's; may be empty
};

// Reads `path`, using `context` (empty: current-context).
StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount.
StatusOr<RestConfig> InClusterConfig();

// `path` if given; else $KUBECONFIG (first entry); else in-cluster when
// running in a pod; else ~/.kube/config.
StatusOr<RestConfig> DefaultRestConfig(const std::string& path = "");

}  // namespace execgov::kube
