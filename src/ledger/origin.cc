#include "ledger/origin.h"

#include "ledger/checkpoint.h"

namespace execgov::ledger {

StatusOr<std::string> ClusterLedgerOrigin(std::string_view cluster_uid, std::string_view ledger_url) {
  if (cluster_uid.empty() || cluster_uid.size() > 64 || !ValidOrigin(cluster_uid) ||
      cluster_uid.find('/') != std::string_view::npos) {
    return InvalidArgument("the cluster uid \"" + std::string(cluster_uid) + "\" cannot be part of an origin");
  }
  std::string_view rest = ledger_url.substr(0, ledger_url.find('?'));
  std::string where;
  if (rest.rfind("configmap://", 0) == 0) {
    rest.remove_prefix(12);
    size_t slash = rest.find('/');
    std::string_view ns = rest.substr(0, slash);
    std::string_view name = slash == std::string_view::npos ? std::string_view("execgov-ledger") : rest.substr(slash + 1);
    if (ns.empty() || name.empty()) return InvalidArgument("configmap://NAMESPACE[/name]: " + std::string(ledger_url));
    where = std::string(ns) + "/" + std::string(name);
  } else if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    where = std::string(rest.substr(scheme + 3));
  } else if (rest.rfind("file:", 0) == 0) {
    rest.remove_prefix(5);
    where = std::string(rest.substr(rest.rfind('/') == std::string_view::npos ? 0 : rest.rfind('/') + 1));
  } else {
    return InvalidArgument("not a ledger URL: " + std::string(ledger_url));
  }
  while (!where.empty() && where.front() == '/') where.erase(0, 1);
  std::string origin = "execgov.local/cluster/" + std::string(cluster_uid) + "/" + where;
  if (!ValidOrigin(origin) || origin.size() > 256) return InvalidArgument("\"" + origin + "\" cannot be an origin");
  return origin;
}

StatusOr<std::string> ClusterUid(kube::Client& client) {
  EXECGOV_ASSIGN_OR_RETURN(nlohmann::json ns, client.Get("/api/v1/namespaces/kube-system"));
  auto meta = ns.find("metadata");
  if (meta == ns.end() || !meta->is_object() || !meta->contains("uid") || !(*meta)["uid"].is_string()) {
    return DataLoss("the kube-system Namespace has no uid");
  }
  return (*meta)["uid"].get<std::string>();
}

}  // namespace execgov::ledger

#include "core/log.h"

namespace execgov::ledger {

std::string InClusterLedgerOrigin(const std::string& flag, kube::Client& client, const std::string& ledger_url) {
  if (!flag.empty()) return flag;
  auto uid = ClusterUid(client);
  auto origin = uid.ok() ? ClusterLedgerOrigin(*uid, ledger_url) : StatusOr<std::string>(uid.status());
  if (!origin.ok()) {
    log::Warn("ledger: no cluster-unique origin for a new ledger; the store's default is used",
              {{"error", origin.status().message()}});
    return "";
  }
  return *origin;
}

}  // namespace execgov::ledger
