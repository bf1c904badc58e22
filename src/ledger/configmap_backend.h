// configmap://NAMESPACE[/origin][?kubeconfig=FILE&segment-bytes=N] — the ledger in ConfigMaps,
// through the API server, for clusters with nothing else to keep it in.
//
// Records are split into segments, ConfigMaps named <origin>-<6-digit index>
// labelled execgov.io/ledger=<origin>, each holding canonical JSON lines in
// data.records, under the 1 MiB object limit: 256 KiB by default, because
// every append rewrites its segment (and etcd keeps each revision until
// compaction), at most 900 KiB (docs/design.md §7.3). Appends update the last segment conditioned on its
// resourceVersion (a conflict means another writer got there first: re-read
// and rebuild). A full segment is first sealed (annotation
// execgov.io/sealed=true, same condition), then the next one is created with
// the batch: create-if-absent, so of two writers racing to start it one wins.
// Sealing first is what keeps a writer with a stale view from appending
// to a segment after its successor exists.
#pragma once

#include <memory>
#include <string>

#include "kube/client.h"
#include "ledger/backend.h"

namespace execgov::ledger {

inline constexpr size_t kConfigMapSegmentBytes = 256 * 1024;
inline constexpr size_t kConfigMapMaxSegmentBytes = 900 * 1024;

// `rest` is the URL after "configmap://".
StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(const std::string& rest, const BackendOptions& options);

// With a given client (tests, and callers that already have one).
StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(std::shared_ptr<kube::Client> client, const std::string& ns,
                                                        const std::string& origin, const BackendOptions& options,
                                                        size_t segment_bytes = kConfigMapSegmentBytes);

}  // namespace execgov::ledger
