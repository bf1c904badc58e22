// Default origins that are unique per cluster. Witnesses and verifiers key
// logs by origin (ledger/witness.h), so two clusters' ledgers must not share
// one; yet every install's ConfigMap ledger is configmap://<namespace> with
// the store name "execgov-ledger". The default origin of a new in-cluster
// ledger adds the cluster's identity, the kube-system Namespace's uid (fixed
// for the cluster's life, readable with the webhook's and operator's
// existing "get namespaces"):
//
//   execgov.local/cluster/<kube-system uid>/<namespace>/<store name>
//
// An existing ledger keeps the origin its checkpoints carry (OpenLedger), so
// this default only names ledgers created after it.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "kube/client.h"

namespace execgov::ledger {

// The origin above for a ledger URL: configmap://NAMESPACE[/name][?...]
// gives NAMESPACE and name (default "execgov-ledger"); any other URL its
// text after "://" or "file:" with '?'-options cut. InvalidArgument for a
// uid or URL that cannot make a note key name.
StatusOr<std::string> ClusterLedgerOrigin(std::string_view cluster_uid, std::string_view ledger_url);

// The kube-system Namespace's uid.
StatusOr<std::string> ClusterUid(kube::Client& client);

}  // namespace execgov::ledger

namespace execgov::ledger {

// The origin an in-cluster command (webhook, operator) gives a new ledger:
// `flag` (--ledger-origin) when set, else ClusterLedgerOrigin from the
// cluster's uid; empty (the backend's default) when the uid cannot be read,
// which is logged. Either way an existing ledger keeps its own (OpenLedger).
std::string InClusterLedgerOrigin(const std::string& flag, kube::Client& client, const std::string& ledger_url);

}  // namespace execgov::ledger
