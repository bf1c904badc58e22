// The auditor's verification of a whole ledger, in one streaming pass and
// constant memory (the Merkle frontier is O(log n)): every record's hash, its
// seq (no gap, no repeat), its link to the record before, the Merkle root at
// every checkpoint and each checkpoint's signature, and consistency with a
// checkpoint the auditor kept from earlier (which catches truncation and
// rollback even when the ledger's own later checkpoints went with its tail).
//
// Blame: a broken link between records i-1 and i means either record i-1
// was changed (its hash moved) or record i's prev was. Record i+1 decides:
// if it still links to record i, record i is intact and i-1 is named.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/checkpoint.h"

namespace execgov::ledger {

struct VerifyOptions {
  // The ledger key's public half; without it checkpoint signatures are not
  // checked (roots still are) and the result says so.
  std::optional<crypto::PublicKey> checkpoint_key;
  // A signed checkpoint kept by the auditor: the ledger must reach its size
  // and have its root there.
  std::optional<std::string> trusted_checkpoint;
};

// What was found wrong, in words an auditor can act on.
enum class Problem {
  kNone,
  kMalformed,             // not a record at all
  kHash,                  // the record's bytes changed: its hash is not the next record's prev
  kLink,                  // its prev is not the previous record's hash
  kGap,                   // a seq is missing (deleted or reordered)
  kDuplicate,             // a seq appears twice (inserted or replayed)
  kCheckpointSignature,   // not signed by the checkpoint key
  kCheckpointTree,        // signed, but not for this tree (root or size)
  kTruncated,             // shorter than a checkpoint shows it was
  kInconsistentCheckpoint,  // the ledger does not extend the trusted checkpoint
};
const char* ProblemName(Problem p);

struct VerifyResult {
  uint64_t size = 0;
  Hash root{};
  uint64_t checkpoints = 0;                 // checkpoint records verified
  std::optional<Checkpoint> last_checkpoint;
  bool signatures_checked = false;
  // On failure:
  Problem problem = Problem::kNone;
  uint64_t bad_seq = 0;
  std::string message;
  bool ok() const { return problem == Problem::kNone; }
};

// An error Status only when the ledger cannot be read (or the trusted
// checkpoint is unusable); tampering is reported in the result.
StatusOr<VerifyResult> VerifyLedger(Backend& backend, const VerifyOptions& options);

}  // namespace execgov::ledger
