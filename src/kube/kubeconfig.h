// Where the API server is and how to authenticate to it: a kubeconfig file
// (client certificates or a bearer token, inline data or file paths,
// resolved relative to the kubeconfig's folder), or the in-cluster service
// account. Only what a REST client needs; exec/auth-provider plugins are
// refused with a clear error rather than ignored.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace execgov::kube {

// A bearer token kept in a file that something else rewrites: the kubelet
// rotates a projected service-account token long before it expires, so a
// long-running process must read it again (client-go re-reads once a minute).
// If a later read fails, the token last read is kept.
class TokenFile {
 public:
  TokenFile(std::string path, std::string token, const Clock* clock = nullptr,
            std::chrono::seconds refresh = std::chrono::seconds(60));
  std::string Token();

 private:
  std::string path_;
  const Clock* clock_;
  std::chrono::seconds refresh_;
  std::mutex mu_;
  std::string token_;
  std::chrono::system_clock::time_point read_at_;
};

// Reads a token file, without its trailing newline.
StatusOr<std::string> ReadTokenFile(const std::string& path);

struct RestConfig {
  std::string server;  // https://host:port
  std::string ca_pem;
  std::string cert_pem, key_pem;
  std::string token;
  // When the token came from a file (tokenFile, or the in-cluster service
  // account), the source that re-reads it; the client prefers it to `token`.
  std::shared_ptr<TokenFile> token_file;
  bool insecure_skip_verify = false;
  std::string ns;  // the context's namespace, or the service account's; may be empty
};

// Reads `path`, using `context` (empty: current-context).
StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// Reads several kubeconfig files merged as kubectl merges a KUBECONFIG list:
// current-context is the first file's that sets one, and a context, cluster
// or user is taken from the first file that has one of that name (its
// relative file names relative to that file).
StatusOr<RestConfig> LoadKubeconfigs(const std::vector<std::string>& paths, const std::string& context = "");

// KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount.
StatusOr<RestConfig> InClusterConfig();

// `path` if given; else $KUBECONFIG (its files merged; missing ones skipped);
// else in-cluster when running in a pod; else ~/.kube/config.
StatusOr<RestConfig> DefaultRestConfig(const std::string& path = "");

}  // namespace execgov::kube
