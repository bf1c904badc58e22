#include "ledger/backend.h"

#include "ledger/configmap_backend.h"
#include "ledger/etcd_backend.h"
#include "ledger/file_backend.h"

namespace execgov::ledger {

Status Batch::Add(std::string record) {
  EXECGOV_ASSIGN_OR_RETURN(Hash h, after.Apply(record));
  records.push_back(std::move(record));
  hashes.push_back(h);
  return Status::Ok();
}

StatusOr<std::unique_ptr<Backend>> OpenBackend(const std::string& url, const BackendOptions& options) {
  if (url.rfind("file:", 0) == 0) return OpenFileBackend(url.substr(5), options);
  if (url.rfind("etcd://", 0) == 0) return OpenEtcdBackend(url.substr(7), /*tls=*/false, options);
  if (url.rfind("etcds://", 0) == 0) return OpenEtcdBackend(url.substr(8), /*tls=*/true, options);
  if (url.rfind("configmap://", 0) == 0) return OpenConfigMapBackend(url.substr(12), options);
  return InvalidArgument("ledger URL \"" + url + "\": expected file:PATH, etcd://HOST:PORT[/prefix] or " +
                         "configmap://NAMESPACE[/origin]");
}

}  // namespace execgov::ledger
