// Where ledger records are stored. One interface, three implementations
// (file, etcd, ConfigMap) chosen by URL in OpenBackend. A backend knows how to
// store bytes atomically after a given tail and how to read them back; the
// chain rules (ChainState), batching and checkpoints are shared above it, so
// every backend forks, loses and renumbers nothing in the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ledger/chain_state.h"

namespace execgov::ledger {

// One batch of records built against a tail, already folded into it: each
// record is hashed once, by whoever builds it, and the backend stores the
// bytes and takes `after` as its new tail without applying them again.
struct Batch {
  std::vector<std::string> records;
  std::vector<Hash> hashes;  // hashes[i] is records[i]'s leaf hash
  ChainState after;          // the tail once the records are stored

  // Folds `record` into `after` (the chain rules of ChainState::Apply) and
  // keeps it. Start from `after` = the tail the batch is built against.
  Status Add(std::string record);
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Builds the records of one batch for the given tail (Batch::Add from it).
  // It may be called more than once when another writer got there first; only
  // the batch of its last call is stored. It must not have side effects
  // beyond its result.
  using BuildFn = std::function<StatusOr<Batch>(const ChainState& tail)>;
  using RecordFn = std::function<Status(uint64_t seq, std::string_view bytes)>;

  // The current tail, brought up to date with the store.
  virtual StatusOr<ChainState> Tail() = 0;

  // Reads the current tail, builds a batch against it and stores it so that
  // it directly follows that tail (retrying on a lost race). Returns only
  // once the batch is durable. The batch must have been built with
  // Batch::Add from the tail passed to build.
  virtual Status Append(const BuildFn& build) = 0;

  // Calls fn for each stored record with from <= seq < to, in order, stopping
  // at the first non-OK status (which Scan returns). Records are passed as
  // stored, unverified: this is what the auditor's verify reads.
  virtual Status Scan(uint64_t from, uint64_t to, const RecordFn& fn) = 0;

  // Whether a record with this hash is in the ledger.
  virtual StatusOr<bool> Contains(const Hash& record_hash) = 0;

  // The first seq this store still holds: 0, unless older records were
  // moved out (a configmap:// ledger's retention, ledger/retention.h), in
  // which case Scan from below it fails with FailedPrecondition naming the
  // archive. Where readers that follow the ledger from its start begin.
  virtual StatusOr<uint64_t> First() { return uint64_t{0}; }

  // The largest batch one atomic write may carry.
  virtual size_t MaxBatch() const = 0;

  // The origin (checkpoint note key name) when none is configured.
  virtual std::string DefaultOrigin() const = 0;

  virtual Status Close() = 0;
};

struct BackendOptions {
  // Readers (verify, show, proof) never create or repair anything.
  bool read_only = false;
  // Whether this writer also compacts the store (the ConfigMap backend's
  // merging of batches into segments, which deletes the batches). The
  // in-cluster webhook does not: its service account may create ledger
  // ConfigMaps but never delete one, and the operator merges.
  bool compact = true;
};

// file:PATH, etcd://HOST:PORT[,HOST:PORT...][/prefix][?cacert=F&cert=F&key=F]
// (etcds:// for TLS), configmap://NAMESPACE[/origin][?kubeconfig=F].
StatusOr<std::unique_ptr<Backend>> OpenBackend(const std::string& url, const BackendOptions& options);

}  // namespace execgov::ledger
