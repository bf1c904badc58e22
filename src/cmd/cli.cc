#include "cmd/cli.h"

#include <iostream>

#include "api/manifest.h"
#include "core/file.h"

namespace execgov::cmd {

int UsageError(const std::string& message) {
  std::cerr << "execgov: " << message << "\n";
  return kExitUsage;
}

StatusOr<Manifests> ReadManifests(const std::string& path) {
  EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string source = path == "-" ? "<stdin>" : path;
  EXECGOV_ASSIGN_OR_RETURN(auto docs, api::ParseManifests(text, source));
  if (docs.empty()) return InvalidArgument(source + ": no documents");
  return Manifests{std::move(docs), api::LooksLikeJson(text)};
}

std::string ClusterLedgerUrl(const std::string& ledger_flag, const std::string& install_namespace,
                             const std::string& kubeconfig) {
  std::string url = ledger_flag.empty() ? "configmap://" + install_namespace : ledger_flag;
  if (url.rfind("configmap://", 0) != 0 || kubeconfig.empty() || url.find("kubeconfig=") != std::string::npos) {
    return url;
  }
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "kubeconfig=" + kubeconfig;
}

}  // namespace execgov::cmd
