// Bounded live size for the in-cluster ledger (issue 19, docs/ledger.md#retention):
// the oldest sealed segments of a configmap:// ledger are moved to an
// archive ledger (file:, etcd://, any backend that can append), leaving in
// the cluster a signed record of the cut, so the archive plus the kept part
// still prove the whole history.
//
// A move, in this order, each step durable before the next, so a crash at
// any point loses nothing and a rerun completes it:
//  1. the archive gets the moved records appended exactly as stored
//     (Batch::Add: it is itself a valid ledger, records 0..N-1
//     byte-identical); an archive that already holds some of them is
//     continued after them, once the hashes agree;
//  2. the base, "<origin>-base", records the cut: the first kept seq N and
//     segment, the ChainState at N, the archive URL, the time and a
//     checkpoint for size N signed with the ledger key. From here on readers
//     start at N;
//  3. a "retention" record in the ledger itself says what was moved (its seq
//     goes into the base);
//  4. the moved segments are deleted, oldest first.
// A segment holding a consumption that has not expired ("replay":{"exp":E}
// with E >= now) is never moved, nor any after it: the in-cluster webhook
// rebuilds its replay state from the kept ledger. Nor is a segment younger
// than min_age: a writer whose view of the segments is older than
// kConfigMapViewRefresh reads the base again (configmap_backend.cc), and a
// segment it has not seen is at most that old, so none is deleted under it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/chain_state.h"
#include "ledger/ledger.h"

namespace execgov::ledger {

// The record of a cut, as the base ConfigMap's data["base.json"] holds it.
struct RetentionBase {
  uint64_t first_seq = 0;           // N: records 0..N-1 are in the archive, N.. in the cluster
  uint64_t first_segment = 0;       // the first segment kept in the cluster
  uint64_t moved_from_segment = 0;  // the first segment this cut moved (those below first_segment go)
  uint64_t moved_from_seq = 0;      // the first seq this cut moved (the previous cut's first_seq)
  ChainState state;                 // the chain after record N-1
  std::string archive;              // the archive's URL
  std::string time;                 // RFC 3339, when the cut was made
  std::string checkpoint;           // signed note for size N (origin, N, root of records 0..N-1)
  std::optional<uint64_t> record_seq;  // the retention record's seq, once appended
  std::string resource_version;     // of the ConfigMap as read; empty: not stored

  nlohmann::json ToJson() const;
  static StatusOr<RetentionBase> FromJson(const nlohmann::json& j);
};

// The ConfigMap ledger's segment-level operations a move needs
// (configmap_backend.cc implements them; tests fake them).
class SegmentStore {
 public:
  struct Segment {
    uint64_t first = 0;  // seq of its first record
    std::vector<std::string> records;
    bool sealed = false;
    std::chrono::system_clock::time_point created;  // the API server's creationTimestamp
  };
  virtual ~SegmentStore() = default;
  virtual StatusOr<std::optional<RetentionBase>> ReadBase() = 0;
  // Creates the base when base.resource_version is empty, else replaces it
  // if it still has that version. Aborted when another writer changed or
  // created it first. Returns the new resourceVersion.
  virtual StatusOr<std::string> WriteBase(const RetentionBase& base) = 0;
  // nullopt when segment `index` does not exist.
  virtual StatusOr<std::optional<Segment>> ReadSegment(uint64_t index) = 0;
  // OK when it is gone already.
  virtual Status DeleteSegment(uint64_t index) = 0;
  // The kept records (Backend::Scan), to find a retention record a crash
  // left unnoted.
  virtual Status ScanKept(uint64_t from, const Backend::RecordFn& fn) = 0;
  // The checkpoint note key name the ledger uses by default.
  virtual std::string StoreOrigin() const = 0;
};

struct RetentionOptions {
  // Sealed segments left in the cluster (at least 1).
  uint64_t keep_segments = 64;
  std::string archive_url;
  // The checkpoint origin (empty: the store's): the ledger's own, so the
  // base's note verifies as its checkpoints do.
  std::string origin;
  std::chrono::system_clock::time_point now;
  // A segment younger than this stays (see the header comment). Below
  // 2 x kConfigMapViewRefresh a writer that last looked within the refresh
  // could store an orphan batch, its acknowledged record never read: only
  // tests, with no such writer, go lower (the commands refuse it).
  std::chrono::seconds min_age = std::chrono::minutes(10);
  // At most this many segments per run (memory: each is read whole).
  uint64_t max_segments = 32;
};

struct RetentionResult {
  uint64_t moved_segments = 0;   // by this run
  uint64_t moved_records = 0;    // appended to the archive by this run
  uint64_t first_seq = 0;        // N after the run
  uint64_t first_segment = 0;
  bool completed_earlier = false;  // finished a move a crash had left half done
  std::string held_by;             // why no further segment moved ("" when keep_segments did)
};

// Moves what retention allows (the header comment). `ledger` is a ledger on
// the same store, to append the retention record; `key` signs the base's
// checkpoint and must be the ledger's key. Aborted when another move raced
// this one (run again); FailedPrecondition for an archive that does not
// continue what was moved before.
StatusOr<RetentionResult> MoveOldSegments(SegmentStore& store, Backend& archive, Ledger& ledger,
                                          const crypto::PrivateKey& key, const RetentionOptions& options);

// Opens the store at `ledger_url` (configmap:// only: InvalidArgument
// otherwise) and the archive at options.archive_url, and runs
// MoveOldSegments again while a run moved options.max_segments (the bound
// cut it short). Results are summed; first_seq/first_segment are the last
// run's.
StatusOr<RetentionResult> RunRetention(const std::string& ledger_url, Ledger& ledger, const crypto::PrivateKey& key,
                                       const RetentionOptions& options);

// The SegmentStore of a configmap:// backend (nullptr for any other).
SegmentStore* AsSegmentStore(Backend& backend);

// The base of a configmap:// backend (nullopt for any other backend, or
// when nothing was moved).
StatusOr<std::optional<RetentionBase>> ReadRetentionBase(Backend& backend);

// A read-only view of the whole history: records 0..N-1 from `archive`, N..
// from `kept` (a configmap:// backend with a base). At the seam it checks
// that the archive's records hash to the base's state (size, last hash,
// Merkle root) and that the base's note is signed by `key` when one is
// given; PermissionDenied from Scan otherwise. Without a base, `kept` alone.
StatusOr<std::unique_ptr<Backend>> JoinArchive(std::unique_ptr<Backend> archive, std::unique_ptr<Backend> kept,
                                               std::optional<crypto::PublicKey> key);

// The message a reader of a trimmed ledger gets for records before N.
std::string MovedMessage(const RetentionBase& base);

}  // namespace execgov::ledger
