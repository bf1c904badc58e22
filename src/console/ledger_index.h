// The console's read-only view of a ledger (issue 22): every record's leaf
// hash (for proofs) and a compact row of hashed search keys (for filtering
// and paging), so a page over a 1,000,000-record ledger is a scan of rows in
// memory plus a read of the page's own records, never a read of the ledger.
//
// Memory: ~112 bytes a record (32 for the leaf hash, ~80 for the row); a
// file: ledger's record bytes stay on disk (read by offset), any other
// backend's are kept in memory.
//
// What it claims is only what the bytes say: nothing here is trusted by the
// browser, which verifies proofs and checkpoints itself against the key its
// user pinned. The index does mark records whose hash the next record's
// `prev` does not name (docs/ledger.md, "Blame"), so a record changed on
// disk shows as broken before anyone asks for its proof.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "ledger/backend.h"
#include "ledger/merkle.h"

namespace execgov::console {

// What a search may ask for; empty strings and unset times do not filter.
// Every value is matched exactly (the whole string).
struct RecordFilter {
  std::string name;       // object.name
  std::string object;     // "namespace/name"
  std::string ns;         // object.namespace
  std::string kind;       // object.kind
  std::string uid;        // object.uid
  std::string jti;        // artifact.jti, or a grant's jti (ledger/story.h)
  std::string sub, iss, kid;  // artifact.*
  std::string digest;     // digest or artifact.digest
  std::string decision;   // allowed | denied
  std::string reason;     // a reason code (design.md §4)
  std::string type;       // admission | execution | outcome | checkpoint | ...
  std::optional<int64_t> since_ms, until_ms;  // record time, inclusive, ms since the epoch
  bool Empty() const;
};

struct Page {
  std::vector<uint64_t> seqs;          // newest first
  std::optional<uint64_t> next_before; // pass as `before` for the next page
};

// At most this many records in one page, and in one story.
inline constexpr size_t kMaxPageSize = 200;
inline constexpr size_t kMaxStoryRecords = 500;
// How far up a story's parent chain is followed.
inline constexpr int kMaxParentDepth = 16;
// How many times a story's records are looked for among the rows: each
// pass follows the keys the previous one learned (a request's uid found
// through its Job's jti, then the request's approvals and grant).
inline constexpr int kMaxStoryPasses = 4;

struct LatestCheckpoint {
  uint64_t seq = 0;   // of the checkpoint record
  uint64_t size = 0;  // the tree it signs (records 0..size-1)
  std::string note;
};

// Thread-safe; every call first folds in what was appended since (Refresh).
class LedgerIndex {
 public:
  // Opens `url` read-only (file:, etcd://, configmap://) and reads it whole.
  static StatusOr<std::unique_ptr<LedgerIndex>> Open(const std::string& url);
  ~LedgerIndex();

  // Folds in new records. A file that shrank, or whose last indexed record
  // changed, is read again from the start (generation() then grows): a
  // rolled-back or rewritten ledger is shown as it now is, and the browser's
  // consistency check is what raises the alarm.
  Status Refresh();

  uint64_t size();
  uint64_t generation();
  std::optional<LatestCheckpoint> latest_checkpoint();
  // Seqs whose hash the next record does not link to, or that are not a
  // record at all (at most the first 1000).
  std::vector<uint64_t> broken();

  // Newest first, from seq `before` - 1 down (before = nullopt: from the
  // end). limit in 1..kMaxPageSize.
  StatusOr<Page> Query(const RecordFilter& filter, std::optional<uint64_t> before, size_t limit);

  // A record's stored bytes; NotFound past the end.
  StatusOr<std::string> Record(uint64_t seq);
  // The leaf hash of record seq (seq < size()).
  StatusOr<ledger::Hash> LeafHash(uint64_t seq);
  bool Broken(uint64_t seq);
  // A record's time in milliseconds since the epoch (nullopt if it has none).
  std::optional<int64_t> RecordTime(uint64_t seq);

  // An inclusion proof of `seq` against the latest checkpoint, in the JSON
  // of `execgov ledger proof` (ledger/proof.h), computed from the records as
  // they are: for a changed record it does not verify, which is the point.
  StatusOr<nlohmann::json> InclusionProof(uint64_t seq);
  // The RFC 9162 consistency proof between the trees of the first `from`
  // and `to` records (0 < from <= to <= size()), base64 entries.
  StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t from, uint64_t to);
  // The Merkle root of the first `size` records (size <= size()).
  StatusOr<ledger::Hash> RootAt(uint64_t size);

  // An execution's story: the records linked to `seq` by jti or object uid
  // (ledger/story.h), followed from record to record: from a Pod through the
  // artifact to its Job and its request, from the request (by uid) to its
  // admission without an artifact, the `approval` records of its
  // ExecutionApprovals (allowed and refused), the authority's `grant` or
  // `denial`, and its execution steps; refused records join but link no
  // further. Oldest first, at most kMaxStoryRecords, found in at most
  // kMaxStoryPasses passes over the in-memory rows; then the parent chain
  // above them.
  StatusOr<std::vector<uint64_t>> Story(uint64_t seq, std::vector<uint64_t>* parents);

 private:
  struct Impl;
  explicit LedgerIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace execgov::console
