// etcd://HOST:PORT[,HOST:PORT...][/prefix][?cacert=F&cert=F&key=F], and
// etcds://... for TLS (client certificates optional).
//
// Layout under the prefix (default /execgov/ledger):
//   <prefix>/head           the ChainState after the last record (JSON)
//   <prefix>/r/<seq, 20 digits>  each record's canonical bytes
//   <prefix>/h/<hex hash>   the record's seq, for Contains()
// One append batch is one transaction that succeeds only if head's mod
// revision is the one the batch was built on, so two writers can never both
// extend the same tail: the loser re-reads head and rebuilds its batch.
// A transaction whose outcome is unknown (the member died mid-call) is
// resent unchanged until the head moves; then its last record's hash says
// whether it was the one that moved it. It is never rebuilt while it might
// still apply, so an acknowledged batch is stored exactly once.
#pragma once

#include <memory>
#include <string>

#include "ledger/backend.h"

namespace execgov::ledger {

// `rest` is the URL after "etcd://" or "etcds://".
StatusOr<std::unique_ptr<Backend>> OpenEtcdBackend(const std::string& rest, bool tls, const BackendOptions& options);

}  // namespace execgov::ledger
