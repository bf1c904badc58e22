#include "ledger/backend.h"

#include "ledger/file_backend.h"

namespace execgov::ledger {

StatusOr<std::unique_ptr<Backend>> OpenBackend(const std::string& url, const BackendOptions& options) {
  if (url.rfind("file:", 0) == 0) return OpenFileBackend(url.substr(5), options);
  return InvalidArgument("ledger URL \"" + url + "\": expected file:PATH, etcd://HOST:PORT[/prefix] or " +
                         "configmap://NAMESPACE[/origin]");
}

}  // namespace execgov::ledger
