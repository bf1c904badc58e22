// The ledger writer's side of a witness mesh (issue 23): the operator's
// leader sends each new checkpoint of its ledger to the witnesses it is
// configured with (C2SP tlog-witness, through ledger/witness_client.h),
// keeps the cosigned checkpoint beside the ledger, and says in metrics and
// in that stored object how far the ledger is witnessed.
//
// A witness that is away, slow or refusing must never hold up admission or
// the ledger: submissions run on their own thread (the operator's runnable),
// read the ledger through a read-only view, each witness is asked with a
// timeout, a few at a time, and one that failed is asked again only after a
// backoff that doubles up to a bound. Each cause of failure is logged once
// (again only when it changes or the witness recovers) and counted in
// execgov_witness_cosign_errors_total{witness,reason}.
//
// Where the cosigned checkpoint is kept (CosignedStore), so that `ledger
// verify --witness-key K --min-witnesses N` and auditors find it without
// asking the witnesses:
//   file:PATH                  PATH.cosigned (written atomically, mode 0644)
//   configmap://NS[/STORE]     the ConfigMap STORE-cosigned in NS (not
//                              labelled as a ledger object), data.checkpoint
//                              and data.status (per witness: the size it
//                              cosigned, when, and its last error)
// The checkpoint kept is the newest one any configured witness cosigned,
// with the cosignature of every witness that cosigned that same checkpoint.
// A smaller checkpoint never replaces a larger one (a rolled-back ledger
// cannot erase what the witnesses vouched for).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "kube/client.h"
#include "kube/http.h"
#include "ledger/backend.h"
#include "ledger/cosignature.h"
#include "ledger/merkle.h"

namespace prometheus {
class Registry;
}

namespace execgov::ledger {

// Where a ledger's cosigned checkpoint is kept.
class CosignedStore {
 public:
  virtual ~CosignedStore() = default;
  // The stored cosigned checkpoint note; NotFound when none is stored yet.
  virtual StatusOr<std::string> Read() = 0;
  // Replaces it, with the submitter's status (a JSON object) beside it.
  virtual Status Write(const std::string& note, const nlohmann::json& status) = 0;
  // For messages: "file:PATH.cosigned", "configmap NS/NAME".
  virtual std::string Where() const = 0;
};

// The store beside the ledger at `url` (file: or configmap://; other
// backends have none: InvalidArgument). A configmap:// URL's ?kubeconfig= is
// honoured as OpenBackend does.
StatusOr<std::unique_ptr<CosignedStore>> OpenCosignedStore(const std::string& url);
// The ConfigMap `<store>-cosigned` in `ns`, through `client` (not owned).
std::unique_ptr<CosignedStore> ConfigMapCosignedStore(kube::Client* client, std::string ns, std::string store);
std::unique_ptr<CosignedStore> FileCosignedStore(std::string path);

// The most bytes a stored cosigned checkpoint may have (a note of a few
// lines and at most a few dozen cosignatures).
inline constexpr size_t kMaxCosignedNoteBytes = 64 * 1024;

struct WitnessEndpoint {
  std::string url;            // the witness's add-checkpoint prefix
  NoteVerifierKeyParts key;   // its cosignature/v1 key
};

struct WitnessSubmitterOptions {
  std::vector<WitnessEndpoint> witnesses;
  // Makes the HTTP client for one witness (default: kube::NewHttpClient with
  // `timeout`); tests answer from a witness directly.
  std::function<StatusOr<std::unique_ptr<kube::HttpClient>>(const std::string& url)> connect;
  std::chrono::milliseconds timeout{10000};
  // After the n-th failure in a row a witness is asked again after
  // min_backoff * 2^(n-1), at most max_backoff.
  std::chrono::seconds min_backoff{5};
  std::chrono::seconds max_backoff{300};
  // Witnesses asked at once.
  size_t concurrency = 4;
  const Clock* clock = nullptr;  // nullptr: the system clock
  // Where the metrics go (nullptr: none).
  prometheus::Registry* registry = nullptr;
};

// One witness as the submitter last saw it (what Status reports).
struct WitnessProgress {
  std::string name, url;
  uint64_t cosigned_size = 0;    // the largest size it cosigned for this writer (0: none yet)
  int64_t cosigned_at = 0;       // its cosignature's timestamp
  std::string error;             // the last failure's cause ("" after a success)
  std::string reason;            // its class: unreachable, inconsistent, untrusted, bad-request, bad-cosignature, refused
  int failures = 0;              // in a row
};

// Not thread-safe: one thread calls Pass (the operator's runnable).
class WitnessSubmitter {
 public:
  // `reader` (a read-only view of the ledger) and `store` must outlive it.
  WitnessSubmitter(Backend* reader, CosignedStore* store, WitnessSubmitterOptions options);
  ~WitnessSubmitter();

  // Reads the records appended since the last pass; if the ledger's latest
  // checkpoint is newer than what a witness cosigned and that witness is
  // not backing off, asks it to cosign; stores the cosigned checkpoint when
  // it gained a cosignature. An error only for what stops the whole pass
  // (the ledger or the store cannot be read or written); a witness's
  // refusal is recorded in its progress, the metrics and the log.
  Status Pass();

  // What each witness last did, in the configured order.
  std::vector<WitnessProgress> Progress() const;
  // The size of the newest stored cosigned checkpoint (0: none).
  uint64_t WitnessedSize() const { return stored_size_; }

 private:
  struct Witness;
  struct Metrics;
  Status ReadNewRecords();
  Status LoadStored();
  void Submit(Witness& w, const std::string& note, uint64_t size, std::vector<std::string>* line);
  nlohmann::json StatusJson() const;

  Backend* reader_;
  CosignedStore* store_;
  WitnessSubmitterOptions options_;
  const Clock* clock_;
  std::vector<std::unique_ptr<Witness>> witnesses_;
  std::unique_ptr<Metrics> metrics_;

  std::vector<Hash> leaves_;     // of every record read
  std::string latest_note_;      // the newest checkpoint record's note whose root matched
  uint64_t latest_size_ = 0;
  std::string pending_note_;     // the newest checkpoint record read, not yet checked
  uint64_t pending_size_ = 0;
  bool loaded_ = false;          // the stored checkpoint was read
  std::string stored_note_;      // as stored (with its cosignatures)
  uint64_t stored_size_ = 0;
  size_t stored_cosignatures_ = 0;  // by the configured witnesses, valid
  std::string stored_status_;    // the status last written (to write only on change)
};

}  // namespace execgov::ledger
