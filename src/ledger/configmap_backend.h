// configmap://NAMESPACE[/origin][?kubeconfig=FILE&segment-bytes=N] — the ledger in ConfigMaps,
// through the API server, for clusters with nothing else to keep it in
// (docs/design.md §7.3). Every object is labelled execgov.io/ledger=<origin>.
//
// Layout 2, where each ledger byte reaches etcd about once as a batch and
// once more, compressed, as a segment, and no object is ever rewritten:
//  - A batch: each append creates one ConfigMap "<origin>-b<12-digit seq of
//    its first record>" holding the batch's records (data.records, one
//    canonical JSON line each). The create is create-if-absent, and its
//    name is the no-fork step: of two writers that built on the same tail,
//    the API server admits one; the other reads what was stored and builds
//    again.
//  - A segment: "<origin>-<6-digit index>", sealed (execgov.io/sealed=true),
//    its first seq in execgov.io/first-seq: a run of consecutive batches of
//    about segment-bytes, merged by a writer's background thread (unless
//    BackendOptions::compact is off, as in the webhook) once the
//    run is full (create-if-absent again, so two writers merging at once
//    store one segment), in binaryData["records.gz"] (gzip); the batches are
//    deleted afterwards.
//  - A writer whose batch was created after the batches at its seq were
//    merged and deleted (it built on a tail read before that) would have
//    stored an orphan that no reader follows: after each create it reads the
//    next segment's name, and if a segment now covers its batch it deletes
//    the batch and builds again. Segment names are made in order, so a
//    missing next segment proves nothing covers the batch.
//  - Layout 1 (segments rewritten in place, the last one unsealed) is read
//    as it is; a writer seals its last segment and continues with batches.
//  - The base (retention, ledger/retention.h): once old segments were
//    moved to an archive, "<origin>-base" holds the first kept seq N and
//    segment and the ChainState there (data["base.json"]). Readers and
//    writers start from it; a Scan from below N fails (FailedPrecondition)
//    naming the archive. A view of the segments older than
//    kConfigMapViewRefresh is checked against the base again before it is
//    trusted, since a segment it never saw may have been moved out since.
// Readers follow segments from 0 (or the base), then batches from where
// they end; a batch found missing is looked for in a segment made meanwhile.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "kube/client.h"
#include "ledger/backend.h"

namespace execgov::ledger {

// The size at which a run of batches is merged into a segment.
inline constexpr size_t kConfigMapSegmentBytes = 256 * 1024;
// The most one ConfigMap carries here (the API server's limit is 1 MiB for
// the whole object): a batch or a segment's uncompressed records.
inline constexpr size_t kConfigMapMaxSegmentBytes = 900 * 1024;

// A view of the segments (the first one not known to exist) at most this old
// is trusted without reading the base; retention moves no segment younger
// than RetentionOptions::min_age, which must stay well above it.
inline constexpr std::chrono::seconds kConfigMapViewRefresh{60};

// `rest` is the URL after "configmap://".
StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(const std::string& rest, const BackendOptions& options);

// The parts of a configmap:// URL (`rest`, after "configmap://"):
// NAMESPACE[/STORE][?kubeconfig=FILE&segment-bytes=N]. InvalidArgument for
// an unknown parameter or a segment size out of range.
struct ConfigMapUrl {
  std::string ns;
  std::string store = "execgov-ledger";
  std::string kubeconfig;
  size_t segment_bytes = kConfigMapSegmentBytes;
};
StatusOr<ConfigMapUrl> ParseConfigMapUrl(const std::string& rest);

// With a given client (tests, and callers that already have one).
StatusOr<std::unique_ptr<Backend>> OpenConfigMapBackend(std::shared_ptr<kube::Client> client, const std::string& ns,
                                                        const std::string& origin, const BackendOptions& options,
                                                        size_t segment_bytes = kConfigMapSegmentBytes);

}  // namespace execgov::ledger
